//! Where sandbox endpoints may point on a server in production mode: like production
//! endpoints, only to public addresses, so that a sandbox key cannot read the operator's
//! internal services through the recorded answers; unless the operator allows it. Every
//! address used here that is ever connected to is on 127.0.0.1.

use openrails_checkout::config::Mode;
use openrails_checkout::db::webhook_endpoints::{EndpointRow, insert_endpoint};
use openrails_checkout::domain::time::now_ms;
use openrails_checkout::domain::{EndpointStatus, Environment, WebhookEndpointId};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, issue_fields, spawn_app_with};
use crate::webhook_support::{
    Receiver, Reply, deliver_at, deliveries_of, driven_clock, event_json, post_endpoint,
    record_event_at,
};

async fn endpoint_count(app: &TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM webhook_endpoints").await
}

#[tokio::test]
async fn in_production_mode_a_sandbox_key_cannot_register_an_endpoint_on_a_private_address() {
    let app = spawn_app_with(|s| s.mode = Mode::Production).await;

    for url in [
        "http://127.0.0.1:4000/hook",
        "http://localhost:3000/hook",
        "http://shop.localhost/hook",
        "http://10.0.0.8/hook",
        "http://192.168.1.20/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:6379/",
        "http://[::127.0.0.1]/hook",
        "http://[2002:a00:1::1]/hook",
        "http://2130706433/hook",
        "https://172.16.5.4/hook",
    ] {
        let response = post_endpoint(&app, &app.sandbox_key, &json!({ "url": url })).await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert_eq!(issue_fields(&error), vec!["url"], "{url}: {error}");
    }
    assert_eq!(endpoint_count(&app).await, 0);

    // A public address is fine, over plain http too (registration does not connect).
    let response = post_endpoint(
        &app,
        &app.sandbox_key,
        &json!({"url": "http://93.184.216.34/hook"}),
    )
    .await;
    let status = response.status().as_u16();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["environment"], "sandbox");
}

#[tokio::test]
async fn the_operator_may_let_sandbox_endpoints_reach_private_addresses_in_production_mode() {
    let app = spawn_app_with(|s| {
        s.mode = Mode::Production;
        s.webhook_allow_private_sandbox_endpoints = true;
    })
    .await;
    let receiver = Receiver::accepting().await;

    let response = post_endpoint(&app, &app.sandbox_key, &json!({ "url": receiver.url })).await;
    assert_eq!(response.status().as_u16(), 200);
    let event = record_event_at(&app, "allowed", driven_clock()).await;
    deliver_at(&app, driven_clock()).await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(deliveries_of(&app, &event).await[0].status, "succeeded");

    // Production endpoints keep their rule whatever the setting.
    let response = post_endpoint(
        &app,
        &app.live_key,
        &json!({"url": "https://127.0.0.1:8443/hook"}),
    )
    .await;
    assert_error(response, 400, "validation_failed").await;
}

/// An endpoint stored as if it had been registered before the server switched to production
/// mode (or as if its name had resolved elsewhere then).
async fn stored_sandbox_endpoint(app: &TestApp, id: &str, url: &str) {
    let now = now_ms();
    let row = EndpointRow {
        id: WebhookEndpointId::parse(id).unwrap(),
        merchant_id: app.merchant_id.clone(),
        environment: Environment::Sandbox,
        url: url.to_owned(),
        events: json!(["payment.paid"]).to_string(),
        status: EndpointStatus::Active,
        disabled_reason: None,
        secret: "whsec_addresses".into(),
        previous_secret: None,
        previous_secret_expires_at: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    insert_endpoint(&app.db.write, &row).await.unwrap();
}

#[tokio::test]
async fn in_production_mode_sandbox_deliveries_never_reach_a_private_address() {
    let app = spawn_app_with(|s| s.mode = Mode::Production).await;
    let receiver = Receiver::start(|_, _| Reply::ok().body("INTERNAL SECRET: redis config")).await;
    let by_name = format!("http://localhost:{}/hook", receiver.port);
    stored_sandbox_endpoint(&app, "we_LITERAL", &receiver.url).await;
    stored_sandbox_endpoint(&app, "we_NAMED", &by_name).await;
    let event = record_event_at(&app, "private", driven_clock()).await;

    let summary = deliver_at(&app, driven_clock()).await;

    assert_eq!(summary.claimed, 2);
    assert_eq!(summary.failed, 2);
    assert_eq!(
        receiver.connections(),
        0,
        "a request reached the private address"
    );
    let deliveries = deliveries_of(&app, &event).await;
    assert!(
        deliveries.iter().all(|d| d.status == "pending"),
        "{deliveries:?}"
    );
    let event = event_json(&app, &event).await;
    let attempts = event["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{event}");
    for attempt in attempts {
        assert!(attempt["responseBody"].is_null(), "{attempt}");
        assert!(attempt["statusCode"].is_null(), "{attempt}");
        assert!(
            attempt["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{attempt}"
        );
    }
}
