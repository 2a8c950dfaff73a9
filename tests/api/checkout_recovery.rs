//! A hand-off cut short: the process dies, or the database fails, between claiming a payment
//! and recording what the provider answered, or between that and applying the provider's
//! outcome. The payment must not stay stranded until the provider time-out fails it (although
//! the provider may have taken the money): reconciliation drives the hand-off again with the
//! same idempotency key, or polls the provider, and settles it as the provider decided, with
//! every event exactly once.
//!
//! A kill at a point leaves the database exactly as the first half of the hand-off wrote it,
//! so those cases run the first half through the real lifecycle functions and stop there; the
//! database failures are real ones, raised by a trigger while the buyer submits the real form.

use openrails_checkout::db::Backend;
use openrails_checkout::db::payments::{PaymentRow, get_payment_by_session};
use openrails_checkout::db::sessions::get_session_by_id;
use openrails_checkout::domain::SessionId;
use openrails_checkout::domain::card::{Card, CardForm};
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::lifecycle::{
    checkout_view, claim_hand_off, provider_view, reconcile_once, start_payment,
};
use openrails_checkout::providers::{StartRequest, idempotency_key};

use crate::checkout_support::{
    Buyer, CARD_PAYS, CARD_ROUTE, FUTURE_EXPIRY, REDIRECT, WALLET_ROUTE, api_payment,
    assert_result_page, checkout_body, create_checkout, event_ids, expected_return,
};
use crate::helpers::TestApp;

fn card(number: &str) -> Card {
    let form = CardForm {
        number,
        expiry: FUTURE_EXPIRY,
        cvc: "123",
        name: "Ada Buyer",
    };
    Card::parse(&form, 2026, 1).expect("a valid test card")
}

async fn payment_of(app: &TestApp, session_id: &str) -> PaymentRow {
    get_payment_by_session(&app.db.write, &SessionId::parse(session_id).unwrap())
        .await
        .unwrap()
        .expect("the session has a payment")
}

/// Makes every in-flight payment due for reconciliation (as time passing would).
async fn make_due(app: &TestApp, payment_id: &str) {
    app.execute(
        "UPDATE payments SET next_poll_at = 0 WHERE id = $1",
        payment_id,
    )
    .await;
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut ids = ids.to_vec();
    ids.sort();
    ids
}

/// A payment claimed for the card route, its card form submitted up to the claim.
async fn claimed_card_payment(app: &TestApp, number: &str) -> (String, PaymentRow, Card) {
    let id = create_checkout(app, &checkout_body(116.0, Some(REDIRECT))).await;
    Buyer::new(app, &id).choose(CARD_ROUTE).await;
    let payment = payment_of(app, &id).await;
    let card = card(number);
    let deadline = now_ms() + 1_800_000;
    assert!(
        claim_hand_off(
            app.state.lifecycle(),
            &payment,
            Some(&card),
            deadline,
            now_ms()
        )
        .await
        .unwrap()
    );
    let claimed = payment_of(app, &id).await;
    (id, claimed, card)
}

#[tokio::test]
async fn a_crash_after_the_provider_approved_a_card_ends_paid_not_timed_out() {
    let app = crate::helpers::spawn_app().await;
    let (id, payment, card) = claimed_card_payment(&app, CARD_PAYS).await;
    // The provider takes the card and approves it; the process dies before recording that.
    let key = idempotency_key(&payment.id);
    let provider = app.state.providers.get("sandbox").unwrap().clone();
    let session = get_session_by_id(&app.db.write, &payment.session_id)
        .await
        .unwrap()
        .unwrap();
    provider
        .start(StartRequest {
            payment: &provider_view(&payment),
            card: Some(&card),
            idempotency_key: &key,
            checkout: &checkout_view(&app.public_url, &session),
        })
        .await
        .unwrap();
    assert_eq!(api_payment(&app, &id).await["status"], "pending");

    // The next instance's reconciliation, once the claim is old enough to be a stranded one.
    make_due(&app, payment.id.as_str()).await;
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 1);

    let paid = api_payment(&app, &id).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(paid["card"]["last4"], "4242", "{paid}");
    assert_eq!(app.stored_status(&id).await, "paid");
    assert_eq!(
        event_ids(&app, &id).await,
        sorted(&[
            format!("evt_{id}_paid"),
            format!("evt_{id}_provider_pending")
        ])
    );
    assert_result_page(
        &Buyer::new(&app, &id).open().await,
        true,
        Some(&expected_return(REDIRECT, &id, "paid")),
    );
    // Driving it again changes nothing.
    make_due(&app, payment.id.as_str()).await;
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 0);
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn a_crash_before_the_card_reached_the_provider_fails_at_once_saying_no_money_was_taken() {
    let app = crate::helpers::spawn_app().await;
    let (id, payment, _card) = claimed_card_payment(&app, CARD_PAYS).await;

    make_due(&app, payment.id.as_str()).await;
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 1);

    let failed = api_payment(&app, &id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failureCode"], "handoff_interrupted", "{failed}");
    assert_eq!(event_ids(&app, &id).await, vec![format!("evt_{id}_failed")]);
}

#[tokio::test]
async fn a_crash_before_a_wallet_hand_off_reached_the_provider_is_driven_again() {
    let app = crate::helpers::spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    // Choosing the wallet route starts the payment already claimed for its provider and hands
    // it off at once; here the process dies right after the start.
    let route = app
        .state
        .settings
        .routes
        .iter()
        .find(|r| r.id == WALLET_ROUTE)
        .unwrap()
        .clone();
    let session_id = SessionId::from_trusted(id.clone());
    start_payment(app.state.lifecycle(), &session_id, &route, "en")
        .await
        .unwrap();
    let payment = payment_of(&app, &id).await;
    assert_eq!(payment.provider_state.as_str(), "in_flight", "{payment:?}");
    assert!(event_ids(&app, &id).await.is_empty());

    make_due(&app, payment.id.as_str()).await;
    assert_eq!(
        reconcile_once(app.state.lifecycle()).await.unwrap(),
        0,
        "still owed"
    );

    let driven = payment_of(&app, &id).await;
    assert!(driven.provider_ref.is_some(), "{driven:?}");
    assert!(driven.provider_data.contains("address"), "{driven:?}");
    assert_eq!(
        event_ids(&app, &id).await,
        vec![format!("evt_{id}_provider_pending")]
    );
    // The buyer sees the instructions and can pay.
    let instructions = buyer.open().await;
    assert!(instructions.html.contains("USDC"), "{}", instructions.html);
    buyer.press("transfer").await;
    assert_eq!(app.stored_status(&id).await, "paid");
}

/// Makes the database refuse, from now on, writes that match `when` (SQL over OLD and NEW).
async fn fail_payment_updates(app: &TestApp, name: &str, when: &str) {
    let statements: Vec<String> = match app.db.backend {
        Backend::Sqlite => vec![format!(
            "CREATE TRIGGER {name} BEFORE UPDATE ON payments WHEN {when}
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END"
        )],
        Backend::Postgres => vec![
            "CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS
             $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$"
                .to_owned(),
            format!(
                "CREATE TRIGGER {name} BEFORE UPDATE ON payments FOR EACH ROW WHEN ({when})
                 EXECUTE FUNCTION injected_fault()"
            ),
        ],
    };
    for sql in statements {
        sqlx::query(&sql).execute(&app.db.write).await.unwrap();
    }
}

async fn heal(app: &TestApp, name: &str) {
    let sql = match app.db.backend {
        Backend::Sqlite => format!("DROP TRIGGER {name}"),
        Backend::Postgres => format!("DROP TRIGGER {name} ON payments"),
    };
    sqlx::query(&sql).execute(&app.db.write).await.unwrap();
}

/// Submits the card form; the answer may be an error page, since the database fails.
async fn submit_card(buyer: &Buyer, number: &str) {
    let form = buyer.choose(CARD_ROUTE).await;
    let token = form.input_value("token");
    buyer
        .post_form(
            &form.form_action(),
            &[
                ("token", token.as_str()),
                ("number", number),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada Buyer"),
            ],
        )
        .await;
}

#[tokio::test]
async fn a_database_failure_while_recording_the_providers_answer_is_recovered() {
    let app = crate::helpers::spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    fail_payment_updates(
        &app,
        "fail_answer",
        "NEW.provider_ref IS NOT NULL AND OLD.provider_ref IS NULL",
    )
    .await;

    submit_card(&buyer, CARD_PAYS).await;

    let stranded = payment_of(&app, &id).await;
    assert_eq!(stranded.provider_state.as_str(), "in_flight");
    assert!(stranded.provider_ref.is_none(), "{stranded:?}");
    heal(&app, "fail_answer").await;
    make_due(&app, stranded.id.as_str()).await;
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 1);

    assert_eq!(api_payment(&app, &id).await["status"], "paid");
    assert_eq!(
        event_ids(&app, &id).await,
        sorted(&[
            format!("evt_{id}_paid"),
            format!("evt_{id}_provider_pending")
        ])
    );
}

#[tokio::test]
async fn a_database_failure_while_applying_the_providers_approval_is_recovered_by_polling() {
    let app = crate::helpers::spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    fail_payment_updates(&app, "fail_outcome", "NEW.status <> OLD.status").await;

    submit_card(&buyer, CARD_PAYS).await;

    let stranded = payment_of(&app, &id).await;
    assert_eq!(stranded.status.as_str(), "pending");
    assert!(stranded.provider_ref.is_some(), "{stranded:?}");
    heal(&app, "fail_outcome").await;
    make_due(&app, stranded.id.as_str()).await;
    assert_eq!(reconcile_once(app.state.lifecycle()).await.unwrap(), 1);

    let paid = api_payment(&app, &id).await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert_eq!(
        event_ids(&app, &id).await,
        sorted(&[
            format!("evt_{id}_paid"),
            format!("evt_{id}_provider_pending")
        ])
    );
}
