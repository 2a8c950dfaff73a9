//! Webhook endpoints: where a merchant's events go, per environment.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use crate::domain::{EndpointStatus, Environment, MerchantId, WebhookEndpointId};

/// A webhook endpoint as stored.
#[derive(Debug, Clone, FromRow)]
pub struct EndpointRow {
    /// Its id (`we_…`).
    pub id: WebhookEndpointId,
    /// The merchant whose events it receives.
    pub merchant_id: MerchantId,
    /// The environment whose events it receives.
    pub environment: Environment,
    /// Where deliveries are posted.
    pub url: String,
    /// The subscribed event types, a JSON list.
    pub events: String,
    /// Whether it receives deliveries.
    pub status: EndpointStatus,
    /// Why it was disabled, in words; `None` while active.
    pub disabled_reason: Option<String>,
    /// As stored: sealed (`enc:v1:…`) or plain; see `crypto::secret_box`.
    pub secret: String,
    /// The secret before the last rotation, as stored; it also signs until it expires.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing (Unix milliseconds).
    pub previous_secret_expires_at: Option<i64>,
    /// Since when every delivery has failed (Unix milliseconds); `None` while it is healthy.
    /// Failing for `webhook_disable_after_seconds` disables it.
    pub failing_since: Option<i64>,
    /// When it was registered (Unix milliseconds).
    pub created_at: i64,
    /// When it or its secret last changed (Unix milliseconds).
    pub updated_at: i64,
}

impl EndpointRow {
    /// The subscribed event types.
    pub fn event_types(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }
}

/// The columns of `webhook_endpoints` in [`EndpointRow`]'s order.
pub const COLUMNS: &str = "id, merchant_id, environment, url, events, status, disabled_reason, \
    secret, previous_secret, previous_secret_expires_at, failing_since, created_at, updated_at";

/// Registers an endpoint.
pub async fn insert_endpoint<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    e: &EndpointRow,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO webhook_endpoints ({COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    ))
    .bind(&e.id)
    .bind(&e.merchant_id)
    .bind(e.environment)
    .bind(&e.url)
    .bind(&e.events)
    .bind(e.status)
    .bind(&e.disabled_reason)
    .bind(&e.secret)
    .bind(&e.previous_secret)
    .bind(e.previous_secret_expires_at)
    .bind(e.failing_since)
    .bind(e.created_at)
    .bind(e.updated_at)
    .execute(executor)
    .await
    .context("inserting a webhook endpoint")?;
    Ok(())
}

/// One of the merchant's endpoints in this environment.
pub async fn get_endpoint<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &str,
) -> anyhow::Result<Option<EndpointRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints
         WHERE merchant_id = $1 AND environment = $2 AND id = $3"
    ))
    .bind(merchant_id)
    .bind(environment)
    .bind(id)
    .fetch_optional(executor)
    .await
    .context("reading a webhook endpoint")
}

/// The merchant's endpoints in this environment, newest first.
pub async fn list_endpoints<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    starting_after: Option<String>,
    page_size: i64,
) -> anyhow::Result<Vec<EndpointRow>> {
    let mut sql = super::ListQuery::new(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 AND environment = $2"
    ));
    sql.filter("id <", starting_after);
    sql.fetch(executor, merchant_id, environment, page_size)
        .await
        .context("listing webhook endpoints")
}

/// Every endpoint of every merchant (for the command line).
pub async fn list_all_endpoints<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Vec<EndpointRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints ORDER BY id DESC"
    ))
    .fetch_all(executor)
    .await
    .context("listing webhook endpoints")
}

/// Removes an endpoint and the deliveries still owed to it; `false` when there was none.
/// Its events stay, for the merchant to read or redeliver elsewhere.
pub async fn delete_endpoint(
    tx: &mut super::Tx,
    merchant_id: &MerchantId,
    id: &WebhookEndpointId,
) -> anyhow::Result<bool> {
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN
         (SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
          WHERE w.id = $1 AND w.merchant_id = $2)",
    )
    .bind(id)
    .bind(merchant_id)
    .execute(&mut **tx)
    .await
    .context("removing an endpoint's attempts")?;
    sqlx::query(
        "DELETE FROM webhook_deliveries WHERE endpoint_id IN
         (SELECT id FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2)",
    )
    .bind(id)
    .bind(merchant_id)
    .execute(&mut **tx)
    .await
    .context("removing an endpoint's deliveries")?;
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2")
        .bind(id)
        .bind(merchant_id)
        .execute(&mut **tx)
        .await
        .context("removing a webhook endpoint")?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the secret; the old one keeps signing until `overlap_until`.
pub async fn rotate_secret<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    new_secret: &str,
    overlap_until: i64,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET previous_secret = secret, previous_secret_expires_at = $1,
             secret = $2, updated_at = $3
         WHERE id = $4",
    )
    .bind(overlap_until)
    .bind(new_secret)
    .bind(now_ms)
    .bind(id)
    .execute(executor)
    .await
    .context("rotating a webhook secret")?;
    Ok(done.rows_affected() == 1)
}

/// `active` again, forgetting the failures that disabled it.
pub async fn enable_endpoint<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = 'active', disabled_reason = NULL,
             failing_since = NULL, updated_at = $1
         WHERE id = $2",
    )
    .bind(now_ms)
    .bind(id)
    .execute(executor)
    .await
    .context("enabling a webhook endpoint")?;
    Ok(done.rows_affected() == 1)
}

/// Stops deliveries to an endpoint (it answered 410, or failed for days).
pub async fn disable_endpoint<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    reason: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $1, updated_at = $2
         WHERE id = $3 AND status = 'active'",
    )
    .bind(reason)
    .bind(now_ms)
    .bind(id)
    .execute(executor)
    .await
    .context("disabling a webhook endpoint")?;
    Ok(done.rows_affected() == 1)
}

/// Records how the endpoint is doing: a success ends a failing run, a failure starts one.
pub async fn record_endpoint_health<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &WebhookEndpointId,
    succeeded: bool,
    now_ms: i64,
) -> anyhow::Result<()> {
    let query = if succeeded {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL")
            .bind(id)
    } else {
        sqlx::query("UPDATE webhook_endpoints SET failing_since = $1 WHERE id = $2 AND failing_since IS NULL")
            .bind(now_ms)
            .bind(id)
    };
    query
        .execute(executor)
        .await
        .context("recording an endpoint's health")?;
    Ok(())
}

/// An endpoint's secrets as stored (sealed or plain).
#[derive(Debug, Clone, FromRow)]
pub struct StoredSecrets {
    /// The endpoint.
    pub id: WebhookEndpointId,
    /// Its current signing secret.
    pub secret: String,
    /// The secret before the last rotation, if any.
    pub previous_secret: Option<String>,
}

/// Every endpoint's stored secrets, to check or seal them again.
pub async fn list_stored_secrets<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Vec<StoredSecrets>> {
    sqlx::query_as("SELECT id, secret, previous_secret FROM webhook_endpoints ORDER BY id")
        .fetch_all(executor)
        .await
        .context("reading webhook secrets")
}

/// Stores `new` in place of `old` unless the secrets changed meanwhile; `false` then.
pub async fn replace_stored_secrets<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    old: &StoredSecrets,
    new: &StoredSecrets,
) -> anyhow::Result<bool> {
    // COALESCE: a portable way to compare a nullable column with a value.
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET secret = $1, previous_secret = $2
         WHERE id = $3 AND secret = $4 AND COALESCE(previous_secret, '') = $5",
    )
    .bind(&new.secret)
    .bind(&new.previous_secret)
    .bind(&old.id)
    .bind(&old.secret)
    .bind(old.previous_secret.clone().unwrap_or_default())
    .execute(executor)
    .await
    .context("storing re-encrypted webhook secrets")?;
    Ok(done.rows_affected() == 1)
}
