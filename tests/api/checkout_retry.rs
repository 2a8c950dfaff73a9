//! A failed payment is not the end (SPEC 3): while the session is open the buyer pays again,
//! as a new payment of the same session, by the same route or another, up to
//! `payment_attempts_per_session`; the session fails only when the buyer gives up or the
//! attempts run out. Every page the buyer sees has an address that shows it again.

use futures_util::future::join_all;
use openrails_checkout::lifecycle::expire_due;
use serde_json::Value;

use crate::checkout_support::*;
use crate::helpers::{spawn_app, spawn_app_with};

fn card(paid: bool, failure_code: Option<&str>) -> Expected<'_> {
    Expected {
        paid,
        failure_code,
        route: CARD_ROUTE,
        kind: "card",
        amount: 116.0,
    }
}

/// The session's payments, through the API.
async fn payments(app: &crate::helpers::TestApp, session_id: &str) -> Vec<Value> {
    let list = get_json(
        app,
        &format!("/api/gateway/payments?paymentId={session_id}&limit=100"),
    )
    .await;
    list["data"].as_array().unwrap().clone()
}

/// Fills in the card form shown on `page` and submits it, following the `303`.
pub(crate) async fn pay_on(buyer: &Buyer, page: &Page, number: &str) -> Page {
    let (action, token) = page
        .form_ending("/card")
        .unwrap_or_else(|| panic!("no card form:\n{}", page.html));
    let response = buyer
        .post_form(
            &action,
            &[
                ("token", &token),
                ("number", number),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada Buyer"),
            ],
        )
        .await;
    buyer.assert_see_other(response).await;
    buyer.open().await
}

#[tokio::test]
async fn a_declined_card_can_be_followed_by_another_card_as_a_second_payment() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let retry = buyer.card_checkout(CARD_DECLINED).await;
    assert_retry_page(&retry, "The card was declined.");
    assert!(
        retry.html.contains("href=\"#number\""),
        "the reason links to the card number:\n{}",
        retry.html
    );
    assert_eq!(app.stored_status(&id).await, "routed");

    let paid = pay_on(&buyer, &retry, CARD_PAYS).await;

    assert_result_page(&paid, true, Some(&expected_return(REDIRECT, &id, "paid")));
    let all = payments(&app, &id).await;
    assert_eq!(all.len(), 2, "{all:?}");
    let statuses: Vec<&str> = all.iter().map(|p| p["status"].as_str().unwrap()).collect();
    assert!(
        statuses.contains(&"failed") && statuses.contains(&"paid"),
        "{statuses:?}"
    );
    let session = api_session(&app, &id).await;
    assert_eq!(session["status"], "paid", "{session}");
    let paid_payment = all.iter().find(|p| p["status"] == "paid").unwrap();
    assert_eq!(paid_payment["attempt"], 2, "{paid_payment}");
    assert_eq!(session["paymentId"], paid_payment["id"], "{session}");
    assert_eq!(api_payment(&app, &id).await["id"], paid_payment["id"]);
    // Each payment has its own invoice: the failed one void, the paid one paid.
    for p in &all {
        let invoice = api_invoice(&app, p["invoiceId"].as_str().unwrap()).await;
        let want = if p["status"] == "paid" {
            "paid"
        } else {
            "void"
        };
        assert_eq!(invoice["status"], want, "{invoice}");
    }
    assert_eq!(invoice_count(&app, &id).await, 2);
    // The merchant hears of each payment, with ids that tell the attempts apart.
    assert_eq!(
        event_ids(&app, &id).await,
        vec![
            format!("evt_{id}_failed"),
            format!("evt_{id}_paid_2"),
            format!("evt_{id}_provider_pending"),
            format!("evt_{id}_provider_pending_2"),
        ]
    );
    let events = events_of(&app, &id).await;
    let failed = events.iter().find(|e| e.kind == "payment.failed").unwrap();
    assert_eq!(failed.payload["data"]["failure_code"], "card_declined");
    assert_ne!(
        failed.payload["data"]["payment_id"], paid_payment["id"],
        "payment.failed names the declined payment"
    );
}

#[tokio::test]
async fn after_a_failure_the_buyer_may_pay_another_way() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let retry = buyer.card_checkout(CARD_DECLINED).await;
    let other_way = format!("/checkout/{id}/routes");
    assert!(retry.html.contains(&other_way), "{}", retry.html);

    let routes = Page::read(buyer.client.get(app.url(&other_way)).send().await.unwrap()).await;

    assert_retry_page(&routes, "The card was declined.");
    assert_eq!(
        routes.radio_values("route").len(),
        3,
        "every route is offered again"
    );
    assert!(
        routes
            .html
            .contains("value=\"card-bridge-a\" required checked"),
        "the route that failed stays selected:\n{}",
        routes.html
    );
    let (action, token) = routes.form_ending("/start").unwrap();
    buyer
        .assert_see_other(
            buyer
                .post_form(&action, &[("token", &token), ("route", WALLET_ROUTE)])
                .await,
        )
        .await;
    let paid = buyer.press("transfer").await;

    assert_result_page(&paid, true, Some(&expected_return(REDIRECT, &id, "paid")));
    let session = api_session(&app, &id).await;
    assert_eq!(session["route"]["id"], WALLET_ROUTE, "{session}");
    assert_eq!(payments(&app, &id).await.len(), 2);
}

#[tokio::test]
async fn when_the_attempts_run_out_the_session_fails_and_the_buyer_chooses_when_to_go() {
    let app = spawn_app_with(|s| s.payment_attempts_per_session = 2).await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let retry = buyer.card_checkout(CARD_DECLINED).await;
    assert_retry_page(&retry, "The card was declined.");

    let last = pay_on(&buyer, &retry, CARD_NO_FUNDS).await;

    assert_eq!(app.stored_status(&id).await, "failed");
    assert!(last.html.contains("Payment failed"), "{}", last.html);
    assert!(!last.has_form(), "no attempt is left:\n{}", last.html);
    assert_eq!(
        last.return_href().as_deref(),
        Some(expected_return(REDIRECT, &id, "failed").as_str())
    );
    assert_eq!(last.refresh(), None, "no timed exit");
    assert_eq!(payments(&app, &id).await.len(), 2);
    let types: Vec<String> = events_of(&app, &id)
        .await
        .into_iter()
        .map(|e| e.kind)
        .filter(|k| k == "payment.failed")
        .collect();
    assert_eq!(types.len(), 2, "payment.failed for each failed payment");
    assert_payment_count_stays(&app, &id, &buyer, &retry).await;
}

/// The old form cannot start a third payment.
async fn assert_payment_count_stays(
    app: &crate::helpers::TestApp,
    id: &str,
    buyer: &Buyer,
    old: &Page,
) {
    let (action, token) = old.form_ending("/card").unwrap();
    let response = buyer
        .post_form(
            &action,
            &[
                ("token", &token),
                ("number", CARD_PAYS),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada"),
            ],
        )
        .await;
    buyer.assert_see_other(response).await;
    assert_eq!(payments(app, id).await.len(), 2);
}

#[tokio::test]
async fn leaving_after_a_failure_fails_the_session_and_sends_the_buyer_back_at_once() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let retry = buyer.card_checkout(CARD_DECLINED).await;
    assert_failed_attempt(&app, &id, &card(false, Some("card_declined"))).await;
    let events_before = event_ids(&app, &id).await;

    let gone = buyer.leave(&retry).await;

    assert_result_page(
        &gone,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert_finished(&app, &id, &card(false, Some("card_declined"))).await;
    let sent_back = format!("SELECT sent_back_at FROM checkout_sessions WHERE id = '{id}'");
    let first = app.scalar(&sent_back).await;
    assert!(first > 0, "the way back is noted for the timeline");
    assert_eq!(
        event_ids(&app, &id).await,
        events_before,
        "no new event: the merchant had payment.failed already"
    );
    // Later visits show the failed page with the way back, and no timer.
    let later = buyer.open().await;
    assert_eq!(later.refresh(), None);
    assert!(!later.has_form());
    // Leaving twice changes nothing.
    assert_eq!(buyer.leave(&retry).await.status, 200);
    assert_eq!(app.stored_status(&id).await, "failed");
    assert_eq!(app.scalar(&sent_back).await, first, "noted once");
}

#[tokio::test]
async fn a_session_left_open_after_a_failure_still_expires() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.card_checkout(CARD_DECLINED).await;
    app.execute(
        "UPDATE checkout_sessions SET expires_at = 0 WHERE id = $1",
        &id,
    )
    .await;

    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 1);

    assert_eq!(app.stored_status(&id).await, "expired");
    let page = buyer.open().await;
    assert!(
        page.html.contains("This checkout has expired."),
        "{}",
        page.html
    );
    assert!(!page.has_form());
    assert!(
        event_ids(&app, &id)
            .await
            .contains(&format!("evt_{id}_expired"))
    );
}

#[tokio::test]
async fn two_tabs_trying_again_at_once_make_one_new_payment() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let retry = buyer.card_checkout(CARD_DECLINED).await;
    let (action, token) = retry.form_ending("/card").unwrap();
    let fields = [
        ("token", token.as_str()),
        ("number", CARD_PAYS),
        ("expiry", FUTURE_EXPIRY),
        ("cvc", "123"),
        ("name", "Ada"),
    ];

    let responses = join_all((0..10).map(|_| buyer.post_form(&action, &fields))).await;

    for response in responses {
        buyer.assert_see_other(response).await;
    }
    assert_eq!(payments(&app, &id).await.len(), 2, "one new payment");
    assert_eq!(app.stored_status(&id).await, "paid");
}

#[tokio::test]
async fn the_card_form_with_errors_has_an_address_that_shows_it_again() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    let card_form = buyer.choose(CARD_ROUTE).await;
    let response = buyer
        .post_form(
            &card_form.form_action(),
            &[
                ("token", card_form.input_value("token").as_str()),
                ("number", "4242"),
                ("expiry", FUTURE_EXPIRY),
                ("cvc", "123"),
                ("name", "Ada"),
            ],
        )
        .await;
    let errors = Page::read(response).await;
    assert_eq!(errors.status, 422);
    let card_path = format!("/checkout/{id}/card");
    assert!(
        errors
            .html
            .contains(&format!("href=\"{card_path}?lang=es\"")),
        "the language links keep the buyer on the card form:\n{}",
        errors.html
    );

    for path in [card_path.clone(), format!("{card_path}?lang=es")] {
        let again = Page::read(buyer.client.get(app.url(&path)).send().await.unwrap()).await;
        assert_eq!(again.status, 200, "GET {path}: {}", again.html);
        assert!(
            again.html.contains("autocomplete=\"cc-number\""),
            "{}",
            again.html
        );
    }
    let spanish = Page::read(
        buyer
            .client
            .get(app.url(&format!("{card_path}?lang=es")))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(spanish.html.contains("lang=\"es\""), "{}", spanish.html);

    // Other forms' addresses show the checkout page; a card address with nothing to pay by card
    // does too.
    for step in ["start", "challenge", "simulate", "leave"] {
        let response = buyer
            .client
            .get(app.url(&format!("/checkout/{id}/{step}?lang=es")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 303, "GET /{step}");
        assert_eq!(
            response.headers()["location"],
            format!("/checkout/{id}?lang=es").as_str()
        );
    }
    let unknown = buyer
        .client
        .get(app.url(&format!("/checkout/{id}/nothing")))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}

#[tokio::test]
async fn checkout_pages_ask_not_to_be_indexed() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let page = Buyer::new(&app, &id).open().await;

    assert_eq!(page.header("x-robots-tag"), "noindex");
    assert!(
        page.html
            .contains("<meta name=\"robots\" content=\"noindex\">"),
        "{}",
        page.html
    );
}
