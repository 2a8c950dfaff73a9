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
