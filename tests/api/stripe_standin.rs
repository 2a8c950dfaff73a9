//! The Stripe stand-in (`examples/stripe_standin/`) tested from outside, as the product's
//! tests will use it: it must answer as Stripe's documented API does, or those tests prove
//! nothing. Each test starts its own stand-in on 127.0.0.1.

use std::collections::BTreeSet;
use std::time::Duration;

use openrails_checkout::crypto::signature;
use openrails_checkout::domain::time::now_ms;
use serde_json::Value;

use crate::stripe_support::{
    CANCEL_URL, StripeStandIn, StripeWebhookReceiver, check_signature_with_stripe_library,
    session_form, with, without,
};

const KEY: &str = "sk_test_51StandInTestKey0000000000000000";
const OTHER_KEY: &str = "sk_test_51StandInOtherKey000000000000000";
const LIVE_KEY: &str = "sk_live_51StandInLiveKey0000000000000000";
const WEBHOOK_SECRET: &str = "whsec_standInTestSigningSecret0000000000";

/// The top-level fields of `checkout.session` in Stripe's OpenAPI fixtures
/// (`openapi/fixtures3.json` of stripe/openapi).
const SESSION_FIELDS: &str = "\
    adaptive_pricing after_expiration allow_promotion_codes amount_subtotal amount_total \
    automatic_tax billing_address_collection cancel_url client_reference_id client_secret \
    collected_information consent consent_collection created currency currency_conversion \
    custom_fields custom_text customer customer_account customer_creation customer_details \
    customer_email discounts expires_at id integration_identifier invoice invoice_creation \
    livemode locale managed_payments metadata mode object origin_context payment_intent \
    payment_link payment_method_collection payment_method_configuration_details \
    payment_method_options payment_method_types payment_status permissions \
    phone_number_collection recovered_from saved_payment_method_options setup_intent \
    shipping_address_collection shipping_cost shipping_options status submit_type subscription \
    success_url total_details ui_mode url wallet_options";

/// The fields of `event` in the same fixtures.
const EVENT_FIELDS: &str = "\
    api_version created data id livemode object pending_webhooks request type";

fn fields(object: &Value) -> BTreeSet<&str> {
    object
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

fn now_seconds() -> i64 {
    now_ms() / 1000
}

async fn standin() -> StripeStandIn {
    StripeStandIn::start(KEY, None, WEBHOOK_SECRET).await
}

/// The `error` of a Stripe error answer, after checking its status.
async fn stripe_error(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    assert!(
        response.headers().contains_key("request-id"),
        "errors carry a Request-Id too"
    );
    let body: Value = response.json().await.unwrap();
    let error = body["error"].clone();
    assert!(error["type"].is_string(), "{body}");
    assert!(error["message"].is_string(), "{body}");
    error
}

#[tokio::test]
async fn a_created_session_is_shaped_like_stripes_and_reads_back_the_same() {
    let stripe = standin().await;
    let form = session_form();
    let form = with(form, "customer_email", "buyer@example.com");
    let form = with(form, "client_reference_id", "ord_284");
    let form = with(form, "metadata[order_id]", "ord_284");
    let form = with(form, "payment_method_types[0]", "card");
    let form = with(form, "line_items[0][quantity]", "2");

    let response = stripe.create_session(&form, None).await;
    assert_eq!(response.status(), 200);
    let request_id = response.headers()["request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(request_id.starts_with("req_"), "{request_id}");
    let session: Value = response.json().await.unwrap();

    assert_eq!(
        fields(&session),
        SESSION_FIELDS.split_whitespace().collect::<BTreeSet<_>>()
    );
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("cs_test_"), "{id}");
    assert_eq!(session["object"], "checkout.session");
    assert_eq!(session["amount_total"], 23944);
    assert_eq!(session["amount_subtotal"], 23944);
    assert_eq!(session["currency"], "usd");
    assert_eq!(session["customer_email"], "buyer@example.com");
    assert_eq!(session["client_reference_id"], "ord_284");
    assert_eq!(session["metadata"]["order_id"], "ord_284");
    assert_eq!(session["mode"], "payment");
    assert_eq!(session["status"], "open");
    assert_eq!(session["payment_status"], "unpaid");
    assert_eq!(session["payment_intent"], Value::Null);
    assert_eq!(session["livemode"], false);
    assert_eq!(session["payment_method_types"], serde_json::json!(["card"]));
    assert_eq!(session["success_url"], session_form()[1].1);
    assert_eq!(session["cancel_url"], CANCEL_URL);
    assert_eq!(session["url"], format!("{}/pay/{id}", stripe.url));
    let created = session["created"].as_i64().unwrap();
    assert!((created - now_seconds()).abs() < 60);
    assert_eq!(session["expires_at"].as_i64().unwrap(), created + 24 * 3600);

    assert_eq!(stripe.session(id).await, session);

    let requests = stripe.requests().await;
    let create = &requests[0];
    assert_eq!(create["method"], "POST");
    assert_eq!(create["path"], "/v1/checkout/sessions");
    assert_eq!(create["id"], request_id);
    assert_eq!(
        create["form"]["line_items[0][price_data][unit_amount]"],
        "11972"
    );
    assert_eq!(
        create["params"]["line_items"]["0"]["price_data"]["product_data"]["name"],
        "Creator plan"
    );
    assert_eq!(requests[1]["method"], "GET");
}

#[tokio::test]
async fn an_unknown_session_is_resource_missing_on_param_id() {
    let stripe = standin().await;
    let response = stripe
        .get("/v1/checkout/sessions/cs_test_a1nothing", KEY)
        .await;
    let error = stripe_error(response, 404).await;
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "resource_missing");
    assert_eq!(error["param"], "id");
    assert_eq!(
        error["message"],
        "No such checkout.session: 'cs_test_a1nothing'"
    );
}

#[tokio::test]
async fn a_live_key_makes_live_sessions_that_a_test_key_cannot_see() {
    let stripe = StripeStandIn::start(&format!("{KEY},{LIVE_KEY}"), None, WEBHOOK_SECRET).await;
    let response = stripe
        .post_form("/v1/checkout/sessions", LIVE_KEY, &session_form(), None)
        .await;
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    let id = session["id"].as_str().unwrap();
    assert!(id.starts_with("cs_live_"), "{id}");
    assert_eq!(session["livemode"], true);

    let response = stripe
        .get(&format!("/v1/checkout/sessions/{id}"), KEY)
        .await;
    let error = stripe_error(response, 404).await;
    assert_eq!(error["code"], "resource_missing");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("a similar object exists in live mode"),
        "{error}"
    );
}

#[tokio::test]
async fn the_same_idempotency_key_and_parameters_replay_the_first_session() {
    let stripe = standin().await;
    let form = session_form();
    let first = stripe.create_session(&form, Some("order-284")).await;
    assert_eq!(first.status(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_request = first.headers()["request-id"].to_str().unwrap().to_owned();
    let first: Value = first.json().await.unwrap();

    let again = stripe.create_session(&form, Some("order-284")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["original-request"], first_request.as_str());
    assert_eq!(again.headers()["idempotency-key"], "order-284");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again, first);

    let listed: Value = stripe
        .get("/v1/checkout/sessions", KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn the_same_idempotency_key_with_other_parameters_is_an_idempotency_error() {
    let stripe = StripeStandIn::start(&format!("{KEY},{OTHER_KEY}"), None, WEBHOOK_SECRET).await;
    let first = stripe
        .create_session(&session_form(), Some("order-284"))
        .await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();

    let changed = with(
        session_form(),
        "line_items[0][price_data][unit_amount]",
        "999",
    );
    let response = stripe.create_session(&changed, Some("order-284")).await;
    let error = stripe_error(response, 400).await;
    assert_eq!(error["type"], "idempotency_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Keys for idempotent requests can only be used with the same parameters"),
        "{error}"
    );

    // Keys are per secret key: another account may use the same one.
    let other = stripe
        .post_form(
            "/v1/checkout/sessions",
            OTHER_KEY,
            &changed,
            Some("order-284"),
        )
        .await;
    assert_eq!(other.status(), 200);
    assert!(other.headers().get("idempotent-replayed").is_none());
    let other: Value = other.json().await.unwrap();
    assert_ne!(other["id"], first["id"]);
    assert_eq!(other["amount_total"], 999);
}

#[tokio::test]
async fn a_wrong_or_missing_secret_key_gets_stripes_401() {
    let stripe = standin().await;
    let wrong = "sk_test_51SomebodyElsesKey0000000000000abcd";
    let response = stripe
        .post_form("/v1/checkout/sessions", wrong, &session_form(), None)
        .await;
    let error = stripe_error(response, 401).await;
    assert_eq!(error["type"], "invalid_request_error");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.starts_with("Invalid API Key provided: sk_test_*"),
        "{message}"
    );
    assert!(message.ends_with("abcd"), "{message}");
    assert!(
        !message.contains("SomebodyElses"),
        "the key is masked: {message}"
    );

    let response = stripe
        .client()
        .get(format!("{}/v1/checkout/sessions/cs_test_x", stripe.url))
        .send()
        .await
        .unwrap();
    let error = stripe_error(response, 401).await;
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("You did not provide an API key."),
        "{error}"
    );
}

#[tokio::test]
async fn missing_or_unknown_parameters_are_refused_naming_them() {
    let stripe = standin().await;
    for (form, code, param) in [
        (without(session_form(), "mode"), "parameter_missing", "mode"),
        (
            without(session_form(), "success_url"),
            "parameter_missing",
            "success_url",
        ),
        (
            without(session_form(), "line_items[0][price_data][currency]"),
            "parameter_missing",
            "line_items[0][price_data][currency]",
        ),
        (
            with(
                session_form(),
                "line_items[0][price_data][unit_amount]",
                "12.5",
            ),
            "parameter_invalid_integer",
            "line_items[0][price_data][unit_amount]",
        ),
        (
            with(session_form(), "success_url", ""),
            "parameter_invalid_empty",
            "success_url",
        ),
        (
            with(session_form(), "colour", "blue"),
            "parameter_unknown",
            "colour",
        ),
    ] {
        let response = stripe.create_session(&form, None).await;
        let error = stripe_error(response, 400).await;
        assert_eq!(error["type"], "invalid_request_error", "{error}");
        assert_eq!(error["code"], code, "{error}");
        assert_eq!(error["param"], param, "{error}");
    }
    let form: Vec<(&str, &str)> = session_form()
        .into_iter()
        .filter(|(name, _)| !name.starts_with("line_items"))
        .collect();
    let error = stripe_error(stripe.create_session(&form, None).await, 400).await;
    assert_eq!(error["param"], "line_items");
}

#[tokio::test]
async fn an_unknown_payment_method_type_is_refused_with_its_param() {
    let stripe = standin().await;
    let form = with(session_form(), "payment_method_types[0]", "card");
    let form = with(form, "payment_method_types[1]", "bitcoin");
    let error = stripe_error(stripe.create_session(&form, None).await, 400).await;
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "payment_method_types[1]");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid payment_method_types[1]: must be one of"),
        "{error}"
    );

    // A type Stripe knows but this account does not offer.
    let form = with(session_form(), "payment_method_types[0]", "paypal");
    let error = stripe_error(stripe.create_session(&form, None).await, 400).await;
    assert_eq!(error["param"], "payment_method_types");

    let form = with(session_form(), "payment_method_types[0]", "card");
    let form = with(form, "payment_method_types[1]", "us_bank_account");
    let session = stripe.new_session(&form).await;
    assert_eq!(
        session["payment_method_types"],
        serde_json::json!(["card", "us_bank_account"])
    );
}

#[tokio::test]
async fn expires_at_must_fall_between_30_minutes_and_24_hours_ahead() {
    let stripe = standin().await;
    let now = now_seconds();
    for seconds_ahead in [29 * 60, 24 * 3600 + 120] {
        let at = (now + seconds_ahead).to_string();
        let form = with(session_form(), "expires_at", &at);
        let error = stripe_error(stripe.create_session(&form, None).await, 400).await;
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["param"], "expires_at");
    }
    let at = (now + 2 * 3600).to_string();
    let session = stripe
        .new_session(&with(session_form(), "expires_at", &at))
        .await;
    assert_eq!(session["expires_at"], now + 2 * 3600);
}

#[tokio::test]
async fn injected_500s_429s_and_402s_fail_the_next_requests_then_it_recovers() {
    let stripe = standin().await;
    let form = session_form();
    stripe.fail_next(500, 2).await;
    for _ in 0..2 {
        let response = stripe.create_session(&form, Some("retry-me")).await;
        let error = stripe_error(response, 500).await;
        assert_eq!(error["type"], "api_error");
    }
    stripe.fail_next(429, 1).await;
    let error = stripe_error(stripe.create_session(&form, Some("retry-me")).await, 429).await;
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "rate_limit");
    stripe.fail_next(402, 1).await;
    let error = stripe_error(stripe.create_session(&form, Some("retry-me")).await, 402).await;
    assert_eq!(error["type"], "card_error");
    assert_eq!(error["code"], "card_declined");
    assert_eq!(error["decline_code"], "generic_decline");

    // The faults never ran the request, so the same idempotency key now creates the session.
    let response = stripe.create_session(&form, Some("retry-me")).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("idempotent-replayed").is_none());
    let statuses: Vec<u64> = stripe
        .requests()
        .await
        .iter()
        .map(|r| r["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [500, 500, 429, 402, 200]);
}

#[tokio::test]
async fn completing_a_session_delivers_a_signed_checkout_session_completed_event() {
    let receiver = StripeWebhookReceiver::start(&[]).await;
    let stripe = StripeStandIn::start(KEY, Some(&receiver.url), WEBHOOK_SECRET).await;
    let session = stripe.new_session(&session_form()).await;
    let id = session["id"].as_str().unwrap();

    let completed = stripe.complete(id, "paid").await;
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "paid");
    assert_eq!(completed["url"], Value::Null);
    assert!(
        completed["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );

    let delivery = receiver.wait_for(1).await.remove(0);
    assert_eq!(
        delivery.content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    let header = delivery.signature.as_deref().unwrap();
    assert!(
        header.starts_with("t=") && header.contains(",v1="),
        "{header}"
    );
    assert_eq!(
        signature::verify(
            WEBHOOK_SECRET.as_bytes(),
            Some(header),
            &delivery.body,
            now_seconds()
        ),
        Ok(())
    );
    assert_eq!(
        signature::verify(
            b"whsec_another",
            Some(header),
            &delivery.body,
            now_seconds()
        ),
        Err(signature::SignatureError::Mismatch)
    );

    let event = delivery.json();
    assert_eq!(
        fields(&event),
        EVENT_FIELDS.split_whitespace().collect::<BTreeSet<_>>()
    );
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["object"], "event");
    assert_eq!(event["type"], "checkout.session.completed");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["pending_webhooks"], 1);
    assert!(event["api_version"].is_string());
    assert_eq!(event["data"]["object"], completed);
    assert_eq!(stripe.session(id).await, completed);
    let record = stripe
        .wait_for_delivery(event["id"].as_str().unwrap(), "delivered")
        .await;
    assert_eq!(record["delivery"]["attempts"][0]["status"], 200);
}

#[tokio::test]
async fn a_webhook_answered_with_an_error_is_tried_again() {
    let receiver = StripeWebhookReceiver::start(&[500, 503]).await;
    let stripe = StripeStandIn::start(KEY, Some(&receiver.url), WEBHOOK_SECRET).await;
    let session = stripe.new_session(&session_form()).await;
    stripe.expire(session["id"].as_str().unwrap()).await;

    let deliveries = receiver.wait_for(3).await;
    assert!(deliveries.iter().all(|d| d.body == deliveries[0].body));
    for delivery in &deliveries {
        let header = delivery.signature.as_deref();
        assert_eq!(
            signature::verify(
                WEBHOOK_SECRET.as_bytes(),
                header,
                &delivery.body,
                now_seconds()
            ),
            Ok(())
        );
    }
    let id = deliveries[0].json()["id"].as_str().unwrap().to_owned();
    let record = stripe.wait_for_delivery(&id, "delivered").await;
    let statuses: Vec<&Value> = record["delivery"]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [500, 503, 200]);
    assert_eq!(record["event"]["type"], "checkout.session.expired");
}

#[tokio::test]
async fn held_webhooks_are_kept_until_released() {
    let receiver = StripeWebhookReceiver::start(&[]).await;
    let stripe = StripeStandIn::start(KEY, Some(&receiver.url), WEBHOOK_SECRET).await;
    let session = stripe.new_session(&session_form()).await;
    let id = session["id"].as_str().unwrap();

    stripe.hold_webhooks().await;
    stripe.complete(id, "paid").await;
    let events = stripe.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["delivery"]["state"], "held");
    assert_eq!(events[0]["event"]["type"], "checkout.session.completed");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.deliveries().is_empty(), "a held event was sent");

    let event_id = events[0]["event"]["id"].as_str().unwrap().to_owned();
    assert_eq!(stripe.release_webhooks().await, [event_id.as_str()]);
    let delivered = receiver.wait_for(1).await;
    assert_eq!(delivered[0].json()["id"], event_id.as_str());
    stripe.wait_for_delivery(&event_id, "delivered").await;

    stripe.resume_webhooks().await;
    let other = stripe.new_session(&session_form()).await;
    stripe.expire(other["id"].as_str().unwrap()).await;
    let delivered = receiver.wait_for(2).await;
    assert_eq!(delivered[1].json()["type"], "checkout.session.expired");
}

#[tokio::test]
async fn a_bank_payment_completes_unpaid_then_succeeds_or_fails_later() {
    let stripe = standin().await;
    let settles = stripe.new_session(&session_form()).await;
    let settles = settles["id"].as_str().unwrap();
    let fails = stripe.new_session(&session_form()).await;
    let fails = fails["id"].as_str().unwrap();

    let completed = stripe.complete(settles, "unpaid").await;
    assert_eq!(completed["status"], "complete");
    assert_eq!(completed["payment_status"], "unpaid");
    let succeeded = stripe.async_succeeded(settles).await;
    assert_eq!(succeeded["payment_status"], "paid");
    stripe.complete(fails, "unpaid").await;
    let failed = stripe.async_failed(fails).await;
    assert_eq!(failed["status"], "complete");
    assert_eq!(failed["payment_status"], "unpaid");

    let events: Vec<(String, String, String)> = stripe
        .events()
        .await
        .iter()
        .map(|record| {
            let event = &record["event"];
            (
                event["type"].as_str().unwrap().to_owned(),
                event["data"]["object"]["id"].as_str().unwrap().to_owned(),
                event["data"]["object"]["payment_status"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    let expected = [
        ("checkout.session.completed", settles, "unpaid"),
        ("checkout.session.async_payment_succeeded", settles, "paid"),
        ("checkout.session.completed", fails, "unpaid"),
        ("checkout.session.async_payment_failed", fails, "unpaid"),
    ]
    .map(|(t, id, p)| (t.to_owned(), id.to_owned(), p.to_owned()));
    assert_eq!(events, expected);

    // The events are Stripe's to read as well.
    let listed: Value = stripe
        .get("/v1/events?type=checkout.session.completed", KEY)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["object"], "list");
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_hosted_pages_pay_button_redirects_to_success_url_with_the_session_id() {
    let stripe = standin().await;
    let session = stripe.new_session(&session_form()).await;
    let id = session["id"].as_str().unwrap();
    let page_url = session["url"].as_str().unwrap();

    let page = stripe.client().get(page_url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(
        html.contains("<h1>Creator plan — 119.72 USD</h1>"),
        "{html}"
    );
    for button in [">Pay<", ">Pay by bank (delayed)<", ">Decline<", ">Back<"] {
        assert!(html.contains(button), "no {button} button: {html}");
    }
    assert!(
        !html.contains("<script") && !html.contains("https://"),
        "{html}"
    );

    let paid = stripe
        .client()
        .post(format!("{page_url}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("https://merchant.example/thanks?session={id}").as_str()
    );
    let session = stripe.session(id).await;
    assert_eq!(session["status"], "complete");
    assert_eq!(session["payment_status"], "paid");
    let html = stripe.page(page_url).await;
    assert!(html.contains("This checkout session is complete"), "{html}");
    assert!(!html.contains(">Pay<"), "{html}");
}

#[tokio::test]
async fn a_declined_card_keeps_the_session_open_and_back_returns_to_cancel_url() {
    let stripe = standin().await;
    let session = stripe.new_session(&session_form()).await;
    let id = session["id"].as_str().unwrap();
    let page_url = session["url"].as_str().unwrap();
    let post = |action: &str| stripe.client().post(format!("{page_url}/{action}")).send();

    let declined = post("decline").await.unwrap().text().await.unwrap();
    assert!(declined.contains("Your card was declined."), "{declined}");
    assert_eq!(stripe.session(id).await["status"], "open");
    assert!(stripe.events().await.is_empty());

    let back = post("back").await.unwrap();
    assert_eq!(back.status(), 303);
    assert_eq!(back.headers()["location"], CANCEL_URL);
    assert_eq!(stripe.session(id).await["status"], "open");

    stripe.expire(id).await;
    let html = stripe.page(page_url).await;
    assert!(
        html.contains("This checkout session has expired."),
        "{html}"
    );
    assert_eq!(post("pay").await.unwrap().status(), 409);
}

#[tokio::test]
async fn the_webhook_signature_verifies_with_stripes_official_python_library() {
    let receiver = StripeWebhookReceiver::start(&[]).await;
    let stripe = StripeStandIn::start(KEY, Some(&receiver.url), WEBHOOK_SECRET).await;
    let session = stripe.new_session(&session_form()).await;
    stripe
        .complete(session["id"].as_str().unwrap(), "paid")
        .await;
    let delivery = receiver.wait_for(1).await.remove(0);
    let header = delivery.signature.clone().unwrap();
    let event = delivery.json();

    let checked = check_signature_with_stripe_library(&delivery.body, &header, WEBHOOK_SECRET);
    assert!(
        checked.status.success(),
        "stripe.Webhook.construct_event refused it: {}",
        String::from_utf8_lossy(&checked.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&checked.stdout).trim(),
        format!(
            "{} checkout.session.completed",
            event["id"].as_str().unwrap()
        )
    );

    let mut tampered = delivery.body.clone();
    tampered.extend_from_slice(b" ");
    let refused = check_signature_with_stripe_library(&tampered, &header, WEBHOOK_SECRET);
    assert_eq!(refused.status.code(), Some(1));
    let refused = check_signature_with_stripe_library(&delivery.body, &header, "whsec_another");
    assert_eq!(refused.status.code(), Some(1));
}

#[tokio::test]
async fn an_expanded_payment_intent_says_where_a_bank_debit_stands() {
    let stripe = standin().await;
    let session = stripe.new_session(&session_form()).await;
    let id = session["id"].as_str().unwrap();
    let intent = |session: Value| session["payment_intent"].clone();
    let read = |id: String| {
        let stripe = &stripe;
        async move {
            let response = stripe
                .get(
                    &format!("/v1/checkout/sessions/{id}?expand[]=payment_intent"),
                    KEY,
                )
                .await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(intent(read(id.to_owned()).await), Value::Null);
    stripe.complete(id, "unpaid").await;
    let clearing = intent(read(id.to_owned()).await);
    assert_eq!(clearing["object"], "payment_intent");
    assert_eq!(clearing["status"], "processing");
    assert_eq!(clearing["amount"], 11972);
    // Without expand it stays an id.
    assert!(stripe.session(id).await["payment_intent"].is_string());
    stripe.async_failed(id).await;
    assert_eq!(
        intent(read(id.to_owned()).await)["status"],
        "requires_payment_method"
    );
}
