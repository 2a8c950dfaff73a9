//! Giving a payment to its provider, in two halves: a claim (one compare-and-set, so twenty
//! concurrent submits call the provider once), then the provider's call outside any
//! transaction and its answer recorded with `payment.provider_pending`. A hand-off cut short
//! between the two is driven again by reconciliation, with the same idempotency key.

use anyhow::Context;

use super::callbacks::{apply_outcome, apply_signed_callback};
use super::events::build_event;
use super::outbox::record_event;
use super::{Lifecycle, checkout_view, provider_view, session_in};
use crate::db::payments::{
    HandOff, PaymentRow, advance_provider_state, get_payment_by_id, record_provider_answer,
};
use crate::db::sessions::get_session_by_id;
use crate::domain::card::Card;
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{Outcome, ProviderState};
use crate::providers::{NeedsBuyer, StartOutcome, StartRequest, idempotency_key};

/// The key of `provider_data` that holds the provider's page of a redirected payment.
const REDIRECT_URL: &str = "redirect_url";

/// The provider's page a redirected payment's buyer pays on, from its `provider_data`.
pub fn redirect_url(provider_data: &str) -> Option<String> {
    let data: serde_json::Value = serde_json::from_str(provider_data).ok()?;
    data.get(REDIRECT_URL)?.as_str().map(str::to_owned)
}

/// The answer to a hand-off.
#[derive(Debug, PartialEq, Eq)]
pub enum HandedOff {
    /// The provider has it (and may already have answered).
    Accepted,
    /// The provider asks the buyer to confirm.
    Challenge,
    /// The buyer pays on the provider's own page, at this address.
    Redirect(String),
    /// Someone else handed it off first, or it is over: show the current state.
    AlreadyDone,
}

/// Gives the payment to its provider: claimed first (so twenty concurrent submits call the
/// provider once), then the provider is called outside any transaction with the payment's
/// idempotency key, then its answer and the `payment.provider_pending` event are written
/// together. Should anything stop it after the claim, reconciliation drives it again.
#[tracing::instrument(skip_all, fields(payment.id = %payment.id, session.id = %payment.session_id))]
pub async fn hand_off(
    lc: Lifecycle<'_>,
    payment: &PaymentRow,
    card: Option<&Card>,
) -> anyhow::Result<HandedOff> {
    let now = now_ms();
    let deadline = lc.provider_deadline(lc.route_of(payment), now);
    if !claim_hand_off(lc, payment, card, deadline, now).await? {
        return Ok(HandedOff::AlreadyDone);
    }
    Ok(drive_hand_off(lc, payment, card, deadline, false)
        .await?
        .unwrap_or(HandedOff::AlreadyDone))
}

/// Gives a payment created claimed ([`start_payment`](super::start::start_payment) of a wallet or bank transfer) to its
/// provider.
#[tracing::instrument(skip_all, fields(payment.id = %payment.id, session.id = %payment.session_id))]
pub async fn hand_off_started(
    lc: Lifecycle<'_>,
    payment: &PaymentRow,
) -> anyhow::Result<HandedOff> {
    let deadline = payment
        .provider_deadline
        .context("a payment started for its provider has a deadline")?;
    Ok(drive_hand_off(lc, payment, None, deadline, false)
        .await?
        .unwrap_or(HandedOff::AlreadyDone))
}

/// The first half of a hand-off: `awaiting_buyer` → `in_flight`, the card's brand and last
/// four kept; `false` when another request claimed it first. Unless the provider's answer is
/// recorded meanwhile, reconciliation drives the hand-off again `handoff_redrive_after_seconds`
/// later, with the same idempotency key.
pub async fn claim_hand_off(
    lc: Lifecycle<'_>,
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
        next_poll_at: Some(lc.redrive_at(deadline, now)),
    };
    advance_provider_state(
        &lc.db.write,
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
#[tracing::instrument(skip_all, fields(payment.id = %payment.id, provider = %payment.provider, again))]
pub async fn drive_hand_off(
    lc: Lifecycle<'_>,
    payment: &PaymentRow,
    card: Option<&Card>,
    deadline: i64,
    again: bool,
) -> anyhow::Result<Option<HandedOff>> {
    let provider = lc
        .providers
        .get(&payment.provider)
        .with_context(|| format!("provider {} is not configured", payment.provider))?
        .clone();
    let key = idempotency_key(&payment.id);
    let view = provider_view(payment);
    let session = get_session_by_id(&lc.db.write, &payment.session_id)
        .await?
        .context("a payment's session is missing")?;
    let checkout = checkout_view(lc.public_url, &session);
    let request = StartRequest {
        payment: &view,
        card,
        idempotency_key: &key,
        checkout: &checkout,
    };
    let outcome = match provider.start(request).await {
        Ok(outcome) => outcome,
        Err(e) if e.downcast_ref::<NeedsBuyer>().is_some() => {
            tracing::warn!(payment.id = %payment.id, "the hand-off never reached the provider; the buyer must start again");
            let failed = Outcome::failed(
                "handoff_interrupted",
                "The payment never reached the provider; no money was taken.",
            );
            apply_outcome(lc, &payment.id, &failed).await?;
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
            apply_outcome(lc, &payment.id, &failed).await?;
            return Ok(Some(HandedOff::Accepted));
        }
    };
    let now = now_ms();
    // Whether the provider has something pending now (`payment.provider_pending`), or waits
    // for the buyer to act on its instructions first.
    let (to_state, provider_ref, data, callbacks, poll_after, pending) = match outcome {
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
            true,
        ),
        StartOutcome::Waiting {
            provider_ref,
            provider_data,
            poll_after_ms,
        } => (
            ProviderState::InFlight,
            provider_ref,
            provider_data,
            Vec::new(),
            poll_after_ms,
            false,
        ),
        StartOutcome::Redirect {
            provider_ref,
            url,
            poll_after_ms,
        } => (
            ProviderState::Redirected,
            provider_ref,
            serde_json::json!({ REDIRECT_URL: url }),
            Vec::new(),
            poll_after_ms,
            false,
        ),
        StartOutcome::Challenge {
            provider_ref,
            provider_data,
        } => (
            ProviderState::Challenge,
            provider_ref,
            provider_data,
            Vec::new(),
            lc.settings.provider_timeout_seconds * 1000,
            true,
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
    let mut tx = lc.db.begin().await?;
    if !record_provider_answer(&mut *tx, &payment.id, &step, now).await? {
        tx.rollback()
            .await
            .context("rolling back a hand-off answered twice")?;
        return Ok(None);
    }
    if pending {
        let session = session_in(&mut tx, &payment.session_id).await?;
        let current = get_payment_by_id(&mut *tx, &payment.id)
            .await?
            .context("payment vanished")?;
        let route = lc.route_of(&current);
        let event = build_event(
            EventKind::ProviderPending,
            &session,
            Some(&current),
            route,
            now,
        );
        record_event(&mut tx, &event).await?;
    }
    lc.commit(tx, "committing a hand-off").await?;
    tracing::info!(payment.id = %payment.id, provider_state = %to_state, again, "handed off to the provider");
    for callback in callbacks {
        apply_signed_callback(lc, &payment.provider, &callback).await?;
    }
    Ok(Some(match to_state {
        ProviderState::Challenge => HandedOff::Challenge,
        ProviderState::Redirected => match redirect_url(&data) {
            Some(url) => HandedOff::Redirect(url),
            None => HandedOff::Accepted,
        },
        _ => HandedOff::Accepted,
    }))
}
