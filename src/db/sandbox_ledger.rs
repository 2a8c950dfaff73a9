//! The sandbox provider's books: one row per hand-off it was given, keyed by our idempotency
//! key, so that it answers a repeated hand-off and a poll with what it decided the first time.

use anyhow::Context;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use crate::domain::sandbox::LedgerEntry;

/// Reads a `sandbox_ledger` row.
impl<'r> FromRow<'r, AnyRow> for LedgerEntry {
    fn from_row(row: &'r AnyRow) -> Result<LedgerEntry, sqlx::Error> {
        Ok(LedgerEntry {
            idempotency_key: row.try_get("idempotency_key")?,
            provider_ref: row.try_get("provider_ref")?,
            decision: row.try_get("decision")?,
            tx_hash: row.try_get("tx_hash")?,
            failure_code: row.try_get("failure_code")?,
            failure_message: row.try_get("failure_message")?,
            settle_at: row.try_get("settle_at")?,
            provider_data: row.try_get("provider_data")?,
            created_at: row.try_get("created_at")?,
        })
    }
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
    .bind(entry.decision)
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
