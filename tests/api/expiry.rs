//! Expiry (SPEC 3): a session past `expiresAt` reads as expired at once, and the sweep stores
//! it. The sweep is driven directly instead of waiting for the background task.

use openrails_checkout::lifecycle::expire_due;
use serde_json::Value;

use crate::helpers::{TestApp, minimal_body, spawn_app};

const MAKE_DUE: &str = "UPDATE checkout_sessions SET expires_at = 0 WHERE id = $1";

async fn read_status(app: &TestApp, id: &str) -> String {
    let response = app.get(&format!("/api/gateway/sessions/{id}")).await;
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    body["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_session_past_its_deadline_reads_as_expired_before_any_sweep() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(read_status(&app, id).await, "routed");

    assert_eq!(app.execute(MAKE_DUE, id).await, 1);

    assert_eq!(read_status(&app, id).await, "expired");
    assert_eq!(
        app.stored_status(id).await,
        "routed",
        "nothing swept it yet"
    );
}

#[tokio::test]
async fn the_sweep_stores_expired_and_counts_each_session_once() {
    let app = spawn_app().await;
    let due = app.create_session(&minimal_body()).await;
    let fresh = app.create_session(&minimal_body()).await;
    let due_id = due["id"].as_str().unwrap();
    let fresh_id = fresh["id"].as_str().unwrap();
    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
    app.execute(MAKE_DUE, due_id).await;

    let swept = expire_due(app.state.lifecycle()).await.unwrap();

    assert_eq!(swept, 1);
    assert_eq!(app.stored_status(due_id).await, "expired");
    assert_eq!(app.stored_status(fresh_id).await, "routed");
    assert_eq!(read_status(&app, due_id).await, "expired");
    assert_eq!(read_status(&app, fresh_id).await, "routed");
    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
}

#[tokio::test]
async fn the_sweep_expires_every_due_session_of_every_merchant_and_environment() {
    let app = spawn_app().await;
    let other = app.create_merchant("Other Store").await;
    let mut ids = Vec::new();
    for key in [&app.sandbox_key, &app.live_key, &other.sandbox_key] {
        for _ in 0..2 {
            let session = app.create_session_with_key(key, &minimal_body()).await;
            ids.push(session["id"].as_str().unwrap().to_owned());
        }
    }
    for id in &ids {
        app.execute(MAKE_DUE, id).await;
    }

    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 6);
    for id in &ids {
        assert_eq!(app.stored_status(id).await, "expired");
    }
    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
}

#[tokio::test]
async fn the_sweep_leaves_paid_sessions_alone() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();
    app.execute(
        "UPDATE checkout_sessions SET status = 'paid', expires_at = 0 WHERE id = $1",
        id,
    )
    .await;

    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);

    assert_eq!(app.stored_status(id).await, "paid");
    assert_eq!(read_status(&app, id).await, "paid");
}

#[tokio::test]
async fn a_due_session_can_still_be_expired_by_the_merchant() {
    let app = spawn_app().await;
    let created = app.create_session(&minimal_body()).await;
    let id = created["id"].as_str().unwrap();
    app.execute(MAKE_DUE, id).await;

    let response = app.expire_session(id).await;

    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "expired");
    assert_eq!(app.stored_status(id).await, "expired");
    assert_eq!(expire_due(app.state.lifecycle()).await.unwrap(), 0);
}
