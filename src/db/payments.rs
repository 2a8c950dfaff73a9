//! Payments. Every change is a compare-and-set on the current state, so concurrent requests,
//! callbacks and instances can never apply one step twice.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::sessions::SessionRow;
use super::{count_columns, placeholders};
use crate::domain::payment_route::PaymentRoute;
use crate::domain::{
    CustomerId, Environment, InvoiceId, LedgerStatus, MerchantId, Outcome, PaymentId,
    PaymentStatus, ProviderState, RouteKind, SessionId,
};

/// A payment as stored: one attempt of the buyer to pay a session through one route.
#[derive(Debug, Clone, FromRow)]
pub struct PaymentRow {
    /// Its id (`pay_…`).
    pub id: PaymentId,
    /// The session it pays.
    pub session_id: SessionId,
    /// The session's merchant.
    pub merchant_id: MerchantId,
    /// The session's environment.
    pub environment: Environment,
    /// The session's buyer.
    pub customer_id: CustomerId,
    /// 1 for the session's first payment, 2 for the one made after it failed, …
    pub attempt: i64,
    /// Its invoice, written in the same transaction as the payment.
    pub invoice_id: InvoiceId,
    /// The id of the configured [`PaymentRoute`] it goes through.
    pub route_id: String,
    /// How the buyer pays: card, wallet or local.
    pub route_kind: RouteKind,
    /// The integration that carries it (`sandbox`).
    pub provider: String,
    /// The session's amount, in cents.
    pub amount_cents: i64,
    /// What the buyer pays on top of the amount, in cents, at the route's rate when the
    /// payment was created.
    pub buyer_fee_cents: i64,
    /// What the gateway keeps of the amount, in cents.
    pub gateway_fee_cents: i64,
    /// What the merchant receives, in cents: the amount less the gateway fee.
    pub merchant_net_cents: i64,
    /// What the buyer pays, in cents: the amount plus the buyer fee.
    pub total_cents: i64,
    /// The session's currency (`USD`).
    pub currency: String,
    /// `pending` until the provider decides (or time runs out), then `paid` or `failed`.
    pub status: PaymentStatus,
    /// `settled` once paid, `pending` otherwise.
    pub ledger_status: LedgerStatus,
    /// Where it stands with its provider; `done` once it is paid or failed.
    pub provider_state: ProviderState,
    /// The provider's id of the payment, once it answered the hand-off.
    pub provider_ref: Option<String>,
    /// What the provider answered (e.g. transfer instructions), as JSON text.
    pub provider_data: String,
    /// The card's brand (`visa`, …), for a card payment once it is claimed for the hand-off.
    pub card_brand: Option<String>,
    /// The card's last four digits, likewise; the rest of the card is never stored.
    pub card_last4: Option<String>,
    /// The settlement transaction, when the provider reported one.
    pub tx_hash: Option<String>,
    /// Why it failed (`card_declined`, `provider_timeout`, …); `None` unless it failed.
    pub failure_code: Option<String>,
    /// The failure in words, from the provider (or ours for a time-out).
    pub failure_message: Option<String>,
    /// When it fails with `provider_timeout` unless its provider decided (Unix milliseconds);
    /// set when it is claimed for the hand-off, `None` while it awaits the buyer.
    pub provider_deadline: Option<i64>,
    /// When reconciliation next asks the provider about it, or drives a hand-off that was cut
    /// short again (Unix milliseconds); `None` while it awaits the buyer and once it is final.
    pub next_poll_at: Option<i64>,
    /// When the buyer started it (Unix milliseconds).
    pub created_at: i64,
    /// When it last changed (Unix milliseconds).
    pub updated_at: i64,
    /// What its refunds take up of `amount_cents`, pending and succeeded.
    pub refund_reserved_cents: i64,
    /// What its refunds that succeeded gave back to the buyer, in cents.
    pub refunded_cents: i64,
    /// The catalog code of the language the buyer paid in; its receipt and e-mails speak it.
    /// `None` for payments made before it was recorded.
    pub language: Option<String>,
}

/// The columns of `payments` in [`PaymentRow`]'s order, for selecting and inserting rows.
pub const COLUMNS: &str = "id, session_id, merchant_id, environment, customer_id, attempt, \
    invoice_id, route_id, route_kind, provider, amount_cents, buyer_fee_cents, gateway_fee_cents, \
    merchant_net_cents, total_cents, currency, status, ledger_status, provider_state, \
    provider_ref, provider_data, card_brand, card_last4, tx_hash, failure_code, \
    failure_message, provider_deadline, next_poll_at, created_at, updated_at, \
    refund_reserved_cents, refunded_cents, language";

impl PaymentRow {
    /// A new payment of `session` through `route`: its `attempt`-th, `pending`, nothing heard
    /// from a provider yet. A payment that goes to its provider at once is created claimed for
    /// that hand-off (`in_flight`, with its deadline and when to drive it again).
    pub fn pending(
        session: &SessionRow,
        route: &PaymentRoute,
        attempt: i64,
        provider_state: ProviderState,
        provider_deadline: Option<i64>,
        next_poll_at: Option<i64>,
        now: i64,
    ) -> PaymentRow {
        let fees = route.fees(session.amount_cents);
        PaymentRow {
            id: PaymentId::generate(),
            session_id: session.id.clone(),
            merchant_id: session.merchant_id.clone(),
            environment: session.environment,
            customer_id: session.customer_id.clone(),
            attempt,
            invoice_id: InvoiceId::generate(),
            route_id: route.id.clone(),
            route_kind: route.kind,
            provider: route.integration.clone(),
            amount_cents: session.amount_cents,
            buyer_fee_cents: fees.buyer_fee,
            gateway_fee_cents: fees.gateway_fee,
            merchant_net_cents: fees.merchant_net,
            total_cents: fees.total,
            currency: session.currency.clone(),
            status: PaymentStatus::Pending,
            ledger_status: LedgerStatus::Pending,
            provider_state,
            provider_ref: None,
            provider_data: "{}".into(),
            card_brand: None,
            card_last4: None,
            tx_hash: None,
            failure_code: None,
            failure_message: None,
            provider_deadline,
            next_poll_at,
            created_at: now,
            updated_at: now,
            refund_reserved_cents: 0,
            refunded_cents: 0,
            language: None,
        }
    }

    /// Whether a provider has the payment and has not finished it: then its session cannot
    /// expire.
    pub fn at_provider(&self) -> bool {
        self.status == PaymentStatus::Pending && self.provider_state != ProviderState::AwaitingBuyer
    }
}

/// Inserts a payment; `false` when the session already has one with its attempt number.
pub async fn insert_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    p: &PaymentRow,
) -> anyhow::Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO payments ({COLUMNS}) VALUES {} ON CONFLICT (session_id, attempt) DO NOTHING",
        placeholders(1, count_columns(COLUMNS), 1)
    ))
    .bind(&p.id)
    .bind(&p.session_id)
    .bind(&p.merchant_id)
    .bind(p.environment)
    .bind(&p.customer_id)
    .bind(p.attempt)
    .bind(&p.invoice_id)
    .bind(&p.route_id)
    .bind(p.route_kind)
    .bind(&p.provider)
    .bind(p.amount_cents)
    .bind(p.buyer_fee_cents)
    .bind(p.gateway_fee_cents)
    .bind(p.merchant_net_cents)
    .bind(p.total_cents)
    .bind(&p.currency)
    .bind(p.status)
    .bind(p.ledger_status)
    .bind(p.provider_state)
    .bind(&p.provider_ref)
    .bind(&p.provider_data)
    .bind(&p.card_brand)
    .bind(&p.card_last4)
    .bind(&p.tx_hash)
    .bind(&p.failure_code)
    .bind(&p.failure_message)
    .bind(p.provider_deadline)
    .bind(p.next_poll_at)
    .bind(p.created_at)
    .bind(p.updated_at)
    .bind(p.refund_reserved_cents)
    .bind(p.refunded_cents)
    .bind(&p.language)
    .execute(executor)
    .await
    .context("inserting a payment")?;
    Ok(done.rows_affected() == 1)
}

/// The session's latest payment (its last attempt), if the buyer has started paying.
pub async fn get_payment_by_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    session_id: &SessionId,
) -> anyhow::Result<Option<PaymentRow>> {
    sqlx::query_as(latest_payment_sql())
        .bind(session_id)
        .fetch_optional(executor)
        .await
        .context("reading a session's payment")
}

/// [`get_payment_by_session`] for the checkout pages: on SQLite on the caller's thread
/// (`hot_read`), on PostgreSQL through the read pool.
pub async fn read_payment_by_session(
    db: &super::Db,
    session_id: &SessionId,
) -> anyhow::Result<Option<PaymentRow>> {
    match db.sqlite_file() {
        Some(path) => super::hot_read::latest_payment(path, latest_payment_sql(), session_id),
        None => get_payment_by_session(&db.read, session_id).await,
    }
}

/// The query of [`get_payment_by_session`], its text built once.
fn latest_payment_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            "SELECT {COLUMNS} FROM payments WHERE session_id = $1 ORDER BY attempt DESC LIMIT 1"
        )
    })
}

/// A payment by id alone (provider callbacks name it).
pub async fn get_payment_by_id<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &PaymentId,
) -> anyhow::Result<Option<PaymentRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM payments WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .context("reading a payment")
}

/// What a hand-off to the provider records.
pub struct HandOff<'a> {
    /// The provider state the payment moves to.
    pub to_state: ProviderState,
    /// The provider's id of the payment, once it answered; `None` before.
    pub provider_ref: Option<&'a str>,
    /// What the provider answered (e.g. transfer instructions), as JSON text; replaces what
    /// was recorded.
    pub provider_data: &'a str,
    /// The card's brand, kept when a card payment is claimed; `None` keeps what is recorded.
    pub card_brand: Option<&'a str>,
    /// The card's last four digits, likewise.
    pub card_last4: Option<&'a str>,
    /// When the payment fails with `provider_timeout` unless its provider decided (Unix
    /// milliseconds).
    pub provider_deadline: Option<i64>,
    /// When reconciliation should look at the payment next (Unix milliseconds).
    pub next_poll_at: Option<i64>,
}

/// Moves a pending payment from `from_state` on; `false` when it was not in that state (a
/// double click, a replayed form, another instance first).
pub async fn advance_provider_state<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    from_state: ProviderState,
    step: &HandOff<'_>,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE payments SET provider_state = $1, provider_ref = COALESCE($2, provider_ref),
             provider_data = $3, card_brand = COALESCE($4, card_brand),
             card_last4 = COALESCE($5, card_last4), provider_deadline = $6, next_poll_at = $7,
             updated_at = $8
         WHERE id = $9 AND provider_state = $10 AND status = 'pending'",
    )
    .bind(step.to_state)
    .bind(step.provider_ref)
    .bind(step.provider_data)
    .bind(step.card_brand)
    .bind(step.card_last4)
    .bind(step.provider_deadline)
    .bind(step.next_poll_at)
    .bind(now_ms)
    .bind(payment_id)
    .bind(from_state)
    .execute(executor)
    .await
    .context("advancing a payment")?;
    Ok(done.rows_affected() == 1)
}

/// Records the provider's answer to a claimed hand-off (`in_flight`, no provider reference
/// yet); `false` when the answer was recorded already (a hand-off driven again raced the
/// first) or the payment is over.
pub async fn record_provider_answer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    step: &HandOff<'_>,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE payments SET provider_state = $1, provider_ref = $2, provider_data = $3,
             provider_deadline = $4, next_poll_at = $5, updated_at = $6
         WHERE id = $7 AND provider_state = 'in_flight' AND provider_ref IS NULL
           AND status = 'pending'",
    )
    .bind(step.to_state)
    .bind(step.provider_ref)
    .bind(step.provider_data)
    .bind(step.provider_deadline)
    .bind(step.next_poll_at)
    .bind(now_ms)
    .bind(payment_id)
    .execute(executor)
    .await
    .context("recording a provider's answer")?;
    Ok(done.rows_affected() == 1)
}

/// When reconciliation should next ask the provider about an in-flight payment.
pub async fn reschedule_poll<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    at: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE payments SET next_poll_at = $1
         WHERE id = $2 AND provider_state IN ('in_flight', 'challenge', 'redirected')",
    )
    .bind(at)
    .bind(payment_id)
    .execute(executor)
    .await
    .context("rescheduling a provider poll")?;
    Ok(())
}

/// Notes the transaction of a transfer seen on chain for a pending payment, and moves its
/// deadline to `deadline` if that is later (its confirmations take time). `false` when the
/// payment is not pending at its provider, or already carries that transaction.
pub async fn note_transfer_seen<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &PaymentId,
    tx_hash: &str,
    deadline: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE payments SET tx_hash = $1,
             provider_deadline = CASE WHEN provider_deadline IS NULL OR provider_deadline < $2
                                      THEN $2 ELSE provider_deadline END
         WHERE id = $3 AND status = 'pending' AND provider_state = 'in_flight'
           AND (tx_hash IS NULL OR tx_hash <> $1)",
    )
    .bind(tx_hash)
    .bind(deadline)
    .bind(id)
    .execute(executor)
    .await
    .context("noting a transfer seen on chain")?;
    Ok(done.rows_affected() == 1)
}

/// Settles a pending payment as `paid` or `failed`; `None` when it was already final. A
/// confirmation also overrides a `provider_timeout` failure: money taken is never ignored.
pub async fn finish_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    outcome: &Outcome,
    now_ms: i64,
) -> anyhow::Result<Option<PaymentRow>> {
    finish_payment_from(executor, payment_id, outcome, None, now_ms).await
}

/// As `finish_payment`, but only while the payment is in `provider_state` (when given): the
/// expiry of a session must not fail a payment a provider has just been handed.
pub async fn finish_payment_from<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    outcome: &Outcome,
    provider_state: Option<ProviderState>,
    now_ms: i64,
) -> anyhow::Result<Option<PaymentRow>> {
    let (ledger, tx_hash, code, message) = match outcome {
        Outcome::Paid { tx_hash } => (LedgerStatus::Settled, tx_hash.as_deref(), None, None),
        Outcome::Failed { code, message } => (
            LedgerStatus::Pending,
            None,
            Some(code.as_str()),
            Some(message.as_str()),
        ),
    };
    sqlx::query_as(&format!(
        "UPDATE payments SET status = $1, ledger_status = $2, provider_state = 'done',
             tx_hash = COALESCE($3, tx_hash), failure_code = $4, failure_message = $5,
             next_poll_at = NULL, updated_at = $6
         WHERE id = $7 AND (status = 'pending'
             OR ($1 = 'paid' AND status = 'failed' AND failure_code = 'provider_timeout'))
           AND ($8 = '' OR provider_state = $8)
         RETURNING {COLUMNS}"
    ))
    .bind(outcome.status())
    .bind(ledger)
    .bind(tx_hash)
    .bind(code)
    .bind(message)
    .bind(now_ms)
    .bind(payment_id)
    // `''` stands for "in any provider state".
    .bind(provider_state.map_or("", ProviderState::as_str))
    .fetch_optional(executor)
    .await
    .context("finishing a payment")
}

/// Reconciliation's choice of payments to ask their provider about (`claim_payments_to_poll`).
pub const PAYMENTS_TO_POLL: &str = "SELECT id FROM payments
                      WHERE provider_state IN ('in_flight', 'challenge', 'redirected') AND next_poll_at <= $2
                      ORDER BY next_poll_at LIMIT $3";

/// Claims up to `batch` payments at a provider (in flight, or waiting on a challenge) that
/// are due for a poll, pushing their next poll
/// `lease_ms` ahead so another instance does not poll them at the same time.
pub async fn claim_payments_to_poll<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
) -> anyhow::Result<Vec<PaymentRow>> {
    sqlx::query_as(&format!(
        "UPDATE payments SET next_poll_at = $1
         WHERE id IN ({PAYMENTS_TO_POLL})
           AND provider_state IN ('in_flight', 'challenge', 'redirected') AND next_poll_at <= $2
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms + lease_ms)
    .bind(now_ms)
    .bind(batch)
    .fetch_all(executor)
    .await
    .context("claiming payments to poll")
}

/// Filters of `GET /api/gateway/payments`.
#[derive(Debug, Default)]
pub struct PaymentFilter {
    /// Only payments of this customer.
    pub customer_id: Option<String>,
    /// Only the payment of this invoice.
    pub invoice_id: Option<String>,
    /// Only the payment with this id.
    pub payment_id: Option<String>,
    /// Only payments of this session.
    pub session_id: Option<String>,
    /// Only payments with this status.
    pub status: Option<String>,
    /// Only payments older than this id: the page after it.
    pub starting_after: Option<String>,
    /// The page size; the query returns one more row when there are more.
    pub limit: i64,
}

/// Newest first: a page of `filter.limit` rows and one more if there are more.
pub async fn list_payments<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    filter: &PaymentFilter,
) -> anyhow::Result<Vec<PaymentRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM payments WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter("customer_id =", filter.customer_id.clone());
    sql.filter("invoice_id =", filter.invoice_id.clone());
    sql.filter("id =", filter.payment_id.clone());
    sql.filter("session_id =", filter.session_id.clone());
    sql.filter("status =", filter.status.clone());
    sql.filter("id <", filter.starting_after.clone());
    sql.fetch(executor, merchant_id, environment, filter.limit)
        .await
        .context("listing payments")
}

/// Copies the session's metadata (`metadata`, its JSON text) to `payment`'s rows of
/// `payment_metadata`, where the dashboard's metadata filter finds it by index.
pub async fn insert_payment_metadata<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment: &PaymentRow,
    metadata: &str,
) -> anyhow::Result<()> {
    let metadata = crate::domain::Metadata::from_db(metadata);
    let pairs = metadata.pairs();
    if pairs.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "INSERT INTO payment_metadata (payment_id, merchant_id, environment, key, value)
         VALUES {} ON CONFLICT (payment_id, key) DO NOTHING",
        placeholders(pairs.len(), 5, 1)
    );
    let mut query = sqlx::query(&sql);
    for (key, value) in pairs {
        query = query
            .bind(&payment.id)
            .bind(&payment.merchant_id)
            .bind(payment.environment)
            .bind(key)
            .bind(value);
    }
    query
        .execute(executor)
        .await
        .context("recording a payment's metadata")?;
    Ok(())
}

/// One of the merchant's payments, by `pay_…`, or by its session's `chk_…` (then the latest).
pub async fn get_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<PaymentRow>> {
    // One index each: an `OR` of the two would read the whole table.
    let by = if id.starts_with(SessionId::PREFIX) {
        "session_id"
    } else {
        "id"
    };
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM payments
         WHERE merchant_id = $1 AND environment = $2 AND {by} = $3
         ORDER BY attempt DESC LIMIT 1"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a payment")
}

/// A payment's provider callbacks, oldest first: (provider, callback id, received at).
pub async fn callbacks_of_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<Vec<(String, String, i64)>> {
    sqlx::query_as(
        "SELECT provider, callback_id, received_at FROM provider_callbacks
         WHERE payment_id = $1 ORDER BY received_at LIMIT 100",
    )
    .bind(payment_id)
    .fetch_all(executor)
    .await
    .context("reading a payment's provider callbacks")
}

/// A move of the buyer between our pages and a provider's own page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    /// Our page sent the buyer on to the provider's (`GET /checkout/{id}/provider`).
    ToProvider,
    /// The provider's page sent the buyer back to us (`GET /checkout/{id}/return`).
    FromProvider,
}

impl Redirect {
    fn column(self) -> &'static str {
        match self {
            Redirect::ToProvider => "sent_to_provider_at",
            Redirect::FromProvider => "back_from_provider_at",
        }
    }
}

/// Notes `redirect` of the payment at `now_ms`, the first time only: a buyer who comes back to
/// the same page writes nothing.
pub async fn note_redirect<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    redirect: Redirect,
    now_ms: i64,
) -> anyhow::Result<()> {
    let column = redirect.column();
    sqlx::query(&format!(
        "UPDATE payments SET {column} = $1 WHERE id = $2 AND {column} IS NULL"
    ))
    .bind(now_ms)
    .bind(payment_id)
    .execute(executor)
    .await
    .context("noting a move to or from a provider's page")?;
    Ok(())
}

/// When the buyer was first sent to the payment's provider page and first came back from it.
pub async fn redirects_of_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<(Option<i64>, Option<i64>)> {
    let found: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(
        "SELECT sent_to_provider_at, back_from_provider_at FROM payments WHERE id = $1",
    )
    .bind(payment_id)
    .fetch_optional(executor)
    .await
    .context("reading a payment's moves to and from its provider")?;
    Ok(found.unwrap_or((None, None)))
}

/// Records a provider callback's id; `false` when it was seen before (a replay).
pub async fn record_callback<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    provider: &str,
    callback_id: &str,
    payment_id: &PaymentId,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO provider_callbacks (provider, callback_id, payment_id, received_at)
         VALUES ($1, $2, $3, $4) ON CONFLICT (provider, callback_id) DO NOTHING",
    )
    .bind(provider)
    .bind(callback_id)
    .bind(payment_id)
    .bind(now_ms)
    .execute(executor)
    .await
    .context("recording a provider callback")?;
    Ok(done.rows_affected() == 1)
}
