//! Customers: one per merchant, environment and e-mail (case-insensitive).

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use crate::domain::{CustomerId, Email, Environment, MerchantId};

#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    pub id: String,
    pub environment: String,
    pub email: String,
    pub status: String,
    pub created_at: i64,
}

/// Filters of `GET /api/gateway/customers`.
#[derive(Debug, Default)]
pub struct CustomerFilter {
    pub email: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<String>,
    pub starting_after: Option<String>,
    pub limit: i64,
}

/// The customer with this e-mail, created when new. Safe under concurrency on both backends:
/// the upsert either inserts or touches the existing row, and returns its id either way.
pub async fn upsert_customer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    email: &Email,
    now_ms: i64,
) -> anyhow::Result<CustomerId> {
    let id: String = sqlx::query_scalar(
        "INSERT INTO customers (id, merchant_id, environment, email, email_normalized, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'active', $6)
         ON CONFLICT (merchant_id, environment, email_normalized)
         DO UPDATE SET status = customers.status
         RETURNING id",
    )
    .bind(CustomerId::generate().as_str())
    .bind(merchant_id.as_str())
    .bind(environment.as_str())
    .bind(email.as_str())
    .bind(email.normalized())
    .bind(now_ms)
    .fetch_one(executor)
    .await
    .context("looking up or creating a customer")?;
    Ok(CustomerId::from_trusted(id))
}

const COLUMNS: &str = "id, environment, email, status, created_at";

pub async fn get_customer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &CustomerId,
) -> anyhow::Result<Option<CustomerRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id.as_str())
    .bind(environment.as_str())
    .bind(id.as_str())
    .fetch_optional(executor)
    .await
    .context("reading a customer")
}

/// Newest first; at most `filter.limit + 1` rows so the caller can tell whether there are more.
pub async fn list_customers<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    filter: &CustomerFilter,
) -> anyhow::Result<Vec<CustomerRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM customers WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter(
        "email_normalized =",
        filter.email.as_ref().map(|e| e.to_lowercase()),
    );
    sql.filter("id =", filter.customer_id.clone());
    sql.filter("status =", filter.status.clone());
    sql.filter("id <", filter.starting_after.clone());
    let (text, values) = sql.finish(filter.limit + 1);
    let mut query = sqlx::query_as(&text)
        .bind(merchant_id.as_str())
        .bind(environment.as_str());
    for v in values {
        query = query.bind(v);
    }
    query.fetch_all(executor).await.context("listing customers")
}
