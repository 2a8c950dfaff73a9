//! API keys. Only a SHA-256 hash of each key is stored: a key carries 160 random bits, so a
//! fast hash is enough, and a database leak reveals no usable key.

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::{Any, Executor, FromRow};

use crate::domain::ids::random_token;
use crate::domain::{ApiKeyId, Environment, MerchantId};

/// A key as listed: never the secret, only a hint of its ends.
#[derive(Debug, Clone, FromRow)]
pub struct ApiKeyRow {
    /// The key's public id (`key_…`), which names it when revoking it.
    pub id: ApiKeyId,
    /// The merchant it acts for.
    pub merchant_id: MerchantId,
    /// The environment its requests work in: `sk_test_` keys sandbox, `sk_live_` production.
    pub environment: Environment,
    /// The key's prefix and last four characters (`sk_test_…a1b2`), to recognise it by.
    pub key_hint: String,
    /// The operator's name for the key, given when it was created.
    pub label: String,
    /// When it was created (Unix milliseconds).
    pub created_at: i64,
    /// When it was revoked (Unix milliseconds); `None` while it works.
    pub revoked_at: Option<i64>,
}

/// What a valid key authenticates.
#[derive(Debug, Clone)]
pub struct KeyOwner {
    /// The key used.
    pub key_id: ApiKeyId,
    /// The merchant the request acts for.
    pub merchant_id: MerchantId,
    /// The environment the request works in.
    pub environment: Environment,
}

/// The prefix a key of this environment starts with.
pub fn key_prefix(environment: Environment) -> &'static str {
    match environment {
        Environment::Sandbox => "sk_test_",
        Environment::Production => "sk_live_",
    }
}

/// Hex SHA-256 of the whole key.
pub fn hash_key(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    const_hex::encode(digest)
}

/// Creates a key and returns it with its secret, which is never readable again.
pub async fn create_api_key<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    environment: Environment,
    label: &str,
    now_ms: i64,
) -> anyhow::Result<(ApiKeyRow, String)> {
    let secret = format!("{}{}", key_prefix(environment), random_token(32)?);
    let hint = format!(
        "{}…{}",
        key_prefix(environment),
        &secret[secret.len() - 4..]
    );
    let row = ApiKeyRow {
        id: ApiKeyId::generate(),
        merchant_id: merchant_id.clone(),
        environment,
        key_hint: hint,
        label: label.to_owned(),
        created_at: now_ms,
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, merchant_id, environment, key_hash, key_hint, label, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&row.id)
    .bind(&row.merchant_id)
    .bind(row.environment)
    .bind(hash_key(&secret))
    .bind(&row.key_hint)
    .bind(&row.label)
    .bind(row.created_at)
    .execute(executor)
    .await
    .context("inserting an API key")?;
    Ok((row, secret))
}

/// The owner of an unrevoked key, looked up by the key's hash.
pub async fn find_key_owner<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    secret: &str,
) -> anyhow::Result<Option<KeyOwner>> {
    let row: Option<(ApiKeyId, MerchantId, Environment)> = sqlx::query_as(KEY_OWNER)
        .bind(hash_key(secret))
        .fetch_optional(executor)
        .await
        .context("looking up an API key")?;
    Ok(row.map(|(key_id, merchant_id, environment)| KeyOwner {
        key_id,
        merchant_id,
        environment,
    }))
}

/// The query of [`find_key_owner`].
const KEY_OWNER: &str = "SELECT id, merchant_id, environment FROM api_keys
     WHERE key_hash = $1 AND revoked_at IS NULL";

/// [`find_key_owner`] for every merchant request: on SQLite on the caller's thread
/// (`hot_read`), on PostgreSQL through the read pool.
pub async fn key_owner(db: &super::Db, secret: &str) -> anyhow::Result<Option<KeyOwner>> {
    match db.sqlite_file() {
        Some(path) => super::hot_read::key_owner(path, KEY_OWNER, &hash_key(secret)),
        None => find_key_owner(&db.read, secret).await,
    }
}

/// Every key, newest first.
pub async fn list_api_keys<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Vec<ApiKeyRow>> {
    sqlx::query_as(
        "SELECT id, merchant_id, environment, key_hint, label, created_at, revoked_at
         FROM api_keys ORDER BY id DESC",
    )
    .fetch_all(executor)
    .await
    .context("listing API keys")
}

/// Revokes a key; `false` when no such unrevoked key exists.
pub async fn revoke_api_key<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &ApiKeyId,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done =
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now_ms)
            .bind(id)
            .execute(executor)
            .await
            .context("revoking an API key")?;
    Ok(done.rows_affected() == 1)
}

/// A merchant's keys, newest first.
pub async fn list_merchant_keys<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
) -> anyhow::Result<Vec<ApiKeyRow>> {
    sqlx::query_as(
        "SELECT id, merchant_id, environment, key_hint, label, created_at, revoked_at
         FROM api_keys WHERE merchant_id = $1 ORDER BY id DESC",
    )
    .bind(merchant_id)
    .fetch_all(executor)
    .await
    .context("listing a merchant's API keys")
}

/// Revokes one of the merchant's keys; `false` when it has no such unrevoked key.
pub async fn revoke_merchant_key<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    id: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE api_keys SET revoked_at = $1
         WHERE id = $2 AND merchant_id = $3 AND revoked_at IS NULL",
    )
    .bind(now_ms)
    .bind(id)
    .bind(merchant_id)
    .execute(executor)
    .await
    .context("revoking an API key")?;
    Ok(done.rows_affected() == 1)
}
