//! Every state change of sessions, payments and invoices, each one compare-and-set in the
//! database in the same transaction that writes its event (the outbox). Double clicks,
//! replays, concurrent callbacks and several instances can therefore never produce two
//! payments, two transitions or a lost event. Provider calls happen outside transactions.

pub mod events;
pub mod outbox;

use anyhow::Context;

use self::events::build_event;
use self::outbox::record_event;
use crate::db::Tx;
use crate::db::invoices::{InvoiceRow, close_invoice, insert_invoice};
use crate::db::payments::{
    HandOff, PaymentRow, advance_provider_state, claim_payments_to_poll, finish_payment,
    finish_payment_from, get_payment_by_id, get_payment_by_session, insert_payment,
    record_callback, record_provider_answer, reschedule_poll,
};
use crate::db::sessions::{
    SessionRow, abandon_session, due_pending_sessions, expire_due_sessions, expire_pending_session,
    expire_session, finish_session, get_session, get_session_by_id, start_session,
};
use crate::domain::card::Card;
use crate::domain::event::EventKind;
use crate::domain::payment_route::PaymentRoute;
use crate::domain::time::now_ms;
use crate::domain::{
    Environment, InvoiceId, InvoiceStatus, LedgerStatus, MerchantId, Outcome, PaymentId,
    PaymentStatus, ProviderState, RouteKind, SessionId, SessionStatus,
};
use crate::providers::{
    CallbackError, NeedsBuyer, PollResult, ProviderPayment, SignedCallback, StartOutcome,
    StartRequest, idempotency_key,
};
use crate::state::AppState;

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
pub async fn start_payment(
    state: &AppState,
    session_id: &SessionId,
    route: &PaymentRoute,
) -> anyhow::Result<Started> {
    let now = now_ms();
    let Some(session) = get_session_by_id(&state.db.write, session_id).await? else {
        return Ok(Started::Closed);
    };
    let previous = get_payment_by_session(&state.db.write, &session.id).await?;
    let attempt = match &previous {
        Some(p) if p.status != PaymentStatus::Failed => {
            return Ok(Started::Existing(Box::new(p.clone())));
        }
        Some(p) => p.attempt + 1,
        None => 1,
    };
    if session.status.effective(session.expires_at, now, false) != SessionStatus::Routed
        || attempt > state.settings.payment_attempts_per_session
    {
        return Ok(Started::Closed);
    }
    let (provider_state, provider_deadline, next_poll_at) = if route.kind == RouteKind::Card {
        (ProviderState::AwaitingBuyer, None, None)
    } else {
        let deadline = provider_deadline(state, Some(route), now);
        (
            ProviderState::InFlight,
            Some(deadline),
            Some(redrive_at(state, deadline, now)),
        )
    };
    let fees = route.fees(session.amount_cents);
    let payment_id = PaymentId::generate();
    let invoice_id = InvoiceId::generate();
    let payment = PaymentRow {
        id: payment_id.clone(),
        session_id: session.id.clone(),
        merchant_id: session.merchant_id.clone(),
        environment: session.environment,
        customer_id: session.customer_id.clone(),
        attempt,
        invoice_id: invoice_id.clone(),
        route_id: route.id.clone(),
        route_kind: route.kind,
        provider: route.integration.clone(),
        amount_cents: session.amount_cents,
        buyer_fee_cents: fees.buyer_fee,
        gateway_fee_cents: fees.gateway_fee,
        merchant_net_cents: fees.merchant_net,
        total_cents: fees.total,
        currency: session.currency.clone(),
        status: PaymentStatus::Pending,
        ledger_status: LedgerStatus::Pending,
        provider_state,
        provider_ref: None,
        provider_data: "{}".into(),
        card_brand: None,
        card_last4: None,
        tx_hash: None,
        failure_code: None,
        failure_message: None,
        provider_deadline,
        next_poll_at,
        created_at: now,
        updated_at: now,
    };
    let invoice = InvoiceRow {
        id: invoice_id,
        session_id: session.id.clone(),
        payment_id: payment_id.clone(),
        merchant_id: session.merchant_id.clone(),
        environment: session.environment,
        customer_id: session.customer_id.clone(),
        amount_cents: session.amount_cents,
        currency: session.currency.clone(),
        status: InvoiceStatus::Open,
        metadata: session.metadata.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    let previous_id = previous.as_ref().map(|p| &p.id);
    if !start_session(
        &mut *tx,
        &session.id,
        previous_id,
        &payment_id,
        &route.id,
        now,
    )
    .await?
        || !insert_payment(&mut *tx, &payment).await?
    {
        tx.rollback().await.context("rolling back a lost start")?;
        return Ok(
            match get_payment_by_session(&state.db.write, &session.id).await? {
                Some(existing) if existing.status != PaymentStatus::Failed => {
                    Started::Existing(Box::new(existing))
                }
                _ => Started::Closed,
            },
        );
    }
    insert_invoice(&mut *tx, &invoice).await?;
    tx.commit().await.context("committing a started payment")?;
    tracing::info!(session.id = %session.id, payment.id = %payment_id, route = %route.id, attempt, "payment started");
    Ok(Started::New(Box::new(payment)))
}

/// The answer to a hand-off.
#[derive(Debug, PartialEq, Eq)]
pub enum HandedOff {
    /// The provider has it (and may already have answered).
    Accepted,
    /// The provider asks the buyer to confirm.
    Challenge,
    /// Someone else handed it off first, or it is over: show the current state.
    AlreadyDone,
}

/// Gives the payment to its provider: claimed first (so twenty concurrent submits call the
/// provider once), then the provider is called outside any transaction with the payment's
/// idempotency key, then its answer and the `payment.provider_pending` event are written
/// together. Should anything stop it after the claim, reconciliation drives it again.
pub async fn hand_off(
    state: &AppState,
    payment: &PaymentRow,
    card: Option<&Card>,
) -> anyhow::Result<HandedOff> {
    let now = now_ms();
    let deadline = provider_deadline(state, route_of(state, payment), now);
    if !claim_hand_off(state, payment, card, deadline, now).await? {
        return Ok(HandedOff::AlreadyDone);
    }
    Ok(drive_hand_off(state, payment, card, deadline, false)
        .await?
        .unwrap_or(HandedOff::AlreadyDone))
}

/// Gives a payment created claimed ([`start_payment`] of a wallet or bank transfer) to its
/// provider.
pub async fn hand_off_started(state: &AppState, payment: &PaymentRow) -> anyhow::Result<HandedOff> {
    let deadline = payment
        .provider_deadline
        .context("a payment started for its provider has a deadline")?;
    Ok(drive_hand_off(state, payment, None, deadline, false)
        .await?
        .unwrap_or(HandedOff::AlreadyDone))
}

/// When a payment handed to its provider now fails with `provider_timeout` unless the provider
/// decided: the route's time-out, or the default one.
fn provider_deadline(state: &AppState, route: Option<&PaymentRoute>, now: i64) -> i64 {
    let timeout_seconds = route
        .and_then(|r| r.provider_timeout_seconds)
        .unwrap_or(state.settings.provider_timeout_seconds);
    now + timeout_seconds * 1000
}

/// When reconciliation drives a hand-off claimed now again, should its provider's answer not
/// be recorded by then.
fn redrive_at(state: &AppState, deadline: i64, now: i64) -> i64 {
    deadline.min(now + state.settings.handoff_redrive_after_seconds * 1000)
}

/// The first half of a hand-off: `awaiting_buyer` → `in_flight`, the card's brand and last
/// four kept; `false` when another request claimed it first. Unless the provider's answer is
/// recorded meanwhile, reconciliation drives the hand-off again `handoff_redrive_after_seconds`
/// later, with the same idempotency key.
pub async fn claim_hand_off(
    state: &AppState,
    payment: &PaymentRow,
    card: Option<&Card>,
    deadline: i64,
    now: i64,
) -> anyhow::Result<bool> {
    let claim = HandOff {
        to_state: ProviderState::InFlight,
        provider_ref: None,
        provider_data: &payment.provider_data,
        card_brand: card.map(|c| c.brand),
        card_last4: card.map(Card::last4),
        provider_deadline: Some(deadline),
        next_poll_at: Some(redrive_at(state, deadline, now)),
    };
    advance_provider_state(
        &state.db.write,
        &payment.id,
        ProviderState::AwaitingBuyer,
        &claim,
        now,
    )
    .await
}

/// The second half of a hand-off, for a claimed payment whose provider answer is not recorded
/// yet: calls the provider, records its answer with `payment.provider_pending`, and feeds the
/// callbacks it returned through the callback path. `again` marks reconciliation driving a
/// hand-off that was cut short: then a provider that cannot be reached is asked again later
/// rather than failing the payment. `None` when another instance recorded the answer first, or
/// (with `again`) when the provider could not be reached.
pub async fn drive_hand_off(
    state: &AppState,
    payment: &PaymentRow,
    card: Option<&Card>,
    deadline: i64,
    again: bool,
) -> anyhow::Result<Option<HandedOff>> {
    let provider = state
        .providers
        .get(&payment.provider)
        .with_context(|| format!("provider {} is not configured", payment.provider))?
        .clone();
    let key = idempotency_key(&payment.id);
    let view = provider_view(payment);
    let request = StartRequest {
        payment: &view,
        card,
        idempotency_key: &key,
    };
    let outcome = match provider.start(request).await {
        Ok(outcome) => outcome,
        Err(e) if e.downcast_ref::<NeedsBuyer>().is_some() => {
            tracing::warn!(payment.id = %payment.id, "the hand-off never reached the provider; the buyer must start again");
            let failed = Outcome::failed(
                "handoff_interrupted",
                "The payment never reached the provider; no money was taken.",
            );
            apply_outcome(state, &payment.id, &failed).await?;
            return Ok(Some(HandedOff::Accepted));
        }
        Err(e) if again => {
            tracing::warn!(payment.id = %payment.id, error.cause = format!("{e:#}"), "driving a hand-off again failed; will retry");
            return Ok(None);
        }
        Err(e) => {
            tracing::error!(payment.id = %payment.id, error.cause = format!("{e:#}"), "provider refused the hand-off");
            let failed = Outcome::failed(
                "provider_unavailable",
                "The payment provider could not be reached.",
            );
            apply_outcome(state, &payment.id, &failed).await?;
            return Ok(Some(HandedOff::Accepted));
        }
    };
    let now = now_ms();
    let (to_state, provider_ref, data, callbacks, poll_after) = match outcome {
        StartOutcome::Accepted {
            provider_ref,
            provider_data,
            callbacks,
            poll_after_ms,
        } => (
            ProviderState::InFlight,
            provider_ref,
            provider_data,
            callbacks,
            poll_after_ms,
        ),
        StartOutcome::Challenge {
            provider_ref,
            provider_data,
        } => (
            ProviderState::Challenge,
            provider_ref,
            provider_data,
            Vec::new(),
            state.settings.provider_timeout_seconds * 1000,
        ),
    };
    let data = data.to_string();
    let step = HandOff {
        to_state,
        provider_ref: Some(&provider_ref),
        provider_data: &data,
        card_brand: None,
        card_last4: None,
        provider_deadline: Some(deadline),
        next_poll_at: Some((now + poll_after).min(deadline)),
    };
    let mut tx = state.db.begin().await?;
    if !record_provider_answer(&mut *tx, &payment.id, &step, now).await? {
        tx.rollback()
            .await
            .context("rolling back a hand-off answered twice")?;
        return Ok(None);
    }
    let session = session_in(&mut tx, &payment.session_id).await?;
    let current = get_payment_by_id(&mut *tx, &payment.id)
        .await?
        .context("payment vanished")?;
    let route = route_of(state, &current);
    let event = build_event(
        EventKind::ProviderPending,
        &session,
        Some(&current),
        route,
        now,
    );
    record_event(&mut tx, &event).await?;
    tx.commit().await.context("committing a hand-off")?;
    state.webhook_wakeup.notify_one();
    tracing::info!(payment.id = %payment.id, provider_state = %to_state, again, "handed off to the provider");
    for callback in callbacks {
        apply_signed_callback(state, &payment.provider, &callback).await?;
    }
    Ok(Some(if to_state == ProviderState::Challenge {
        HandedOff::Challenge
    } else {
        HandedOff::Accepted
    }))
}

/// What became of a callback.
#[derive(Debug, PartialEq, Eq)]
pub enum CallbackResult {
    Applied,
    /// The payment was already final; nothing changed.
    AlreadyFinal,
    /// This callback id was seen before.
    Replayed,
    UnknownPayment,
}

/// Why a callback was refused before anything was read.
#[derive(Debug)]
pub enum CallbackRefusal {
    UnknownProvider,
    Invalid(CallbackError),
}

/// The one path by which provider outcomes reach payments and sessions.
pub async fn receive_callback(
    state: &AppState,
    provider_id: &str,
    signature: Option<&str>,
    body: &[u8],
) -> anyhow::Result<Result<CallbackResult, CallbackRefusal>> {
    let Some(provider) = state.providers.get(provider_id) else {
        return Ok(Err(CallbackRefusal::UnknownProvider));
    };
    let now = now_ms();
    let event = match provider.parse_callback(signature, body, now) {
        Ok(event) => event,
        Err(e) => return Ok(Err(CallbackRefusal::Invalid(e))),
    };
    let mut tx = state.db.begin().await?;
    if get_payment_by_id(&mut *tx, &event.payment_id)
        .await?
        .is_none_or(|p| p.provider != provider_id)
    {
        return Ok(Ok(CallbackResult::UnknownPayment));
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
        return Ok(Ok(CallbackResult::Replayed));
    }
    let applied = apply_in(state, &mut tx, &event.payment_id, &event.outcome, now).await?;
    tx.commit()
        .await
        .context("committing a provider callback")?;
    state.webhook_wakeup.notify_one();
    Ok(Ok(if applied {
        CallbackResult::Applied
    } else {
        CallbackResult::AlreadyFinal
    }))
}

/// Feeds a callback a provider handed us directly (not over HTTP) through the callback path;
/// its refusal would be a bug, so it is an error.
pub async fn apply_signed_callback(
    state: &AppState,
    provider: &str,
    callback: &SignedCallback,
) -> anyhow::Result<CallbackResult> {
    match receive_callback(
        state,
        provider,
        Some(&callback.signature),
        callback.body.as_bytes(),
    )
    .await?
    {
        Ok(result) => Ok(result),
        Err(refusal) => {
            anyhow::bail!("the {provider} provider's own callback was refused: {refusal:?}")
        }
    }
}

/// Applies an outcome that did not come as a callback (reconciliation's poll or time-out, a
/// provider that could not be reached).
pub async fn apply_outcome(
    state: &AppState,
    payment_id: &PaymentId,
    outcome: &Outcome,
) -> anyhow::Result<bool> {
    let mut tx = state.db.begin().await?;
    let applied = apply_in(state, &mut tx, payment_id, outcome, now_ms()).await?;
    tx.commit().await.context("committing a payment outcome")?;
    state.webhook_wakeup.notify_one();
    Ok(applied)
}

/// Payment → paid | failed, invoice → paid | void, and the event; the session → paid, or
/// after a failure back to `routed` for another attempt (while attempts and time are left)
/// or `failed`. A confirmation is honoured even when late: after the session's deadline,
/// after a payment was failed for a provider time-out, and after the buyer moved on to
/// another attempt (money taken is never ignored; that other attempt, if the buyer has not
/// handed it to a provider yet, is failed as superseded).
async fn apply_in(
    state: &AppState,
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
    } else if payment.attempt < state.settings.payment_attempts_per_session
        && now < before.expires_at
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
    let event = build_event(
        kind,
        &session,
        Some(&payment),
        route_of(state, &payment),
        now,
    );
    record_event(tx, &event).await?;
    tracing::info!(session.id = %session.id, payment.id = %payment.id, status = kind.status(), session.status = %session.status, "payment finished");
    if paid && let Some(other) = before.payment_id.as_ref().filter(|id| **id != payment.id) {
        supersede(state, tx, &session, other, now).await?;
    }
    Ok(true)
}

/// Fails `payment_id`, a later attempt of a session that another payment has just paid, if
/// the buyer has not handed it to a provider yet (one handed off keeps its own outcome).
async fn supersede(
    state: &AppState,
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
        route_of(state, &payment),
        now,
    );
    record_event(tx, &event).await?;
    Ok(())
}

/// The buyer gave up after a failed payment and returns to the merchant: the session becomes
/// `failed` (a compare-and-set on its latest payment). `false` when it had moved on (paid,
/// another attempt started, expired). Sends no event: the merchant had `payment.failed` for
/// the payment already, and sees the session's status on the return.
pub async fn abandon(
    state: &AppState,
    session_id: &SessionId,
    failed_payment_id: &PaymentId,
) -> anyhow::Result<bool> {
    let done = abandon_session(&state.db.write, session_id, failed_payment_id, now_ms()).await?;
    if done.is_some() {
        tracing::info!(session.id = %session_id, "the buyer returned to the merchant after a failed payment");
    }
    Ok(done.is_some())
}

async fn session_in(tx: &mut Tx, session_id: &SessionId) -> anyhow::Result<SessionRow> {
    get_session_by_id(&mut **tx, session_id)
        .await?
        .context("a payment's session is missing")
}

fn route_of<'a>(state: &'a AppState, payment: &PaymentRow) -> Option<&'a PaymentRoute> {
    state
        .settings
        .routes
        .iter()
        .find(|r| r.id == payment.route_id)
}

/// One reconciliation pass: drives again the hand-offs that were cut short before the
/// provider's answer was recorded, asks providers about in-flight payments that are due,
/// applies what they say, and fails those past their deadline with `provider_timeout`.
/// Returns how many payments it finished.
pub async fn reconcile_once(state: &AppState) -> anyhow::Result<usize> {
    let now = now_ms();
    let claimed = claim_payments_to_poll(&state.db.write, now, 30_000, 50).await?;
    let mut finished = 0;
    for payment in claimed {
        let Some(provider) = state.providers.get(&payment.provider).cloned() else {
            continue;
        };
        let deadline = payment.provider_deadline.unwrap_or(now);
        let result = if payment.provider_ref.is_none()
            && payment.provider_state == ProviderState::InFlight
        {
            // Claimed, but the provider's answer was never recorded.
            tracing::info!(payment.id = %payment.id, "driving a hand-off that was cut short again");
            if drive_hand_off(state, &payment, None, deadline, true)
                .await?
                .is_some()
            {
                let now_final = get_payment_by_id(&state.db.write, &payment.id)
                    .await?
                    .is_some_and(|p| p.status != PaymentStatus::Pending);
                finished += usize::from(now_final);
                continue;
            }
            Ok(PollResult::Pending)
        } else {
            provider.poll(&provider_view(&payment)).await
        };
        let outcome = match result {
            Ok(PollResult::Final(outcome)) => Some(outcome),
            Ok(PollResult::Pending | PollResult::Unknown) | Err(_) if now >= deadline => {
                Some(Outcome::failed(
                    "provider_timeout",
                    "The payment provider did not confirm the payment in time.",
                ))
            }
            Ok(PollResult::Pending | PollResult::Unknown) => None,
            Err(e) => {
                tracing::warn!(payment.id = %payment.id, error.cause = format!("{e:#}"), "polling the provider failed");
                None
            }
        };
        match outcome {
            Some(outcome) => {
                if apply_outcome(state, &payment.id, &outcome).await? {
                    finished += 1;
                }
            }
            None => {
                let next = (now + state.settings.reconcile_interval_seconds * 1000).min(deadline);
                reschedule_poll(&state.db.write, &payment.id, next).await?;
            }
        }
    }
    Ok(finished)
}

/// Expires sessions past their deadline that nobody is paying, writing `payment.expired` for
/// each. Guarded by status, so several instances sweeping at once never expire one twice.
pub async fn expire_due(state: &AppState) -> anyhow::Result<usize> {
    const BATCH: i64 = 500;
    let mut total = 0;
    loop {
        let now = now_ms();
        let mut tx = state.db.begin().await?;
        let expired = expire_due_sessions(&mut *tx, now, BATCH).await?;
        for session in &expired {
            let event = build_event(EventKind::Expired, session, None, None, now);
            record_event(&mut tx, &event).await?;
        }
        tx.commit().await.context("committing expired sessions")?;
        if !expired.is_empty() {
            state.webhook_wakeup.notify_one();
        }
        total += expired.len();
        if (expired.len() as i64) < BATCH {
            break;
        }
    }
    for id in due_pending_sessions(&state.db.write, now_ms(), BATCH).await? {
        if expire_started_session(state, &id).await? {
            total += 1;
        }
    }
    Ok(total)
}

/// A session whose buyer chose a route but never handed anything to a provider: the session
/// expires, its payment fails (`session_expired`) and its invoice is voided, together.
async fn expire_started_session(state: &AppState, session_id: &SessionId) -> anyhow::Result<bool> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
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
    let route = payment.as_ref().and_then(|p| route_of(state, p));
    let event = build_event(EventKind::Expired, &session, payment.as_ref(), route, now);
    record_event(&mut tx, &event).await?;
    tx.commit().await.context("committing an expired session")?;
    state.webhook_wakeup.notify_one();
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
pub async fn expire_for_merchant(
    state: &AppState,
    merchant_id: &MerchantId,
    environment: Environment,
    id: &SessionId,
) -> anyhow::Result<MerchantExpiry> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
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
    tx.commit().await.context("committing an expiry")?;
    if matches!(answer, MerchantExpiry::Expired(_)) {
        state.webhook_wakeup.notify_one();
    }
    Ok(answer)
}

/// What a provider is told about `payment`.
pub fn provider_view(payment: &PaymentRow) -> ProviderPayment {
    ProviderPayment {
        id: payment.id.clone(),
        route_kind: payment.route_kind,
        total_cents: payment.total_cents,
        currency: payment.currency.clone(),
        provider_ref: payment.provider_ref.clone(),
    }
}
