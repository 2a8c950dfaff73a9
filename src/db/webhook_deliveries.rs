//! Deliveries: one per event and subscribed endpoint, written with the event (the outbox),
//! claimed by workers with a lease that works the same on SQLite and PostgreSQL.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::events::EventRow;
use super::placeholders;
use crate::domain::ids::new_suffix;
use crate::domain::{
    AttemptId, DeliveryId, DeliveryStatus, EndpointStatus, Environment, EventId, WebhookEndpointId,
};

/// Creates a pending delivery of `event` for every active endpoint of its merchant and
/// environment that subscribes to its type. Returns how many.
pub async fn fan_out_event<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    event: &EventRow,
) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, environment,
             status, attempts, next_attempt_at, created_at, updated_at)
         SELECT $1 || substr(id, 4), $2, id, merchant_id, environment, 'pending', 0, $3, $3, $3
         FROM webhook_endpoints
         WHERE merchant_id = $4 AND environment = $5 AND status = 'active' AND events LIKE $6
         ON CONFLICT (event_id, endpoint_id) DO NOTHING",
    )
    .bind(format!("dlv_{}_", new_suffix()))
    .bind(&event.id)
    .bind(event.created_at)
    .bind(&event.merchant_id)
    .bind(event.environment)
    .bind(format!("%\"{}\"%", event.kind))
    .execute(executor)
    .await
    .context("creating webhook deliveries")?;
    Ok(done.rows_affected())
}

/// A claimed delivery with everything needed to send it.
#[derive(Debug, Clone, FromRow)]
pub struct DueDelivery {
    /// Its id (`dlv_…`).
    pub id: DeliveryId,
    /// The event it carries.
    pub event_id: EventId,
    /// The endpoint it goes to.
    pub endpoint_id: WebhookEndpointId,
    /// Attempts so far, this one included.
    pub attempts: i64,
    /// The event's body, JSON text, sent exactly as stored.
    pub payload: String,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's environment, which picks the HTTP client and the address rules.
    pub environment: Environment,
    /// The endpoint's status now: a disabled endpoint's delivery is given up unsent.
    pub endpoint_status: EndpointStatus,
    /// The endpoint's signing secret as stored (sealed or plain).
    pub secret: String,
    /// The secret before the last rotation, which also signs until it expires.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing (Unix milliseconds).
    pub previous_secret_expires_at: Option<i64>,
    /// Since when every attempt to the endpoint has failed (Unix milliseconds); `None` while
    /// it is healthy.
    pub failing_since: Option<i64>,
    /// When the delivery was created, with its event (Unix milliseconds).
    pub created_at: i64,
}

/// Claims up to `batch` due deliveries for `worker` until `now_ms + lease_ms`, counting the
/// attempt, and at most `per_endpoint` of one endpoint counting those already in flight (so a
/// hung endpoint ties up only its own deliveries). A delivery is never claimed by two workers
/// at once: the `UPDATE` re-checks the lease on each row it changes (PostgreSQL re-evaluates
/// the condition on the row it waited for; SQLite has one writer). A worker that dies leaves
/// a lease that simply runs out. Workers claiming at the same instant on PostgreSQL may each
/// count the other's claims as not yet made, so `per_endpoint` holds per worker, exactly, and
/// across workers up to their number times it.
pub async fn claim_due_deliveries(
    db: &super::Db,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
    per_endpoint: i64,
) -> anyhow::Result<Vec<DueDelivery>> {
    // Two claims running at once on PostgreSQL may lock the rows they both want in different
    // orders; the database then aborts one of them (a deadlock). The claim is one statement
    // that changed nothing when aborted, so it is simply run again.
    let mut tries = 0;
    let ids = loop {
        tries += 1;
        match claim_ids(db, worker, now_ms, lease_ms, batch, per_endpoint).await {
            Err(e) if tries < 5 && is_deadlock(&e) => continue,
            other => break other.context("claiming webhook deliveries")?,
        }
    };
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    read_claimed(db, &ids).await
}

/// PostgreSQL's deadlock (40P01) or serialization failure (40001).
fn is_deadlock(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|code| code == "40P01" || code == "40001")
}

/// The worker's choice of deliveries to send (`claim_due_deliveries`): due ones, oldest first,
/// at most `$5` in flight per endpoint; read through `webhook_deliveries_due`.
pub const DUE_DELIVERIES: &str = "SELECT id FROM (
                 SELECT d.id, d.next_attempt_at,
                        ROW_NUMBER() OVER (PARTITION BY d.endpoint_id
                                           ORDER BY d.next_attempt_at, d.id) AS place,
                        COALESCE(busy.n, 0) AS busy
                 FROM webhook_deliveries d
                 LEFT JOIN (SELECT endpoint_id, COUNT(*) AS n FROM webhook_deliveries
                            WHERE status = 'pending' AND locked_until > $3
                            GROUP BY endpoint_id) busy ON busy.endpoint_id = d.endpoint_id
                 WHERE d.status = 'pending' AND d.next_attempt_at <= $3
                   AND (d.locked_until IS NULL OR d.locked_until <= $3)
             ) due
             WHERE due.place + due.busy <= $5
             ORDER BY due.next_attempt_at LIMIT $4";

async fn claim_ids(
    db: &super::Db,
    worker: &str,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
    per_endpoint: i64,
) -> Result<Vec<DeliveryId>, sqlx::Error> {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let sql = SQL.get_or_init(|| {
        format!(
            "UPDATE webhook_deliveries
             SET locked_until = $1, locked_by = $2, attempts = attempts + 1, updated_at = $3
             WHERE id IN ({DUE_DELIVERIES})
               AND status = 'pending' AND (locked_until IS NULL OR locked_until <= $3)
             RETURNING id"
        )
    });
    sqlx::query_scalar(sql)
        .bind(now_ms + lease_ms)
        .bind(worker)
        .bind(now_ms)
        .bind(batch)
        .bind(per_endpoint)
        .fetch_all(&db.write)
        .await
}

/// The claimed deliveries with everything needed to send them.
async fn read_claimed(db: &super::Db, ids: &[DeliveryId]) -> anyhow::Result<Vec<DueDelivery>> {
    let sql = format!(
        "SELECT d.id, d.event_id, d.endpoint_id, d.attempts, e.payload, w.url, w.environment,
                w.status AS endpoint_status, w.secret, w.previous_secret,
                w.previous_secret_expires_at, w.failing_since, d.created_at
         FROM webhook_deliveries d
         JOIN events e ON e.id = d.event_id
         JOIN webhook_endpoints w ON w.id = d.endpoint_id
         WHERE d.id IN {}",
        placeholders(1, ids.len(), 1)
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(id);
    }
    query
        .fetch_all(&db.write)
        .await
        .context("reading claimed deliveries")
}

/// One attempt's result, as recorded.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The delivery it was an attempt of.
    pub delivery_id: DeliveryId,
    /// The delivery's event.
    pub event_id: EventId,
    /// The delivery's endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Which attempt of the delivery it was: 1 for the first.
    pub attempt: i64,
    /// When the request started (Unix milliseconds).
    pub started_at: i64,
    /// How long until the answer was read or the request failed, in milliseconds.
    pub duration_ms: i64,
    /// The HTTP status the endpoint answered; `None` when it did not answer.
    pub status_code: Option<i64>,
    /// The first 2 KiB of the endpoint's answer, when it answered.
    pub response_body: Option<String>,
    /// What went wrong (no answer, a refusal to send, a status other than 2xx); `None` when
    /// delivered.
    pub error: Option<String>,
}

/// Records an attempt, unless its delivery was removed (with its endpoint) meanwhile.
pub async fn insert_attempt<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    a: &AttemptRecord,
) -> anyhow::Result<()> {
    // The endpoint (and with it the delivery) may have been removed while the attempt was in
    // flight; then there is nothing left to record it against.
    sqlx::query(
        "INSERT INTO webhook_attempts (id, delivery_id, event_id, endpoint_id, attempt, started_at,
             duration_ms, status_code, response_body, error)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10
         WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE id = $2)",
    )
    .bind(AttemptId::generate())
    .bind(&a.delivery_id)
    .bind(&a.event_id)
    .bind(&a.endpoint_id)
    .bind(a.attempt)
    .bind(a.started_at)
    .bind(a.duration_ms)
    .bind(a.status_code)
    .bind(&a.response_body)
    .bind(&a.error)
    .execute(executor)
    .await
    .context("recording a delivery attempt")?;
    Ok(())
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextStep {
    /// Delivered: the endpoint answered with a 2xx.
    Succeeded,
    /// Failed; try again at this time (Unix milliseconds).
    RetryAt(i64),
    /// No more attempts (exhausted, endpoint gone or disabled).
    GiveUp,
}

/// Extends the leases `worker` holds on deliveries it is still sending, so that an attempt
/// longer than a lease is not taken over by another worker; returns how many.
pub async fn renew_leases(
    db: &super::Db,
    worker: &str,
    now_ms: i64,
    until_ms: i64,
) -> anyhow::Result<u64> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET locked_until = $1
         WHERE locked_by = $2 AND status = 'pending' AND locked_until > $3",
    )
    .bind(until_ms)
    .bind(worker)
    .bind(now_ms)
    .execute(&db.write)
    .await
    .context("renewing webhook delivery leases")?;
    Ok(done.rows_affected())
}

/// Settles the delivery after `worker`'s attempt and releases its lease; nothing changes when
/// the delivery is no longer pending or another worker has claimed it since.
pub async fn finish_attempt<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    worker: &str,
    delivery_id: &DeliveryId,
    step: &NextStep,
    status_code: Option<i64>,
    error: Option<&str>,
    now_ms: i64,
) -> anyhow::Result<()> {
    let (status, next, delivered) = match step {
        NextStep::Succeeded => (DeliveryStatus::Succeeded, now_ms, Some(now_ms)),
        NextStep::RetryAt(at) => (DeliveryStatus::Pending, *at, None),
        NextStep::GiveUp => (DeliveryStatus::Failed, now_ms, None),
    };
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, delivered_at = $3,
             last_status_code = $4, last_error = $5, locked_until = NULL, locked_by = NULL,
             updated_at = $6
         WHERE id = $7 AND status = 'pending' AND locked_by = $8",
    )
    .bind(status)
    .bind(next)
    .bind(delivered)
    .bind(status_code)
    .bind(error)
    .bind(now_ms)
    .bind(delivery_id)
    .bind(worker)
    .execute(executor)
    .await
    .context("settling a delivery")?;
    Ok(())
}

/// Puts the event's finished deliveries to active endpoints back to pending, due at `now_ms`.
/// Returns how many.
pub async fn requeue_deliveries<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    event_id: &EventId,
    now_ms: i64,
) -> anyhow::Result<u64> {
    let reset = sqlx::query(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, locked_until = NULL,
             locked_by = NULL, updated_at = $1
         WHERE event_id = $2 AND status <> 'pending'
           AND endpoint_id IN (SELECT id FROM webhook_endpoints WHERE status = 'active')",
    )
    .bind(now_ms)
    .bind(event_id)
    .execute(executor)
    .await
    .context("requeueing deliveries")?;
    Ok(reset.rows_affected())
}

/// A delivery as the API shows it.
#[derive(Debug, Clone, FromRow)]
pub struct DeliveryRow {
    /// Its id (`dlv_…`).
    pub id: DeliveryId,
    /// The endpoint it goes to.
    pub endpoint_id: WebhookEndpointId,
    /// Owed, delivered or given up on.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: i64,
    /// When it is next due, while pending (Unix milliseconds); once finished, when it
    /// finished.
    pub next_attempt_at: i64,
    /// The HTTP status of the latest attempt, if the endpoint answered.
    pub last_status_code: Option<i64>,
    /// What went wrong with the latest attempt; `None` when it succeeded.
    pub last_error: Option<String>,
    /// When an attempt succeeded (Unix milliseconds); `None` until one does.
    pub delivered_at: Option<i64>,
}

/// Every delivery of an event, one per endpoint.
pub async fn list_event_deliveries<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    event_id: &EventId,
) -> anyhow::Result<Vec<DeliveryRow>> {
    sqlx::query_as(
        "SELECT id, endpoint_id, status, attempts, next_attempt_at, last_status_code, last_error,
                delivered_at
         FROM webhook_deliveries WHERE event_id = $1 ORDER BY id",
    )
    .bind(event_id)
    .fetch_all(executor)
    .await
    .context("listing an event's deliveries")
}

/// A recorded attempt, as the API shows it.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptRow {
    /// The delivery it was an attempt of.
    pub delivery_id: DeliveryId,
    /// The delivery's endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// Which attempt of the delivery it was: 1 for the first.
    pub attempt: i64,
    /// When the request started (Unix milliseconds).
    pub started_at: i64,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
    /// The HTTP status the endpoint answered; `None` when it did not answer.
    pub status_code: Option<i64>,
    /// The first 2 KiB of the endpoint's answer, when it answered.
    pub response_body: Option<String>,
    /// What went wrong; `None` when delivered.
    pub error: Option<String>,
}

/// Every attempt to deliver an event, oldest first.
pub async fn list_event_attempts<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    event_id: &EventId,
) -> anyhow::Result<Vec<AttemptRow>> {
    sqlx::query_as(
        "SELECT delivery_id, endpoint_id, attempt, started_at, duration_ms, status_code,
                response_body, error
         FROM webhook_attempts WHERE event_id = $1 ORDER BY started_at, id",
    )
    .bind(event_id)
    .fetch_all(executor)
    .await
    .context("listing an event's attempts")
}

/// Whether the event reached at least one endpoint, and whether any delivery is still owed.
pub async fn event_delivery_state<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    event_id: &EventId,
) -> anyhow::Result<(i64, i64)> {
    let row: (Option<i64>, Option<i64>) = sqlx::query_as(
        "SELECT SUM(CASE WHEN status = 'succeeded' THEN 1 ELSE 0 END),
                SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END)
         FROM webhook_deliveries WHERE event_id = $1",
    )
    .bind(event_id)
    .fetch_one(executor)
    .await
    .context("reading an event's delivery state")?;
    Ok((row.0.unwrap_or(0), row.1.unwrap_or(0)))
}
