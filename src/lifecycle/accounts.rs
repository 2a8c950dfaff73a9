//! The dashboard's people: adding them, signing them in (throttled per account and per
//! address, counted in the database so every instance sees the same count), their sessions,
//! one-time setup links, and the audit log every action writes to.

use sha2::{Digest, Sha256};

use crate::crypto::password::{decoy_hash, hash_password, verify_password};
use crate::db::Db;
use crate::db::accounts::{
    AuditRow, DashboardSessionRow, UserRow, clear_login_failures, delete_user_sessions,
    find_setup_link, get_user, get_user_by_email, insert_audit, insert_session, insert_setup_link,
    insert_user, login_failures, record_login_failure, set_password, set_totp_secret,
    spend_setup_link, sweep_expired,
};
use crate::domain::account::{Role, check_password};
use crate::domain::ids::{new_suffix, random_token};
use crate::domain::time::now_ms;
use crate::domain::totp::{base32, from_base32, verify};
use crate::domain::{Email, Environment, MerchantId, UserId};

/// How long a sign-in lasts without a page asked for.
pub const SESSION_IDLE_MS: i64 = 12 * 3600 * 1000;
/// The window failed sign-ins are counted in.
pub const THROTTLE_WINDOW_MS: i64 = 15 * 60 * 1000;
/// Failed sign-ins of one account in a window before it must wait.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
/// Failed sign-ins from one address in a window before it must wait.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// How long a setup link works.
pub const SETUP_LINK_MS: i64 = 24 * 3600 * 1000;

/// SHA-256 of a secret token, hex: what is stored instead of it.
pub fn token_hash(token: &str) -> String {
    const_hex::encode(Sha256::digest(token.as_bytes()))
}

/// Why a user could not be added.
#[derive(Debug, PartialEq, Eq)]
pub enum AddUserError {
    /// The address is not an address; the text says why.
    Email(String),
    /// The password breaks a rule; the text completes "The password …".
    Password(String),
    /// The address has an account already.
    Taken,
}

/// Adds a person to `merchant_id` with `role`.
pub async fn add_user(
    db: &Db,
    merchant_id: &MerchantId,
    email: &str,
    password: &str,
    role: Role,
) -> anyhow::Result<Result<UserRow, AddUserError>> {
    let user = match new_user(merchant_id, email, password, role)? {
        Ok(user) => user,
        Err(e) => return Ok(Err(e)),
    };
    if !insert_user(&db.write, &user).await? {
        return Ok(Err(AddUserError::Taken));
    }
    Ok(Ok(user))
}

/// A person's row, once their address and password pass the rules (the password hashed).
fn new_user(
    merchant_id: &MerchantId,
    email: &str,
    password: &str,
    role: Role,
) -> anyhow::Result<Result<UserRow, AddUserError>> {
    let email = match Email::parse(email) {
        Ok(e) => e.normalized().to_owned(),
        Err(why) => return Ok(Err(AddUserError::Email(why.to_owned()))),
    };
    if let Err(why) = check_password(password) {
        return Ok(Err(AddUserError::Password(why)));
    }
    let now = now_ms();
    Ok(Ok(UserRow {
        id: UserId::generate(),
        merchant_id: merchant_id.clone(),
        email,
        password_hash: hash_password(password)?,
        role,
        totp_secret: None,
        disabled_at: None,
        created_at: now,
        updated_at: now,
    }))
}

/// The answer to a sign-in.
#[derive(Debug)]
pub enum SignIn {
    /// Signed in: the cookie's token (shown once, stored hashed) and who.
    Done {
        /// The cookie's value.
        token: String,
        /// Who signed in.
        user: Box<UserRow>,
    },
    /// The password is right and the person has a second factor: ask for its code.
    SecondFactor {
        /// Who.
        user: Box<UserRow>,
    },
    /// The address or the password (or the code) is wrong (never told apart).
    Wrong,
    /// Too many failed sign-ins of this account or from this address: wait this many seconds.
    Throttled {
        /// Seconds until the window ends.
        retry_after_seconds: i64,
    },
}

/// Signs `email` in with `password`, from the client `address`. The first environment shown
/// is the sandbox.
pub async fn sign_in(
    db: &Db,
    email: &str,
    password: &str,
    address: &str,
) -> anyhow::Result<SignIn> {
    let now = now_ms();
    let since = now - THROTTLE_WINDOW_MS;
    let email = email.trim().to_lowercase();
    let account_key = format!("account:{email}");
    let address_key = format!("address:{address}");
    let throttled = login_failures(&db.write, &account_key, since).await?
        >= MAX_FAILURES_PER_ACCOUNT
        || login_failures(&db.write, &address_key, since).await? >= MAX_FAILURES_PER_ADDRESS;
    if throttled {
        return Ok(SignIn::Throttled {
            retry_after_seconds: THROTTLE_WINDOW_MS / 1000,
        });
    }
    let user = get_user_by_email(&db.write, &email).await?;
    let stored = user
        .as_ref()
        .map_or(decoy_hash(), |u| u.password_hash.as_str())
        .to_owned();
    let matches = {
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || verify_password(&password, &stored)).await?
    };
    let user = match user {
        Some(u) if matches && u.disabled_at.is_none() => u,
        _ => {
            record_login_failure(&db.write, &account_key, now, since).await?;
            record_login_failure(&db.write, &address_key, now, since).await?;
            tracing::info!(address, "a sign-in to the dashboard failed");
            if let Some(u) = &user {
                // The merchant sees attempts on its own people's accounts (an unknown
                // address belongs to no merchant, so it is only logged).
                let why = if matches {
                    "account disabled"
                } else {
                    "wrong password"
                };
                audit_failure(db, u, "user.sign_in_failed", why, address).await?;
            }
            return Ok(SignIn::Wrong);
        }
    };
    if user.totp_secret.is_some() {
        return Ok(SignIn::SecondFactor {
            user: Box::new(user),
        });
    }
    finish_sign_in(db, user, &account_key, now).await
}

/// Writes a failed sign-in of `user` from `address` to the audit log.
async fn audit_failure(
    db: &Db,
    user: &UserRow,
    action: &str,
    why: &str,
    address: &str,
) -> anyhow::Result<()> {
    let detail = format!("{why} · from {address}");
    audit(
        db,
        &user.merchant_id,
        None,
        &user.email,
        action,
        None,
        Some(&detail),
    )
    .await
}

/// Signs `user` in once every factor was given.
async fn finish_sign_in(
    db: &Db,
    user: UserRow,
    account_key: &str,
    now: i64,
) -> anyhow::Result<SignIn> {
    clear_login_failures(&db.write, account_key).await?;
    sweep_expired(&db.write, now).await?;
    let token = start_session(db, &user.id, now).await?;
    audit(
        db,
        &user.merchant_id,
        None,
        &user.email,
        "user.sign_in",
        None,
        None,
    )
    .await?;
    Ok(SignIn::Done {
        token,
        user: Box::new(user),
    })
}

/// The second step of a sign-in: the code of the person's authenticator app. A wrong code
/// counts as a failed sign-in (of the account and the address).
pub async fn second_factor(
    db: &Db,
    user_id: &UserId,
    code: &str,
    address: &str,
) -> anyhow::Result<SignIn> {
    let now = now_ms();
    let since = now - THROTTLE_WINDOW_MS;
    let Some(user) = get_user(&db.write, user_id).await? else {
        return Ok(SignIn::Wrong);
    };
    let account_key = format!("account:{}", user.email);
    let address_key = format!("address:{address}");
    if login_failures(&db.write, &account_key, since).await? >= MAX_FAILURES_PER_ACCOUNT
        || login_failures(&db.write, &address_key, since).await? >= MAX_FAILURES_PER_ADDRESS
    {
        return Ok(SignIn::Throttled {
            retry_after_seconds: THROTTLE_WINDOW_MS / 1000,
        });
    }
    let secret = user.totp_secret.as_deref().and_then(from_base32);
    let right = secret.is_some_and(|s| verify(&s, code, now / 1000));
    if !right || user.disabled_at.is_some() {
        record_login_failure(&db.write, &account_key, now, since).await?;
        record_login_failure(&db.write, &address_key, now, since).await?;
        tracing::info!(address, "a dashboard sign-in's second factor failed");
        let why = if right {
            "account disabled"
        } else {
            "wrong code"
        };
        audit_failure(db, &user, "user.second_factor_failed", why, address).await?;
        return Ok(SignIn::Wrong);
    }
    finish_sign_in(db, user, &account_key, now).await
}

/// Turns a person's second factor on with `secret` (base32), once `code` proves their app has
/// it; `false` when the code is not right.
pub async fn enable_totp(
    db: &Db,
    user: &UserRow,
    secret: &str,
    code: &str,
) -> anyhow::Result<bool> {
    let Some(bytes) = from_base32(secret).filter(|b| b.len() >= 16) else {
        return Ok(false);
    };
    if !verify(&bytes, code, now_ms() / 1000) {
        return Ok(false);
    }
    set_totp_secret(&db.write, &user.id, Some(secret), now_ms()).await?;
    audit(
        db,
        &user.merchant_id,
        None,
        &user.email,
        "user.totp_on",
        Some(user.id.as_str()),
        None,
    )
    .await?;
    Ok(true)
}

/// Turns a person's second factor off, once `code` is right; `false` when it is not.
pub async fn disable_totp(db: &Db, user: &UserRow, code: &str) -> anyhow::Result<bool> {
    let right = user
        .totp_secret
        .as_deref()
        .and_then(from_base32)
        .is_some_and(|s| verify(&s, code, now_ms() / 1000));
    if !right {
        return Ok(false);
    }
    set_totp_secret(&db.write, &user.id, None, now_ms()).await?;
    audit(
        db,
        &user.merchant_id,
        None,
        &user.email,
        "user.totp_off",
        Some(user.id.as_str()),
        None,
    )
    .await?;
    Ok(true)
}

/// A fresh second-factor secret (160 bits), in base32.
pub fn new_totp_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random generator failed: {e}"))?;
    Ok(base32(&bytes))
}

/// A new session of `user_id`; its cookie's token.
async fn start_session(db: &Db, user_id: &UserId, now: i64) -> anyhow::Result<String> {
    let token = random_token(32)?;
    insert_session(
        &db.write,
        &DashboardSessionRow {
            token_hash: token_hash(&token),
            user_id: user_id.clone(),
            environment: Environment::Sandbox,
            form_secret: random_token(32)?,
            created_at: now,
            last_seen_at: now,
            expires_at: now + SESSION_IDLE_MS,
        },
    )
    .await?;
    Ok(token)
}

/// A one-time link's token that creates an account of `role` for `merchant_id`.
pub async fn create_setup_link(
    db: &Db,
    merchant_id: &MerchantId,
    role: Role,
) -> anyhow::Result<String> {
    let token = random_token(32)?;
    insert_setup_link(
        &db.write,
        &token_hash(&token),
        merchant_id,
        role,
        now_ms() + SETUP_LINK_MS,
    )
    .await?;
    Ok(token)
}

/// Whether a setup link still works: its merchant and role.
pub async fn setup_link(db: &Db, token: &str) -> anyhow::Result<Option<(MerchantId, Role)>> {
    find_setup_link(&db.write, &token_hash(token), now_ms()).await
}

/// The answer to a setup link's form.
#[derive(Debug)]
pub enum SetUp {
    /// The account exists and is signed in: the cookie's token.
    Done {
        /// The cookie's value.
        token: String,
        /// Who.
        user: Box<UserRow>,
    },
    /// The link was used, or has expired.
    LinkGone,
    /// The form's values break a rule.
    Invalid(AddUserError),
}

/// Creates the account a setup link offers, uses the link up and signs the person in.
pub async fn redeem_setup_link(
    db: &Db,
    token: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<SetUp> {
    let Some((merchant_id, role)) = setup_link(db, token).await? else {
        return Ok(SetUp::LinkGone);
    };
    let user = match new_user(&merchant_id, email, password, role)? {
        Ok(user) => user,
        Err(e) => return Ok(SetUp::Invalid(e)),
    };
    // The link is spent and the account made in one transaction: of two forms posted at
    // once, one creates the account; an address taken already leaves the link working.
    let mut tx = db.begin().await?;
    if !spend_setup_link(&mut *tx, &token_hash(token), now_ms()).await? {
        tx.rollback().await?;
        return Ok(SetUp::LinkGone);
    }
    if !insert_user(&mut *tx, &user).await? {
        tx.rollback().await?;
        return Ok(SetUp::Invalid(AddUserError::Taken));
    }
    tx.commit().await?;
    audit(
        db,
        &merchant_id,
        None,
        &user.email,
        "user.create",
        Some(user.id.as_str()),
        Some(&format!("role {role}, through a setup link")),
    )
    .await?;
    let token = start_session(db, &user.id, now_ms()).await?;
    Ok(SetUp::Done {
        token,
        user: Box::new(user),
    })
}

/// Sets a user's password and ends all their sessions.
pub async fn reset_password(
    db: &Db,
    user: &UserRow,
    password: &str,
    actor: &str,
) -> anyhow::Result<Result<(), String>> {
    if let Err(why) = check_password(password) {
        return Ok(Err(why));
    }
    let hash = hash_password(password)?;
    set_password(&db.write, &user.id, &hash, now_ms()).await?;
    delete_user_sessions(&db.write, &user.id).await?;
    audit(
        db,
        &user.merchant_id,
        None,
        actor,
        "user.reset_password",
        Some(user.id.as_str()),
        None,
    )
    .await?;
    Ok(Ok(()))
}

/// Writes a line of the audit log.
pub async fn audit(
    db: &Db,
    merchant_id: &MerchantId,
    environment: Option<Environment>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> anyhow::Result<()> {
    insert_audit(
        &db.write,
        &AuditRow {
            id: format!("aud_{}", new_suffix()),
            merchant_id: merchant_id.clone(),
            environment: environment.map(|e| e.as_str().to_owned()),
            actor: actor.to_owned(),
            action: action.to_owned(),
            target: target.map(str::to_owned),
            detail: detail.map(str::to_owned),
            created_at: now_ms(),
        },
    )
    .await
}
