//! Declined cards, counted for the checkout pages' card-testing limits: per session from the
//! payments themselves, per client address from `card_declines` (written when the page sees
//! a card declined). Both live in the database, so every instance counts the same.

use anyhow::Context;
use sqlx::{Any, Executor};

use crate::domain::{PaymentId, SessionId};

/// Failure codes of ours, not a provider's answer about the card: a card payment that failed
/// with one of these was not declined.
/// Nor did a provider that could not be reached, or whose page expired unused.
const NOT_DECLINES: &str = "'handoff_interrupted', 'buyer_changed_route', 'session_expired', \
    'provider_timeout', 'provider_unavailable', 'provider_expired'";

/// How many of the session's card payments were declined.
pub async fn declined_in_session<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    session_id: &SessionId,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM payments
         WHERE session_id = $1 AND route_kind = 'card' AND status = 'failed'
           AND failure_code NOT IN ({NOT_DECLINES})"
    ))
    .bind(session_id)
    .fetch_one(executor)
    .await
    .context("counting a session's declined cards")
}

/// Whether the payment is a card that was declined.
pub async fn was_declined<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<bool> {
    let found: Option<i64> = sqlx::query_scalar(&format!(
        "SELECT 1 FROM payments
         WHERE id = $1 AND route_kind = 'card' AND status = 'failed'
           AND failure_code NOT IN ({NOT_DECLINES})"
    ))
    .bind(payment_id)
    .fetch_optional(executor)
    .await
    .context("reading whether a card was declined")?;
    Ok(found.is_some())
}

/// Notes that the card of `payment_id`, sent from `address`, was declined (once per payment).
pub async fn record_decline<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
    address: &str,
    now_ms: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO card_declines (payment_id, address, declined_at) VALUES ($1, $2, $3)
         ON CONFLICT (payment_id) DO NOTHING",
    )
    .bind(payment_id)
    .bind(address)
    .bind(now_ms)
    .execute(executor)
    .await
    .context("recording a declined card")?;
    Ok(())
}

/// How many cards from `address` were declined since `since_ms`.
pub async fn declined_from_address<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    address: &str,
    since_ms: i64,
) -> anyhow::Result<i64> {
    sqlx::query_scalar(
        "SELECT COUNT(*) FROM card_declines WHERE address = $1 AND declined_at >= $2",
    )
    .bind(address)
    .bind(since_ms)
    .fetch_one(executor)
    .await
    .context("counting an address's declined cards")
}

/// What [`forget_declines`] runs, through `card_declines_age`.
pub const FORGET_DECLINES: &str = "DELETE FROM card_declines WHERE declined_at < $1";

/// Removes what is older than `before_ms` (no limit looks back that far).
pub async fn forget_declines<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    before_ms: i64,
) -> anyhow::Result<u64> {
    let done = sqlx::query(FORGET_DECLINES)
        .bind(before_ms)
        .execute(executor)
        .await
        .context("removing old declined cards")?;
    Ok(done.rows_affected())
}
