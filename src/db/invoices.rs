//! Invoices: the billing record of a session, opened when the buyer starts paying.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::payments::PaymentRow;
use super::sessions::SessionRow;
use crate::domain::{
    CustomerId, Environment, InvoiceId, InvoiceStatus, MerchantId, PaymentId, SessionId,
};

/// An invoice as stored: the billing record of one payment.
#[derive(Debug, Clone, FromRow)]
pub struct InvoiceRow {
    /// Its id (`inv_…`), chosen when the payment was created.
    pub id: InvoiceId,
    /// The session the payment pays.
    pub session_id: SessionId,
    /// The payment it bills: one invoice per payment.
    pub payment_id: PaymentId,
    /// The merchant who bills.
    pub merchant_id: MerchantId,
    /// The session's environment.
    pub environment: Environment,
    /// The buyer billed.
    pub customer_id: CustomerId,
    /// The session's amount, in cents (the buyer fee not included).
    pub amount_cents: i64,
    /// The session's currency (`USD`).
    pub currency: String,
    /// `open` until its payment is decided, then `paid` or `void`.
    pub status: InvoiceStatus,
    /// The session's metadata when the invoice was opened, as JSON object text.
    pub metadata: String,
    /// When the buyer started the payment (Unix milliseconds).
    pub created_at: i64,
    /// When its status last changed (Unix milliseconds).
    pub updated_at: i64,
    /// What its payment's refunds that succeeded gave back, in cents: the credit.
    pub credited_cents: i64,
}

impl InvoiceRow {
    /// The open invoice of a new payment, carrying its session's metadata.
    pub fn open(session: &SessionRow, payment: &PaymentRow, now: i64) -> InvoiceRow {
        InvoiceRow {
            id: payment.invoice_id.clone(),
            session_id: session.id.clone(),
            payment_id: payment.id.clone(),
            merchant_id: session.merchant_id.clone(),
            environment: session.environment,
            customer_id: session.customer_id.clone(),
            amount_cents: session.amount_cents,
            currency: session.currency.clone(),
            status: InvoiceStatus::Open,
            metadata: session.metadata.clone(),
            created_at: now,
            updated_at: now,
            credited_cents: 0,
        }
    }
}

const COLUMNS: &str = "id, session_id, payment_id, merchant_id, environment, customer_id, \
    amount_cents, currency, status, metadata, created_at, updated_at, credited_cents";

/// Inserts an invoice, in the transaction that creates its payment.
pub async fn insert_invoice<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    i: &InvoiceRow,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO invoices ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&i.id)
    .bind(&i.session_id)
    .bind(&i.payment_id)
    .bind(&i.merchant_id)
    .bind(i.environment)
    .bind(&i.customer_id)
    .bind(i.amount_cents)
    .bind(&i.currency)
    .bind(i.status)
    .bind(&i.metadata)
    .bind(i.created_at)
    .bind(i.updated_at)
    .bind(i.credited_cents)
    .execute(executor)
    .await
    .context("inserting an invoice")?;
    Ok(())
}

/// Closes an open invoice as `paid` or `void`; `false` when it was not open. With `late`, a
/// voided invoice may still become paid (a confirmation after a provider time-out).
pub async fn close_invoice<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &InvoiceId,
    status: InvoiceStatus,
    late: bool,
    now_ms: i64,
) -> anyhow::Result<bool> {
    // `$4 = 1`: a late confirmation, which may pay a voided invoice.
    let done = sqlx::query(
        "UPDATE invoices SET status = $1, updated_at = $2
         WHERE id = $3 AND (status = 'open' OR ($4 = 1 AND status = 'void'))",
    )
    .bind(status)
    .bind(now_ms)
    .bind(id)
    .bind(i64::from(late))
    .execute(executor)
    .await
    .context("closing an invoice")?;
    Ok(done.rows_affected() == 1)
}

/// Filters of `GET /api/gateway/invoices`.
#[derive(Debug, Default)]
pub struct InvoiceFilter {
    /// Only invoices of this customer.
    pub customer_id: Option<String>,
    /// Only the invoice of this payment.
    pub payment_id: Option<String>,
    /// Only the invoice with this id.
    pub invoice_id: Option<String>,
    /// Only invoices with this status.
    pub status: Option<String>,
    /// Only invoices older than this id: the page after it.
    pub starting_after: Option<String>,
    /// The page size; the query returns one more row when there are more.
    pub limit: i64,
}

/// Newest first: a page of `filter.limit` rows and one more if there are more.
pub async fn list_invoices<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    filter: &InvoiceFilter,
) -> anyhow::Result<Vec<InvoiceRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM invoices WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter("customer_id =", filter.customer_id.clone());
    sql.filter("payment_id =", filter.payment_id.clone());
    sql.filter("id =", filter.invoice_id.clone());
    sql.filter("status =", filter.status.clone());
    sql.filter("id <", filter.starting_after.clone());
    sql.fetch(executor, merchant_id, environment, filter.limit)
        .await
        .context("listing invoices")
}

/// One of the merchant's invoices in `environment`, by id.
pub async fn get_invoice<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<InvoiceRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM invoices WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading an invoice")
}
