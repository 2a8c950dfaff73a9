//! The `stripe` integration against the Stripe stand-in (`examples/stripe_standin/`): the
//! buyer is sent to the stand-in's hosted page and back, outcomes arrive as webhooks signed as
//! Stripe signs them or are learned by polling, and nothing is marked paid that was not paid
//! in full.

use openrails_checkout::config::Settings;
use openrails_checkout::crypto::signature;
use openrails_checkout::domain::payment_route::{PaymentRoute, default_routes};
use openrails_checkout::domain::stripe::StripeRoute;
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::domain::{Environment, RouteKind};
use openrails_checkout::lifecycle;
use serde_json::{Value, json};

use crate::checkout_support::{Buyer, Page, events_of};
use crate::helpers::{TestApp, spawn_app_with};
use crate::refunds::{payment, refund_ok};
use crate::stripe_support::StripeStandIn;
use crate::webhook_support::{Receiver, register_receiver};

const KEY: &str = "sk_test_51OpenRailsStandInKey";
const WEBHOOK_SECRET: &str = "whsec_openrails_test_secret";
const KEY_ENV: &str = "TEST_STRIPE_SECRET_KEY";
const WEBHOOK_ENV: &str = "TEST_STRIPE_WEBHOOK_SECRET";

/// A `stripe` route of `kind` on the stand-in at `api_base`, in the sandbox.
fn stripe_route(kind: RouteKind, api_base: &str) -> PaymentRoute {
    let (base, id, methods) = match kind {
        RouteKind::Local => (
            default_routes()[2].clone(),
            "bank-stripe",
            "us_bank_account",
        ),
        _ => (default_routes()[0].clone(), "card-stripe", "card"),
    };
    PaymentRoute {
        id: id.into(),
        provider: "Stripe".into(),
        integration: "stripe".into(),
        buyer_fee_rate: 0.0,
        environments: vec![Environment::Sandbox],
        stripe: Some(StripeRoute {
            secret_key_env: KEY_ENV.into(),
            webhook_secret_env: Some(WEBHOOK_ENV.into()),
            payment_method_types: vec![methods.into()],
            api_base: api_base.into(),
        }),
        ..base
    }
}

/// The secrets of the routes, as the server reads them.
fn give_secrets(settings: &mut Settings) {
    let env = &mut settings.secret_env.0;
    env.insert(KEY_ENV.into(), KEY.into());
    env.insert(WEBHOOK_ENV.into(), WEBHOOK_SECRET.into());
}

/// The server, with the sandbox routes and a Stripe card and bank route, and the stand-in,
/// which sends its webhooks to the server (unless `webhooks` is false).
async fn setup(webhooks: bool) -> (TestApp, StripeStandIn) {
    let stripe = StripeStandIn::start(KEY, None, WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let app = spawn_app_with(move |s| {
        let mut routes = default_routes();
        routes.push(stripe_route(RouteKind::Card, &base));
        routes.push(stripe_route(RouteKind::Local, &base));
        s.routes = routes;
        give_secrets(s);
    })
    .await;
    if webhooks {
        stripe
            .send_webhooks_to(&app.url("/api/providers/stripe/callbacks"))
            .await;
    }
    (app, stripe)
}

/// A sandbox session of $116; its id.
async fn session(app: &TestApp) -> String {
    let body = json!({"product": "Creator plan", "amount": 116, "customer": "buyer@example.com",
        "clientReferenceId": "order-42", "redirectUrl": "https://merchant.example/done"});
    app.create_session(&body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The buyer picks `route`: the answer must send them on the way to the provider's page, which
/// goes there at once. The provider's page address.
pub(crate) async fn go_to_provider(buyer: &Buyer, route: &str) -> String {
    let page = buyer.open().await;
    let token = page.input_value("token");
    let response = buyer
        .post_form(
            &page.form_action(),
            &[("token", token.as_str()), ("route", route)],
        )
        .await;
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/checkout/{}/provider", buyer.id));
    let page = Page::read(buyer.client.get(buyer.url(&location)).send().await.unwrap()).await;
    assert_eq!(page.status, 200, "{}", page.html);
    let start = page
        .html
        .find("content=\"0;url=")
        .unwrap_or_else(|| panic!("the page goes to Stripe at once:\n{}", page.html))
        + "content=\"0;url=".len();
    let end = start + page.html[start..].find('"').unwrap();
    crate::checkout_support::unescape(&page.html[start..end])
}

/// The stand-in's session id in its hosted page's address.
fn session_id_of(page_url: &str) -> String {
    page_url.rsplit('/').next().unwrap().to_owned()
}

/// What the server answers a callback with this body and signature header.
async fn post_callback(app: &TestApp, body: &str, header: Option<&str>) -> (u16, Value) {
    let mut request = app
        .client
        .post(app.url("/api/providers/stripe/callbacks"))
        .header("Content-Type", "application/json")
        .body(body.to_owned());
    if let Some(header) = header {
        request = request.header("Stripe-Signature", header);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn sign_now(body: &str) -> String {
    signature::header(
        &[WEBHOOK_SECRET.as_bytes()],
        now_ms() / 1000,
        body.as_bytes(),
    )
}

/// The session's payment as the API shows it.
async fn payment_of(app: &TestApp, session_id: &str) -> Value {
    let session =
        crate::checkout_support::get_json(app, &format!("/api/gateway/sessions/{session_id}"))
            .await;
    let payment_id = session["paymentId"].as_str().unwrap().to_owned();
    crate::checkout_support::get_json(app, &format!("/api/gateway/payments/{payment_id}")).await
}

/// Waits until the session's payment has `status`.
async fn wait_for_payment(app: &TestApp, session_id: &str, status: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let payment = payment_of(app, session_id).await;
        if payment["status"] == status {
            return payment;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the payment never became {status}: {payment}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// The kinds of `events`, sorted.
fn kinds(events: &[crate::checkout_support::StoredEvent]) -> Vec<String> {
    let mut kinds: Vec<String> = events.iter().map(|e| e.kind.clone()).collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn a_card_payment_goes_to_stripes_page_and_comes_back_paid() {
    let (app, stripe) = setup(true).await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let page_url = go_to_provider(&buyer, "card-stripe").await;
    assert!(
        page_url.starts_with(&format!("{}/pay/cs_test_", stripe.url)),
        "{page_url}"
    );

    // What Stripe was asked for.
    let requests = stripe.requests().await;
    let create: Vec<&Value> = requests
        .iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/checkout/sessions")
        .collect();
    assert_eq!(create.len(), 1, "{requests:?}");
    let payment = payment_of(&app, &id).await;
    let payment_id = payment["id"].as_str().unwrap();
    assert_eq!(create[0]["idempotency_key"], payment_id);
    let form = &create[0]["form"];
    for (name, value) in [
        ("mode", "payment"),
        ("line_items[0][price_data][unit_amount]", "11600"),
        ("line_items[0][price_data][currency]", "usd"),
        (
            "line_items[0][price_data][product_data][name]",
            "Creator plan",
        ),
        ("line_items[0][quantity]", "1"),
        ("customer_email", "buyer@example.com"),
        ("client_reference_id", payment_id),
        ("metadata[payment_id]", payment_id),
        ("metadata[session_id]", id.as_str()),
        ("metadata[client_reference_id]", "order-42"),
        ("payment_method_types[0]", "card"),
    ] {
        assert_eq!(form[name], value, "{name} in {form}");
    }
    assert_eq!(
        form["success_url"],
        format!("{}/checkout/{id}/return", app.public_url)
    );
    assert_eq!(
        form["cancel_url"],
        format!("{}/checkout/{id}/routes", app.public_url)
    );
    let expires_at: i64 = form["expires_at"].as_str().unwrap().parse().unwrap();
    let session_expires =
        crate::checkout_support::get_json(&app, &format!("/api/gateway/sessions/{id}")).await;
    let ours = time::OffsetDateTime::parse(
        session_expires["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
    .unix_timestamp();
    assert!(
        expires_at <= ours,
        "Stripe's session ends by ours: {expires_at} > {ours}"
    );
    assert_eq!(payment["status"], "pending");

    // The buyer pays on Stripe's page and comes back.
    let paid = stripe
        .client()
        .post(format!("{page_url}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let back = paid.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("{}/checkout/{id}/return", app.public_url));
    let returned = buyer.client.get(&back).send().await.unwrap();
    buyer.assert_see_other(returned).await;
    let page = buyer.open().await;
    assert!(page.html.contains("Payment received"), "{}", page.html);

    let payment = wait_for_payment(&app, &id, "paid").await;
    assert_eq!(payment["txHash"], Value::Null);
    assert!(payment.as_object().unwrap().contains_key("txHash"));
    // The webhook came too (or comes): applied once, whichever was first.
    stripe
        .wait_for_delivery(
            stripe.events().await[0]["event"]["id"].as_str().unwrap(),
            "delivered",
        )
        .await;
    let events = events_of(&app, &id).await;
    assert_eq!(
        kinds(&events),
        ["payment.paid"],
        "no provider_pending for a card"
    );
    let delivered = receiver
        .wait_for(1, std::time::Duration::from_secs(15))
        .await;
    let body = delivered[0].json();
    let data = &body["data"];
    assert_eq!(data["route"]["provider"], "Stripe", "{body}");
    assert_eq!(data["asset"], "USD", "{body}");
    assert_eq!(data["network"], "Stripe", "{body}");
    assert_eq!(data["tx_hash"], Value::Null, "{body}");
    assert!(data.as_object().unwrap().contains_key("tx_hash"), "{body}");
}

#[tokio::test]
async fn a_lost_webhook_is_recovered_by_polling() {
    let (app, stripe) = setup(true).await;
    stripe.hold_webhooks().await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let page_url = go_to_provider(&buyer, "card-stripe").await;
    // The buyer pays and closes the tab before coming back; the webhook is lost.
    stripe.complete(&session_id_of(&page_url), "paid").await;
    assert_eq!(payment_of(&app, &id).await["status"], "pending");
    app.execute(
        "UPDATE payments SET next_poll_at = 0 WHERE session_id = $1",
        &id,
    )
    .await;
    let finished = lifecycle::reconcile_once(app.state.lifecycle())
        .await
        .unwrap();
    assert_eq!(finished, 1);
    assert_eq!(payment_of(&app, &id).await["status"], "paid");
    // The webhook arriving late changes nothing.
    let released = stripe.release_webhooks().await;
    stripe.wait_for_delivery(&released[0], "delivered").await;
    assert_eq!(kinds(&events_of(&app, &id).await), ["payment.paid"]);
}

#[tokio::test]
async fn a_bank_debit_is_pending_for_days_then_settles_or_fails() {
    let (app, stripe) = setup(true).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let page_url = go_to_provider(&buyer, "bank-stripe").await;
    let cs = session_id_of(&page_url);
    stripe.complete(&cs, "unpaid").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while kinds(&events_of(&app, &id).await).is_empty() {
        assert!(std::time::Instant::now() < deadline, "no provider_pending");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        kinds(&events_of(&app, &id).await),
        ["payment.provider_pending"]
    );
    let page = buyer.open().await;
    assert!(page.html.contains("four business days"), "{}", page.html);
    stripe.async_succeeded(&cs).await;
    wait_for_payment(&app, &id, "paid").await;
    assert_eq!(
        kinds(&events_of(&app, &id).await),
        ["payment.paid", "payment.provider_pending"]
    );

    // Another debit fails at the bank: the buyer may pay another way.
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let cs = session_id_of(&go_to_provider(&buyer, "bank-stripe").await);
    stripe.complete(&cs, "unpaid").await;
    stripe.async_failed(&cs).await;
    let payment = wait_for_payment(&app, &id, "failed").await;
    assert_eq!(payment["failureCode"], "payment_failed", "{payment}");
    let page = buyer.open().await;
    assert!(
        page.html.contains("The bank debit failed."),
        "{}",
        page.html
    );
    assert!(page.form_action().ends_with("/start"), "{}", page.html);
}

#[tokio::test]
async fn forged_stale_unsigned_and_foreign_callbacks_change_nothing() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let cs = session_id_of(&go_to_provider(&buyer, "card-stripe").await);
    let object = stripe.complete(&cs, "paid").await;
    let event = |kind: &str, object: &Value| {
        json!({"id": format!("evt_{}", now_ms()), "object": "event", "type": kind,
            "data": {"object": object}})
        .to_string()
    };
    let body = event("checkout.session.completed", &object);

    let (status, answer) = post_callback(&app, &body, None).await;
    assert_eq!(
        (status, answer["error"]["code"].clone()),
        (401, json!("invalid_signature"))
    );
    let forged = signature::header(&[b"whsec_someone_else"], now_ms() / 1000, body.as_bytes());
    assert_eq!(post_callback(&app, &body, Some(&forged)).await.0, 401);
    let stale = signature::header(
        &[WEBHOOK_SECRET.as_bytes()],
        now_ms() / 1000 - 301,
        body.as_bytes(),
    );
    assert_eq!(post_callback(&app, &body, Some(&stale)).await.0, 401);
    let tampered = body.replace("\"paid\"", "\"unpaid\"");
    assert_eq!(
        post_callback(&app, &tampered, Some(&sign_now(&body)))
            .await
            .0,
        401
    );
    assert_eq!(payment_of(&app, &id).await["status"], "pending");

    // Genuine, but not for us: another event type, a session another app made.
    let other = event(
        "customer.created",
        &json!({"id": "cus_1", "object": "customer"}),
    );
    assert_eq!(
        post_callback(&app, &other, Some(&sign_now(&other))).await.0,
        200
    );
    let mut foreign = object.clone();
    foreign["client_reference_id"] = Value::Null;
    foreign["metadata"] = json!({});
    let foreign = event("checkout.session.completed", &foreign);
    assert_eq!(
        post_callback(&app, &foreign, Some(&sign_now(&foreign)))
            .await
            .0,
        200
    );
    // Names a payment we never made.
    let mut unknown = object.clone();
    unknown["client_reference_id"] = json!("pay_00000000000000000000000000");
    unknown["metadata"] = json!({"payment_id": "pay_00000000000000000000000000"});
    let unknown = event("checkout.session.completed", &unknown);
    let (status, _) = post_callback(&app, &unknown, Some(&sign_now(&unknown))).await;
    assert_eq!(status, 404);
    assert_eq!(payment_of(&app, &id).await["status"], "pending");

    // The genuine one pays; sent again, it is acknowledged and changes nothing.
    let header = sign_now(&body);
    let (status, answer) = post_callback(&app, &body, Some(&header)).await;
    assert_eq!(
        (status, answer["applied"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    let (status, answer) = post_callback(&app, &body, Some(&header)).await;
    assert_eq!(
        (status, answer["replayed"].clone()),
        (200, json!(true)),
        "{answer}"
    );
    assert_eq!(kinds(&events_of(&app, &id).await), ["payment.paid"]);
}

#[tokio::test]
async fn an_amount_other_than_ours_is_never_marked_paid() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let cs = session_id_of(&go_to_provider(&buyer, "card-stripe").await);
    let mut object = stripe.complete(&cs, "paid").await;
    object["amount_total"] = json!(100);
    let body = json!({"id": "evt_short", "object": "event", "type": "checkout.session.completed",
        "data": {"object": object}})
    .to_string();
    let (status, answer) = post_callback(&app, &body, Some(&sign_now(&body))).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "amount_mismatch");
    assert_eq!(payment_of(&app, &id).await["status"], "pending");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("openrails_provider_amount_mismatches_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_start_driven_again_makes_no_second_stripe_session() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let first = go_to_provider(&buyer, "card-stripe").await;
    // As if the process had died before recording Stripe's answer.
    app.execute(
        "UPDATE payments SET provider_state = 'in_flight', provider_ref = NULL, next_poll_at = 0
         WHERE session_id = $1",
        &id,
    )
    .await;
    lifecycle::reconcile_once(app.state.lifecycle())
        .await
        .unwrap();
    assert_eq!(go_to_stripe_again(&buyer).await, first);
    let creates: Vec<Value> = stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/checkout/sessions")
        .collect();
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0]["idempotency_key"], creates[1]["idempotency_key"]);
    let listed = stripe.get("/v1/checkout/sessions", KEY).await;
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
}

/// The way to Stripe's page of a payment already handed off.
async fn go_to_stripe_again(buyer: &Buyer) -> String {
    let page = Page::read(
        buyer
            .client
            .get(buyer.url(&format!("/checkout/{}/provider", buyer.id)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.html);
    let start = page.html.find("content=\"0;url=").unwrap() + "content=\"0;url=".len();
    let end = start + page.html[start..].find('"').unwrap();
    crate::checkout_support::unescape(&page.html[start..end])
}

#[tokio::test]
async fn stripe_down_makes_an_honest_page_and_loses_nothing() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    for status in [500, 429, 402, 401] {
        stripe.fail_next(status, 1).await;
        let page = buyer.choose("card-stripe").await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(
            page.html
                .contains("The payment provider could not be reached."),
            "{status}: {}",
            page.html
        );
        assert!(page.form_action().ends_with("/start"), "{}", page.html);
    }
    let payment = payment_of(&app, &id).await;
    assert_eq!(payment["failureCode"], "provider_unavailable");
    assert_eq!(payment["attempt"], 4);
    // Back up: the next attempt goes through.
    let page_url = go_to_provider(&buyer, "card-stripe").await;
    assert!(page_url.contains("/pay/cs_test_"), "{page_url}");
}

#[tokio::test]
async fn a_provider_failing_every_call_makes_readiness_503_until_it_answers() {
    let stripe = StripeStandIn::start(KEY, None, WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let app = spawn_app_with(move |s| {
        let mut routes = default_routes();
        routes.push(stripe_route(RouteKind::Card, &base));
        s.routes = routes;
        s.ready_provider_failing_seconds = 1;
        give_secrets(s);
    })
    .await;
    let buyer = Buyer::new(&app, &session(&app).await);
    stripe.fail_next(500, 1).await;
    buyer.choose("card-stripe").await;
    let (status, body) = crate::readiness::readiness(&app).await;
    assert_eq!(status, 200, "one failure is not an outage yet: {body}");
    assert_eq!(body["providers"]["stripe"]["failed"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, body) = crate::readiness::readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["providers"]["stripe"]["status"], "failing");
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("provider stripe"),
        "{body}"
    );
    let metrics = app.get_anonymous("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .contains("openrails_provider_calls_total{provider=\"stripe\",outcome=\"failed\"} 1"),
        "{metrics}"
    );
    // Stripe answers again: the next call makes it ready.
    go_to_provider(&buyer, "card-stripe").await;
    let (status, body) = crate::readiness::readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["providers"]["stripe"]["failingSeconds"], 0);
}

#[tokio::test]
async fn stripe_unreachable_makes_the_same_honest_page() {
    let (app, stripe) = setup(false).await;
    drop(stripe);
    let id = session(&app).await;
    let page = Buyer::new(&app, &id).choose("card-stripe").await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html
            .contains("The payment provider could not be reached."),
        "{}",
        page.html
    );
    assert!(page.form_action().ends_with("/start"), "{}", page.html);
    assert_eq!(
        payment_of(&app, &id).await["failureCode"],
        "provider_unavailable"
    );
}

#[tokio::test]
async fn cancelling_at_stripe_returns_to_choose_and_another_route_closes_stripes_page() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let buyer = Buyer::new(&app, &id);
    let page_url = go_to_provider(&buyer, "card-stripe").await;
    let cs = session_id_of(&page_url);
    // Stripe's back link: the cancel_url.
    let back = stripe
        .client()
        .post(format!("{page_url}/back"))
        .send()
        .await
        .unwrap();
    let cancel_url = back.headers()["location"].to_str().unwrap().to_owned();
    let page = Page::read(buyer.client.get(&cancel_url).send().await.unwrap()).await;
    assert_eq!(page.status, 200);
    assert!(
        page.html.contains("Continue paying with Stripe"),
        "{}",
        page.html
    );
    assert!(page.html.contains(&page_url), "{}", page.html);
    assert!(page.form_action().ends_with("/start"), "{}", page.html);

    // The same route again: back to the same page at Stripe.
    assert_eq!(go_to_provider(&buyer, "card-stripe").await, page_url);
    // Another route: Stripe's page is closed first, then the card form of the sandbox.
    let page = buyer.choose("card-bridge-a").await;
    assert!(page.form_action().ends_with("/card"), "{}", page.html);
    assert_eq!(stripe.session(&cs).await["status"], "expired");
    let changed = app
        .scalar("SELECT COUNT(*) FROM payments WHERE failure_code = 'buyer_changed_route'")
        .await;
    assert_eq!(changed, 1);
}

#[tokio::test]
async fn every_stripe_setting_is_checked_at_start_with_a_clear_error() {
    let check = |route: PaymentRoute, env: &[(&str, &str)]| {
        let mut settings = Settings::default();
        settings.routes.push(route);
        for (name, value) in env {
            settings
                .secret_env
                .0
                .insert((*name).into(), (*value).into());
        }
        settings.validate().map_err(|e| format!("{e:#}"))
    };
    let secrets = [(KEY_ENV, KEY), (WEBHOOK_ENV, WEBHOOK_SECRET)];
    let route = || stripe_route(RouteKind::Card, "https://api.stripe.com");
    assert_eq!(check(route(), &secrets), Ok(()));
    let live = PaymentRoute {
        environments: vec![Environment::Production],
        ..route()
    };
    let error = check(live, &secrets).unwrap_err();
    assert!(
        error.contains("route card-stripe") && error.contains("holds a test key"),
        "{error}"
    );
    let error = check(route(), &[]).unwrap_err();
    assert!(
        error.contains("TEST_STRIPE_SECRET_KEY (stripe.secret_key_env) is not set"),
        "{error}"
    );
    let error = check(
        route(),
        &[(KEY_ENV, "sk_test_short"), (WEBHOOK_ENV, WEBHOOK_SECRET)],
    )
    .unwrap_err();
    assert!(
        error.contains("does not hold a Stripe secret key"),
        "{error}"
    );
    assert!(!error.contains("sk_test_short"), "{error}");
    let mut unknown = route();
    unknown.stripe.as_mut().unwrap().payment_method_types = vec!["bitcoin".into()];
    let error = check(unknown, &secrets).unwrap_err();
    assert!(error.contains("\"bitcoin\" is not a method"), "{error}");
    let bare = PaymentRoute {
        stripe: None,
        ..route()
    };
    assert!(
        check(bare, &secrets)
            .unwrap_err()
            .contains("needs its settings")
    );
}

#[tokio::test]
async fn without_webhooks_a_bank_debit_is_followed_by_polling_to_its_end() {
    let (app, stripe) = setup(false).await;
    let id = session(&app).await;
    let poll = || async {
        app.execute(
            "UPDATE payments SET next_poll_at = 0 WHERE session_id = $1",
            &id,
        )
        .await;
        lifecycle::reconcile_once(app.state.lifecycle())
            .await
            .unwrap()
    };
    let buyer = Buyer::new(&app, &id);
    let cs = session_id_of(&go_to_provider(&buyer, "bank-stripe").await);
    assert_eq!(poll().await, 0, "still on Stripe's page");
    stripe.complete(&cs, "unpaid").await;
    assert_eq!(poll().await, 0, "accepted, clearing");
    assert_eq!(
        kinds(&events_of(&app, &id).await),
        ["payment.provider_pending"]
    );
    stripe.async_failed(&cs).await;
    assert_eq!(poll().await, 1);
    let payment = payment_of(&app, &id).await;
    assert_eq!(payment["failureCode"], "payment_failed", "{payment}");
    assert_eq!(
        kinds(&events_of(&app, &id).await),
        ["payment.failed", "payment.provider_pending"]
    );
}

#[tokio::test]
async fn while_a_webhook_secret_is_rolled_both_secrets_are_accepted() {
    const NEW: &str = "whsec_rolled_in_today";
    let stripe = StripeStandIn::start(KEY, None, WEBHOOK_SECRET).await;
    let base = stripe.url.clone();
    let app = spawn_app_with(move |s| {
        let mut routes = default_routes();
        routes.push(stripe_route(RouteKind::Card, &base));
        s.routes = routes;
        give_secrets(s);
        s.secret_env
            .0
            .insert(WEBHOOK_ENV.into(), format!("{NEW}, {WEBHOOK_SECRET}"));
    })
    .await;
    let ignored = |n: u32| {
        json!({"id": format!("evt_roll_{n}"), "object": "event", "type": "customer.created",
            "data": {"object": {"id": "cus_1", "object": "customer"}}})
        .to_string()
    };
    let now = now_ms() / 1000;
    let signed = |secrets: &[&str], body: &str| {
        let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
        signature::header(&secrets, now, body.as_bytes())
    };
    // Signed with the old secret, the new one, or both (Stripe signs with both meanwhile).
    for (n, secrets) in [vec![WEBHOOK_SECRET], vec![NEW], vec![NEW, WEBHOOK_SECRET]]
        .into_iter()
        .enumerate()
    {
        let body = ignored(n as u32);
        let (status, answer) = post_callback(&app, &body, Some(&signed(&secrets, &body))).await;
        assert_eq!(status, 200, "{secrets:?}: {answer}");
    }
    let body = ignored(9);
    let (status, _) = post_callback(&app, &body, Some(&signed(&["whsec_retired"], &body))).await;
    assert_eq!(status, 401);
}

/// A card payment of $116 paid on the stand-in's page; (session id, payment id).
async fn paid_by_stripe(app: &TestApp, stripe: &StripeStandIn) -> (String, String) {
    let id = session(app).await;
    let buyer = Buyer::new(app, &id);
    let cs = session_id_of(&go_to_provider(&buyer, "card-stripe").await);
    stripe.complete(&cs, "paid").await;
    // Back from Stripe's page: the server asks Stripe at once.
    let back = buyer.url(&format!("/checkout/{id}/return"));
    buyer.client.get(back).send().await.unwrap();
    let payment = wait_for_payment(app, &id, "paid").await;
    (id, payment["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_stripe_payment_is_refunded_through_stripes_refunds_api() {
    let (app, stripe) = setup(true).await;
    let (_, payment_id) = paid_by_stripe(&app, &stripe).await;
    let refunded = refund_ok(&app, &payment_id, json!({"amount": 16})).await;
    assert_eq!(refunded["status"], "succeeded", "{refunded}");
    let stripe_refund = refunded["providerReference"].as_str().unwrap();
    assert!(stripe_refund.starts_with("re_"), "{refunded}");
    let asked: Vec<Value> = stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/refunds")
        .collect();
    assert_eq!(asked.len(), 1);
    assert_eq!(asked[0]["idempotency_key"], refunded["id"]);
    assert_eq!(asked[0]["form"]["amount"], "1600");
    assert_eq!(asked[0]["form"]["metadata[refund_id]"], refunded["id"]);
    assert!(
        asked[0]["form"]["payment_intent"]
            .as_str()
            .unwrap()
            .starts_with("pi_")
    );
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "partially_refunded");
    assert_eq!(p["amountRefunded"], 16);
    // The rest, and nothing more.
    let rest = refund_ok(&app, &payment_id, json!({})).await;
    assert_eq!(rest["amount"], 100);
    assert_eq!(payment(&app, &payment_id).await["ledgerStatus"], "refunded");
}

#[tokio::test]
async fn a_pending_stripe_refund_is_followed_until_it_fails_or_succeeds() {
    let (app, stripe) = setup(false).await;
    let (_, payment_id) = paid_by_stripe(&app, &stripe).await;
    stripe.refunds_stay_pending().await;
    let first = refund_ok(&app, &payment_id, json!({"amount": 10})).await;
    assert_eq!(first["status"], "pending");
    let poll = || poll_refunds(&app, &payment_id);
    assert_eq!(poll().await, 1);
    let id = first["id"].as_str().unwrap();
    assert_eq!(refund_of(&app, id).await["status"], "pending");
    stripe
        .resolve_refund(first["providerReference"].as_str().unwrap(), "fail")
        .await;
    poll().await;
    let failed = refund_of(&app, id).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["failureCode"], "refund_failed");
    assert_eq!(payment(&app, &payment_id).await["ledgerStatus"], "settled");

    let second = refund_ok(&app, &payment_id, json!({"amount": 10})).await;
    stripe
        .resolve_refund(second["providerReference"].as_str().unwrap(), "succeed")
        .await;
    poll().await;
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["amountRefunded"], 10);
    assert_eq!(p["ledgerStatus"], "partially_refunded");
}

#[tokio::test]
async fn stripe_down_leaves_a_refund_pending_and_it_is_asked_again() {
    let (app, stripe) = setup(false).await;
    let (_, payment_id) = paid_by_stripe(&app, &stripe).await;
    // Stripe answers 503 to the first ask (reading the session).
    stripe.fail_next(503, 1).await;
    let first = refund_ok(&app, &payment_id, json!({})).await;
    assert_eq!(first["status"], "pending", "{first}");
    poll_refunds(&app, &payment_id).await;
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["ledgerStatus"], "refunded", "{p}");
    assert_eq!(p["amountRefunded"], 116);
    let creates = stripe
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "POST" && r["path"] == "/v1/refunds" && r["status"] == 200)
        .count();
    assert_eq!(creates, 1, "one refund at Stripe");
}

/// A refund as the API shows it.
async fn refund_of(app: &TestApp, id: &str) -> Value {
    let response = app.get(&format!("/api/gateway/refunds/{id}")).await;
    response.json().await.unwrap()
}

#[tokio::test]
async fn a_pending_stripe_refund_ends_by_stripes_refund_updated_webhook() {
    let (app, stripe) = setup(true).await;
    let (_, payment_id) = paid_by_stripe(&app, &stripe).await;
    stripe.refunds_stay_pending().await;
    let pending = refund_ok(&app, &payment_id, json!({"amount": 30})).await;
    assert_eq!(pending["status"], "pending");
    let id = pending["id"].as_str().unwrap();
    stripe
        .resolve_refund(pending["providerReference"].as_str().unwrap(), "succeed")
        .await;
    // No polling: the webhook alone ends it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while refund_of(&app, id).await["status"] != "succeeded" {
        assert!(
            std::time::Instant::now() < deadline,
            "{}",
            refund_of(&app, id).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let p = payment(&app, &payment_id).await;
    assert_eq!(p["amountRefunded"], 30);
    // Every event Stripe sent was answered 200 (charge.refunded and refund.created included).
    for record in stripe.events().await {
        let kind = record["event"]["type"].as_str().unwrap().to_owned();
        let record = stripe
            .wait_for_delivery(record["event"]["id"].as_str().unwrap(), "delivered")
            .await;
        assert_eq!(record["delivery"]["state"], "delivered", "{kind}");
    }
}

/// Makes the payment's pending refunds due and runs one reconciliation pass over refunds; how
/// many it asked about.
async fn poll_refunds(app: &TestApp, payment_id: &str) -> usize {
    app.execute(
        "UPDATE refunds SET next_poll_at = 0 WHERE payment_id = $1 AND status = 'pending'",
        payment_id,
    )
    .await;
    openrails_checkout::lifecycle::refunds::reconcile_refunds_once(app.state.lifecycle())
        .await
        .unwrap()
}
