//! Provider callbacks (SPEC 4): only signed, fresh, never-seen callbacks for a known provider and
//! payment are applied, through the same path the sandbox buttons use.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::checkout_support::*;
use crate::helpers::{TestApp, assert_error, spawn_app};

/// A wallet checkout waiting for its transfer: (session id, payment id).
async fn wallet_in_flight(app: &TestApp) -> (String, String) {
    let id = create_checkout(app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(app, &id).choose(WALLET_ROUTE).await;
    let payment = api_payment(app, &id).await;
    assert_eq!(payment["status"], "pending", "{payment}");
    (id, payment["id"].as_str().unwrap().to_owned())
}

fn succeeded(callback_id: &str, payment_id: &str) -> Value {
    json!({
        "id": callback_id,
        "payment": payment_id,
        "type": "payment.succeeded",
        "tx_hash": "0xabc123",
        "failure_code": null,
        "failure_message": null,
    })
}

fn failed(callback_id: &str, payment_id: &str) -> Value {
    json!({
        "id": callback_id,
        "payment": payment_id,
        "type": "payment.failed",
        "tx_hash": null,
        "failure_code": "transfer_failed",
        "failure_message": "The wallet transfer failed.",
    })
}

/// Nothing about the session moved.
async fn assert_untouched(app: &TestApp, id: &str) {
    assert_eq!(api_payment(app, id).await["status"], "pending");
    assert_eq!(app.stored_status(id).await, "pending");
    assert_eq!(
        event_ids(app, id).await,
        vec![format!("evt_{id}_provider_pending")]
    );
}

#[tokio::test]
async fn a_signed_success_callback_pays_the_payment_and_the_buyer_sees_it() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;

    let response = send_callback(&app, &succeeded("cb_1", &payment_id)).await;

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["applied"], true, "{body}");
    let payment = assert_finished(
        &app,
        &id,
        &Expected {
            paid: true,
            failure_code: None,
            route: WALLET_ROUTE,
            kind: "wallet",
            amount: 116.0,
        },
    )
    .await;
    assert_eq!(payment["txHash"], "0xabc123");
    assert_result_page(
        &Buyer::new(&app, &id).open().await,
        true,
        Some(&expected_return(REDIRECT, &id, "paid")),
    );
}

#[tokio::test]
async fn a_signed_failure_callback_fails_the_payment_and_voids_the_invoice() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;

    let response = send_callback(&app, &failed("cb_1", &payment_id)).await;

    assert_eq!(response.status().as_u16(), 200);
    assert_failed_attempt(
        &app,
        &id,
        &Expected {
            paid: false,
            failure_code: Some("transfer_failed"),
            route: WALLET_ROUTE,
            kind: "wallet",
            amount: 116.0,
        },
    )
    .await;
}

#[tokio::test]
async fn callbacks_without_a_valid_fresh_signature_are_refused_with_401() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    let body = succeeded("cb_1", &payment_id).to_string();
    let secret = sandbox_secret(&app).await;
    let now = unix_now();
    let other_body = succeeded("cb_1", "pay_other").to_string();

    let signatures = [
        None,
        Some(String::new()),
        Some("garbage".to_owned()),
        Some(format!("t={now}")),
        Some(format!("t={now},v1={}", "00".repeat(32))),
        Some(format!(
            "t={now},v1={}",
            hmac_hex(b"not the secret", now, &body)
        )),
        Some(format!(
            "t={now},v1={}",
            hmac_hex(secret.as_bytes(), now, &other_body)
        )),
        Some(format!(
            "t={now},v1={}",
            hmac_hex(secret.as_bytes(), now + 1, &body)
        )),
        Some(format!(
            "t={},v1={}",
            now - 301,
            hmac_hex(secret.as_bytes(), now - 301, &body)
        )),
        Some(format!(
            "t={},v1={}",
            now + 400,
            hmac_hex(secret.as_bytes(), now + 400, &body)
        )),
        Some(format!(
            "t={},v1={}",
            now - 3600,
            hmac_hex(secret.as_bytes(), now - 3600, &body)
        )),
    ];
    for signature in &signatures {
        let response = post_callback(&app, "sandbox", &body, signature.as_deref()).await;
        assert_error(response, 401, "invalid_signature").await;
    }

    assert_untouched(&app, &id).await;
    // The same callback, rightly signed, is still accepted: refusals recorded nothing.
    let response = send_callback(&app, &succeeded("cb_1", &payment_id)).await;
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(api_payment(&app, &id).await["status"], "paid");
}

#[tokio::test]
async fn a_replayed_callback_is_refused_with_409_and_changes_nothing() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    let response = send_callback(&app, &succeeded("cb_same", &payment_id)).await;
    assert_eq!(response.status().as_u16(), 200);
    let before = payment_row_text(&app, &id).await;

    let replay = send_callback(&app, &succeeded("cb_same", &payment_id)).await;
    assert_error(replay, 409, "callback_replayed").await;
    // The same id with another outcome is a replay too.
    let replay = send_callback(&app, &failed("cb_same", &payment_id)).await;
    assert_error(replay, 409, "callback_replayed").await;

    assert_eq!(payment_row_text(&app, &id).await, before);
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn a_failure_after_the_payment_was_paid_is_received_but_not_applied() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    send_callback(&app, &succeeded("cb_1", &payment_id)).await;
    let before = payment_row_text(&app, &id).await;

    let response = send_callback(&app, &failed("cb_2", &payment_id)).await;

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["applied"], false, "{body}");
    assert_eq!(payment_row_text(&app, &id).await, before);
    assert_eq!(app.stored_status(&id).await, "paid");
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn callbacks_for_an_unknown_provider_or_payment_are_404() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    let body = succeeded("cb_1", &payment_id).to_string();
    let secret = sandbox_secret(&app).await;
    let now = unix_now();
    let signature = format!("t={now},v1={}", hmac_hex(secret.as_bytes(), now, &body));

    let response = post_callback(&app, "stripe", &body, Some(&signature)).await;
    assert_eq!(response.status().as_u16(), 404);
    let unknown = send_callback(&app, &succeeded("cb_2", "pay_doesnotexist")).await;
    assert_eq!(unknown.status().as_u16(), 404);

    assert_untouched(&app, &id).await;
    // The unknown payment's callback id was not burnt on anything.
    assert_eq!(
        count_where(
            &app,
            "SELECT COUNT(*) FROM provider_callbacks WHERE payment_id = $1",
            "pay_doesnotexist"
        )
        .await,
        0
    );
}

#[tokio::test]
async fn concurrent_distinct_callbacks_settle_the_payment_once() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    let bodies: Vec<Value> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                succeeded(&format!("cb_{i}"), &payment_id)
            } else {
                failed(&format!("cb_{i}"), &payment_id)
            }
        })
        .collect();

    let responses = join_all(bodies.iter().map(|b| send_callback(&app, b))).await;

    let mut applied = Vec::new();
    for (body, response) in bodies.iter().zip(responses) {
        assert_eq!(response.status().as_u16(), 200);
        let answer: Value = response.json().await.unwrap();
        if answer["applied"] == true {
            applied.push(body["type"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(
        applied.len(),
        1,
        "exactly one callback decides: {applied:?}"
    );
    // The session follows the callback that decided: a success pays it, a failure opens it for
    // another attempt (`routed`).
    let expected = match applied[0].as_str() {
        "payment.succeeded" => "paid",
        "payment.failed" => "routed",
        other => panic!("unexpected callback type {other}"),
    };
    assert_eq!(app.stored_status(&id).await, expected);
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn a_signed_callback_after_a_card_was_paid_does_not_undo_it() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(&app, &id).card_checkout(CARD_PAYS).await;
    let payment_id = api_payment(&app, &id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let response = send_callback(&app, &failed("cb_after", &payment_id)).await;

    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(api_payment(&app, &id).await["status"], "paid");
    assert_eq!(app.stored_status(&id).await, "paid");
}

#[tokio::test]
async fn a_signed_but_malformed_callback_is_refused_with_400() {
    let app = spawn_app().await;
    let (id, payment_id) = wallet_in_flight(&app).await;
    let secret = sandbox_secret(&app).await;
    let now = unix_now();

    for body in [
        "not json".to_owned(),
        json!({"id": "cb_1", "payment": payment_id, "type": "payment.refunded"}).to_string(),
        json!({"payment": payment_id, "type": "payment.succeeded"}).to_string(),
    ] {
        let signature = format!("t={now},v1={}", hmac_hex(secret.as_bytes(), now, &body));
        let response = post_callback(&app, "sandbox", &body, Some(&signature)).await;
        assert_error(response, 400, "invalid_callback").await;
    }

    assert_untouched(&app, &id).await;
}
