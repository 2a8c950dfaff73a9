//! A buyer on a provider's own payment page (Stripe Checkout) comes back to ours: paid, in
//! which case the provider is asked at once rather than waiting for its webhook, or having
//! given up there to pay another way, in which case the provider's page is closed first so
//! the same checkout cannot be paid twice.

use std::time::Duration;

use super::callbacks::{apply_outcome, apply_poll};
use super::{Lifecycle, provider_view};
use crate::db::payments::PaymentRow;
use crate::domain::{Outcome, ProviderState};
use crate::providers::PollResult;

/// How long the buyer's return waits for the provider's answer before showing our waiting
/// page (which follows the outcome by itself).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The buyer came back from the provider's page: asks the provider where the payment stands
/// and applies it. Failures are logged; reconciliation and the webhook still settle it.
#[tracing::instrument(skip_all, fields(payment.id = %payment.id, provider = %payment.provider))]
pub async fn returned_from_provider(lc: Lifecycle<'_>, payment: &PaymentRow) -> anyhow::Result<()> {
    let at_provider = matches!(
        payment.provider_state,
        ProviderState::Redirected | ProviderState::InFlight
    );
    if !at_provider || payment.provider_ref.is_none() {
        return Ok(());
    }
    let Some(provider) = lc.providers.get(&payment.provider).cloned() else {
        return Ok(());
    };
    let view = provider_view(payment);
    match tokio::time::timeout(ASK_TIMEOUT, provider.poll(&view)).await {
        Ok(Ok(result)) => {
            apply_poll(lc, payment, &result).await?;
        }
        Ok(Err(e)) => {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "asking the provider on the buyer's return failed; the webhook or reconciliation will settle it"
            );
        }
        Err(_) => {
            tracing::warn!(
                "the provider did not answer in time on the buyer's return; the webhook or reconciliation will settle it"
            );
        }
    }
    Ok(())
}

/// The buyer left the provider's page unfinished and chose another route: the provider's page
/// is closed, and the payment fails as `buyer_changed_route` so the session takes another
/// attempt. Should the buyer have paid there meanwhile, that payment is applied instead. When
/// the provider cannot be reached the payment is failed all the same (the buyer is never stuck);
/// money it takes later is still honoured, as every late confirmation is.
#[tracing::instrument(skip_all, fields(payment.id = %payment.id, provider = %payment.provider))]
pub async fn leave_provider(lc: Lifecycle<'_>, payment: &PaymentRow) -> anyhow::Result<()> {
    let changed = Outcome::failed(
        "buyer_changed_route",
        "The buyer left the provider's page to pay another way; nothing was taken.",
    );
    let Some(provider) = lc.providers.get(&payment.provider).cloned() else {
        apply_outcome(lc, &payment.id, &changed).await?;
        return Ok(());
    };
    let view = provider_view(payment);
    match tokio::time::timeout(ASK_TIMEOUT, provider.cancel(&view)).await {
        Ok(Ok(result @ PollResult::Final(..))) => {
            apply_poll(lc, payment, &result).await?;
        }
        Ok(Ok(PollResult::Accepted)) => {
            // Paid there after all (a bank debit under way): it stands.
            apply_poll(lc, payment, &PollResult::Accepted).await?;
        }
        Ok(Ok(PollResult::Pending | PollResult::Unknown)) => {
            apply_outcome(lc, &payment.id, &changed).await?;
        }
        Ok(Err(e)) => {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "closing the provider's page failed; the payment is failed here all the same"
            );
            apply_outcome(lc, &payment.id, &changed).await?;
        }
        Err(_) => {
            tracing::warn!(
                "the provider did not answer in time when closing its page; the payment is failed here all the same"
            );
            apply_outcome(lc, &payment.id, &changed).await?;
        }
    }
    Ok(())
}
