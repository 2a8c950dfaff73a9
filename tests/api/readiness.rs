//! `/readyz` turns 503 for each cause it watches and back when the cause is gone: missing
//! migrations, an old webhook backlog, a provider that fails every call (the last in
//! `stripe.rs`, beside its stand-in). `/metrics` shows the same figures.

use serde_json::Value;

use crate::checkout_support::{Buyer, CARD_PAYS, checkout_body, create_checkout};
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::webhook_support::{Receiver, register_receiver};

/// `/readyz`: its status and body.
pub async fn readiness(app: &TestApp) -> (u16, Value) {
    let response = app.get_anonymous("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_missing_migration_makes_it_unready_until_applied() {
    let app = spawn_app().await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["reasons"], serde_json::json!([]));
    let latest = "UPDATE _sqlx_migrations SET success = FALSE
        WHERE version = (SELECT MAX(version) FROM _sqlx_migrations) AND description <> $1";
    assert_eq!(app.execute(latest, "").await, 1);
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["migrations"], "pending");
    assert!(
        body["reasons"][0].as_str().unwrap().contains("migrate"),
        "{body}"
    );
    let back = "UPDATE _sqlx_migrations SET success = TRUE WHERE description <> $1";
    app.execute(back, "").await;
    assert_eq!(readiness(&app).await.0, 200);
}

#[tokio::test]
async fn an_old_webhook_backlog_makes_it_unready_until_delivered() {
    let app = spawn_app_with(|s| s.ready_webhook_backlog_seconds = 60).await;
    let receiver = Receiver::accepting().await;
    register_receiver(&app, &receiver).await;
    let id = create_checkout(&app, &checkout_body(116.0, None)).await;
    Buyer::new(&app, &id).card_checkout(CARD_PAYS).await;
    receiver
        .wait_for(1, std::time::Duration::from_secs(10))
        .await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["webhooks"], "ok");
    assert_eq!(body["webhookBacklogSeconds"], 0);

    // A delivery due ten minutes ago that no worker has taken (its lease held elsewhere).
    let now = openrails_checkout::domain::time::now_ms();
    let stuck = format!(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = {},
         locked_until = {} WHERE id <> $1",
        now - 600_000,
        now + 3_600_000
    );
    assert!(app.execute(&stuck, "").await >= 1);
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["webhooks"], "behind");
    assert!(
        body["webhookBacklogSeconds"].as_i64().unwrap() >= 600,
        "{body}"
    );
    assert!(
        body["reasons"][0]
            .as_str()
            .unwrap()
            .contains("ready_webhook_backlog_seconds (60)"),
        "{body}"
    );
    let metrics = app.get_anonymous("/metrics").await.text().await.unwrap();
    let backlog: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("openrails_webhook_backlog_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(backlog >= 600.0, "{metrics}");

    app.execute(
        "UPDATE webhook_deliveries SET status = 'succeeded' WHERE id <> $1",
        "",
    )
    .await;
    let (status, body) = readiness(&app).await;
    assert_eq!(status, 200, "{body}");
}
