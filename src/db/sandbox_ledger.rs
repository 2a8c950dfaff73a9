//! The sandbox provider's books: one row per hand-off it was given, keyed by our idempotency
//! key, so that it answers a repeated hand-off and a poll with what it decided the first time.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

/// What the sandbox decided for one hand-off.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct LedgerEntry {
    pub idempotency_key: String,
    pub provider_ref: String,
    /// `paid`, `failed`, `challenge`, `delayed` or `awaiting_transfer`.
    pub decision: String,
    pub tx_hash: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// When a `delayed` payment settles (Unix ms).
    pub settle_at: Option<i64>,
    pub provider_data: String,
    pub created_at: i64,
}

/// Records `entry` unless its key was recorded before, and returns the entry that stands: the
/// first decision for a key wins, however many hand-offs race.
pub async fn record_decision(db: &super::Db, entry: &LedgerEntry) -> anyhow::Result<LedgerEntry> {
    sqlx::query(
        "INSERT INTO sandbox_ledger (idempotency_key, provider_ref, decision, tx_hash,
             failure_code, failure_message, settle_at, provider_data, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(&entry.idempotency_key)
    .bind(&entry.provider_ref)
    .bind(&entry.decision)
    .bind(&entry.tx_hash)
    .bind(&entry.failure_code)
    .bind(&entry.failure_message)
    .bind(entry.settle_at)
    .bind(&entry.provider_data)
    .bind(entry.created_at)
    .execute(&db.write)
    .await
    .context("recording a sandbox decision")?;
    find_decision(&db.write, &entry.idempotency_key)
        .await?
        .context("a recorded sandbox decision is missing")
}

/// The decision recorded for `key`, if any.
pub async fn find_decision<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    key: &str,
) -> anyhow::Result<Option<LedgerEntry>> {
    sqlx::query_as(
        "SELECT idempotency_key, provider_ref, decision, tx_hash, failure_code, failure_message,
                settle_at, provider_data, created_at
         FROM sandbox_ledger WHERE idempotency_key = $1",
    )
    .bind(key)
    .fetch_optional(executor)
    .await
    .context("reading a sandbox decision")
}
