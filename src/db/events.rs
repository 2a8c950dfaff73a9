//! The event outbox: each row is written in the transaction of the state change it reports,
//! so an event exists if and only if its change was committed.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use crate::domain::{Environment, EventId, MerchantId, SessionId};

/// An event as stored: its type and the exact body its webhooks carry.
#[derive(Debug, Clone, FromRow)]
pub struct EventRow {
    /// Derived from the session and the step (`evt_chk_…_paid`), so a step has one event.
    pub id: EventId,
    /// The merchant whose session it reports on.
    pub merchant_id: MerchantId,
    /// The session's environment; only that environment's endpoints receive it.
    pub environment: Environment,
    /// The session it reports on.
    pub session_id: SessionId,
    /// `payment.paid`, …
    #[sqlx(rename = "type")]
    pub kind: String,
    /// The webhook body, JSON text.
    pub payload: String,
    /// When it was written, with the change it reports (Unix milliseconds).
    pub created_at: i64,
}

/// Writes an event. Its id is derived from the session and the step (`evt_chk_…_paid`), so a
/// step that somehow ran twice could not produce a second event: the insert is skipped.
pub async fn insert_event<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    e: &EventRow,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO events (id, merchant_id, environment, session_id, type, payload, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&e.id)
    .bind(&e.merchant_id)
    .bind(e.environment)
    .bind(&e.session_id)
    .bind(&e.kind)
    .bind(&e.payload)
    .bind(e.created_at)
    .execute(executor)
    .await
    .context("writing an event")?;
    Ok(done.rows_affected() == 1)
}

const COLUMNS: &str = "id, merchant_id, environment, session_id, type, payload, created_at";

/// The merchant's events in this environment, by id descending.
pub async fn list_events<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    kind: Option<String>,
    session_id: Option<String>,
    starting_after: Option<String>,
    page_size: i64,
) -> anyhow::Result<Vec<EventRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM events WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter("type =", kind);
    sql.filter("session_id =", session_id);
    sql.filter("id <", starting_after);
    sql.fetch(executor, merchant_id, environment, page_size)
        .await
        .context("listing events")
}

/// One of the merchant's events in `environment`, by id.
pub async fn get_event<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<EventRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading an event")
}

/// The merchant's events created at or after `since_ms`, oldest first.
pub async fn events_since<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    since_ms: i64,
) -> anyhow::Result<Vec<EventRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
         WHERE merchant_id = $1 AND environment = $2 AND created_at >= $3
         ORDER BY created_at, id"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(since_ms)
    .fetch_all(executor)
    .await
    .context("listing events since a time")
}
