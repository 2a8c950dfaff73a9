//! The buyer chose a route: the payment (and its invoice) is created and the session moves to
//! `pending`, in one transaction.

use anyhow::Context;

use super::Lifecycle;
use crate::db::invoices::{InvoiceRow, insert_invoice};
use crate::db::payments::{
    PaymentRow, get_payment_by_session, insert_payment, insert_payment_metadata,
};
use crate::db::sessions::{get_session_by_id, start_session};
use crate::domain::payment_route::PaymentRoute;
use crate::domain::time::now_ms;
use crate::domain::{PaymentStatus, ProviderState, SessionId, SessionStatus};

/// The answer to "the buyer chose this route".
#[derive(Debug)]
pub enum Started {
    /// A payment was created now.
    New(Box<PaymentRow>),
    /// The session already has one under way or finished (a double click, the back button, a
    /// second tab): show its state.
    Existing(Box<PaymentRow>),
    /// The session can no longer be paid (expired, out of attempts, or gone).
    Closed,
}

/// Creates the payment (pending) and invoice (open) and moves the session to `pending`: the
/// session's first payment, or another attempt after the last one failed, while attempts
/// (`payment_attempts_per_session`) are left. A payment whose route goes to its provider at
/// once (a wallet or bank transfer, for its instructions) is created claimed for that
/// hand-off, in the same transaction: however the process dies afterwards, reconciliation
/// drives the hand-off (a payment left waiting for a buyer who has nothing left to submit
/// would be stuck until the session expired). A card payment waits for the buyer's card.
/// `language` is the page's: the payment keeps it for its receipt and e-mails.
#[tracing::instrument(skip_all, fields(session.id = %session_id, route = %route.id))]
pub async fn start_payment(
    lc: Lifecycle<'_>,
    session_id: &SessionId,
    route: &PaymentRoute,
    language: &str,
) -> anyhow::Result<Started> {
    let now = now_ms();
    let Some(session) = get_session_by_id(&lc.db.write, session_id).await? else {
        return Ok(Started::Closed);
    };
    let previous = get_payment_by_session(&lc.db.write, &session.id).await?;
    let attempt = match &previous {
        Some(p) if p.status != PaymentStatus::Failed => {
            return Ok(Started::Existing(Box::new(p.clone())));
        }
        Some(p) => p.attempt + 1,
        None => 1,
    };
    if session.status.effective(session.expires_at, now, false) != SessionStatus::Routed
        || attempt > lc.settings.payment_attempts_per_session
    {
        return Ok(Started::Closed);
    }
    let (provider_state, provider_deadline, next_poll_at) = if !route.hands_off_at_once() {
        (ProviderState::AwaitingBuyer, None, None)
    } else {
        let deadline = lc.provider_deadline(Some(route), now);
        (
            ProviderState::InFlight,
            Some(deadline),
            Some(lc.redrive_at(deadline, now)),
        )
    };
    let payment = PaymentRow {
        language: Some(language.to_owned()),
        ..PaymentRow::pending(
            &session,
            route,
            attempt,
            provider_state,
            provider_deadline,
            next_poll_at,
            now,
        )
    };
    let invoice = InvoiceRow::open(&session, &payment, now);
    let mut tx = lc.db.begin().await?;
    let previous_id = previous.as_ref().map(|p| &p.id);
    if !start_session(
        &mut *tx,
        &session.id,
        previous_id,
        &payment.id,
        &route.id,
        now,
    )
    .await?
        || !insert_payment(&mut *tx, &payment).await?
    {
        tx.rollback().await.context("rolling back a lost start")?;
        return Ok(
            match get_payment_by_session(&lc.db.write, &session.id).await? {
                Some(existing) if existing.status != PaymentStatus::Failed => {
                    Started::Existing(Box::new(existing))
                }
                _ => Started::Closed,
            },
        );
    }
    insert_invoice(&mut *tx, &invoice).await?;
    insert_payment_metadata(&mut *tx, &payment, &session.metadata).await?;
    tx.commit().await.context("committing a started payment")?;
    tracing::info!(session.id = %session.id, payment.id = %payment.id, route = %route.id, attempt, "payment started");
    Ok(Started::New(Box::new(payment)))
}
