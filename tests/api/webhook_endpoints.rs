//! `…/webhook-endpoints`: registering, listing, reading, removing; the secret shown only once;
//! which events an endpoint gets; production endpoints only on https to public addresses.

use std::time::Duration;

use openrails_checkout::lifecycle::expire_due;
use serde_json::{Value, json};

use crate::checkout_support::create_checkout;
use crate::helpers::{assert_error, issue_fields, minimal_body, spawn_app};
use crate::webhook_support::{
    Receiver, deliver_at, deliveries_of, driven_clock, post_endpoint, record_event_at, register,
    register_receiver,
};

async fn endpoint_count(app: &crate::helpers::TestApp) -> i64 {
    app.scalar("SELECT COUNT(*) FROM webhook_endpoints").await
}

#[tokio::test]
async fn registering_an_endpoint_shows_its_secret_once_and_never_again() {
    let app = spawn_app().await;

    let created = register(&app, "http://localhost:3000/webhooks", None).await;

    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("we_"), "{created}");
    assert_eq!(created["object"], "webhook_endpoint");
    assert_eq!(created["url"], "http://localhost:3000/webhooks");
    assert_eq!(created["environment"], "sandbox");
    assert_eq!(created["livemode"], false);
    assert_eq!(created["status"], "active");
    assert_eq!(
        created["events"],
        json!(["payment.provider_pending", "payment.paid", "payment.failed"]),
        "the default is the three payment events, without payment.expired"
    );
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() >= "whsec_".len() + 24,
        "{secret}"
    );

    let one = app
        .get(&format!("/api/gateway/webhook-endpoints/{id}"))
        .await;
    assert_eq!(one.status().as_u16(), 200);
    let one_text = one.text().await.unwrap();
    let list = app.get("/api/gateway/webhook-endpoints").await;
    assert_eq!(list.status().as_u16(), 200);
    let list_text = list.text().await.unwrap();
    let listed: Value = serde_json::from_str(&list_text).unwrap();
    assert_eq!(listed["object"], "list");
    assert_eq!(listed["data"][0]["id"], id, "{listed}");
    assert_eq!(listed["data"][0]["url"], "http://localhost:3000/webhooks");
    for text in [&one_text, &list_text] {
        assert!(!text.contains(secret), "the secret is shown again: {text}");
        assert!(!text.contains("whsec_"), "a secret is shown: {text}");
        assert!(!text.contains("\"secret\""), "{text}");
    }
}

#[tokio::test]
async fn an_endpoint_gets_only_the_events_it_names() {
    let app = spawn_app().await;

    let created = register(
        &app,
        "http://localhost:3000/paid",
        Some(&["payment.paid", "payment.expired", "payment.paid"]),
    )
    .await;

    assert_eq!(
        created["events"],
        json!(["payment.paid", "payment.expired"]),
        "{created}"
    );
}

#[tokio::test]
async fn payment_expired_goes_only_to_endpoints_that_subscribe_to_it() {
    let app = spawn_app().await;
    let defaults = Receiver::accepting().await;
    let expiring = Receiver::accepting().await;
    let (default_id, _) = register_receiver(&app, &defaults).await;
    let subscribed = register(&app, &expiring.url, Some(&["payment.expired"])).await;
    let session = create_checkout(&app, &minimal_body()).await;
    app.execute(
        "UPDATE checkout_sessions SET expires_at = 0 WHERE id = $1",
        &session,
    )
    .await;

    expire_due(app.state.lifecycle()).await.unwrap();

    let event_id = format!("evt_{session}_expired");
    let deliveries = deliveries_of(&app, &event_id).await;
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    assert_eq!(
        deliveries[0].endpoint_id,
        subscribed["id"].as_str().unwrap()
    );
    assert_ne!(deliveries[0].endpoint_id, default_id);
    let got = expiring.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].event_id(), event_id);
    assert_eq!(got[0].json()["type"], "payment.expired");
    assert_eq!(got[0].json()["data"]["status"], "expired");
    assert_eq!(
        defaults.count(),
        0,
        "the default endpoint got payment.expired"
    );
}

#[tokio::test]
async fn registering_an_endpoint_with_a_bad_field_is_refused_with_400() {
    let app = spawn_app().await;

    for (body, field) in [
        (json!({}), "url"),
        (json!({"url": 42}), "url"),
        (json!({"url": "javascript:alert(1)"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "http://localhost/h", "events": ["payment.refunded"]}),
            "events",
        ),
        (json!({"url": "http://localhost/h", "events": []}), "events"),
        (
            json!({"url": "http://localhost/h", "events": "payment.paid"}),
            "events",
        ),
        (
            json!({"url": "http://localhost/h", "environment": "live"}),
            "environment",
        ),
        (
            json!({"url": "http://localhost/h", "secret": "mine"}),
            "secret",
        ),
    ] {
        let response = post_endpoint(&app, &app.sandbox_key, &body).await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert!(
            issue_fields(&error).iter().any(|f| f == field),
            "expected an issue about {field} for {body}: {error}"
        );
    }
    assert_eq!(endpoint_count(&app).await, 0);
}

#[tokio::test]
async fn a_sandbox_key_cannot_register_a_production_endpoint() {
    let app = spawn_app().await;

    let response = post_endpoint(
        &app,
        &app.sandbox_key,
        &json!({"url": "https://93.184.216.34/hook", "environment": "production"}),
    )
    .await;

    assert_error(response, 403, "environment_mismatch").await;
    assert_eq!(endpoint_count(&app).await, 0);
}

#[tokio::test]
async fn production_endpoints_must_use_https_to_a_public_address() {
    let app = spawn_app().await;

    for url in [
        "https://127.0.0.1/hook",
        "https://127.0.0.1:8443/hook",
        "https://localhost/hook",
        "https://shop.localhost/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.8/hook",
        "https://172.16.5.4/hook",
        "https://192.168.1.20/hook",
        "https://100.64.0.1/hook",
        "https://0.0.0.0/hook",
        "https://[::1]/hook",
        "https://[fe80::1]/hook",
        "https://[fd00::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://[::127.0.0.1]/hook",
        "https://[2002:7f00:1::1]/hook",
        "https://[64:ff9b::a9fe:a9fe]/hook",
        "https://[64:ff9b:1::a00:1]/hook",
        "https://[2001::1]/hook",
        "https://[fec0::1]/hook",
        "https://[100::1]/hook",
        "https://2130706433/hook",
        "https://127.1/hook",
        "https://0x7f.0.0.1/hook",
        "https://localhost./hook",
        "http://93.184.216.34/hook",
        "http://merchant.example/hook",
    ] {
        let response = post_endpoint(&app, &app.live_key, &json!({ "url": url })).await;
        let error = assert_error(response, 400, "validation_failed").await;
        assert_eq!(issue_fields(&error), vec!["url"], "{url}: {error}");
    }
    assert_eq!(endpoint_count(&app).await, 0);

    let response = post_endpoint(
        &app,
        &app.live_key,
        &json!({"url": "https://93.184.216.34/hook"}),
    )
    .await;
    let status = response.status().as_u16();
    let created: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["environment"], "production");
    assert_eq!(created["livemode"], true);
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
}

#[tokio::test]
async fn sandbox_endpoints_may_point_to_a_local_development_server() {
    let app = spawn_app().await;

    for url in [
        "http://localhost:3000/hook",
        "http://127.0.0.1:4000/hook",
        "http://192.168.1.20/hook",
    ] {
        let created = register(&app, url, None).await;
        assert_eq!(created["environment"], "sandbox", "{url}");
    }
}

#[tokio::test]
async fn deleting_an_endpoint_stops_its_deliveries_and_keeps_its_events() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    let (id, _) = register_receiver(&app, &receiver).await;
    let t0 = driven_clock();
    let event = record_event_at(&app, "deleted", t0).await;

    let response = app
        .client
        .delete(app.url(&format!("/api/gateway/webhook-endpoints/{id}")))
        .bearer_auth(&app.sandbox_key)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["deleted"], true);
    let gone = app
        .get(&format!("/api/gateway/webhook-endpoints/{id}"))
        .await;
    assert_error(gone, 404, "resource_missing").await;
    let list: Value = app
        .get("/api/gateway/webhook-endpoints")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["data"], json!([]), "{list}");
    assert_eq!(deliver_at(&app, t0 + 60_000).await.claimed, 0);
    assert_eq!(receiver.count(), 0);
    let read = app.get(&format!("/api/gateway/events/{event}")).await;
    assert_eq!(read.status().as_u16(), 200, "the event stays readable");
    let again = app
        .client
        .delete(app.url(&format!("/api/gateway/webhook-endpoints/{id}")))
        .bearer_auth(&app.sandbox_key)
        .send()
        .await
        .unwrap();
    assert_error(again, 404, "resource_missing").await;
}

#[tokio::test]
async fn an_endpoint_is_visible_only_to_its_merchant_and_environment() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let created = register(&app, "http://localhost:3000/hook", None).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/gateway/webhook-endpoints/{id}");

    for key in [&other.sandbox_key, &app.live_key] {
        assert_error(app.get_with_key(&path, key).await, 404, "resource_missing").await;
        let rotate = app
            .post_empty_with_key(&format!("{path}/rotate-secret"), key)
            .await;
        assert_error(rotate, 404, "resource_missing").await;
        let delete = app
            .client
            .delete(app.url(&path))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        assert_error(delete, 404, "resource_missing").await;
        let list: Value = app
            .get_with_key("/api/gateway/webhook-endpoints", key)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(list["data"], json!([]), "{list}");
    }
    assert_eq!(endpoint_count(&app).await, 1);
    let anonymous = app.get_anonymous(&path).await;
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[tokio::test]
async fn a_session_the_merchant_expires_notifies_endpoints_subscribed_to_payment_expired() {
    let app = spawn_app().await;
    let receiver = Receiver::accepting().await;
    register(&app, &receiver.url, Some(&["payment.expired"])).await;
    let session = create_checkout(&app, &minimal_body()).await;

    let response = app.expire_session(&session).await;

    assert_eq!(response.status().as_u16(), 200);
    let event_id = format!("evt_{session}_expired");
    let deliveries = deliveries_of(&app, &event_id).await;
    assert_eq!(
        deliveries.len(),
        1,
        "routed -> expired is a transition and records its event (SPEC 3), like the sweeper's"
    );
    let got = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].event_id(), event_id);
}
