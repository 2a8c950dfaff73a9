//! One-off facts about the installation, shared by every instance through the database.

use anyhow::Context;
use sqlx::{Any, Executor};

use crate::domain::ids::random_token;

/// Records a one-off fact; `false` when it was already recorded (by this or another instance).
pub async fn claim_installation_fact<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    key: &str,
    value: &str,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO app_state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(value)
    .execute(executor)
    .await
    .context("recording installation state")?;
    Ok(done.rows_affected() == 1)
}

/// A secret shared by every instance (e.g. for signing forms): created by the first instance
/// that asks, read by the others.
pub async fn shared_secret(db: &super::Db, name: &str) -> anyhow::Result<Vec<u8>> {
    let key = format!("secret:{name}");
    claim_installation_fact(&db.write, &key, &random_token(43)?).await?;
    let value: String = sqlx::query_scalar("SELECT value FROM app_state WHERE key = $1")
        .bind(&key)
        .fetch_one(&db.write)
        .await
        .with_context(|| format!("reading the shared secret {name}"))?;
    Ok(value.into_bytes())
}
