//! Checkout sessions.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::{count_columns, placeholders};
use crate::domain::{
    CustomerId, Environment, MerchantId, PaymentId, RouteKind, SessionId, SessionStatus,
};

/// A checkout session as stored.
#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    /// Its id (`chk_…`): also the buyer's access to its pages.
    pub id: SessionId,
    /// The merchant who created it.
    pub merchant_id: MerchantId,
    /// The environment of the key that created it.
    pub environment: Environment,
    /// The buyer, found or created by e-mail when the session was created.
    pub customer_id: CustomerId,
    /// The buyer's e-mail address, as given.
    pub customer_email: String,
    /// The product or plan name shown to the buyer.
    pub product: String,
    /// The price, in cents, before the buyer's fee.
    pub amount_cents: i64,
    /// Always `USD`.
    pub currency: String,
    /// Its status as last written; readers see it through [`SessionStatus::effective`].
    pub status: SessionStatus,
    /// The kind of route the merchant chose for the buyer, if any.
    pub preferred_route: Option<RouteKind>,
    /// The route picked for the preferred kind, then the route of the current payment.
    pub route_id: Option<String>,
    /// Where the buyer returns once the payment is over, as the merchant gave it
    /// (placeholder included).
    pub redirect_url: Option<String>,
    /// The metadata object's JSON text.
    pub metadata: String,
    /// The merchant's own reference (an order id), echoed back.
    pub client_reference_id: Option<String>,
    /// The merchant's idempotency key, unique per merchant and environment.
    pub idempotency_key: Option<String>,
    /// A digest of the creating request, to tell an idempotent retry from a conflict.
    pub request_hash: Option<String>,
    /// The latest payment, once the buyer has started paying.
    pub payment_id: Option<PaymentId>,
    /// When the buyer's time to pay runs out (Unix milliseconds).
    pub expires_at: i64,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
    /// When its status or payment last changed (Unix milliseconds).
    pub updated_at: i64,
    /// When the buyer first opened its page (Unix milliseconds); `None` until then.
    pub opened_at: Option<i64>,
    /// When a page of ours first sent the buyer back to `redirect_url` (Unix milliseconds):
    /// the paid page, or the failed one after the buyer gave up. A link the buyer follows from
    /// another page leaves no trace here.
    pub sent_back_at: Option<i64>,
    /// `buyer`: receipt e-mails go to the buyer; `off`: none (`send_receipts = false`, or the
    /// session asked for none).
    pub receipts: String,
    /// Where a copy of each receipt e-mail goes (`receipt_copy_to` when it was created).
    pub receipt_copy_to: Option<String>,
}

/// A session to create: everything but its customer, whom the session writer finds or creates
/// by e-mail in the same transaction.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Its id, generated before it is written.
    pub id: SessionId,
    /// The merchant who creates it.
    pub merchant_id: MerchantId,
    /// The environment it is created in.
    pub environment: Environment,
    /// The buyer's e-mail address, as given.
    pub customer_email: String,
    /// The e-mail as customers are looked up by (case-insensitive).
    pub email_normalized: String,
    /// The product or plan name shown to the buyer.
    pub product: String,
    /// The price, in cents, before the buyer's fee.
    pub amount_cents: i64,
    /// Always `USD`.
    pub currency: String,
    /// The kind of route the merchant chose for the buyer, if any.
    pub preferred_route: Option<RouteKind>,
    /// The route picked for the preferred kind, if one was named.
    pub route_id: Option<String>,
    /// Where the buyer returns once the payment is over.
    pub redirect_url: Option<String>,
    /// The metadata object's JSON text.
    pub metadata: String,
    /// The merchant's own reference, echoed back.
    pub client_reference_id: Option<String>,
    /// The merchant's idempotency key; a taken one means the session is not created.
    pub idempotency_key: Option<String>,
    /// A digest of the creating request, to tell an idempotent retry from a conflict.
    pub request_hash: Option<String>,
    /// When the buyer's time to pay runs out (Unix milliseconds).
    pub expires_at: i64,
    /// When it is created (Unix milliseconds); also its first `updated_at`.
    pub created_at: i64,
    /// `buyer` or `off`: see [`SessionRow::receipts`].
    pub receipts: String,
    /// See [`SessionRow::receipt_copy_to`].
    pub receipt_copy_to: Option<String>,
}

impl NewSession {
    /// The row it becomes for `customer_id`: `routed`, no payment yet.
    pub fn into_row(self, customer_id: CustomerId) -> SessionRow {
        SessionRow {
            id: self.id,
            merchant_id: self.merchant_id,
            environment: self.environment,
            customer_id,
            customer_email: self.customer_email,
            product: self.product,
            amount_cents: self.amount_cents,
            currency: self.currency,
            status: SessionStatus::Routed,
            preferred_route: self.preferred_route,
            route_id: self.route_id,
            redirect_url: self.redirect_url,
            metadata: self.metadata,
            client_reference_id: self.client_reference_id,
            idempotency_key: self.idempotency_key,
            request_hash: self.request_hash,
            payment_id: None,
            expires_at: self.expires_at,
            created_at: self.created_at,
            updated_at: self.created_at,
            opened_at: None,
            sent_back_at: None,
            receipts: self.receipts,
            receipt_copy_to: self.receipt_copy_to,
        }
    }
}

/// Every column of `checkout_sessions`, in the order rows are written and read.
pub(super) const COLUMNS: &str = "id, merchant_id, environment, customer_id, customer_email, product, \
    amount_cents, currency, status, preferred_route, route_id, redirect_url, metadata, \
    client_reference_id, idempotency_key, request_hash, payment_id, expires_at, created_at, \
    updated_at, opened_at, sent_back_at, receipts, receipt_copy_to";

/// Inserts many sessions in one statement, skipping those whose idempotency key is taken.
/// Returns the ids actually inserted. Rows should come sorted by idempotency key so that
/// concurrent batches on PostgreSQL take their index locks in one order.
pub async fn insert_sessions<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    rows: &[&SessionRow],
) -> anyhow::Result<Vec<SessionId>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "INSERT INTO checkout_sessions ({COLUMNS}) VALUES {}
         ON CONFLICT (merchant_id, environment, idempotency_key) DO NOTHING RETURNING id",
        placeholders(rows.len(), count_columns(COLUMNS), 1)
    );
    let mut query = sqlx::query_scalar(&sql);
    for row in rows {
        query = query
            .bind(&row.id)
            .bind(&row.merchant_id)
            .bind(row.environment)
            .bind(&row.customer_id)
            .bind(&row.customer_email)
            .bind(&row.product)
            .bind(row.amount_cents)
            .bind(&row.currency)
            .bind(row.status)
            .bind(row.preferred_route)
            .bind(&row.route_id)
            .bind(&row.redirect_url)
            .bind(&row.metadata)
            .bind(&row.client_reference_id)
            .bind(&row.idempotency_key)
            .bind(&row.request_hash)
            .bind(&row.payment_id)
            .bind(row.expires_at)
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(row.opened_at)
            .bind(row.sent_back_at)
            .bind(&row.receipts)
            .bind(&row.receipt_copy_to);
    }
    query
        .fetch_all(executor)
        .await
        .context("inserting checkout sessions")
}

/// Which of these idempotency keys the merchant has already used in this environment.
pub async fn taken_idempotency_keys<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    keys: &[&str],
) -> anyhow::Result<Vec<String>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT idempotency_key FROM checkout_sessions
         WHERE merchant_id = $1 AND environment = $2 AND idempotency_key IN {}",
        placeholders(1, keys.len(), 3)
    );
    let mut query = sqlx::query_scalar(&sql).bind(merchant_id).bind(environment);
    for key in keys {
        query = query.bind(*key);
    }
    query
        .fetch_all(executor)
        .await
        .context("reading taken idempotency keys")
}

/// The session created earlier with this idempotency key.
pub async fn get_session_by_idempotency_key<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    key: &str,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkout_sessions
         WHERE merchant_id = $1 AND environment = $2 AND idempotency_key = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(key)
    .fetch_optional(executor)
    .await
    .context("reading a session by idempotency key")
}

/// One of the merchant's sessions in this environment.
pub async fn get_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &SessionId,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkout_sessions
         WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a session")
}

/// A session by id alone, for the checkout pages: the unguessable id is the buyer's access.
pub async fn get_session_by_id<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM checkout_sessions WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a session")
}

/// A session with its merchant's display name: everything a checkout page needs, one query.
#[derive(Debug, Clone, FromRow)]
pub struct SessionView {
    /// The session.
    #[sqlx(flatten)]
    pub session: SessionRow,
    /// The merchant's own name, shown when its branding sets no display name.
    pub merchant_name: String,
    /// The merchant's branding as stored.
    #[sqlx(flatten)]
    pub branding: crate::domain::branding::MerchantBranding,
    /// The session took `card_attempts_per_session` declined cards: it offers only its other
    /// routes. Not read by the query: the pages set it (`load`) after a failed payment.
    #[sqlx(skip)]
    pub cards_closed: bool,
}

/// A session by id with what its pages show of its merchant: see [`SessionView`]. On SQLite
/// it is read on the caller's thread (`hot_read`), on PostgreSQL through the pool.
pub async fn read_session_view(
    db: &super::Db,
    id: &SessionId,
) -> anyhow::Result<Option<SessionView>> {
    match db.sqlite_file() {
        Some(path) => super::hot_read::session_view(path, session_view_sql(), id),
        None => get_session_view(&db.read, id).await,
    }
}

/// The query of [`get_session_view`]: the hottest of all (every page view), its text built
/// once.
fn session_view_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let prefixed = |columns: &str, table: &str| {
            columns
                .split(',')
                .map(|c| format!("{table}.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "SELECT {}, m.name AS merchant_name, {} FROM checkout_sessions s
             JOIN merchants m ON m.id = s.merchant_id WHERE s.id = $1",
            prefixed(COLUMNS, "s"),
            prefixed(super::merchants::BRANDING_COLUMNS, "m"),
        )
    })
}

/// A session by id with what its pages show of its merchant: see [`SessionView`].
pub async fn get_session_view<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
) -> anyhow::Result<Option<SessionView>> {
    sqlx::query_as(session_view_sql())
        .bind(id)
        .fetch_optional(executor)
        .await
        .context("reading a session for its page")
}

/// Notes that the buyer opened the session's page at `now_ms`, the first time only: later
/// views find `opened_at` set and write nothing.
pub async fn mark_opened<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE checkout_sessions SET opened_at = $1 WHERE id = $2 AND opened_at IS NULL")
        .bind(now_ms)
        .bind(id)
        .execute(executor)
        .await
        .context("noting that a checkout page was opened")?;
    Ok(())
}

/// Notes that a page of ours sent the buyer back to the merchant at `now_ms`, the first time
/// only.
pub async fn mark_sent_back<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE checkout_sessions SET sent_back_at = $1 WHERE id = $2 AND sent_back_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .execute(executor)
    .await
    .context("noting that the buyer was sent back to the merchant")?;
    Ok(())
}

/// Expires the session if no buyer has started paying: a compare-and-set, so it is safe
/// against a buyer starting at the same moment. `None` when the session was not `routed`.
pub async fn expire_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &SessionId,
    now_ms: i64,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "UPDATE checkout_sessions SET status = 'expired', updated_at = $1
         WHERE merchant_id = $2 AND environment = $3 AND id = $4 AND status = 'routed'
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms)
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("expiring a session")
}

/// The sweeper's choice of sessions to expire (`expire_due_sessions`), an index range of
/// `checkout_sessions_expiry`; `tests/api/query_plans.rs` checks that it stays one.
pub const DUE_SESSIONS: &str = "SELECT id FROM checkout_sessions
             WHERE status = 'routed' AND expires_at <= $1
             ORDER BY expires_at LIMIT $2";

/// Expires up to `batch` sessions whose deadline has passed and that nobody started paying.
/// Guarded by the status, so several instances sweeping at once never expire one twice.
pub async fn expire_due_sessions<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now_ms: i64,
    batch: i64,
) -> anyhow::Result<Vec<SessionRow>> {
    sqlx::query_as(&format!(
        "UPDATE checkout_sessions SET status = 'expired', updated_at = $1
         WHERE status = 'routed' AND id IN ({DUE_SESSIONS})
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms)
    .bind(batch)
    .fetch_all(executor)
    .await
    .context("expiring due sessions")
}

/// `routed` → `pending` when the buyer starts paying, unless the session has expired
/// meanwhile. `previous` is the payment the buyer saw fail (none for a first attempt): a
/// compare-and-set on it, so two tabs retrying at once start one payment. `false` when another
/// request (or the deadline) got there first.
pub async fn start_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    previous: Option<&PaymentId>,
    payment_id: &PaymentId,
    route_id: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE checkout_sessions SET status = 'pending', payment_id = $1, route_id = $2,
             updated_at = $3
         WHERE id = $4 AND status = 'routed' AND expires_at > $3
           AND COALESCE(payment_id, '') = $5",
    )
    .bind(payment_id)
    .bind(route_id)
    .bind(now_ms)
    .bind(id)
    .bind(previous.map_or("", PaymentId::as_str))
    .execute(executor)
    .await
    .context("starting a session")?;
    Ok(done.rows_affected() == 1)
}

/// The session's current payment `payment_id` ended: `pending` → `status` (`paid`, `failed`,
/// or `routed` to offer the buyer another attempt). With `late` (a confirmation of money
/// already taken, always honoured) a session that expired, failed or moved on to another
/// attempt meanwhile becomes paid too, naming this payment. `None` when the session was
/// elsewhere.
pub async fn finish_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    payment_id: &PaymentId,
    status: SessionStatus,
    late: bool,
    now_ms: i64,
) -> anyhow::Result<Option<SessionRow>> {
    // `$4 = 1`: a late confirmation, which pays a session whatever became of it.
    sqlx::query_as(&format!(
        "UPDATE checkout_sessions SET status = $1, payment_id = $5, updated_at = $2
         WHERE id = $3 AND ((status = 'pending' AND payment_id = $5)
             OR ($4 = 1 AND status IN ('routed', 'pending', 'expired', 'failed')))
         RETURNING {COLUMNS}"
    ))
    .bind(status)
    .bind(now_ms)
    .bind(id)
    .bind(i64::from(late))
    .bind(payment_id)
    .fetch_optional(executor)
    .await
    .context("finishing a session")
}

/// `routed` → `failed` when the buyer gives up after the failed payment `payment_id` (returns
/// to the merchant). `None` when the session was elsewhere (paid meanwhile, another attempt
/// started, expired).
pub async fn abandon_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    payment_id: &PaymentId,
    now_ms: i64,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "UPDATE checkout_sessions SET status = 'failed', updated_at = $1
         WHERE id = $2 AND status = 'routed' AND payment_id = $3
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms)
    .bind(id)
    .bind(payment_id)
    .fetch_optional(executor)
    .await
    .context("closing a session the buyer left")
}

/// The sweeper's choice of pending sessions to close (`due_pending_sessions`).
pub const DUE_PENDING_SESSIONS: &str =
    "SELECT s.id FROM checkout_sessions s JOIN payments p ON p.id = s.payment_id
         WHERE s.status = 'pending' AND s.expires_at <= $1 AND p.provider_state = 'awaiting_buyer'
         ORDER BY s.expires_at LIMIT $2";

/// Pending sessions past their deadline whose payment never reached a provider.
pub async fn due_pending_sessions<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now_ms: i64,
    batch: i64,
) -> anyhow::Result<Vec<SessionId>> {
    sqlx::query_scalar(DUE_PENDING_SESSIONS)
        .bind(now_ms)
        .bind(batch)
        .fetch_all(executor)
        .await
        .context("finding pending sessions to expire")
}

/// `pending` → `expired` for a session whose payment is still waiting for the buyer.
pub async fn expire_pending_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &SessionId,
    now_ms: i64,
) -> anyhow::Result<Option<SessionRow>> {
    sqlx::query_as(&format!(
        "UPDATE checkout_sessions SET status = 'expired', updated_at = $1
         WHERE id = $2 AND status = 'pending'
           AND NOT EXISTS (SELECT 1 FROM payments p
                           WHERE p.id = checkout_sessions.payment_id
                             AND p.provider_state <> 'awaiting_buyer')
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("expiring a pending session")
}
