//! Every route's success and failure paths, from the checkout page to the redirect (SPEC 3, 4,
//! 5): the pages a buyer walks through, then the payment, invoice, session and events left.

use openrails_checkout::lifecycle::reconcile_once;

use crate::checkout_support::*;
use crate::helpers::spawn_app;

fn card(paid: bool, failure_code: Option<&str>) -> Expected<'_> {
    Expected {
        paid,
        failure_code,
        route: CARD_ROUTE,
        kind: "card",
        amount: 116.0,
    }
}

#[tokio::test]
async fn card_payment_with_4242_reaches_the_redirect_as_paid() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let result = buyer.card_checkout(CARD_PAYS).await;

    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    let payment = assert_finished(&app, &id, &card(true, None)).await;
    assert_eq!(payment["card"]["brand"], "visa", "{payment}");
    assert_eq!(payment["card"]["last4"], "4242", "{payment}");
    assert!(
        payment["txHash"]
            .as_str()
            .is_some_and(|h| h.starts_with("0x")),
        "{payment}"
    );
    let status = buyer.status_json().await;
    assert_eq!(status["status"], "paid", "{status}");
}

#[tokio::test]
async fn declined_card_reaches_the_redirect_as_failed_with_card_declined() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let retry = buyer.card_checkout(CARD_DECLINED).await;
    assert_retry_page(&retry, "The card was declined.");
    let result = buyer.leave(&retry).await;

    assert_result_page(
        &result,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert!(
        result.html.contains("The card was declined."),
        "{}",
        result.html
    );
    assert_finished(&app, &id, &card(false, Some("card_declined"))).await;
}

#[tokio::test]
async fn card_without_funds_fails_with_insufficient_funds() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let retry = buyer.card_checkout(CARD_NO_FUNDS).await;
    assert_retry_page(&retry, "The card has insufficient funds.");
    let result = buyer.leave(&retry).await;

    assert_result_page(
        &result,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert!(
        result.html.contains("insufficient funds"),
        "{}",
        result.html
    );
    assert_finished(&app, &id, &card(false, Some("insufficient_funds"))).await;
}

#[tokio::test]
async fn challenge_card_approved_by_the_buyer_is_paid() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let challenge = buyer.card_checkout(CARD_CHALLENGE).await;
    assert!(
        challenge.form_action().ends_with("/challenge"),
        "the challenge step is shown:\n{}",
        challenge.html
    );
    assert_eq!(
        challenge.button_values("action"),
        vec!["approve".to_owned(), "deny".to_owned()]
    );
    let pending = api_payment(&app, &id).await;
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_eq!(app.stored_status(&id).await, "pending");

    let result = buyer.press("approve").await;

    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    assert_finished(&app, &id, &card(true, None)).await;
}

#[tokio::test]
async fn challenge_card_denied_by_the_buyer_fails_with_authentication_failed() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.card_checkout(CARD_CHALLENGE).await;

    let retry = buyer.press("deny").await;
    assert_retry_page(&retry, "confirmation step was not completed.");
    let result = buyer.leave(&retry).await;

    assert_result_page(
        &result,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert_finished(&app, &id, &card(false, Some("authentication_failed"))).await;
}

#[tokio::test]
async fn delayed_card_waits_honestly_then_is_paid_when_reconciled() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let waiting = buyer.card_checkout(CARD_DELAYED).await;

    assert_eq!(waiting.status, 200);
    assert!(
        waiting.html.contains("Waiting for the payment provider"),
        "{}",
        waiting.html
    );
    assert!(!waiting.has_form(), "nothing to submit while waiting");
    let refresh = waiting.refresh().expect("a waiting page refreshes itself");
    assert!(
        !refresh.contains("url="),
        "it refreshes itself, not elsewhere: {refresh}"
    );
    assert_eq!(buyer.status_json().await["status"], "pending");
    assert_eq!(api_payment(&app, &id).await["status"], "pending");
    assert_eq!(
        event_ids(&app, &id).await,
        vec![format!("evt_{id}_provider_pending")]
    );

    let finished = reconcile_once(app.state.lifecycle()).await.unwrap();

    assert_eq!(finished, 1, "the reconciler settles the delayed card");
    let result = buyer.open().await;
    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    assert_finished(&app, &id, &card(true, None)).await;
    assert_eq!(
        reconcile_once(app.state.lifecycle()).await.unwrap(),
        0,
        "a second pass finds nothing to do"
    );
    assert_eq!(event_ids(&app, &id).await.len(), 2);
}

fn wallet(paid: bool, failure_code: Option<&str>) -> Expected<'_> {
    Expected {
        paid,
        failure_code,
        route: WALLET_ROUTE,
        kind: "wallet",
        amount: 116.0,
    }
}

fn local(paid: bool, failure_code: Option<&str>) -> Expected<'_> {
    Expected {
        paid,
        failure_code,
        route: LOCAL_ROUTE,
        kind: "local",
        amount: 116.0,
    }
}

#[tokio::test]
async fn wallet_transfer_shows_usdc_instructions_then_is_paid() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let instructions = buyer.choose(WALLET_ROUTE).await;

    assert!(
        instructions.html.contains("Send USDC on Base"),
        "{}",
        instructions.html
    );
    // 116 + 0.5 % buyer fee (0.58): the exact amount to send.
    assert!(
        instructions.html.contains("116.58 USDC"),
        "{}",
        instructions.html
    );
    assert!(
        instructions.html.contains("<svg"),
        "a QR code is drawn on the server"
    );
    assert!(instructions.html.contains("@8453/transfer?address="));
    assert!(
        instructions.refresh().is_some(),
        "the page refreshes itself"
    );
    assert_eq!(
        instructions.button_values("action"),
        vec!["transfer".to_owned(), "transfer_fail".to_owned()]
    );
    let in_flight = api_payment(&app, &id).await;
    assert_eq!(in_flight["status"], "pending", "{in_flight}");
    assert_eq!(
        event_ids(&app, &id).await,
        vec![format!("evt_{id}_provider_pending")],
        "the wallet hand-off happens at once"
    );

    let result = buyer.press("transfer").await;

    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    let payment = assert_finished(&app, &id, &wallet(true, None)).await;
    assert!(
        payment["txHash"].as_str().is_some_and(|h| h.len() == 66),
        "{payment}"
    );
    assert!(payment["card"].is_null(), "{payment}");
}

#[tokio::test]
async fn failed_wallet_transfer_reaches_the_redirect_as_failed() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.choose(WALLET_ROUTE).await;

    let retry = buyer.press("transfer_fail").await;
    assert_retry_page(&retry, "The wallet transfer failed.");
    let result = buyer.leave(&retry).await;

    assert_result_page(
        &result,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert_finished(&app, &id, &wallet(false, Some("transfer_failed"))).await;
}

#[tokio::test]
async fn bank_transfer_shows_a_reference_then_is_paid_when_the_bank_confirms() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let instructions = buyer.choose(LOCAL_ROUTE).await;

    assert!(
        instructions.html.contains("Pay by bank transfer"),
        "{}",
        instructions.html
    );
    assert!(instructions.html.contains("ORC-"), "a unique reference");
    assert!(instructions.html.contains("$116.00"), "no buyer fee");
    assert_eq!(
        instructions.button_values("action"),
        vec!["bank_confirm".to_owned(), "bank_reject".to_owned()]
    );

    let result = buyer.press("bank_confirm").await;

    assert_result_page(&result, true, Some(&expected_return(REDIRECT, &id, "paid")));
    assert_finished(&app, &id, &local(true, None)).await;
}

#[tokio::test]
async fn bank_transfer_rejected_by_the_bank_reaches_the_redirect_as_failed() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.choose(LOCAL_ROUTE).await;

    let retry = buyer.press("bank_reject").await;
    assert_retry_page(&retry, "The bank rejected the transfer.");
    let result = buyer.leave(&retry).await;

    assert_result_page(
        &result,
        false,
        Some(&expected_return(REDIRECT, &id, "failed")),
    );
    assert!(
        result.html.contains("The bank rejected the transfer."),
        "{}",
        result.html
    );
    assert_finished(&app, &id, &local(false, Some("bank_rejected"))).await;
}

#[tokio::test]
async fn the_return_link_replaces_the_session_placeholder_and_keeps_the_merchants_query() {
    let app = spawn_app().await;
    let redirect = "http://localhost:3000/orders/{CHECKOUT_SESSION_ID}/done?ref=a&lang=en";
    let id = create_checkout(&app, &checkout_body(116.0, Some(redirect))).await;
    let buyer = Buyer::new(&app, &id);

    let result = buyer.card_checkout(CARD_PAYS).await;

    let expected = format!(
        "http://localhost:3000/orders/{id}/done?ref=a&lang=en&checkout_session_id={id}&status=paid"
    );
    assert_result_page(&result, true, Some(&expected));
    assert!(
        result.html.contains("ref=a&#38;lang=en") || result.html.contains("ref=a&amp;lang=en"),
        "the ampersands are escaped in the page:\n{}",
        result.html
    );
}

#[tokio::test]
async fn without_a_redirect_url_the_result_page_is_the_end() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(&app, &id);

    let paid = buyer.card_checkout(CARD_PAYS).await;
    assert_result_page(&paid, true, None);

    let other = create_checkout(&app, &checkout_body(116.0, None)).await;
    let buyer = Buyer::new(&app, &other);
    let retry = buyer.card_checkout(CARD_DECLINED).await;
    assert_retry_page(&retry, "The card was declined.");
    assert!(retry.html.contains("Cancel the payment"), "{}", retry.html);
    let failed = buyer.leave(&retry).await;
    assert_result_page(&failed, false, None);
}

#[tokio::test]
async fn the_back_button_after_paying_shows_the_paid_result_not_a_form() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);
    buyer.card_checkout(CARD_PAYS).await;

    for _ in 0..2 {
        let again = buyer.open().await;
        assert_result_page(&again, true, Some(&expected_return(REDIRECT, &id, "paid")));
        assert!(!again.html.contains("cc-number"));
    }
    assert_eq!(payment_count(&app, &id).await, 1);
}

#[tokio::test]
async fn the_status_json_follows_the_session_from_routed_to_paid() {
    let app = spawn_app().await;
    let id = create_checkout(&app, &checkout_body(116.0, Some(REDIRECT))).await;
    let buyer = Buyer::new(&app, &id);

    let routed = buyer.status_json().await;
    assert_eq!(routed["status"], "routed", "{routed}");
    buyer.choose(CARD_ROUTE).await;
    let pending = buyer.status_json().await;
    assert_eq!(pending["status"], "pending", "{pending}");
    assert_ne!(pending["state"], routed["state"], "the state key changes");
    buyer.pay_with_card(CARD_PAYS).await;
    let paid = buyer.status_json().await;
    assert_eq!(paid["status"], "paid", "{paid}");
    assert!(
        paid["state"]
            .as_str()
            .is_some_and(|s| s.starts_with("paid"))
    );
}

#[tokio::test]
async fn the_preferred_route_is_preselected_among_every_sandbox_route() {
    let app = spawn_app().await;
    for (preferred, route) in [
        ("card", CARD_ROUTE),
        ("wallet", WALLET_ROUTE),
        ("local", LOCAL_ROUTE),
    ] {
        let mut body = checkout_body(116.0, Some(REDIRECT));
        body["preferredRoute"] = preferred.into();
        let id = create_checkout(&app, &body).await;

        let page = Buyer::new(&app, &id).open().await;

        assert_eq!(
            page.radio_values("route"),
            vec![
                CARD_ROUTE.to_owned(),
                WALLET_ROUTE.to_owned(),
                LOCAL_ROUTE.to_owned()
            ]
        );
        let at = page.html.find(&format!("value=\"{route}\"")).unwrap();
        let tag_end = page.html[at..].find('>').unwrap() + at;
        assert!(
            page.html[at..tag_end].contains("checked"),
            "{preferred} is preselected:\n{}",
            page.html
        );
        assert_eq!(page.html.matches(" checked").count(), 1, "{}", page.html);
        assert!(page.html.contains("$116.00"));
        assert!(page.html.contains("$116.58"), "the wallet's total");
    }
}
