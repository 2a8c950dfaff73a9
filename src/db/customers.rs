//! Customers: one per merchant, environment and e-mail (case-insensitive).

use std::collections::HashMap;

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use crate::domain::{CustomerId, CustomerStatus, Environment, MerchantId};

/// A customer as stored.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    /// Its id (`cus_…`).
    pub id: CustomerId,
    /// The environment it was created in; sandbox and production customers are distinct.
    pub environment: Environment,
    /// The e-mail address as the merchant first gave it (the match ignores case).
    pub email: String,
    /// Its standing (always `active` today).
    pub status: CustomerStatus,
    /// When the first session named it (Unix milliseconds).
    pub created_at: i64,
}

/// Filters of `GET /api/gateway/customers`.
#[derive(Debug, Default)]
pub struct CustomerFilter {
    /// Only the customer with this e-mail address, in any case.
    pub email: Option<String>,
    /// Only the customer with this id.
    pub customer_id: Option<String>,
    /// Only customers with this status.
    pub status: Option<String>,
    /// Only customers older than this id: the page after it.
    pub starting_after: Option<String>,
    /// The page size; the query returns one more row when there are more.
    pub limit: i64,
}

/// Who a customer is: merchant, environment and normalized e-mail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerKey {
    /// The merchant whose customer it is.
    pub merchant_id: MerchantId,
    /// The environment it belongs to.
    pub environment: Environment,
    /// The e-mail address in lower case.
    pub email_normalized: String,
}

/// Finds or creates many customers in one statement. `emails` must hold each key once, and
/// should be sorted so that concurrent batches on PostgreSQL lock rows in one order.
pub async fn upsert_customers<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    emails: &[(CustomerKey, &str)],
    now_ms: i64,
) -> anyhow::Result<HashMap<CustomerKey, CustomerId>> {
    if emails.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = String::from(
        "INSERT INTO customers (id, merchant_id, environment, email, email_normalized, status, created_at) VALUES ",
    );
    for i in 0..emails.len() {
        let b = i * 5;
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, 'active', $1)",
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6
        ));
    }
    sql.push_str(
        " ON CONFLICT (merchant_id, environment, email_normalized)
          DO UPDATE SET status = customers.status
          RETURNING id, merchant_id, environment, email_normalized",
    );
    let mut query =
        sqlx::query_as::<_, (CustomerId, MerchantId, Environment, String)>(&sql).bind(now_ms);
    for (key, email) in emails {
        query = query
            .bind(CustomerId::generate())
            .bind(&key.merchant_id)
            .bind(key.environment)
            .bind(*email)
            .bind(key.email_normalized.as_str());
    }
    let rows = query
        .fetch_all(executor)
        .await
        .context("looking up or creating customers")?;
    Ok(rows
        .into_iter()
        .map(|(id, merchant_id, environment, email_normalized)| {
            (
                CustomerKey {
                    merchant_id,
                    environment,
                    email_normalized,
                },
                id,
            )
        })
        .collect())
}

const COLUMNS: &str = "id, environment, email, status, created_at";

/// One of the merchant's customers in `environment`, by id.
pub async fn get_customer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &CustomerId,
) -> anyhow::Result<Option<CustomerRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM customers WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a customer")
}

/// Newest first: a page of `filter.limit` rows and one more if there are more.
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
    sql.fetch(executor, merchant_id, environment, filter.limit)
        .await
        .context("listing customers")
}
