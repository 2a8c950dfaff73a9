//! Reconciliation: what no callback settled is settled by asking. Hand-offs cut short before
//! the provider's answer was recorded are driven again; in-flight payments that are due are
//! polled; those past their deadline fail with `provider_timeout`.

use super::Lifecycle;
use super::callbacks::{apply_outcome, apply_poll};
use super::hand_off::drive_hand_off;
use super::provider_view;
use crate::db::payments::{claim_payments_to_poll, get_payment_by_id, reschedule_poll};
use crate::domain::time::now_ms;
use crate::domain::{Outcome, PaymentStatus, ProviderState};
use crate::providers::PollResult;

/// One reconciliation pass: drives again the hand-offs that were cut short before the
/// provider's answer was recorded, asks providers about in-flight payments that are due,
/// applies what they say, and fails those past their deadline with `provider_timeout`.
/// Returns how many payments it finished.
#[tracing::instrument(skip_all)]
pub async fn reconcile_once(lc: Lifecycle<'_>) -> anyhow::Result<usize> {
    let now = now_ms();
    let claimed = claim_payments_to_poll(&lc.db.write, now, 30_000, 50).await?;
    let mut finished = 0;
    for payment in claimed {
        let Some(provider) = lc.providers.get(&payment.provider).cloned() else {
            continue;
        };
        let deadline = payment.provider_deadline.unwrap_or(now);
        let result = if payment.provider_ref.is_none()
            && payment.provider_state == ProviderState::InFlight
        {
            // Claimed, but the provider's answer was never recorded.
            tracing::info!(payment.id = %payment.id, "driving a hand-off that was cut short again");
            if drive_hand_off(lc, &payment, None, deadline, true)
                .await?
                .is_some()
            {
                let now_final = get_payment_by_id(&lc.db.write, &payment.id)
                    .await?
                    .is_some_and(|p| p.status != PaymentStatus::Pending);
                finished += usize::from(now_final);
                continue;
            }
            Ok(PollResult::Pending)
        } else {
            provider.poll(&provider_view(&payment)).await
        };
        let timed_out = || {
            Outcome::failed(
                "provider_timeout",
                "The payment provider did not confirm the payment in time.",
            )
        };
        let finished_now = match result {
            Ok(result @ PollResult::Final(..)) => apply_poll(lc, &payment, &result).await?,
            Ok(PollResult::Accepted) => {
                apply_poll(lc, &payment, &PollResult::Accepted).await?;
                now >= deadline && apply_outcome(lc, &payment.id, &timed_out()).await?
            }
            Ok(PollResult::Pending | PollResult::Unknown) | Err(_) if now >= deadline => {
                apply_outcome(lc, &payment.id, &timed_out()).await?
            }
            Ok(PollResult::Pending | PollResult::Unknown) => false,
            Err(e) => {
                tracing::warn!(payment.id = %payment.id, error.cause = format!("{e:#}"), "polling the provider failed");
                false
            }
        };
        if finished_now {
            finished += 1;
        } else {
            // Still pending: asked again at the deadline at the latest (a payment the provider
            // reports with another amount stays pending past it, and is asked again).
            let next = now + lc.settings.reconcile_interval_seconds * 1000;
            let next = if now < deadline {
                next.min(deadline)
            } else {
                next
            };
            reschedule_poll(&lc.db.write, &payment.id, next).await?;
        }
    }
    Ok(finished)
}
