//! Refunds, and what they take up of their payment. A new refund is one compare-and-set of the
//! payment's `refund_reserved_cents` (never beyond its product amount, however many refunds
//! race on however many instances), in the transaction that inserts it; its outcome is one
//! compare-and-set of its status, with the payment's totals, in the transaction that records
//! its event.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::payments::{COLUMNS as PAYMENT_COLUMNS, PaymentRow};
use super::{count_columns, placeholders};
use crate::domain::refund::{RefundReason, RefundStatus};
use crate::domain::{Environment, MerchantId, PaymentId, RefundId, SessionId};

/// A refund as stored.
#[derive(Debug, Clone, FromRow)]
pub struct RefundRow {
    /// Its id (`re_…`).
    pub id: RefundId,
    /// The payment's merchant.
    pub merchant_id: MerchantId,
    /// The payment's environment.
    pub environment: Environment,
    /// The payment it gives back (part of).
    pub payment_id: PaymentId,
    /// The payment's session.
    pub session_id: SessionId,
    /// The payment's provider, which carries the refund.
    pub provider: String,
    /// What goes back to the buyer, in cents.
    pub amount_cents: i64,
    /// What it takes up of the payment's product amount, in cents.
    pub covers_cents: i64,
    /// The payment's currency.
    pub currency: String,
    /// Where it stands.
    pub status: RefundStatus,
    /// Why, as the merchant said.
    pub reason: Option<RefundReason>,
    /// The merchant's note.
    pub note: Option<String>,
    /// The merchant's metadata, JSON text.
    pub metadata: String,
    /// The merchant's idempotency key, unique per merchant and environment.
    pub idempotency_key: Option<String>,
    /// A digest of the creating request, to tell a retry from a conflict.
    pub request_hash: Option<String>,
    /// The provider's id of the refund.
    pub provider_ref: Option<String>,
    /// Why it failed.
    pub failure_code: Option<String>,
    /// The failure in words.
    pub failure_message: Option<String>,
    /// When reconciliation next asks the provider about it (Unix ms); `None` once final.
    pub next_poll_at: Option<i64>,
    /// When it was asked for (Unix ms).
    pub created_at: i64,
    /// When it last changed (Unix ms).
    pub updated_at: i64,
}

/// The columns of `refunds` in [`RefundRow`]'s order.
pub const COLUMNS: &str = "id, merchant_id, environment, payment_id, session_id, provider, \
    amount_cents, covers_cents, currency, status, reason, note, metadata, idempotency_key, \
    request_hash, provider_ref, failure_code, failure_message, next_poll_at, created_at, \
    updated_at";

/// Takes `covers_cents` of the payment's product amount for a new refund, if the payment is
/// paid and that much is left; `false` otherwise (nothing is changed).
pub async fn reserve<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    covers_cents: i64,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE payments SET refund_reserved_cents = refund_reserved_cents + $1, updated_at = $2
         WHERE id = $3 AND status = 'paid' AND refund_reserved_cents + $1 <= amount_cents",
    )
    .bind(covers_cents)
    .bind(now_ms)
    .bind(payment_id)
    .execute(executor)
    .await
    .context("reserving a refund's amount")?;
    Ok(done.rows_affected() == 1)
}

/// Inserts a refund; `false` when its idempotency key was used before.
pub async fn insert_refund<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    r: &RefundRow,
) -> anyhow::Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO refunds ({COLUMNS}) VALUES {} ON CONFLICT DO NOTHING",
        placeholders(1, count_columns(COLUMNS), 1)
    ))
    .bind(&r.id)
    .bind(&r.merchant_id)
    .bind(r.environment)
    .bind(&r.payment_id)
    .bind(&r.session_id)
    .bind(&r.provider)
    .bind(r.amount_cents)
    .bind(r.covers_cents)
    .bind(&r.currency)
    .bind(r.status)
    .bind(r.reason)
    .bind(&r.note)
    .bind(&r.metadata)
    .bind(&r.idempotency_key)
    .bind(&r.request_hash)
    .bind(&r.provider_ref)
    .bind(&r.failure_code)
    .bind(&r.failure_message)
    .bind(r.next_poll_at)
    .bind(r.created_at)
    .bind(r.updated_at)
    .execute(executor)
    .await
    .context("inserting a refund")?;
    Ok(done.rows_affected() == 1)
}

/// A refund by id.
pub async fn get_refund_by_id<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &RefundId,
) -> anyhow::Result<Option<RefundRow>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM refunds WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .context("reading a refund")
}

/// One of the merchant's refunds.
pub async fn get_refund<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a refund")
}

/// The refund made with the merchant's idempotency `key`, if any.
pub async fn get_refund_by_key<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    key: &str,
) -> anyhow::Result<Option<RefundRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refunds
         WHERE merchant_id = $1 AND environment = $2 AND idempotency_key = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(key)
    .fetch_optional(executor)
    .await
    .context("reading a refund by idempotency key")
}

/// A payment's refunds, oldest first.
pub async fn refunds_of_payment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<Vec<RefundRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE payment_id = $1 ORDER BY id"
    ))
    .bind(payment_id)
    .fetch_all(executor)
    .await
    .context("reading a payment's refunds")
}

/// Filters of `GET /api/gateway/refunds`.
#[derive(Debug, Default)]
pub struct RefundFilter {
    /// Only refunds of this payment.
    pub payment_id: Option<String>,
    /// Only refunds with this status.
    pub status: Option<String>,
    /// Only refunds older than this id: the page after it.
    pub starting_after: Option<String>,
    /// The page size; the query returns one more row when there are more.
    pub limit: i64,
}

/// Newest first: a page of `filter.limit` rows and one more if there are more.
pub async fn list_refunds<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    filter: &RefundFilter,
) -> anyhow::Result<Vec<RefundRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM refunds WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter("payment_id =", filter.payment_id.clone());
    sql.filter("status =", filter.status.clone());
    sql.filter("id <", filter.starting_after.clone());
    sql.fetch(executor, merchant_id, environment, filter.limit)
        .await
        .context("listing refunds")
}

/// Records the provider's answer to a pending refund: its reference and when to ask again.
pub async fn note_refund_pending<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &RefundId,
    provider_ref: Option<&str>,
    next_poll_at: i64,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE refunds SET provider_ref = COALESCE($1, provider_ref), next_poll_at = $2,
             updated_at = $3
         WHERE id = $4 AND status = 'pending'",
    )
    .bind(provider_ref)
    .bind(next_poll_at)
    .bind(now_ms)
    .bind(id)
    .execute(executor)
    .await
    .context("recording a pending refund")?;
    Ok(())
}

/// A refund's outcome.
pub enum RefundEnd<'a> {
    /// The money went back.
    Succeeded {
        /// The provider's id of the refund.
        provider_ref: Option<&'a str>,
    },
    /// The provider refused it.
    Failed {
        /// Why, as a stable word.
        code: &'a str,
        /// Why, in words.
        message: &'a str,
    },
}

/// Ends a refund that is not final yet, and updates its payment's totals and ledger status
/// (and its invoice's credit) with it: a success adds to what went back, a failure gives its share back. `None` when it
/// was final already (a second answer changes nothing); else the refund and the payment.
pub async fn finish_refund(
    tx: &mut super::Tx,
    id: &RefundId,
    end: &RefundEnd<'_>,
    now_ms: i64,
) -> anyhow::Result<Option<(RefundRow, PaymentRow)>> {
    let (status, provider_ref, code, message) = match end {
        RefundEnd::Succeeded { provider_ref } => {
            (RefundStatus::Succeeded, *provider_ref, None, None)
        }
        RefundEnd::Failed { code, message } => {
            (RefundStatus::Failed, None, Some(*code), Some(*message))
        }
    };
    let refund: Option<RefundRow> = sqlx::query_as(&format!(
        "UPDATE refunds SET status = $1, provider_ref = COALESCE($2, provider_ref),
             failure_code = $3, failure_message = $4, next_poll_at = NULL, updated_at = $5
         WHERE id = $6 AND status IN ('pending', 'action_required')
         RETURNING {COLUMNS}"
    ))
    .bind(status)
    .bind(provider_ref)
    .bind(code)
    .bind(message)
    .bind(now_ms)
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
    .context("finishing a refund")?;
    let Some(refund) = refund else {
        return Ok(None);
    };
    let sql = match status {
        RefundStatus::Succeeded => format!(
            "UPDATE payments SET refunded_cents = refunded_cents + $1,
                 ledger_status = CASE WHEN refunded_cents + $1 >= amount_cents
                                      THEN 'refunded' ELSE 'partially_refunded' END,
                 updated_at = $2
             WHERE id = $3 RETURNING {PAYMENT_COLUMNS}"
        ),
        _ => format!(
            "UPDATE payments SET refund_reserved_cents = refund_reserved_cents - $1,
                 updated_at = $2
             WHERE id = $3 RETURNING {PAYMENT_COLUMNS}"
        ),
    };
    let amount = match status {
        RefundStatus::Succeeded => refund.amount_cents,
        _ => refund.covers_cents,
    };
    let payment: PaymentRow = sqlx::query_as(&sql)
        .bind(amount)
        .bind(now_ms)
        .bind(&refund.payment_id)
        .fetch_one(&mut **tx)
        .await
        .context("updating a refunded payment")?;
    if status == RefundStatus::Succeeded {
        sqlx::query(
            "UPDATE invoices SET credited_cents = credited_cents + $1, updated_at = $2
             WHERE id = $3",
        )
        .bind(refund.amount_cents)
        .bind(now_ms)
        .bind(&payment.invoice_id)
        .execute(&mut **tx)
        .await
        .context("crediting a refunded payment's invoice")?;
    }
    Ok(Some((refund, payment)))
}

/// Reconciliation's choice of refunds to ask their provider about (`claim_refunds_to_poll`).
pub const REFUNDS_TO_POLL: &str = "SELECT id FROM refunds
                      WHERE status = 'pending' AND next_poll_at <= $2
                      ORDER BY next_poll_at LIMIT $3";

/// Claims up to `batch` pending refunds whose provider is due to be asked again, leasing each
/// for `lease_ms` so that one instance asks at a time.
pub async fn claim_refunds_to_poll<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    now_ms: i64,
    lease_ms: i64,
    batch: i64,
) -> anyhow::Result<Vec<RefundRow>> {
    sqlx::query_as(&format!(
        "UPDATE refunds SET next_poll_at = $1
         WHERE id IN ({REFUNDS_TO_POLL})
           AND status = 'pending' AND next_poll_at <= $2
         RETURNING {COLUMNS}"
    ))
    .bind(now_ms + lease_ms)
    .bind(now_ms)
    .bind(batch)
    .fetch_all(executor)
    .await
    .context("claiming refunds to poll")
}
