//! Group commit for new checkout sessions.
//!
//! Creating a session writes a customer (found or created) and the session in one transaction.
//! Done one request at a time, SQLite's single writer caps throughput at a few thousand
//! transactions a second, most of it spent handing each statement to the connection's thread.
//! So requests queue here and one task writes whatever has queued as one transaction: still
//! all-or-nothing per request, still durable before the request is answered, but a handful of
//! statements per batch instead of per request. On PostgreSQL it saves round trips the same way.
//! If a batch fails as a whole, its requests are retried one by one so one bad row cannot fail
//! the others.
//!
//! On SQLite the batch is written on a blocking thread through its own connection (`rusqlite`
//! over the same SQLite library), one prepared statement per row: the whole transaction is one
//! hand-off instead of one per statement, and no statement has thousands of parameters (which
//! SQLite resolves by name, one scan each). The writer holds sqlx's one write connection while
//! it writes, so this process still has a single writer.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use rusqlite::OptionalExtension;
use tokio::sync::{mpsc, oneshot};

use super::Db;
use super::customers::{CustomerKey, upsert_customers};
use super::sessions::{COLUMNS, NewSession, SessionRow, insert_sessions, taken_idempotency_keys};
use crate::domain::time::now_ms;
use crate::domain::{CustomerId, Environment, MerchantId, SessionId};

/// Largest batch: 128 sessions × 20 columns stays far below SQLite's parameter limit.
const MAX_BATCH: usize = 128;

/// The outcome of one insert.
#[derive(Debug)]
pub enum Inserted {
    /// Written and committed.
    Created(Box<SessionRow>),
    /// The idempotency key was already taken; nothing was written.
    IdempotencyKeyTaken,
}

struct Job {
    session: NewSession,
    reply: oneshot::Sender<anyhow::Result<Inserted>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct SessionWriter {
    jobs: mpsc::Sender<Job>,
}

impl SessionWriter {
    /// Starts the writer task on the current runtime.
    pub fn start(db: Db) -> SessionWriter {
        let (jobs, queue) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, queue));
        SessionWriter { jobs }
    }

    /// Writes the session and its customer; returns once committed.
    pub async fn insert(&self, session: NewSession) -> anyhow::Result<Inserted> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { session, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the session writer has stopped"))?;
        answer
            .await
            .context("the session writer dropped a request")?
    }
}

async fn run(db: Db, mut queue: mpsc::Receiver<Job>) {
    let db = Writer {
        sqlite: db.sqlite_file().map(|path| SqliteWriter {
            path: path.to_owned(),
            connection: Arc::new(Mutex::new(None)),
        }),
        db,
    };
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        if jobs.len() == 1 {
            write_and_reply(&db, jobs).await;
            continue;
        }
        let sessions: Vec<NewSession> = jobs.iter().map(|j| j.session.clone()).collect();
        match write_batch(&db, sessions).await {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::warn!(
                    error.cause = format!("{e:#}"),
                    size = jobs.len(),
                    "batch failed; retrying one by one"
                );
                for job in jobs {
                    write_and_reply(&db, vec![job]).await;
                }
            }
        }
    }
}

/// The database, and on SQLite the writer's own connection.
struct Writer {
    db: Db,
    sqlite: Option<SqliteWriter>,
}

struct SqliteWriter {
    path: String,
    /// Opened on first use, kept (and reopened after a failed batch).
    connection: Arc<Mutex<Option<rusqlite::Connection>>>,
}

async fn write_and_reply(db: &Writer, mut jobs: Vec<Job>) {
    let Some(job) = jobs.pop() else { return };
    let result = write_batch(db, vec![job.session])
        .await
        .and_then(|mut outcomes| outcomes.pop().context("no outcome for a written session"));
    let _ = job.reply.send(result);
}

/// One transaction for the whole batch; outcomes in the order of `sessions`.
async fn write_batch(writer: &Writer, sessions: Vec<NewSession>) -> anyhow::Result<Vec<Inserted>> {
    let db = &writer.db;
    if let Some(sqlite) = &writer.sqlite {
        // sqlx's write connection, held (unused) so that no other write of this process runs
        // meanwhile: SQLite has one writer, and a deferred transaction elsewhere that finds the
        // database written under it would fail instead of waiting.
        let _single_writer = db
            .write
            .acquire()
            .await
            .context("waiting for the database's writer")?;
        let connection = sqlite.connection.clone();
        let path = sqlite.path.clone();
        return tokio::task::spawn_blocking(move || {
            let mut slot = connection.lock().unwrap_or_else(|e| e.into_inner());
            let written = write_batch_sqlite(&mut slot, &path, &sessions);
            if written.is_err() {
                // A failed commit may leave the connection in a state not worth trusting.
                *slot = None;
            }
            written
        })
        .await
        .context("the SQLite session writer panicked")?;
    }
    let now = now_ms();
    let mut tx = db.begin().await?;

    // Idempotency keys already used (or used twice in this batch) get no customer write.
    type Scope = (MerchantId, Environment);
    let mut keys_by_scope: BTreeMap<Scope, Vec<&str>> = BTreeMap::new();
    for session in &sessions {
        if let Some(key) = &session.idempotency_key {
            keys_by_scope
                .entry((session.merchant_id.clone(), session.environment))
                .or_default()
                .push(key);
        }
    }
    let mut taken: HashSet<(Scope, String)> = HashSet::new();
    for ((merchant, environment), keys) in &keys_by_scope {
        for key in taken_idempotency_keys(&mut *tx, merchant, *environment, keys).await? {
            taken.insert(((merchant.clone(), *environment), key));
        }
    }
    let mut claimed: HashSet<(Scope, String)> = HashSet::new();
    let writable: Vec<bool> = sessions
        .iter()
        .map(|session| match &session.idempotency_key {
            None => true,
            Some(key) => {
                let scope = (
                    (session.merchant_id.clone(), session.environment),
                    key.clone(),
                );
                !taken.contains(&scope) && claimed.insert(scope)
            }
        })
        .collect();

    let key_of = |session: &NewSession| CustomerKey {
        merchant_id: session.merchant_id.clone(),
        environment: session.environment,
        email_normalized: session.email_normalized.clone(),
    };
    let mut customers: BTreeMap<CustomerKey, &str> = BTreeMap::new();
    for (session, write) in sessions.iter().zip(&writable) {
        if *write {
            customers
                .entry(key_of(session))
                .or_insert(session.customer_email.as_str());
        }
    }
    let customers: Vec<(CustomerKey, &str)> = customers.into_iter().collect();
    let ids = upsert_customers(&mut *tx, &customers, now).await?;

    let mut rows: Vec<Option<SessionRow>> = Vec::with_capacity(sessions.len());
    for (session, write) in sessions.into_iter().zip(&writable) {
        rows.push(match write {
            true => {
                let customer_id = ids
                    .get(&key_of(&session))
                    .context("a customer upsert returned no id")?
                    .clone();
                Some(session.into_row(customer_id))
            }
            false => None,
        });
    }
    let mut to_insert: Vec<&SessionRow> = rows.iter().flatten().collect();
    to_insert.sort_by(|a, b| a.idempotency_key.cmp(&b.idempotency_key));
    let inserted: HashSet<SessionId> = insert_sessions(&mut *tx, &to_insert)
        .await?
        .into_iter()
        .collect();
    tx.commit().await.context("committing new sessions")?;

    Ok(rows
        .into_iter()
        .map(|row| match row {
            Some(row) if inserted.contains(&row.id) => Inserted::Created(Box::new(row)),
            _ => Inserted::IdempotencyKeyTaken,
        })
        .collect())
}

/// The SQLite writer's connection: read-write, durable as the pools' (WAL, `synchronous=FULL`).
fn open_sqlite_writer(path: &str) -> anyhow::Result<rusqlite::Connection> {
    let connection = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("opening {path} to write sessions"))?;
    connection.busy_timeout(Duration::from_secs(10))?;
    connection
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
        )
        .context("setting up the session writer's connection")?;
    Ok(connection)
}

/// [`write_batch`] on SQLite: per session, in one `BEGIN IMMEDIATE` transaction, the
/// idempotency key checked (a key taken before, or earlier in the batch, writes nothing, not
/// even a customer), the customer found or created, the session inserted.
fn write_batch_sqlite(
    slot: &mut Option<rusqlite::Connection>,
    path: &str,
    sessions: &[NewSession],
) -> anyhow::Result<Vec<Inserted>> {
    let connection = match slot {
        Some(connection) => connection,
        None => slot.insert(open_sqlite_writer(path)?),
    };
    let now = now_ms();
    let tx = connection
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .context("starting a database transaction")?;
    let mut outcomes = Vec::with_capacity(sessions.len());
    {
        let mut taken = tx.prepare_cached(
            "SELECT 1 FROM checkout_sessions
             WHERE merchant_id = ?1 AND environment = ?2 AND idempotency_key = ?3",
        )?;
        let mut customer = tx.prepare_cached(
            "INSERT INTO customers (id, merchant_id, environment, email, email_normalized, status, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6)
             ON CONFLICT (merchant_id, environment, email_normalized)
             DO UPDATE SET status = customers.status
             RETURNING id",
        )?;
        let mut insert = tx.prepare_cached(&format!(
            "INSERT INTO checkout_sessions ({COLUMNS}) VALUES ({})
             ON CONFLICT (merchant_id, environment, idempotency_key) DO NOTHING RETURNING id",
            (1..=COLUMNS.split(',').count())
                .map(|i| format!("?{i}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))?;
        for session in sessions {
            let merchant = session.merchant_id.as_str();
            let environment = session.environment.as_str();
            if let Some(key) = &session.idempotency_key
                && taken
                    .query_row((merchant, environment, key), |_| Ok(()))
                    .optional()
                    .context("reading taken idempotency keys")?
                    .is_some()
            {
                outcomes.push(Inserted::IdempotencyKeyTaken);
                continue;
            }
            let customer_id: String = customer
                .query_row(
                    (
                        CustomerId::generate().as_str(),
                        merchant,
                        environment,
                        &session.customer_email,
                        &session.email_normalized,
                        now,
                    ),
                    |row| row.get(0),
                )
                .context("looking up or creating customers")?;
            let row = session
                .clone()
                .into_row(CustomerId::from_trusted(customer_id));
            let inserted = insert
                .query_row(
                    rusqlite::params![
                        row.id.as_str(),
                        merchant,
                        environment,
                        row.customer_id.as_str(),
                        row.customer_email,
                        row.product,
                        row.amount_cents,
                        row.currency,
                        row.status.as_str(),
                        row.preferred_route.map(|r| r.as_str()),
                        row.route_id,
                        row.redirect_url,
                        row.metadata,
                        row.client_reference_id,
                        row.idempotency_key,
                        row.request_hash,
                        row.payment_id.as_ref().map(|p| p.as_str()),
                        row.expires_at,
                        row.created_at,
                        row.updated_at,
                        row.opened_at,
                        row.sent_back_at,
                        row.receipts,
                        row.receipt_copy_to,
                    ],
                    |_| Ok(()),
                )
                .optional()
                .context("inserting checkout sessions")?;
            outcomes.push(match inserted {
                Some(()) => Inserted::Created(Box::new(row)),
                None => Inserted::IdempotencyKeyTaken,
            });
        }
    }
    tx.commit().context("committing new sessions")?;
    Ok(outcomes)
}
