//! What the dashboard reads: the home page's figures and the payments list with its filters.
//! Ids sort by creation time, so every time range is a range of ids on the list indexes
//! (`(merchant_id, environment, id)`), and no page counts a whole table.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use super::payments::PaymentRow;
use crate::domain::ids::suffix_at;
use crate::domain::{Environment, MerchantId};

/// Paid payments of a period: how many and how much (totals the buyers paid, in cents).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Volume {
    /// How many.
    pub count: i64,
    /// The sum of their totals, in cents.
    pub cents: i64,
}

/// The paid payments made since `since_ms`.
pub async fn paid_since<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    since_ms: i64,
) -> anyhow::Result<Volume> {
    // PostgreSQL sums BIGINT as NUMERIC: cast back.
    let (count, cents): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*), CAST(COALESCE(SUM(total_cents), 0) AS BIGINT) FROM payments
         WHERE merchant_id = $1 AND environment = $2 AND id >= $3 AND status = 'paid'",
    )
    .bind(merchant_id)
    .bind(environment)
    .bind(format!("pay_{}", suffix_at(since_ms)))
    .fetch_one(executor)
    .await
    .context("adding up paid payments")?;
    Ok(Volume { count, cents })
}

/// Sessions made since `since_ms`, by status: (status, how many).
pub async fn sessions_since<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    since_ms: i64,
) -> anyhow::Result<Vec<(String, i64)>> {
    sqlx::query_as(
        "SELECT status, COUNT(*) FROM checkout_sessions
         WHERE merchant_id = $1 AND environment = $2 AND id >= $3
         GROUP BY status ORDER BY status",
    )
    .bind(merchant_id)
    .bind(environment)
    .bind(format!("chk_{}", suffix_at(since_ms)))
    .fetch_all(executor)
    .await
    .context("counting sessions")
}

/// One line of the conversion funnel: the sessions of a period whose latest payment went by
/// one route (or, with no route, where the buyer never started paying), and how far they got.
#[derive(Debug, Clone, Default, PartialEq, Eq, FromRow)]
pub struct FunnelLine {
    /// The route of the sessions' latest payment; `None` for those where none was chosen.
    pub route_id: Option<String>,
    /// How many sessions.
    pub sessions: i64,
    /// Of them, how many the buyer opened (a session with a payment was opened).
    pub opened: i64,
    /// Of them, how many were paid.
    pub paid: i64,
    /// Of them, how many failed for good.
    pub failed: i64,
    /// Of them, how many expired (or are past their deadline, not yet swept).
    pub expired: i64,
}

/// The funnel of the sessions made since `since_ms`, one line per route, the sessions where no
/// route was chosen first. A range of ids on the list index, like every figure here.
pub async fn funnel_since<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    since_ms: i64,
    now_ms: i64,
) -> anyhow::Result<Vec<FunnelLine>> {
    let mut lines: Vec<FunnelLine> = sqlx::query_as(
        "SELECT CASE WHEN payment_id IS NULL THEN NULL ELSE route_id END AS route_id,
                COUNT(*) AS sessions,
                SUM(CASE WHEN opened_at IS NOT NULL OR payment_id IS NOT NULL THEN 1 ELSE 0 END)
                    AS opened,
                SUM(CASE WHEN status = 'paid' THEN 1 ELSE 0 END) AS paid,
                SUM(CASE WHEN status = 'failed' THEN 1 ELSE 0 END) AS failed,
                SUM(CASE WHEN status = 'expired' OR (status = 'routed' AND expires_at <= $4)
                    THEN 1 ELSE 0 END) AS expired
         FROM checkout_sessions
         WHERE merchant_id = $1 AND environment = $2 AND id >= $3
         GROUP BY CASE WHEN payment_id IS NULL THEN NULL ELSE route_id END",
    )
    .bind(merchant_id)
    .bind(environment)
    .bind(format!("chk_{}", suffix_at(since_ms)))
    .bind(now_ms)
    .fetch_all(executor)
    .await
    .context("reading the conversion funnel")?;
    // NULL sorts first on SQLite and last on PostgreSQL: sort here.
    lines.sort_by(|a, b| a.route_id.cmp(&b.route_id));
    Ok(lines)
}

/// The merchant's endpoints that are disabled or whose last delivery failed: (id, url).
pub async fn failing_endpoints<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
) -> anyhow::Result<Vec<(String, String)>> {
    sqlx::query_as(
        "SELECT id, url FROM webhook_endpoints
         WHERE merchant_id = $1 AND environment = $2
           AND (status = 'disabled' OR failing_since IS NOT NULL)
         ORDER BY id",
    )
    .bind(merchant_id)
    .bind(environment)
    .fetch_all(executor)
    .await
    .context("reading failing endpoints")
}

/// The payments list's filters.
#[derive(Debug, Default, Clone)]
pub struct PaymentSearch {
    /// A payment status.
    pub status: Option<String>,
    /// A route id.
    pub route: Option<String>,
    /// The buyer's address (any case).
    pub email: Option<String>,
    /// The session's `clientReferenceId`.
    pub client_reference_id: Option<String>,
    /// One customer's (`cus_…`).
    pub customer_id: Option<String>,
    /// Those whose session's metadata has this key with exactly this value.
    pub metadata: Option<(String, String)>,
    /// Made at or after (Unix ms).
    pub from_ms: Option<i64>,
    /// Made before (Unix ms).
    pub to_ms: Option<i64>,
    /// Older than this payment: the page after it.
    pub before: Option<String>,
    /// The page size; one more row is read when there are more.
    pub limit: i64,
}

/// A payment with what the list shows of its session.
#[derive(Debug, Clone)]
pub struct PaymentLine {
    /// The payment.
    pub payment: PaymentRow,
    /// The buyer's address.
    pub customer_email: String,
    /// What was bought.
    pub product: String,
}

/// The query [`search_payments`] runs for `search`: its SQL (`$1` the merchant, `$2` the
/// environment) and the values of its other parameters, in order. Public so that tests can
/// check its plan.
pub fn search_query(search: &PaymentSearch) -> (String, Vec<String>) {
    let columns: Vec<String> = super::payments::COLUMNS
        .split(',')
        .map(|c| format!("p.{}", c.trim()))
        .collect();
    // Which rows lead, so that an index finds them in order: with a metadata pair, its index
    // (newest payment first); with a client reference, the few sessions that carry it; else
    // the merchant's payments, newest first. `CROSS JOIN` keeps that order on SQLite.
    // With a reference, the merchant is checked on the session (a payment has its session's
    // merchant): a check on the payment would send SQLite to the list index for the payments.
    let (from, scope, id) = if search.metadata.is_some() {
        (
            "payment_metadata m CROSS JOIN payments p CROSS JOIN checkout_sessions s",
            "p",
            "m.payment_id",
        )
    } else if search.client_reference_id.is_some() {
        ("checkout_sessions s CROSS JOIN payments p", "s", "p.id")
    } else {
        ("payments p CROSS JOIN checkout_sessions s", "p", "p.id")
    };
    let mut sql = format!(
        "SELECT {}, s.customer_email AS s_email, s.product AS s_product
         FROM {from}
         WHERE s.id = p.session_id AND {scope}.merchant_id = $1 AND {scope}.environment = $2",
        columns.join(", ")
    );
    let mut values: Vec<String> = Vec::new();
    let mut filter = |sql: &mut String, clause: &str, value: Option<String>| {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&clause.replace("{}", &format!("${}", values.len() + 2)));
        }
    };
    filter(&mut sql, " AND p.status = {}", search.status.clone());
    filter(&mut sql, " AND p.route_id = {}", search.route.clone());
    // The buyer by e-mail is one customer (customers are unique by lower-cased address): its
    // payments through the customer index, not a scan of every session's address.
    filter(
        &mut sql,
        " AND p.customer_id = (SELECT id FROM customers
             WHERE merchant_id = $1 AND environment = $2 AND email_normalized = {})",
        search.email.as_ref().map(|e| e.trim().to_lowercase()),
    );
    filter(
        &mut sql,
        " AND s.client_reference_id = {}",
        search.client_reference_id.clone(),
    );
    filter(
        &mut sql,
        " AND p.customer_id = {}",
        search.customer_id.clone(),
    );
    if let Some((key, value)) = &search.metadata {
        sql.push_str(" AND m.payment_id = p.id AND m.merchant_id = $1 AND m.environment = $2");
        filter(&mut sql, " AND m.key = {}", Some(key.clone()));
        filter(&mut sql, " AND m.value = {}", Some(value.clone()));
    }
    let after = format!(" AND {id} >= {{}}");
    let before = format!(" AND {id} < {{}}");
    filter(
        &mut sql,
        &after,
        search.from_ms.map(|ms| format!("pay_{}", suffix_at(ms))),
    );
    filter(
        &mut sql,
        &before,
        search.to_ms.map(|ms| format!("pay_{}", suffix_at(ms))),
    );
    filter(&mut sql, &before, search.before.clone());
    // One customer's payments (by id or e-mail) are ordered on the customer index: the
    // customer id is one value, so the order is still newest first.
    let order = if search.metadata.is_some() {
        "m.payment_id DESC".to_owned()
    } else if search.customer_id.is_some() || search.email.is_some() {
        "p.customer_id DESC, p.id DESC".to_owned()
    } else {
        format!("{id} DESC")
    };
    sql.push_str(&format!(
        " ORDER BY {order} LIMIT {}",
        search.limit.clamp(1, 1000) + 1
    ));
    (sql, values)
}

/// Newest first: a page of payments matching `search`, and one more row if there are more.
pub async fn search_payments<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    search: &PaymentSearch,
) -> anyhow::Result<Vec<PaymentLine>> {
    let (sql, values) = search_query(search);
    let mut query = sqlx::query(&sql).bind(merchant_id).bind(environment);
    for value in values {
        query = query.bind(value);
    }
    let rows = query
        .fetch_all(executor)
        .await
        .context("searching payments")?;
    rows.iter()
        .map(|row| {
            use sqlx::Row;
            Ok(PaymentLine {
                payment: PaymentRow::from_row(row)?,
                customer_email: row.try_get("s_email")?,
                product: row.try_get("s_product")?,
            })
        })
        .collect::<sqlx::Result<_>>()
        .context("reading searched payments")
}

/// One delivery attempt, as the delivery log lists it.
#[derive(Debug, Clone, FromRow)]
pub struct AttemptLine {
    /// `att_…`
    pub id: String,
    /// The event sent.
    pub event_id: String,
    /// Where.
    pub endpoint_id: String,
    /// Its place among the delivery's attempts (1, 2, …).
    pub attempt: i64,
    /// When it began (Unix ms).
    pub started_at: i64,
    /// How long it took.
    pub duration_ms: i64,
    /// The endpoint's answer, when there was one.
    pub status_code: Option<i64>,
    /// The first of the answer's body.
    pub response_body: Option<String>,
    /// Why there was no answer.
    pub error: Option<String>,
}

/// The delivery log's filters.
#[derive(Debug, Default, Clone)]
pub struct AttemptSearch {
    /// Only this endpoint's.
    pub endpoint_id: Option<String>,
    /// Only those answered 2xx (`Some(true)`) or not (`Some(false)`).
    pub succeeded: Option<bool>,
    /// Older than this attempt: the page after it.
    pub before: Option<String>,
    /// The page size; one more row is read when there are more.
    pub limit: i64,
}

/// The merchant's delivery attempts in `environment`, newest first.
pub async fn delivery_log<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    search: &AttemptSearch,
) -> anyhow::Result<Vec<AttemptLine>> {
    let outcome = match search.succeeded {
        None => "",
        Some(true) => " AND a.status_code BETWEEN 200 AND 299",
        Some(false) => " AND (a.status_code IS NULL OR a.status_code NOT BETWEEN 200 AND 299)",
    };
    // One endpoint's attempts through its index, in id order: only when asked for (an
    // `$n = '' OR …` would make SQLite read every endpoint's and sort them).
    let endpoint = match search.endpoint_id {
        Some(_) => " AND a.endpoint_id = $5",
        None => "",
    };
    let sql = format!(
        "SELECT a.id, a.event_id, a.endpoint_id, a.attempt, a.started_at, a.duration_ms,
             a.status_code, a.response_body, a.error
         FROM webhook_attempts a JOIN webhook_endpoints w ON w.id = a.endpoint_id
         WHERE w.merchant_id = $1 AND w.environment = $2 AND a.id < $3{endpoint}{outcome}
         ORDER BY a.id DESC LIMIT $4"
    );
    let mut query = sqlx::query_as(&sql)
        .bind(merchant_id)
        .bind(environment)
        .bind(search.before.as_deref().unwrap_or("~"))
        .bind(search.limit.clamp(1, 200) + 1);
    if let Some(id) = &search.endpoint_id {
        query = query.bind(id);
    }
    query
        .fetch_all(executor)
        .await
        .context("reading the delivery log")
}
