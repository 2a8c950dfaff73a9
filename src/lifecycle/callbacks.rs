//! Provider outcomes reach payments and sessions by one path: a signed callback (over HTTP,
//! or handed over directly by a provider's answer), or an outcome reconciliation learned by
//! polling. Each is one compare-and-set of the payment, its invoice and its session, with the
//! event, in one transaction.

use super::events::build_event;
use super::outbox::record_event;
use super::{Lifecycle, session_in};
use crate::db::Tx;
use crate::db::invoices::close_invoice;
use crate::db::payments::{
    finish_payment, finish_payment_from, get_payment_by_id, record_callback,
};
use crate::db::sessions::{SessionRow, finish_session};
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{InvoiceStatus, Outcome, PaymentId, ProviderState, SessionStatus};
use crate::providers::{CallbackError, SignedCallback};

/// What became of a callback.
#[derive(Debug)]
pub enum CallbackResult {
    /// Its outcome was applied.
    Applied,
    /// The payment was already final; nothing changed.
    AlreadyFinal,
    /// This callback id was seen before.
    Replayed,
    /// It names a payment this provider does not carry.
    UnknownPayment,
    /// No provider has this id.
    UnknownProvider,
    /// Its signature or its body was refused; nothing was read.
    Refused(CallbackError),
}

/// The one path by which provider outcomes reach payments and sessions.
#[tracing::instrument(skip_all, fields(provider = %provider_id))]
pub async fn receive_callback(
    lc: Lifecycle<'_>,
    provider_id: &str,
    signature: Option<&str>,
    body: &[u8],
) -> anyhow::Result<CallbackResult> {
    let Some(provider) = lc.providers.get(provider_id) else {
        return Ok(CallbackResult::UnknownProvider);
    };
    let now = now_ms();
    let event = match provider.parse_callback(signature, body, now) {
        Ok(event) => event,
        Err(e) => return Ok(CallbackResult::Refused(e)),
    };
    let mut tx = lc.db.begin().await?;
    if get_payment_by_id(&mut *tx, &event.payment_id)
        .await?
        .is_none_or(|p| p.provider != provider_id)
    {
        return Ok(CallbackResult::UnknownPayment);
    }
    if !record_callback(
        &mut *tx,
        provider_id,
        &event.callback_id,
        &event.payment_id,
        now,
    )
    .await?
    {
        return Ok(CallbackResult::Replayed);
    }
    let applied = apply_in(lc, &mut tx, &event.payment_id, &event.outcome, now).await?;
    lc.commit(tx, "committing a provider callback").await?;
    Ok(if applied {
        CallbackResult::Applied
    } else {
        CallbackResult::AlreadyFinal
    })
}

/// Feeds a callback a provider handed us directly (not over HTTP) through the callback path;
/// its refusal would be a bug, so it is an error.
pub async fn apply_signed_callback(
    lc: Lifecycle<'_>,
    provider: &str,
    callback: &SignedCallback,
) -> anyhow::Result<CallbackResult> {
    let result = receive_callback(
        lc,
        provider,
        Some(&callback.signature),
        callback.body.as_bytes(),
    )
    .await?;
    match result {
        CallbackResult::UnknownProvider | CallbackResult::Refused(_) => {
            anyhow::bail!("the {provider} provider's own callback was refused: {result:?}")
        }
        other => Ok(other),
    }
}

/// Applies an outcome that did not come as a callback (reconciliation's poll or time-out, a
/// provider that could not be reached).
#[tracing::instrument(skip_all, fields(payment.id = %payment_id))]
pub async fn apply_outcome(
    lc: Lifecycle<'_>,
    payment_id: &PaymentId,
    outcome: &Outcome,
) -> anyhow::Result<bool> {
    let mut tx = lc.db.begin().await?;
    let applied = apply_in(lc, &mut tx, payment_id, outcome, now_ms()).await?;
    lc.commit(tx, "committing a payment outcome").await?;
    Ok(applied)
}

/// Payment → paid | failed, invoice → paid | void, and the event; the session → paid, or
/// after a failure back to `routed` for another attempt (while attempts and time are left)
/// or `failed`. A confirmation is honoured even when late: after the session's deadline,
/// after a payment was failed for a provider time-out, and after the buyer moved on to
/// another attempt (money taken is never ignored; that other attempt, if the buyer has not
/// handed it to a provider yet, is failed as superseded).
async fn apply_in(
    lc: Lifecycle<'_>,
    tx: &mut Tx,
    payment_id: &PaymentId,
    outcome: &Outcome,
    now: i64,
) -> anyhow::Result<bool> {
    let Some(payment) = finish_payment(&mut **tx, payment_id, outcome, now).await? else {
        return Ok(false);
    };
    let paid = matches!(outcome, Outcome::Paid { .. });
    let before = session_in(tx, &payment.session_id).await?;
    let (invoice_status, kind) = if paid {
        (InvoiceStatus::Paid, EventKind::Paid)
    } else {
        (InvoiceStatus::Void, EventKind::Failed)
    };
    let session_status = if paid {
        SessionStatus::Paid
    } else if payment.attempt < lc.settings.payment_attempts_per_session && now < before.expires_at
    {
        SessionStatus::Routed
    } else {
        SessionStatus::Failed
    };
    let session = match finish_session(
        &mut **tx,
        &payment.session_id,
        &payment.id,
        session_status,
        paid,
        now,
    )
    .await?
    {
        Some(session) => session,
        None => before.clone(),
    };
    close_invoice(&mut **tx, &payment.invoice_id, invoice_status, paid, now).await?;
    let event = build_event(kind, &session, Some(&payment), lc.route_of(&payment), now);
    record_event(tx, &event).await?;
    tracing::info!(session.id = %session.id, payment.id = %payment.id, status = kind.status(), session.status = %session.status, "payment finished");
    if paid && let Some(other) = before.payment_id.as_ref().filter(|id| **id != payment.id) {
        supersede(lc, tx, &session, other, now).await?;
    }
    Ok(true)
}

/// Fails `payment_id`, a later attempt of a session that another payment has just paid, if
/// the buyer has not handed it to a provider yet (one handed off keeps its own outcome).
async fn supersede(
    lc: Lifecycle<'_>,
    tx: &mut Tx,
    session: &SessionRow,
    payment_id: &PaymentId,
    now: i64,
) -> anyhow::Result<()> {
    let outcome = Outcome::failed(
        "superseded",
        "An earlier payment of this checkout was confirmed; this one was not made.",
    );
    let awaiting = Some(ProviderState::AwaitingBuyer);
    let Some(payment) = finish_payment_from(&mut **tx, payment_id, &outcome, awaiting, now).await?
    else {
        return Ok(());
    };
    close_invoice(
        &mut **tx,
        &payment.invoice_id,
        InvoiceStatus::Void,
        false,
        now,
    )
    .await?;
    let event = build_event(
        EventKind::Failed,
        session,
        Some(&payment),
        lc.route_of(&payment),
        now,
    );
    record_event(tx, &event).await?;
    Ok(())
}
