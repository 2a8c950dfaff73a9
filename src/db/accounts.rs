//! The dashboard's people and sign-ins: users, their browser sessions (stored by the hash of
//! the cookie's token, shared by every instance), one-time setup links, form tokens used once,
//! failed sign-ins counted per account and per address, and the audit log.

use anyhow::Context;
use sqlx::{Any, Executor, FromRow};

use crate::domain::account::Role;
use crate::domain::{Environment, MerchantId, UserId};

/// A person who signs in.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    /// `usr_…`
    pub id: UserId,
    /// Whose dashboard they see.
    pub merchant_id: MerchantId,
    /// Their address, lower case: how they sign in.
    pub email: String,
    /// Argon2id, as a PHC string.
    pub password_hash: String,
    /// What they may do.
    pub role: Role,
    /// The base32 secret of their second factor, when they set one.
    pub totp_secret: Option<String>,
    /// When they were disabled (Unix ms); they cannot sign in then.
    pub disabled_at: Option<i64>,
    /// When they were added (Unix ms).
    pub created_at: i64,
    /// When they last changed (Unix ms).
    pub updated_at: i64,
}

const USER_COLUMNS: &str = "id, merchant_id, email, password_hash, role, totp_secret, \
    disabled_at, created_at, updated_at";

/// Adds a user; `false` when the address has an account already.
pub async fn insert_user<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    u: &UserRow,
) -> anyhow::Result<bool> {
    let done = sqlx::query(&format!(
        "INSERT INTO users ({USER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING"
    ))
    .bind(&u.id)
    .bind(&u.merchant_id)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(u.role)
    .bind(&u.totp_secret)
    .bind(u.disabled_at)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(executor)
    .await
    .context("adding a user")?;
    Ok(done.rows_affected() == 1)
}

/// The user who signs in with `email` (lower case).
pub async fn get_user_by_email<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    email: &str,
) -> anyhow::Result<Option<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
    ))
    .bind(email)
    .fetch_optional(executor)
    .await
    .context("reading a user")
}

/// A merchant's users, oldest first.
pub async fn list_users<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
) -> anyhow::Result<Vec<UserRow>> {
    sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS} FROM users WHERE merchant_id = $1 ORDER BY id"
    ))
    .bind(merchant_id)
    .fetch_all(executor)
    .await
    .context("listing users")
}

/// Sets a user's password hash.
pub async fn set_password<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &UserId,
    password_hash: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(password_hash)
        .bind(now_ms)
        .bind(id)
        .execute(executor)
        .await
        .context("setting a password")?;
    Ok(done.rows_affected() == 1)
}

/// A user by id.
pub async fn get_user<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &UserId,
) -> anyhow::Result<Option<UserRow>> {
    sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(executor)
        .await
        .context("reading a user")
}

/// Sets (or, with `None`, removes) a user's second factor.
pub async fn set_totp_secret<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &UserId,
    secret: Option<&str>,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE users SET totp_secret = $1, updated_at = $2 WHERE id = $3")
        .bind(secret)
        .bind(now_ms)
        .bind(id)
        .execute(executor)
        .await
        .context("setting a second factor")?;
    Ok(())
}

/// Disables a user (`Some(now)`) or enables them again (`None`).
pub async fn set_disabled<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    id: &UserId,
    disabled_at: Option<i64>,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query("UPDATE users SET disabled_at = $1, updated_at = $2 WHERE id = $3")
        .bind(disabled_at)
        .bind(now_ms)
        .bind(id)
        .execute(executor)
        .await
        .context("disabling a user")?;
    Ok(done.rows_affected() == 1)
}

/// A signed-in browser.
#[derive(Debug, Clone, FromRow)]
pub struct DashboardSessionRow {
    /// SHA-256 of the cookie's token, hex.
    pub token_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// What the environment switch shows.
    pub environment: Environment,
    /// Signs this browser's form tokens.
    pub form_secret: String,
    /// When they signed in (Unix ms).
    pub created_at: i64,
    /// When a page was last asked for (Unix ms).
    pub last_seen_at: i64,
    /// When it ends (Unix ms).
    pub expires_at: i64,
}

const SESSION_COLUMNS: &str =
    "token_hash, user_id, environment, form_secret, created_at, last_seen_at, expires_at";

/// Records a sign-in.
pub async fn insert_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    s: &DashboardSessionRow,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO dashboard_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&s.token_hash)
    .bind(&s.user_id)
    .bind(s.environment)
    .bind(&s.form_secret)
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .execute(executor)
    .await
    .context("recording a sign-in")?;
    Ok(())
}

/// The live session of `token_hash` and its user (enabled), if any.
pub async fn find_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    now_ms: i64,
) -> anyhow::Result<Option<(DashboardSessionRow, UserRow)>> {
    let row: Option<sqlx::any::AnyRow> = sqlx::query(&format!(
        "SELECT s.token_hash, s.user_id, s.environment, s.form_secret, s.created_at,
             s.last_seen_at, s.expires_at, {}
         FROM dashboard_sessions s JOIN users u ON u.id = s.user_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL",
        USER_COLUMNS
            .split(", ")
            .map(|c| format!("u.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(executor)
    .await
    .context("reading a sign-in")?;
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(Some((
        DashboardSessionRow::from_row(&row)?,
        UserRow::from_row(&row)?,
    )))
}

/// Moves a session's end to `expires_at` (a page was asked for); at most once a minute.
pub async fn touch_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    now_ms: i64,
    expires_at: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE dashboard_sessions SET last_seen_at = $1, expires_at = $2
         WHERE token_hash = $3 AND last_seen_at < $1 - 60000",
    )
    .bind(now_ms)
    .bind(expires_at)
    .bind(token_hash)
    .execute(executor)
    .await
    .context("extending a sign-in")?;
    Ok(())
}

/// Switches what a session shows.
pub async fn set_session_environment<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    environment: Environment,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE dashboard_sessions SET environment = $1 WHERE token_hash = $2")
        .bind(environment)
        .bind(token_hash)
        .execute(executor)
        .await
        .context("switching a sign-in's environment")?;
    Ok(())
}

/// Ends one session.
pub async fn delete_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM dashboard_sessions WHERE token_hash = $1")
        .bind(token_hash)
        .execute(executor)
        .await
        .context("ending a sign-in")?;
    Ok(())
}

/// Ends every session of a user; how many there were.
pub async fn delete_user_sessions<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    user_id: &UserId,
) -> anyhow::Result<u64> {
    let done = sqlx::query("DELETE FROM dashboard_sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(executor)
        .await
        .context("ending a user's sign-ins")?;
    Ok(done.rows_affected())
}

/// Spends a form token: `true` the first time, `false` when it was used before.
pub async fn use_form_token<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    expires_at: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO dashboard_form_uses (token_hash, expires_at) VALUES ($1, $2)
         ON CONFLICT DO NOTHING",
    )
    .bind(token_hash)
    .bind(expires_at)
    .execute(executor)
    .await
    .context("spending a form token")?;
    Ok(done.rows_affected() == 1)
}

/// What the sweep deletes: spent form tokens and ended sign-ins, each through its
/// `expires_at` index.
pub const SWEEP_FORM_USES: &str = "DELETE FROM dashboard_form_uses WHERE expires_at < $1";
/// See [`SWEEP_FORM_USES`].
pub const SWEEP_SIGN_INS: &str = "DELETE FROM dashboard_sessions WHERE expires_at < $1";

/// Forgets spent form tokens and sessions that ended before `now_ms` (they cannot be used
/// again anyway).
pub async fn sweep_expired<'e, E: Executor<'e, Database = Any> + Copy>(
    executor: E,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query(SWEEP_FORM_USES)
        .bind(now_ms)
        .execute(executor)
        .await
        .context("forgetting spent form tokens")?;
    sqlx::query(SWEEP_SIGN_INS)
        .bind(now_ms)
        .execute(executor)
        .await
        .context("forgetting ended sign-ins")?;
    Ok(())
}

/// Failed sign-ins of `key` in the window that began after `window_start_after`.
pub async fn login_failures<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    key: &str,
    window_start_after: i64,
) -> anyhow::Result<i64> {
    let n: Option<i64> = sqlx::query_scalar(
        "SELECT failures FROM login_failures WHERE throttle_key = $1 AND window_start > $2",
    )
    .bind(key)
    .bind(window_start_after)
    .fetch_optional(executor)
    .await
    .context("reading failed sign-ins")?;
    Ok(n.unwrap_or(0))
}

/// Counts a failed sign-in of `key`: a new window starts when the last began before
/// `window_start_after`.
pub async fn record_login_failure<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    key: &str,
    now_ms: i64,
    window_start_after: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO login_failures (throttle_key, window_start, failures) VALUES ($1, $2, 1)
         ON CONFLICT (throttle_key) DO UPDATE SET
             failures = CASE WHEN login_failures.window_start > $3
                             THEN login_failures.failures + 1 ELSE 1 END,
             window_start = CASE WHEN login_failures.window_start > $3
                                 THEN login_failures.window_start ELSE $2 END",
    )
    .bind(key)
    .bind(now_ms)
    .bind(window_start_after)
    .execute(executor)
    .await
    .context("counting a failed sign-in")?;
    Ok(())
}

/// Forgets the failed sign-ins of `key` (after a successful one).
pub async fn clear_login_failures<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    key: &str,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
        .bind(key)
        .execute(executor)
        .await
        .context("clearing failed sign-ins")?;
    Ok(())
}

/// Records a one-time link that creates an account of `role` for `merchant_id`.
pub async fn insert_setup_link<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    merchant_id: &MerchantId,
    role: Role,
    expires_at: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO setup_links (token_hash, merchant_id, role, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(token_hash)
    .bind(merchant_id)
    .bind(role)
    .bind(expires_at)
    .execute(executor)
    .await
    .context("recording a setup link")?;
    Ok(())
}

/// A setup link that can still be used: (merchant, role).
pub async fn find_setup_link<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    now_ms: i64,
) -> anyhow::Result<Option<(MerchantId, Role)>> {
    sqlx::query_as(
        "SELECT merchant_id, role FROM setup_links
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now_ms)
    .fetch_optional(executor)
    .await
    .context("reading a setup link")
}

/// Uses a setup link once: `true` the first time (and while it has not expired).
pub async fn spend_setup_link<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    token_hash: &str,
    now_ms: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE setup_links SET used_at = $1
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1",
    )
    .bind(now_ms)
    .bind(token_hash)
    .execute(executor)
    .await
    .context("using a setup link")?;
    Ok(done.rows_affected() == 1)
}

/// One line of the audit log.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    /// Time-ordered id.
    pub id: String,
    /// Whose shop it happened in.
    pub merchant_id: MerchantId,
    /// The environment acted on, when the action had one.
    pub environment: Option<String>,
    /// Who: a user's address, or `cli`.
    pub actor: String,
    /// What: `refund.create`, `session.expire`, `user.sign_in`, …
    pub action: String,
    /// On what: an id.
    pub target: Option<String>,
    /// More, in words (never a secret).
    pub detail: Option<String>,
    /// When (Unix ms).
    pub created_at: i64,
}

/// Appends a line to the audit log.
pub async fn insert_audit<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    a: &AuditRow,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (id, merchant_id, environment, actor, action, target, detail,
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&a.id)
    .bind(&a.merchant_id)
    .bind(&a.environment)
    .bind(&a.actor)
    .bind(&a.action)
    .bind(&a.target)
    .bind(&a.detail)
    .bind(a.created_at)
    .execute(executor)
    .await
    .context("writing the audit log")?;
    Ok(())
}

/// A merchant's audit log, newest first, optionally only one actor's or one action's:
/// `limit` lines and one more when there are more.
pub async fn list_audit<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    merchant_id: &MerchantId,
    actor: Option<&str>,
    action: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<AuditRow>> {
    sqlx::query_as(
        "SELECT id, merchant_id, environment, actor, action, target, detail, created_at
         FROM audit_log
         WHERE merchant_id = $1 AND id < $2
           AND ($3 = '' OR actor = $3) AND ($4 = '' OR action = $4)
         ORDER BY id DESC LIMIT $5",
    )
    .bind(merchant_id)
    .bind(before.unwrap_or("~"))
    .bind(actor.unwrap_or(""))
    .bind(action.unwrap_or(""))
    .bind(limit + 1)
    .fetch_all(executor)
    .await
    .context("reading the audit log")
}
