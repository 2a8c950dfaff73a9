//! A buyer on a provider's own payment page (Stripe Checkout) comes back to ours: paid, in
//! which case the provider is asked at once rather than waiting for its webhook, or having
//! given up there to pay another way, in which case the provider's page is closed first so
//! the same checkout cannot be paid twice.

use std::future::Future;
use std::time::Duration;

use super::callbacks::{apply_outcome, apply_poll};
use super::{Lifecycle, provider_view};
use crate::db::payments::PaymentRow;
use crate::domain::{Outcome, ProviderState};
use crate::providers::PollResult;

/// How long the buyer waits for the provider's answer before our page shows what we know
/// (it follows the outcome by itself).
const ASK_TIMEOUT: Duration = Duration::from_secs(5);

/// The provider's answer to `asking`, or `None` (logged) when it failed or took too long.
async fn ask(
    what: &'static str,
    asking: impl Future<Output = anyhow::Result<PollResult>>,
) -> Option<PollResult> {
    match tokio::time::timeout(ASK_TIMEOUT, asking).await {
        Ok(Ok(result)) => Some(result),
        Ok(Err(e)) => {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                what,
                "the provider's answer failed"
            );
            None
        }
        Err(_) => {
            tracing::warn!(what, "the provider did not answer in time");
            None
        }
    }
}

/// The buyer came back from the provider's page: asks the provider where the payment stands
/// and applies it. Without an answer, the webhook or reconciliation settles it.
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
    if let Some(result) = ask("asking on the buyer's return", provider.poll(&view)).await {
        apply_poll(lc, payment, &result).await?;
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
    let view = provider_view(payment);
    let closed = match lc.providers.get(&payment.provider).cloned() {
        Some(provider) => ask("closing the provider's page", provider.cancel(&view)).await,
        None => None,
    };
    match closed {
        // Paid there after all (or a bank debit under way): it stands.
        Some(result @ (PollResult::Final(Outcome::Paid { .. }, _) | PollResult::Accepted)) => {
            apply_poll(lc, payment, &result).await?;
        }
        _ => {
            let changed = Outcome::failed(
                "buyer_changed_route",
                "The buyer left the provider's page to pay another way; nothing was taken.",
            );
            apply_outcome(lc, &payment.id, &changed).await?;
        }
    }
    Ok(())
}
