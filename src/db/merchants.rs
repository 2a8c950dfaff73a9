//! Merchant accounts.

use anyhow::Context;
use sqlx::{Any, Executor};

use crate::domain::MerchantId;

/// Creates a merchant.
pub async fn insert_merchant<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
    name: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
        .bind(id.as_str())
        .bind(name)
        .bind(now_ms)
        .execute(executor)
        .await
        .context("inserting a merchant")?;
    Ok(())
}

/// The merchant's display name.
pub async fn get_merchant_name<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &MerchantId,
) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar("SELECT name FROM merchants WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(executor)
        .await
        .context("reading a merchant")
}

/// The oldest merchant: the one a single-merchant installation uses.
pub async fn first_merchant<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Option<MerchantId>> {
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM merchants ORDER BY id LIMIT 1")
        .fetch_optional(executor)
        .await
        .context("reading the first merchant")?;
    Ok(id.map(MerchantId::from_trusted))
}
