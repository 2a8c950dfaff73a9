//! Provider outcomes reach payments and sessions by one path: a signed callback (over HTTP,
//! or handed over directly by a provider's answer), or an outcome reconciliation learned by
//! polling. Each is one compare-and-set of the payment, its invoice and its session, with the
//! event, in one transaction.

use anyhow::Context;

use super::events::build_event;
use super::outbox::record_event;
use super::refunds::apply_refund_outcome;
use super::{Lifecycle, session_in};
use crate::db::Tx;
use crate::db::invoices::close_invoice;
use crate::db::payments::{
    HandOff, PaymentRow, advance_provider_state, finish_payment, finish_payment_from,
    get_payment_by_id, record_callback,
};
use crate::db::refunds::get_refund_by_id;
use crate::db::sessions::{SessionRow, finish_session};
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{InvoiceStatus, Outcome, PaymentId, ProviderState, SessionStatus};
use crate::metrics::Metrics;
use crate::providers::{
    CallbackError, CallbackRequest, Charged, PollResult, SignedCallback, Update,
};

/// What became of a callback.
#[derive(Debug)]
pub enum CallbackResult {
    /// Its outcome was applied.
    Applied,
    /// The payment was already final (or already accepted); nothing changed.
    AlreadyFinal,
    /// This callback id was seen before.
    Replayed,
    /// Genuine, but not about a payment of ours (an event type we do not use).
    Ignored,
    /// It names a payment this provider does not carry.
    UnknownPayment,
    /// No provider has this id.
    UnknownProvider,
    /// The provider charged another amount or currency than the payment asked: nothing was
    /// applied (logged at error level and counted).
    AmountMismatch,
    /// Its signature or its body was refused; nothing was read.
    Refused(CallbackError),
}

/// The one path by which provider outcomes reach payments and sessions.
#[tracing::instrument(skip_all, fields(provider = %provider_id))]
pub async fn receive_callback(
    lc: Lifecycle<'_>,
    provider_id: &str,
    request: CallbackRequest<'_>,
) -> anyhow::Result<CallbackResult> {
    let Some(provider) = lc.providers.get(provider_id) else {
        return Ok(CallbackResult::UnknownProvider);
    };
    let now = now_ms();
    let event = match provider.parse_callback(request, now) {
        Ok(Some(event)) => event,
        Ok(None) => return Ok(CallbackResult::Ignored),
        Err(e) => return Ok(CallbackResult::Refused(e)),
    };
    let mut tx = lc.db.begin().await?;
    let Some(payment) = get_payment_by_id(&mut *tx, &event.payment_id)
        .await?
        .filter(|p| p.provider == provider_id)
    else {
        tracing::warn!(payment.id = %event.payment_id, callback = %event.callback_id, "a callback names a payment this provider does not carry");
        return Ok(CallbackResult::UnknownPayment);
    };
    if !charged_as_asked(lc, &payment, event.charged.as_ref()) {
        return Ok(CallbackResult::AmountMismatch);
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
    let applied = match &event.update {
        Update::Final(outcome) => apply_in(lc, &mut tx, &event.payment_id, outcome, now).await?,
        Update::Accepted => accept_in(lc, &mut tx, &payment, now).await?,
        Update::Refund { refund_id, outcome } => {
            // The callback is recorded first; should the refund's change not commit, polling
            // learns its outcome all the same.
            lc.commit(tx, "recording a refund callback").await?;
            let belongs = get_refund_by_id(&lc.db.write, refund_id)
                .await?
                .is_some_and(|r| r.payment_id == payment.id);
            if !belongs {
                tracing::warn!(refund.id = %refund_id, payment.id = %payment.id, "a refund callback names a refund this payment does not have");
                return Ok(CallbackResult::UnknownPayment);
            }
            apply_refund_outcome(lc, refund_id, outcome).await?;
            return Ok(CallbackResult::Applied);
        }
    };
    lc.commit(tx, "committing a provider callback").await?;
    Ok(if applied {
        CallbackResult::Applied
    } else {
        CallbackResult::AlreadyFinal
    })
}

/// Whether what a provider says it charged is what `payment` asked (nothing said is taken as
/// yes: the provider was given the amount and has no way to change it). A mismatch is logged
/// at error level and counted: it means a bug or a tampered session at the provider, and a
/// payment is never marked paid for less than it asked.
pub(super) fn charged_as_asked(
    lc: Lifecycle<'_>,
    payment: &PaymentRow,
    charged: Option<&Charged>,
) -> bool {
    let Some(charged) = charged else {
        return true;
    };
    if charged.amount == payment.total_cents
        && charged.currency.eq_ignore_ascii_case(&payment.currency)
    {
        return true;
    }
    Metrics::add(&lc.metrics.provider_amount_mismatches, 1);
    tracing::error!(
        payment.id = %payment.id,
        provider = %payment.provider,
        asked.cents = payment.total_cents,
        asked.currency = %payment.currency,
        charged.amount = charged.amount,
        charged.currency = %charged.currency,
        "the provider reports another amount than the payment asked; nothing was applied"
    );
    false
}

/// Feeds a callback a provider handed us directly (not over HTTP) through the callback path;
/// its refusal would be a bug, so it is an error.
pub async fn apply_signed_callback(
    lc: Lifecycle<'_>,
    provider: &str,
    callback: &SignedCallback,
) -> anyhow::Result<CallbackResult> {
    let headers = [(callback.header.to_owned(), callback.signature.clone())];
    let request = CallbackRequest {
        headers: &headers,
        body: callback.body.as_bytes(),
    };
    let result = receive_callback(lc, provider, request).await?;
    match result {
        CallbackResult::UnknownProvider | CallbackResult::Refused(_) => {
            anyhow::bail!("the {provider} provider's own callback was refused: {result:?}")
        }
        other => Ok(other),
    }
}

/// A payment the buyer finished on the provider's page, accepted there and settled later
/// (a bank debit): `redirected` → `in_flight`, with `payment.provider_pending`. `false` when
/// it was not waiting on the provider's page (accepted already, or over).
async fn accept_in(
    lc: Lifecycle<'_>,
    tx: &mut Tx,
    payment: &PaymentRow,
    now: i64,
) -> anyhow::Result<bool> {
    let step = HandOff {
        to_state: ProviderState::InFlight,
        provider_ref: None,
        provider_data: &payment.provider_data,
        card_brand: None,
        card_last4: None,
        provider_deadline: payment.provider_deadline,
        next_poll_at: payment.next_poll_at,
    };
    if !advance_provider_state(
        &mut **tx,
        &payment.id,
        ProviderState::Redirected,
        &step,
        now,
    )
    .await?
    {
        return Ok(false);
    }
    let session = session_in(tx, &payment.session_id).await?;
    let current = get_payment_by_id(&mut **tx, &payment.id)
        .await?
        .context("payment vanished")?;
    let event = build_event(
        EventKind::ProviderPending,
        &session,
        Some(&current),
        lc.route_of(&current),
        now,
    );
    record_event(tx, &event).await?;
    tracing::info!(payment.id = %payment.id, "the provider accepted the payment; it settles later");
    Ok(true)
}

/// Applies what a provider answered when asked (on the buyer's return from its page, or by
/// reconciliation): a final outcome, or the payment accepted to settle later. `true` when
/// something changed.
pub async fn apply_poll(
    lc: Lifecycle<'_>,
    payment: &PaymentRow,
    result: &PollResult,
) -> anyhow::Result<bool> {
    match result {
        PollResult::Final(outcome, charged) => {
            if !charged_as_asked(lc, payment, charged.as_ref()) {
                return Ok(false);
            }
            apply_outcome(lc, &payment.id, outcome).await
        }
        PollResult::Accepted => {
            let mut tx = lc.db.begin().await?;
            let accepted = accept_in(lc, &mut tx, payment, now_ms()).await?;
            lc.commit(tx, "committing an accepted payment").await?;
            Ok(accepted)
        }
        PollResult::Pending | PollResult::Unknown => Ok(false),
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
