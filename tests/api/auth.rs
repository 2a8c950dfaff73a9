//! API keys (SPEC 2.4): Bearer or Basic, 401 with a way to get a key, and each key's mode.

use base64::Engine;
use openrails_checkout::db::api_keys::revoke_api_key;
use openrails_checkout::domain::ApiKeyId;
use openrails_checkout::domain::time::now_ms;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, minimal_body, spawn_app, with};

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

async fn post_with_authorization(app: &TestApp, value: Option<&str>) -> reqwest::Response {
    let mut request = app
        .client
        .post(app.url("/api/gateway/sessions"))
        .json(&minimal_body());
    if let Some(value) = value {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// A 401 that says how to get a key, and nothing written.
async fn assert_unauthorized(app: &TestApp, response: reqwest::Response, code: &str) {
    let error = assert_error(response, 401, code).await;
    let suggestion = error["error"]["suggestion"].as_str().unwrap_or_default();
    assert!(
        suggestion.contains("keys create") && suggestion.contains("Bearer"),
        "a 401 says how to get a key: {error}"
    );
    assert_eq!(app.session_count().await, 0);
}

#[tokio::test]
async fn create_session_returns_401_without_an_api_key() {
    let app = spawn_app().await;
    let response = post_with_authorization(&app, None).await;
    assert_unauthorized(&app, response, "missing_api_key").await;
}

#[tokio::test]
async fn create_session_returns_401_with_an_unknown_api_key() {
    let app = spawn_app().await;
    // The right key with its last character changed.
    let (head, last) = app.sandbox_key.split_at(app.sandbox_key.len() - 1);
    let altered = format!("{head}{}", if last == "x" { "y" } else { "x" });
    for key in [
        "sk_test_00000000000000000000000000000000",
        "sk_live_00000000000000000000000000000000",
        altered.as_str(),
    ] {
        let response = post_with_authorization(&app, Some(&format!("Bearer {key}"))).await;
        assert_unauthorized(&app, response, "invalid_api_key").await;
    }
}

#[tokio::test]
async fn create_session_returns_401_with_a_malformed_authorization_header() {
    let app = spawn_app().await;
    let long = format!("Bearer sk_test_{}", "a".repeat(300));
    for value in [
        "Bearer",
        "Bearer ",
        "Bearer pk_test_123",
        "Token sk_test_123",
        app.sandbox_key.as_str(),
        "Basic !!!not-base64!!!",
        long.as_str(),
    ] {
        let response = post_with_authorization(&app, Some(value)).await;
        assert_unauthorized(&app, response, "invalid_api_key").await;
    }
}

#[tokio::test]
async fn create_session_returns_401_with_a_revoked_key() {
    let app = spawn_app().await;
    let key_id: String = sqlx::query_scalar("SELECT id FROM api_keys WHERE environment = $1")
        .bind("sandbox")
        .fetch_one(&app.db.read)
        .await
        .unwrap();
    assert_eq!(
        app.post_session(&minimal_body()).await.status().as_u16(),
        200
    );

    let revoked = revoke_api_key(&app.db.write, &ApiKeyId::parse(&key_id).unwrap(), now_ms())
        .await
        .unwrap();
    assert!(revoked);

    let before = app.session_count().await;
    let response = app.post_session(&minimal_body()).await;
    let error = assert_error(response, 401, "invalid_api_key").await;
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );
    assert_eq!(app.session_count().await, before);
    // The merchant's other key still works.
    let live = app
        .post_session_with_key(&app.live_key, &minimal_body())
        .await;
    assert_eq!(live.status().as_u16(), 200);
}

#[tokio::test]
async fn create_session_accepts_a_bearer_key_in_any_scheme_case() {
    let app = spawn_app().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let value = format!("{scheme} {}", app.sandbox_key);
        let response = post_with_authorization(&app, Some(&value)).await;
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
    }
    assert_eq!(app.session_count().await, 3);
}

#[tokio::test]
async fn create_session_accepts_http_basic_with_the_key_as_user_name() {
    let app = spawn_app().await;

    let response = post_with_authorization(&app, Some(&basic(&app.sandbox_key, ""))).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["environment"], "sandbox");

    let response = post_with_authorization(&app, Some(&basic(&app.live_key, ""))).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["environment"], "production");

    // reqwest's own basic_auth helper, the way client libraries send it.
    let response = app
        .client
        .get(app.url("/api/gateway/customers"))
        .basic_auth(&app.sandbox_key, None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn create_session_returns_401_when_the_key_is_only_the_basic_password() {
    let app = spawn_app().await;
    let response = post_with_authorization(&app, Some(&basic("", &app.sandbox_key))).await;
    assert_unauthorized(&app, response, "invalid_api_key").await;
    let response = post_with_authorization(&app, Some(&basic("merchant", &app.sandbox_key))).await;
    assert_unauthorized(&app, response, "invalid_api_key").await;
}

#[tokio::test]
async fn every_merchant_endpoint_returns_401_without_a_key() {
    let app = spawn_app().await;
    let session = app.create_session(&minimal_body()).await;
    let id = session["id"].as_str().unwrap();
    let customer = session["customerId"].as_str().unwrap();

    for path in [
        format!("/api/gateway/sessions/{id}"),
        "/api/gateway/customers".to_owned(),
        format!("/api/gateway/customers/{customer}"),
    ] {
        let response = app.get_anonymous(&path).await;
        assert_error(response, 401, "missing_api_key").await;
        let response = app
            .get_with_key(&path, "sk_test_wrongwrongwrongwrongwrong")
            .await;
        assert_error(response, 401, "invalid_api_key").await;
    }
    let response = app
        .client
        .post(app.url(&format!("/api/gateway/sessions/{id}/expire")))
        .send()
        .await
        .unwrap();
    assert_error(response, 401, "missing_api_key").await;
    assert_eq!(app.stored_status(id).await, "routed");
}

#[tokio::test]
async fn a_test_key_cannot_create_a_production_session() {
    let app = spawn_app().await;
    let body = with(minimal_body(), "environment", Some(json!("production")));

    let response = app.post_session(&body).await;

    let error = assert_error(response, 403, "environment_mismatch").await;
    assert!(
        error["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("sk_live_"),
        "{error}"
    );
    assert_eq!(app.session_count().await, 0);
    assert_eq!(app.customer_count().await, 0);
}

#[tokio::test]
async fn a_live_key_cannot_create_a_sandbox_session() {
    let app = spawn_app().await;
    let body = with(minimal_body(), "environment", Some(json!("sandbox")));

    let response = app.post_session_with_key(&app.live_key, &body).await;

    let error = assert_error(response, 403, "environment_mismatch").await;
    assert!(
        error["error"]["suggestion"]
            .as_str()
            .unwrap()
            .contains("sk_test_"),
        "{error}"
    );
    assert_eq!(app.session_count().await, 0);
    assert_eq!(app.customer_count().await, 0);
}
