//! Expiry and time-outs on the hosted pages (SPEC 3): a session nobody is paying expires; a
//! payment in flight at a provider does not, and a late confirmation is always honoured.

use openrails_checkout::lifecycle::{expire_due, reconcile_once};

use crate::checkout_support::*;
use crate::helpers::spawn_app;

const MAKE_DUE: &str = "UPDATE checkout_sessions SET expires_at = 0 WHERE id = $1";

fn wallet(paid: bool, failure_code: Option<&str>) -> Expected<'_> {
    Expected {
        paid,
        failure_code,
        route: WALLET_ROUTE,
        kind: "wallet",
        amount: 116.0,
    }
}

#[tokio::test]
async fn an_expired_checkout_says_so_and_offers_the_way_back() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    app.execute(MAKE_DUE, &id).await;
    let buyer = Buyer::new(&app, &id);

    for _ in 0..2 {
        let page = buyer.open().await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(
            page.html
                .contains("This checkout has expired. No payment was taken."),
            "{}",
            page.html
        );
        assert!(!page.has_form(), "no form on an expired checkout");
        assert_eq!(
            page.return_href(),
            Some(expected_return(REDIRECT, &id, "expired"))
        );
        assert!(page.header("cache-control").contains("no-store"));
        expire_due(app.state.lifecycle()).await.unwrap();
    }
    assert_eq!(app.stored_status(&id).await, "expired");
    assert_eq!(buyer.status_json().await["status"], "expired");
}

#[tokio::test]
async fn starting_an_expired_checkout_creates_no_payment() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    app.execute(MAKE_DUE, &id).await;

    for route in [CARD_ROUTE, WALLET_ROUTE, LOCAL_ROUTE] {
        let response = buyer
            .post_form(
                &page.form_action(),
                &[
                    ("token", page.input_value("token").as_str()),
                    ("route", route),
                ],
            )
            .await;
        buyer.assert_see_other(response).await;
    }

    assert_eq!(payment_count(&app, &id).await, 0);
    assert_eq!(invoice_count(&app, &id).await, 0);
    assert!(event_ids(&app, &id).await.is_empty());
    assert!(
        buyer
            .open()
            .await
            .html
            .contains("This checkout has expired."),
        "the buyer sees it expired"
    );
}

#[tokio::test]
async fn a_checkout_expired_by_the_merchant_refuses_every_form() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let page = buyer.open().await;
    assert_eq!(app.expire_session(&id).await.status().as_u16(), 200);

    let response = buyer
        .post_form(
            &page.form_action(),
            &[
                ("token", page.input_value("token").as_str()),
                ("route", CARD_ROUTE),
            ],
        )
        .await;

    buyer.assert_see_other(response).await;
    assert_eq!(payment_count(&app, &id).await, 0);
    assert_eq!(app.stored_status(&id).await, "expired");
}

#[tokio::test]
async fn a_wallet_payment_in_flight_does_not_expire_and_its_late_transfer_is_paid() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let instructions = buyer.choose(WALLET_ROUTE).await;
    app.execute(MAKE_DUE, &id).await;

    let swept = expire_due(app.state.lifecycle()).await.unwrap();

    assert_eq!(swept, 0, "a payment in flight is not expired");
    assert_eq!(app.stored_status(&id).await, "pending");
    let still = buyer.open().await;
    assert!(
        still.html.contains("Send USDC on Base"),
        "the buyer still sees the instructions:\n{}",
        still.html
    );
    assert_eq!(api_session(&app, &id).await["status"], "pending");

    // The transfer arrives after the deadline.
    let result = buyer.submit(&instructions, &[("action", "transfer")]).await;

    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    assert_finished(&app, &id, &wallet(true, None)).await;
    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
    assert_eq!(app.stored_status(&id).await, "paid");
}

#[tokio::test]
async fn a_card_checkout_abandoned_on_the_card_form_expires_and_voids_its_invoice() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    app.execute(MAKE_DUE, &id).await;

    // Even before the sweep, the page no longer takes the card.
    let page = buyer.open().await;
    assert!(
        page.html.contains("This checkout has expired."),
        "{}",
        page.html
    );
    let swept = expire_due(app.state.lifecycle()).await.unwrap();

    assert_eq!(swept, 1);
    assert_eq!(app.stored_status(&id).await, "expired");
    let payment = api_payment(&app, &id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    assert_eq!(payment["failureCode"], "session_expired", "{payment}");
    let invoice = api_invoice(&app, payment["invoiceId"].as_str().unwrap()).await;
    assert_eq!(invoice["status"], "void", "{invoice}");
    let events = events_of(&app, &id).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].id, format!("evt_{id}_expired"));
    assert_eq!(events[0].kind, "payment.expired");
    assert_eq!(events[0].payload["data"]["status"], "expired");
    assert_eq!(events[0].payload["data"]["session_id"], id.as_str());
    assert_eq!(
        expire_due(app.state.lifecycle()).await.unwrap(),
        0,
        "expired once"
    );

    // The card form, submitted late, changes nothing.
    let mut fields = vec![("token", card_form.input_value("token"))];
    fields.push(("number", CARD_PAYS.to_owned()));
    fields.push(("expiry", FUTURE_EXPIRY.to_owned()));
    fields.push(("cvc", "123".to_owned()));
    fields.push(("name", "Ada".to_owned()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let response = buyer.post_form(&card_form.form_action(), &fields).await;
    buyer.assert_see_other(response).await;
    assert_eq!(api_payment(&app, &id).await["status"], "failed");
    assert_eq!(events_of(&app, &id).await.len(), 1);
    let page = buyer.open().await;
    assert!(
        page.html.contains("This checkout has expired."),
        "{}",
        page.html
    );
}

#[tokio::test]
async fn a_provider_that_never_answers_times_out_and_a_late_confirmation_is_honoured() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.choose(WALLET_ROUTE).await;
    let payment_id = api_payment(&app, &id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        reconcile_once(app.state.lifecycle()).await.unwrap(),
        0,
        "not due yet"
    );
    app.execute(
        "UPDATE payments SET provider_deadline = 0, next_poll_at = 0 WHERE id = $1",
        &payment_id,
    )
    .await;

    let finished = reconcile_once(app.state.lifecycle()).await.unwrap();

    assert_eq!(finished, 1);
    let timed_out = api_payment(&app, &id).await;
    assert_eq!(timed_out["status"], "failed", "{timed_out}");
    assert_eq!(timed_out["failureCode"], "provider_timeout", "{timed_out}");
    assert_retry_page(
        &buyer.open().await,
        "The payment provider did not confirm the payment in time.",
    );
    assert_failed_attempt(&app, &id, &wallet(false, Some("provider_timeout"))).await;

    // The provider confirms after all: the money was taken, so the payment is paid.
    let response = send_callback(
        &app,
        &serde_json::json!({
            "id": "cb_late_confirmation",
            "payment": payment_id,
            "type": "payment.succeeded",
            "tx_hash": "0xlate",
            "failure_code": null,
            "failure_message": null,
        }),
    )
    .await;

    assert_eq!(response.status().as_u16(), 200);
    let paid = api_payment(&app, &id).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["txHash"], "0xlate", "{paid}");
    assert!(paid["failureCode"].is_null(), "{paid}");
    let invoice = api_invoice(&app, paid["invoiceId"].as_str().unwrap()).await;
    assert_eq!(invoice["status"], "paid", "{invoice}");
    assert_eq!(app.stored_status(&id).await, "paid");
    assert_result_page(
        &buyer.open().await,
        true,
        Some(&expected_return(REDIRECT, &id, "paid")),
    );
    let mut ids = event_ids(&app, &id).await;
    ids.sort();
    let mut want = vec![
        format!("evt_{id}_failed"),
        format!("evt_{id}_paid"),
        format!("evt_{id}_provider_pending"),
    ];
    want.sort();
    assert_eq!(
        ids, want,
        "payment.paid follows the time-out's payment.failed"
    );
    let paid_event = events_of(&app, &id)
        .await
        .into_iter()
        .find(|e| e.kind == "payment.paid")
        .unwrap();
    assert_eq!(paid_event.payload["data"]["status"], "paid");
    assert_eq!(paid_event.payload["data"]["tx_hash"], "0xlate");
}

#[tokio::test]
async fn a_delayed_card_past_the_session_deadline_is_still_settled() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.card_checkout(CARD_DELAYED).await;
    app.execute(MAKE_DUE, &id).await;

    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
    let waiting = buyer.open().await;
    assert!(
        waiting.html.contains("Waiting for the payment provider"),
        "{}",
        waiting.html
    );
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 1);

    assert_result_page(
        &buyer.open().await,
        true,
        Some(&expected_return(REDIRECT, &id, "paid")),
    );
    assert_eq!(app.stored_status(&id).await, "paid");
}

#[tokio::test]
async fn a_challenge_the_buyer_never_answers_times_out_at_the_provider_deadline() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let challenge = buyer.card_checkout(CARD_CHALLENGE).await;
    assert!(challenge.form_action().ends_with("/challenge"));
    let payment_id = api_payment(&app, &id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Past both deadlines: the session's and the provider's.
    app.execute(MAKE_DUE, &id).await;
    app.execute(
        "UPDATE payments SET provider_deadline = 0, next_poll_at = 0 WHERE id = $1",
        &payment_id,
    )
    .await;

    let swept = expire_due(app.state.lifecycle()).await.unwrap();
    let finished = reconcile_once(app.state.lifecycle()).await.unwrap();

    assert_eq!(
        swept + finished,
        1,
        "an abandoned challenge must end (expired or timed out), not stay pending forever"
    );
    let payment = api_payment(&app, &id).await;
    assert_eq!(payment["status"], "failed", "{payment}");
    let invoice = api_invoice(&app, payment["invoiceId"].as_str().unwrap()).await;
    assert_eq!(invoice["status"], "void", "{invoice}");
    assert_ne!(app.stored_status(&id).await, "pending");
}

#[tokio::test]
async fn the_merchant_api_agrees_with_the_page_on_an_abandoned_card_form_past_its_deadline() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.choose(CARD_ROUTE).await;
    app.execute(MAKE_DUE, &id).await;

    let page = buyer.open().await;
    let status = buyer.status_json().await;
    let session = api_session(&app, &id).await;

    assert!(
        page.html.contains("This checkout has expired."),
        "{}",
        page.html
    );
    assert_eq!(status["status"], "expired", "{status}");
    assert_eq!(
        session["status"], "expired",
        "before the sweep, the API should read as the buyer's page does: {session}"
    );
}
