//! Refunds through the sandbox provider: full and partial, exactly once, never more than was
//! paid (also with 20 concurrent refunds on two instances), failed and delayed ones, their
//! events, idempotent retries and every refusal.

use std::time::Duration;

use openrails_checkout::db::Db;
use openrails_checkout::lifecycle::refunds::reconcile_refunds_once;
use openrails_checkout::startup::Application;
use serde_json::{Value, json};

use crate::checkout_support::{Buyer, events_of};
use crate::helpers::{TestApp, assert_error, spawn_app, spawn_app_with};
use crate::webhook_support::{Receiver, assert_signed_with, register};

/// A paid sandbox card payment of $116 (fee $3.72, total $119.72); its id.
async fn paid_payment(app: &TestApp) -> String {
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "preferredRoute": "card", "metadata": {"order_id": "ord_1"}});
    let session = app.create_session(&body).await;
    let id = session["id"].as_str().unwrap();
    let page = Buyer::new(app, id).card_checkout("4242424242424242").await;
    assert!(page.html.contains("Payment received"), "{}", page.html);
    payment_of_session(app, id).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn payment_of_session(app: &TestApp, session_id: &str) -> Value {
    let response = app
        .get(&format!("/api/gateway/payments/{session_id}"))
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A payment by its `pay_…` id, as the API shows it.
pub(crate) async fn payment(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/gateway/payments/{id}")).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn refund(app: &TestApp, payment_id: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/gateway/payments/{payment_id}/refunds")))
        .bearer_auth(&app.sandbox_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A refund of `payment_id` asked with `body`, answered 200.
pub(crate) async fn refund_ok(app: &TestApp, payment_id: &str, body: Value) -> Value {
    let response = refund(app, payment_id, body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{answer}");
    answer
}

fn kinds(events: &[crate::checkout_support::StoredEvent]) -> Vec<String> {
    let mut kinds: Vec<String> = events.iter().map(|e| e.kind.clone()).collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn a_full_refund_gives_back_all_the_buyer_paid_with_its_events() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    let endpoint = register(
        &app,
        &receiver.url,
        Some(&[
            "payment.paid",
            "refund.created",
            "refund.succeeded",
            "refund.failed",
        ]),
    )
    .await;
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    let payment_id = paid_payment(&app).await;
    let before = payment(&app, &payment_id).await;
    assert_eq!(before["ledgerStatus"], "settled");
    assert_eq!(before["amountRefunded"], 0);
    assert_eq!(before["refunds"], json!([]));

    let refunded = refund_ok(
        &app,
        &payment_id,
        json!({"reason": "requested_by_customer", "note": "changed their mind",
            "metadata": {"ticket": "T-9"}}),
    )
    .await;
    assert!(refunded["id"].as_str().unwrap().starts_with("re_"));
    assert_eq!(refunded["object"], "refund");
    assert_eq!(refunded["status"], "succeeded");
    assert_eq!(refunded["amount"], 119.72, "the amount and the buyer's fee");
    assert_eq!(refunded["paymentId"], payment_id.as_str());
    assert_eq!(refunded["reason"], "requested_by_customer");
    assert_eq!(refunded["note"], "changed their mind");
    assert_eq!(refunded["metadata"], json!({"ticket": "T-9"}));
    assert!(
        refunded["providerReference"]
            .as_str()
            .unwrap()
            .starts_with("sbx_re_")
    );

    let after = payment(&app, &payment_id).await;
    assert_eq!(after["ledgerStatus"], "refunded");
    assert_eq!(after["amountRefunded"], 119.72);
    assert_eq!(after["status"], "paid", "a refund does not unpay a payment");
    assert_eq!(after["refunds"][0]["id"], refunded["id"]);
    let id = refunded["id"].as_str().unwrap();
    let one = app.get(&format!("/api/gateway/refunds/{id}")).await;
    assert_eq!(one.status(), 200);
    assert_eq!(one.json::<Value>().await.unwrap(), refunded);

    // Nothing is left.
    let again = refund(&app, &payment_id, json!({})).await;
    assert_error(again, 400, "refund_exceeds_payment").await;

    let session_id = after["sessionId"].as_str().unwrap();
    let events = events_of(&app, session_id).await;
    assert_eq!(
        kinds(&events),
        [
            "payment.paid",
            "payment.provider_pending",
            "refund.created",
            "refund.succeeded"
        ]
    );
    let succeeded = events
        .iter()
        .find(|e| e.kind == "refund.succeeded")
        .unwrap();
    assert_eq!(succeeded.id, format!("evt_{id}_succeeded"));
    let data = &succeeded.payload["data"];
    assert_eq!(data["refund_id"], id);
    assert_eq!(data["status"], "succeeded");
    assert_eq!(data["amount"], 119.72);
    assert_eq!(data["payment_id"], payment_id.as_str());
    assert_eq!(data["amount_refunded"], 119.72);
    assert_eq!(data["ledger_status"], "refunded");
    assert_eq!(data["session_id"], session_id);
    assert_eq!(data["metadata"], json!({"order_id": "ord_1"}));
    assert_eq!(data["refund_metadata"], json!({"ticket": "T-9"}));

    // The merchant's receiver gets them, signed like every event.
    let received = receiver.wait_for(3, Duration::from_secs(15)).await;
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["payment.paid", "refund.created", "refund.succeeded"]
    );
    for request in &received {
        assert_signed_with(request, &secret);
    }
    // The buyer's page shows it.
    let page = Buyer::new(&app, session_id).open().await;
    assert!(
        page.html.contains("<dt>Refunded</dt><dd>$119.72</dd>"),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn partial_refunds_add_up_and_never_beyond_the_amount() {
    let app = spawn_app().await;
    let payment_id = paid_payment(&app).await;
    let first = refund_ok(&app, &payment_id, json!({"amount": 10})).await;
    assert_eq!(
        (first["amount"].clone(), first["status"].clone()),
        (json!(10), json!("succeeded"))
    );
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "partially_refunded");
    assert_eq!(p["amountRefunded"], 10);

    refund_ok(&app, &payment_id, json!({"amount": 20.5})).await;
    let over = refund(&app, &payment_id, json!({"amount": 85.51})).await;
    let body = assert_error(over, 400, "refund_exceeds_payment").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("85.50"),
        "{body}"
    );
    // All that is left: 85.50 (the buyer's fee is given back only by a first, full refund).
    let rest = refund_ok(&app, &payment_id, json!({})).await;
    assert_eq!(rest["amount"], 85.5);
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "refunded");
    assert_eq!(p["amountRefunded"], 116);
    assert_eq!(p["refunds"].as_array().unwrap().len(), 3);
    // The invoice shows the credit.
    let invoice_id = p["invoiceId"].as_str().unwrap();
    let invoice: Value = app
        .get(&format!("/api/gateway/invoices/{invoice_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["amountCredited"], 116);

    let listed = app
        .get(&format!(
            "/api/gateway/refunds?paymentId={payment_id}&limit=2"
        ))
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["hasMore"], true);
    assert_eq!(listed["data"][0]["id"], rest["id"], "newest first");
}

#[tokio::test]
async fn a_declined_refund_fails_and_its_amount_can_be_refunded_again() {
    let app = spawn_app().await;
    let payment_id = paid_payment(&app).await;
    let declined = refund_ok(&app, &payment_id, json!({"amount": 13.13})).await;
    assert_eq!(declined["status"], "failed");
    assert_eq!(declined["failureCode"], "refund_declined");
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "settled");
    assert_eq!(p["amountRefunded"], 0);
    // The whole amount is refundable again.
    let full = refund_ok(&app, &payment_id, json!({})).await;
    assert_eq!(full["amount"], 119.72);
    let session_id = p["sessionId"].as_str().unwrap();
    let kinds = kinds(&events_of(&app, session_id).await);
    assert_eq!(
        kinds
            .iter()
            .filter(|k| k.starts_with("refund."))
            .collect::<Vec<_>>(),
        [
            "refund.created",
            "refund.created",
            "refund.failed",
            "refund.succeeded"
        ]
    );
}

#[tokio::test]
async fn a_delayed_refund_is_pending_until_the_provider_settles_it() {
    let app = spawn_app_with(|s| s.sandbox_delay_seconds = 1).await;
    let payment_id = paid_payment(&app).await;
    let pending = refund_ok(&app, &payment_id, json!({"amount": 7.77})).await;
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap().to_owned();
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "settled");
    // A pending refund takes up its share: only 108.23 is left.
    let over = refund(&app, &payment_id, json!({"amount": 108.24})).await;
    assert_error(over, 400, "refund_exceeds_payment").await;

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    app.execute("UPDATE refunds SET next_poll_at = 0 WHERE id = $1", &id)
        .await;
    assert_eq!(
        reconcile_refunds_once(app.state.lifecycle()).await.unwrap(),
        1
    );
    let settled = app.get(&format!("/api/gateway/refunds/{id}")).await;
    assert_eq!(
        settled.json::<Value>().await.unwrap()["status"],
        "succeeded"
    );
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "partially_refunded");
    assert_eq!(p["amountRefunded"], 7.77);
}

#[tokio::test]
async fn only_paid_payments_can_be_refunded() {
    let app = spawn_app().await;
    // Waiting for the card.
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com"});
    let session = app.create_session(&body).await;
    let id = session["id"].as_str().unwrap();
    let buyer = Buyer::new(&app, id);
    buyer.choose("card-bridge-a").await;
    let pending = payment_of_session(&app, id).await;
    let answer = refund(&app, pending["id"].as_str().unwrap(), json!({})).await;
    let body = assert_error(answer, 400, "payment_not_refundable").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("pending"),
        "{body}"
    );
    // Declined.
    buyer.pay_with_card("4000000000000002").await;
    let failed = payment_of_session(&app, id).await;
    assert_eq!(failed["status"], "failed");
    let answer = refund(&app, failed["id"].as_str().unwrap(), json!({})).await;
    assert_error(answer, 400, "payment_not_refundable").await;
    // Unknown, or another merchant's.
    let answer = refund(&app, "pay_00000000000000000000000000", json!({})).await;
    assert_error(answer, 404, "resource_missing").await;
    let other = app.create_merchant("Other Store").await;
    let paid = paid_payment(&app).await;
    let answer = app
        .client
        .post(app.url(&format!("/api/gateway/payments/{paid}/refunds")))
        .bearer_auth(&other.sandbox_key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(answer, 404, "resource_missing").await;
}

#[tokio::test]
async fn a_retried_refund_is_the_same_refund_and_a_reused_key_is_refused() {
    let app = spawn_app().await;
    let payment_id = paid_payment(&app).await;
    let body = json!({"amount": 5, "idempotencyKey": "refund-ord-1"});
    let first = refund_ok(&app, &payment_id, body.clone()).await;
    let again = refund(&app, &payment_id, body).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(payment(&app, &payment_id).await["amountRefunded"], 5);
    let other = refund(
        &app,
        &payment_id,
        json!({"amount": 6, "idempotencyKey": "refund-ord-1"}),
    )
    .await;
    assert_error(other, 409, "idempotency_key_reused").await;
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let app = spawn_app().await;
    let payment_id = paid_payment(&app).await;
    for (body, field) in [
        (json!({"amount": "5"}), "amount"),
        (json!({"amount": 0}), "amount"),
        (json!({"amount": 1.005}), "amount"),
        (json!({"reason": "bored"}), "reason"),
        (json!({"note": ""}), "note"),
        (json!({"idempotencyKey": ""}), "idempotencyKey"),
        (json!({"metadata": {"a": 1}}), "metadata.a"),
        (json!({"amuont": 5}), "amuont"),
    ] {
        let answer = refund(&app, &payment_id, body.clone()).await;
        let error = assert_error(answer, 400, "validation_failed").await;
        let fields = crate::helpers::issue_fields(&error);
        assert!(fields.contains(&field.to_owned()), "{body}: {error}");
    }
    // No body at all: everything.
    let answer = app
        .client
        .post(app.url(&format!("/api/gateway/payments/{payment_id}/refunds")))
        .bearer_auth(&app.sandbox_key)
        .header("Content-Length", "0")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.json::<Value>().await.unwrap()["amount"], 119.72);
}

#[tokio::test]
async fn twenty_concurrent_refunds_on_two_instances_never_overshoot() {
    let app = spawn_app().await;
    let payment_id = paid_payment(&app).await;
    let mut settings = (*app.state.settings).clone();
    settings.bind = "127.0.0.1:0".into();
    let second_db = Db::connect(&app.database_url, 4).await.unwrap();
    let second = Application::build_with_db(settings, second_db)
        .await
        .unwrap();
    let second_url = format!("http://127.0.0.1:{}", second.port());
    tokio::spawn(second.run_until_stopped());

    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let base = if i % 2 == 0 {
                app.address.clone()
            } else {
                second_url.clone()
            };
            let client = app.client.clone();
            let key = app.sandbox_key.clone();
            let path = format!("/api/gateway/payments/{payment_id}/refunds");
            tokio::spawn(async move {
                let response = client
                    .post(format!("{base}{path}"))
                    .bearer_auth(key)
                    .json(&json!({"amount": 10}))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap();
                (status, body)
            })
        })
        .collect();
    let mut made = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            200 => {
                assert_eq!(body["status"], "succeeded", "{body}");
                made += 1;
            }
            400 => assert_eq!(body["error"]["code"], "refund_exceeds_payment", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(made, 11, "11 × $10 fit in $116, a 12th does not");
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["amountRefunded"], 110);
    assert_eq!(p["refunds"].as_array().unwrap().len(), 11);
    assert_eq!(
        app.scalar("SELECT refund_reserved_cents FROM payments WHERE status = 'paid'")
            .await,
        11_000
    );
}
