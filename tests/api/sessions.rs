//! `GET /api/gateway/sessions/{id}` and `POST /api/gateway/sessions/{id}/expire`, and who may
//! see or change which session.

use serde_json::Value;

use crate::helpers::{assert_error, minimal_body, seed_body, spawn_app};

#[tokio::test]
async fn get_session_returns_the_session_as_created() {
    let app = spawn_app().await;
    let created = app.create_session(&seed_body()).await;
    let id = created["id"].as_str().unwrap();

    let response = app.get(&format!("/api/gateway/sessions/{id}")).await;

    assert_eq!(response.status().as_u16(), 200);
    let read: Value = response.json().await.unwrap();
    assert_eq!(read, created);
}

#[tokio::test]
async fn expire_session_expires_a_routed_session() {
    let app = spawn_app().await;
    let created = app.create_session(&seed_body()).await;
    let id = created["id"].as_str().unwrap();

    let response = app.expire_session(id).await;

    assert_eq!(response.status().as_u16(), 200);
    let expired: Value = response.json().await.unwrap();
    assert_eq!(expired["id"], id);
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["amount"], created["amount"]);
    assert_eq!(app.stored_status(id).await, "expired");
    let read: Value = app
        .get(&format!("/api/gateway/sessions/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["status"], "expired");
}

#[tokio::test]
async fn expiring_an_expired_session_again_is_fine() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(app.expire_session(id).await.status().as_u16(), 200);

    let response = app.expire_session(id).await;

    assert_eq!(response.status().as_u16(), 200);
    let again: Value = response.json().await.unwrap();
    assert_eq!(again["status"], "expired");
    assert_eq!(app.stored_status(id).await, "expired");
}

#[tokio::test]
async fn expire_session_returns_409_for_a_paid_session() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();
    app.execute(
        "UPDATE checkout_sessions SET status = 'paid' WHERE id = $1",
        id,
    )
    .await;

    let response = app.expire_session(id).await;

    assert_error(response, 409, "session_not_expirable").await;
    assert_eq!(app.stored_status(id).await, "paid");
}

#[tokio::test]
async fn a_merchant_cannot_read_another_merchants_session() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();

    for key in [&other.sandbox_key, &other.live_key] {
        let response = app
            .get_with_key(&format!("/api/gateway/sessions/{id}"), key)
            .await;
        let error = assert_error(response, 404, "resource_missing").await;
        assert!(!error.to_string().contains("Test Store"));
    }
}

#[tokio::test]
async fn a_merchant_cannot_expire_another_merchants_session() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();

    let response = app
        .post_empty_with_key(
            &format!("/api/gateway/sessions/{id}/expire"),
            &other.sandbox_key,
        )
        .await;

    assert_error(response, 404, "resource_missing").await;
    assert_eq!(app.stored_status(id).await, "routed");
}

#[tokio::test]
async fn a_test_key_cannot_see_or_expire_a_production_session() {
    let app = spawn_app().await;
    let created = app
        .create_session_with_key(&app.live_key, &minimal_body())
        .await;
    let id = created["id"].as_str().unwrap();

    let response = app.get(&format!("/api/gateway/sessions/{id}")).await;
    assert_error(response, 404, "resource_missing").await;
    let response = app.expire_session(id).await;
    assert_error(response, 404, "resource_missing").await;
    assert_eq!(app.stored_status(id).await, "routed");

    let response = app
        .get_with_key(&format!("/api/gateway/sessions/{id}"), &app.live_key)
        .await;
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn a_live_key_cannot_see_or_expire_a_sandbox_session() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();

    let response = app
        .get_with_key(&format!("/api/gateway/sessions/{id}"), &app.live_key)
        .await;
    assert_error(response, 404, "resource_missing").await;
    let response = app
        .post_empty_with_key(&format!("/api/gateway/sessions/{id}/expire"), &app.live_key)
        .await;
    assert_error(response, 404, "resource_missing").await;
    assert_eq!(app.stored_status(id).await, "routed");
}
