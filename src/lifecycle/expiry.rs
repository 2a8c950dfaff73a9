//! Sessions that end without a payment: past their deadline (the sweeper), expired by the
//! merchant, or given up by the buyer after a failed payment.

use anyhow::Context;

use super::Lifecycle;
use super::events::build_event;
use super::outbox::record_event;
use crate::db::invoices::close_invoice;
use crate::db::payments::finish_payment_from;
use crate::db::sessions::{
    SessionRow, abandon_session, due_pending_sessions, expire_due_sessions, expire_pending_session,
    expire_session, get_session,
};
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{
    Environment, InvoiceStatus, MerchantId, Outcome, PaymentId, ProviderState, SessionId,
    SessionStatus,
};

/// Expires sessions past their deadline that nobody is paying, writing `payment.expired` for
/// each. Guarded by status, so several instances sweeping at once never expire one twice.
#[tracing::instrument(skip_all)]
pub async fn expire_due(lc: Lifecycle<'_>) -> anyhow::Result<usize> {
    const BATCH: i64 = 500;
    let mut total = 0;
    loop {
        let now = now_ms();
        let mut tx = lc.db.begin().await?;
        let expired = expire_due_sessions(&mut *tx, now, BATCH).await?;
        for session in &expired {
            let event = build_event(EventKind::Expired, session, None, None, now);
            record_event(&mut tx, &event).await?;
        }
        lc.commit(tx, "committing expired sessions").await?;
        total += expired.len();
        if (expired.len() as i64) < BATCH {
            break;
        }
    }
    for id in due_pending_sessions(&lc.db.write, now_ms(), BATCH).await? {
        if expire_started_session(lc, &id).await? {
            total += 1;
        }
    }
    Ok(total)
}

/// A session whose buyer chose a route but never handed anything to a provider: the session
/// expires, its payment fails (`session_expired`) and its invoice is voided, together.
async fn expire_started_session(lc: Lifecycle<'_>, session_id: &SessionId) -> anyhow::Result<bool> {
    let now = now_ms();
    let mut tx = lc.db.begin().await?;
    let Some(session) = expire_pending_session(&mut *tx, session_id, now).await? else {
        return Ok(false);
    };
    let outcome = Outcome::failed(
        "session_expired",
        "The checkout expired before the payment was made.",
    );
    let payment = match &session.payment_id {
        Some(id) => {
            let awaiting = Some(ProviderState::AwaitingBuyer);
            let failed = finish_payment_from(&mut *tx, id, &outcome, awaiting, now).await?;
            if failed.is_none() {
                // The buyer handed the payment to a provider meanwhile: it is not ours to expire.
                tx.rollback().await.context("rolling back an expiry")?;
                return Ok(false);
            }
            failed
        }
        None => None,
    };
    if let Some(payment) = &payment {
        close_invoice(
            &mut *tx,
            &payment.invoice_id,
            InvoiceStatus::Void,
            false,
            now,
        )
        .await?;
    }
    let route = payment.as_ref().and_then(|p| lc.route_of(p));
    let event = build_event(EventKind::Expired, &session, payment.as_ref(), route, now);
    record_event(&mut tx, &event).await?;
    lc.commit(tx, "committing an expired session").await?;
    tracing::info!(session.id = %session_id, "session expired");
    Ok(true)
}

/// What became of a merchant's request to expire a session.
#[derive(Debug)]
pub enum MerchantExpiry {
    /// Expired now, with `payment.expired`.
    Expired(Box<SessionRow>),
    /// It had expired already: the same answer again.
    AlreadyExpired(Box<SessionRow>),
    /// A buyer has started paying, or it is over: it stays as it is.
    NotExpirable(Box<SessionRow>),
    /// No such session for this merchant and environment.
    Unknown,
}

/// The merchant expires a session no buyer has started paying (`routed` → `expired`, a
/// compare-and-set, so a buyer starting at the same moment wins or loses cleanly), with its
/// `payment.expired` event.
#[tracing::instrument(skip_all, fields(merchant.id = %merchant_id, session.id = %id))]
pub async fn expire_for_merchant(
    lc: Lifecycle<'_>,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &SessionId,
) -> anyhow::Result<MerchantExpiry> {
    let now = now_ms();
    let mut tx = lc.db.begin().await?;
    let answer = match expire_session(&mut *tx, merchant_id, environment, id, now).await? {
        Some(row) => {
            let event = build_event(EventKind::Expired, &row, None, None, now);
            record_event(&mut tx, &event).await?;
            tracing::info!(session.id = %id, "session expired by the merchant");
            MerchantExpiry::Expired(Box::new(row))
        }
        None => match get_session(&mut *tx, merchant_id, environment, id).await? {
            Some(row) if row.status == SessionStatus::Expired => {
                MerchantExpiry::AlreadyExpired(Box::new(row))
            }
            Some(row) => MerchantExpiry::NotExpirable(Box::new(row)),
            None => MerchantExpiry::Unknown,
        },
    };
    lc.commit(tx, "committing an expiry").await?;
    Ok(answer)
}

/// The buyer gave up after a failed payment and returns to the merchant: the session becomes
/// `failed` (a compare-and-set on its latest payment). `false` when it had moved on (paid,
/// another attempt started, expired). Sends no event: the merchant had `payment.failed` for
/// the payment already, and sees the session's status on the return.
#[tracing::instrument(skip_all, fields(session.id = %session_id, payment.id = %failed_payment_id))]
pub async fn abandon(
    lc: Lifecycle<'_>,
    session_id: &SessionId,
    failed_payment_id: &PaymentId,
) -> anyhow::Result<bool> {
    let done = abandon_session(&lc.db.write, session_id, failed_payment_id, now_ms()).await?;
    if done.is_some() {
        tracing::info!(session.id = %session_id, "the buyer returned to the merchant after a failed payment");
    }
    Ok(done.is_some())
}
