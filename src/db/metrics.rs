//! The gauges `/metrics` reads from the database at scrape time: shared by every instance.

use anyhow::Context;
use sqlx::{Any, Executor};

/// Webhook deliveries waiting to be sent.
pub async fn count_pending_deliveries<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'")
        .fetch_one(executor)
        .await
        .context("counting pending deliveries")
}

/// How long the oldest delivery that is due (`pending`, its time come) has waited, in ms at
/// `now_ms`; 0 when none is waiting. One step down the due index.
pub async fn webhook_backlog_ms<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now_ms: i64,
) -> anyhow::Result<i64> {
    let oldest: Option<i64> = sqlx::query_scalar(
        "SELECT MIN(next_attempt_at) FROM webhook_deliveries
         WHERE status = 'pending' AND next_attempt_at <= $1",
    )
    .bind(now_ms)
    .fetch_one(executor)
    .await
    .context("reading the webhook backlog")?;
    Ok(oldest.map_or(0, |at| (now_ms - at).max(0)))
}

/// Webhook deliveries given up on.
pub async fn count_failed_deliveries<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed'")
        .fetch_one(executor)
        .await
        .context("counting failed deliveries")
}

/// Payments pending at a provider (in flight, or waiting on a challenge).
pub async fn count_payments_at_provider<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM payments WHERE provider_state IN ('in_flight', 'challenge', 'redirected')",
    )
    .fetch_one(executor)
    .await
    .context("counting payments at a provider")
}
