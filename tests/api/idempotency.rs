//! Idempotency (SPEC 2.3): keyed by merchant, environment and `idempotencyKey`.

use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, minimal_body, seed_body, spawn_app, with};

async fn sessions_with_key(app: &TestApp, key: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM checkout_sessions WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_one(&app.db.read)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_retry_with_the_same_key_and_body_returns_the_same_session() {
    let app = spawn_app().await;
    let body = with(seed_body(), "idempotencyKey", Some(json!("order-284")));

    let first = app.post_session(&body).await;
    assert_eq!(first.status().as_u16(), 200);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();

    let second = app.post_session(&body).await;
    assert_eq!(second.status().as_u16(), 200);
    assert_eq!(
        second
            .headers()
            .get("idempotent-replayed")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let second: Value = second.json().await.unwrap();

    assert_eq!(first["id"], second["id"]);
    assert_eq!(first["checkoutUrl"], second["checkoutUrl"]);
    assert_eq!(first["customerId"], second["customerId"]);
    assert_eq!(first["amount"], second["amount"]);
    assert_eq!(app.session_count().await, 1);
    assert_eq!(sessions_with_key(&app, "order-284").await, 1);
    assert_eq!(app.customer_count().await, 1);
}

#[tokio::test]
async fn a_retry_with_reordered_keys_and_spacing_is_still_a_replay() {
    let app = spawn_app().await;
    let first = r#"{"idempotencyKey":"k1","product":"Creator plan","amount":116,"customer":"buyer@example.com","metadata":{"a":"1","b":"2"}}"#;
    let second = r#"{ "metadata" : {"b":"2","a":"1"}, "customer":"buyer@example.com",
        "amount": 116.00, "product": "Creator plan", "idempotencyKey": "k1" }"#;

    let a: Value = app
        .post_raw(first, Some("application/json"))
        .await
        .json()
        .await
        .unwrap();
    let response = app.post_raw(second, Some("application/json")).await;

    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers().get("idempotent-replayed").is_some());
    let b: Value = response.json().await.unwrap();
    assert_eq!(a["id"], b["id"]);
    assert_eq!(app.session_count().await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_body_gets_409() {
    let app = spawn_app().await;
    let body = with(minimal_body(), "idempotencyKey", Some(json!("order-1")));
    let first = app.create_session(&body).await;

    for changed in [
        with(body.clone(), "amount", Some(json!(117))),
        with(body.clone(), "product", Some(json!("Another plan"))),
        with(body.clone(), "customer", Some(json!("other@example.com"))),
        with(body.clone(), "metadata", Some(json!({"order_id": "x"}))),
        with(body.clone(), "preferredRoute", Some(json!("card"))),
    ] {
        let response = app.post_session(&changed).await;
        let error = assert_error(response, 409, "idempotency_key_reused").await;
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(first["id"].as_str().unwrap()),
            "{error}"
        );
        assert!(error["error"]["suggestion"].is_string());
    }
    assert_eq!(app.session_count().await, 1);
    assert_eq!(
        app.customer_count().await,
        1,
        "a refused retry created a customer"
    );
}

#[tokio::test]
async fn requests_without_a_key_are_never_deduplicated() {
    let app = spawn_app().await;
    let a = app.create_session(&minimal_body()).await;
    let b = app.create_session(&minimal_body()).await;
    assert_ne!(a["id"], b["id"]);
    assert_eq!(app.session_count().await, 2);
}

#[tokio::test]
async fn the_same_key_in_another_environment_or_merchant_is_a_new_session() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let body = with(minimal_body(), "idempotencyKey", Some(json!("shared-key")));

    let sandbox = app.create_session(&body).await;
    let production = app.create_session_with_key(&app.live_key, &body).await;
    let other_sandbox = app.create_session_with_key(&other.sandbox_key, &body).await;

    assert_ne!(sandbox["id"], production["id"]);
    assert_ne!(sandbox["id"], other_sandbox["id"]);
    assert_eq!(production["environment"], "production");
    assert_eq!(sessions_with_key(&app, "shared-key").await, 3);
    // Each of them replays its own.
    let replay = app.create_session_with_key(&other.sandbox_key, &body).await;
    assert_eq!(replay["id"], other_sandbox["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_with_one_key_create_exactly_one_session() {
    let app = spawn_app().await;
    let body = with(seed_body(), "idempotencyKey", Some(json!("burst-1")));

    let responses = join_all((0..50).map(|_| {
        let request = app
            .client
            .post(app.url("/api/gateway/sessions"))
            .bearer_auth(&app.sandbox_key)
            .json(&body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            let json: Value = response.json().await.unwrap();
            (status, replayed, json)
        }
    }))
    .await;

    for (status, _, json) in &responses {
        assert_eq!(*status, 200, "{json}");
    }
    let ids: std::collections::BTreeSet<String> = responses
        .iter()
        .map(|(_, _, json)| json["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let fresh = responses
        .iter()
        .filter(|(_, replayed, _)| !replayed)
        .count();
    assert_eq!(fresh, 1, "exactly one response creates the session");
    assert_eq!(sessions_with_key(&app, "burst-1").await, 1);
    assert_eq!(app.session_count().await, 1);
    assert_eq!(app.customer_count().await, 1);
    let id = ids.into_iter().next().unwrap();
    let read = app.get(&format!("/api/gateway/sessions/{id}")).await;
    assert_eq!(read.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_one_key_and_different_bodies_create_one_session() {
    let app = spawn_app().await;

    let responses = join_all((0..20).map(|i| {
        let body = with(minimal_body(), "idempotencyKey", Some(json!("burst-2")));
        let body = with(body, "amount", Some(json!(100 + i)));
        let request = app
            .client
            .post(app.url("/api/gateway/sessions"))
            .bearer_auth(&app.sandbox_key)
            .json(&body);
        async move { request.send().await.unwrap().status().as_u16() }
    }))
    .await;

    assert_eq!(
        responses.iter().filter(|s| **s == 200).count(),
        1,
        "{responses:?}"
    );
    assert_eq!(
        responses.iter().filter(|s| **s == 409).count(),
        19,
        "{responses:?}"
    );
    assert_eq!(sessions_with_key(&app, "burst-2").await, 1);
}
