//! Refunds: the merchant gives (part of) a paid payment back. A refund is decided by one
//! compare-and-set of what the payment's refunds take up of its product amount, in the
//! transaction that writes the refund and `refund.created`; the provider is asked outside any
//! transaction, with the refund's id as its idempotency key; its answer ends the refund
//! (`refund.succeeded` or `refund.failed`, with the payment's totals and ledger status), or
//! leaves it pending for reconciliation to ask again. A crash between the two is recovered
//! the same way: a new refund is due to be asked about `handoff_redrive_after_seconds` later.
//!
//! A provider that cannot send money (a payment on chain: the server holds no key) instead
//! says what the merchant must send; such a refund is `action_required` from the start, and
//! ends when the chain scanner sees that transfer or the merchant confirms it by hand
//! (`lifecycle::onchain_refunds`).

use anyhow::Context;

use super::events::build_refund_event;
use super::outbox::record_event;
use super::{Lifecycle, provider_view, session_in};
use crate::db::onchain::{insert_refund_transfer, refund_transfers};
use crate::db::payments::{PaymentRow, get_payment, get_payment_by_id};
use crate::db::refunds::{
    RefundEnd, RefundRow, claim_refunds_to_poll, finish_refund, get_refund_by_id,
    get_refund_by_key, insert_refund, note_refund_pending, reserve,
};
use crate::domain::event::EventKind;
use crate::domain::refund::{RefundReason, RefundStatus, ShareError, fingerprint, share};
use crate::domain::time::now_ms;
use crate::domain::{Environment, MerchantId, Metadata, PaymentStatus, RefundId};
use crate::providers::{RefundOutcome, RefundRequest};

/// What the merchant asks for.
#[derive(Debug, Clone)]
pub struct RefundAsk {
    /// What to give back, in cents; all that is left when `None`.
    pub amount_cents: Option<i64>,
    /// Why.
    pub reason: Option<RefundReason>,
    /// The merchant's note.
    pub note: Option<String>,
    /// Makes a retry return the first refund.
    pub idempotency_key: Option<String>,
    /// The merchant's metadata of the refund.
    pub metadata: Metadata,
    /// A digest of the request, to tell a retry from another request with the same key.
    pub request_hash: String,
}

impl RefundAsk {
    /// What the merchant asks for, with the digest that tells a retry from another request.
    pub fn new(
        amount_cents: Option<i64>,
        reason: Option<RefundReason>,
        note: Option<String>,
        idempotency_key: Option<String>,
        metadata: Metadata,
    ) -> RefundAsk {
        let request_hash = fingerprint(amount_cents, reason, note.as_deref(), &metadata);
        RefundAsk {
            amount_cents,
            reason,
            note,
            idempotency_key,
            metadata,
            request_hash,
        }
    }
}

/// The answer to a refund request.
#[derive(Debug)]
pub enum Refunding {
    /// A refund was made now (and its provider asked): as it stands.
    Created(Box<RefundRow>),
    /// The idempotency key's refund, asked for before with the same request.
    Replayed(Box<RefundRow>),
    /// The idempotency key was used before for another request.
    KeyReused {
        /// The key.
        key: String,
        /// The refund it made.
        refund: RefundId,
    },
    /// The merchant has no such payment.
    NoPayment,
    /// Only paid payments can be refunded.
    NotPaid(PaymentStatus),
    /// The payment's provider gives no refunds (yet).
    NotSupported(String),
    /// More was asked than is left.
    Exceeds {
        /// What is left to refund, in cents.
        left_cents: i64,
    },
    /// Everything was refunded already (or is being refunded).
    NothingLeft,
}

/// How many times a refund is tried when concurrent refunds took the amount it computed.
const RESERVE_TRIES: usize = 5;

/// Makes a refund of the merchant's payment `payment_ref` and asks its provider.
#[tracing::instrument(skip_all, fields(payment.id = %payment_ref))]
pub async fn create_refund(
    lc: Lifecycle<'_>,
    merchant_id: &MerchantId,
    environment: Environment,
    payment_ref: &str,
    ask: RefundAsk,
) -> anyhow::Result<Refunding> {
    if let Some(found) = replay(lc, merchant_id, environment, &ask).await? {
        return Ok(found);
    }
    let Some(mut payment) =
        get_payment(&lc.db.write, merchant_id, environment, payment_ref).await?
    else {
        return Ok(Refunding::NoPayment);
    };
    let Some(provider) = lc.providers.get(&payment.provider).cloned() else {
        return Ok(Refunding::NotSupported(payment.provider.clone()));
    };
    for _ in 0..RESERVE_TRIES {
        if payment.status != PaymentStatus::Paid {
            return Ok(Refunding::NotPaid(payment.status));
        }
        if !provider.refunds() {
            return Ok(Refunding::NotSupported(payment.provider.clone()));
        }
        let share = match share(
            ask.amount_cents,
            payment.amount_cents,
            payment.buyer_fee_cents,
            payment.refund_reserved_cents,
        ) {
            Ok(share) => share,
            Err(ShareError::NothingLeft) => return Ok(Refunding::NothingLeft),
            Err(ShareError::Exceeds { left_cents }) => {
                return Ok(Refunding::Exceeds { left_cents });
            }
        };
        let id = RefundId::generate();
        // A provider that cannot send money (on chain: no key here) says what the merchant
        // must send; the refund then waits for that transfer instead of asking the provider.
        let by_merchant = provider
            .refund_by_merchant(&provider_view(&payment), &id, share.amount_cents)
            .await?;
        let now = now_ms();
        let refund = RefundRow {
            id,
            merchant_id: payment.merchant_id.clone(),
            environment: payment.environment,
            payment_id: payment.id.clone(),
            session_id: payment.session_id.clone(),
            provider: payment.provider.clone(),
            amount_cents: share.amount_cents,
            covers_cents: share.covers_cents,
            currency: payment.currency.clone(),
            status: match by_merchant {
                Some(_) => RefundStatus::ActionRequired,
                None => RefundStatus::Pending,
            },
            reason: ask.reason,
            note: ask.note.clone(),
            metadata: ask.metadata.to_db(),
            idempotency_key: ask.idempotency_key.clone(),
            request_hash: Some(ask.request_hash.clone()),
            provider_ref: None,
            failure_code: None,
            failure_message: None,
            // Should the process die before the provider's answer is recorded, reconciliation
            // asks the provider (with the same refund id) this much later.
            next_poll_at: by_merchant
                .is_none()
                .then_some(now + lc.settings.handoff_redrive_after_seconds * 1000),
            created_at: now,
            updated_at: now,
        };
        let mut tx = lc.db.begin().await?;
        if !reserve(&mut *tx, &payment.id, share.covers_cents, now).await? {
            tx.rollback().await.context("rolling back a lost refund")?;
            payment = get_payment_by_id(&lc.db.write, &payment.id)
                .await?
                .context("a payment vanished")?;
            continue;
        }
        if !insert_refund(&mut *tx, &refund).await? {
            // Another request with the same idempotency key won.
            tx.rollback()
                .await
                .context("rolling back a duplicate refund")?;
            return replay(lc, merchant_id, environment, &ask)
                .await?
                .context("a refund's idempotency key conflicts with no refund");
        }
        if let Some(transfer) = &by_merchant {
            insert_refund_transfer(&mut *tx, transfer).await?;
        }
        let session = session_in(&mut tx, &payment.session_id).await?;
        let reserved = get_payment_by_id(&mut *tx, &payment.id)
            .await?
            .context("a payment vanished")?;
        let event = build_refund_event(
            EventKind::RefundCreated,
            &refund,
            &reserved,
            &session,
            by_merchant.as_ref(),
            now,
        );
        record_event(&mut tx, &event).await?;
        lc.commit(tx, "committing a refund").await?;
        tracing::info!(refund.id = %refund.id, amount_cents = refund.amount_cents, status = %refund.status, "refund created");
        if by_merchant.is_none() {
            ask_provider(lc, &refund, &reserved).await?;
        }
        let current = get_refund_by_id(&lc.db.write, &refund.id)
            .await?
            .context("a refund vanished")?;
        return Ok(Refunding::Created(Box::new(current)));
    }
    anyhow::bail!("the payment's refunds kept changing; try again")
}

/// The refund an idempotency key made before, if the request names one.
async fn replay(
    lc: Lifecycle<'_>,
    merchant_id: &MerchantId,
    environment: Environment,
    ask: &RefundAsk,
) -> anyhow::Result<Option<Refunding>> {
    let Some(key) = &ask.idempotency_key else {
        return Ok(None);
    };
    let Some(found) = get_refund_by_key(&lc.db.write, merchant_id, environment, key).await? else {
        return Ok(None);
    };
    Ok(Some(
        if found.request_hash.as_deref() == Some(ask.request_hash.as_str()) {
            Refunding::Replayed(Box::new(found))
        } else {
            Refunding::KeyReused {
                key: key.clone(),
                refund: found.id,
            }
        },
    ))
}

/// Asks the refund's provider (the first time, or again) and applies its answer. A provider
/// that cannot be reached leaves the refund pending, to be asked again.
async fn ask_provider(
    lc: Lifecycle<'_>,
    refund: &RefundRow,
    payment: &PaymentRow,
) -> anyhow::Result<()> {
    let Some(provider) = lc.providers.get(&refund.provider).cloned() else {
        return Ok(());
    };
    let view = provider_view(payment);
    let request = RefundRequest {
        payment: &view,
        refund_id: refund.id.as_str(),
        provider_ref: refund.provider_ref.as_deref(),
        amount_cents: refund.amount_cents,
    };
    let answer = if refund.provider_ref.is_some() {
        provider.poll_refund(request).await
    } else {
        provider.refund(request).await
    };
    match answer {
        Ok(outcome) => apply_refund_outcome(lc, &refund.id, &outcome).await,
        Err(e) => {
            tracing::warn!(refund.id = %refund.id, error.cause = format!("{e:#}"), "asking the provider about a refund failed; will ask again");
            let next = now_ms() + lc.settings.reconcile_interval_seconds * 1000;
            note_refund_pending(&lc.db.write, &refund.id, None, next, now_ms()).await
        }
    }
}

/// Applies a provider's answer about a refund: succeeded or failed (once, with its event and
/// the payment's totals), or still pending (asked again later).
pub async fn apply_refund_outcome(
    lc: Lifecycle<'_>,
    refund_id: &RefundId,
    outcome: &RefundOutcome,
) -> anyhow::Result<()> {
    let now = now_ms();
    let (end, kind) = match outcome {
        RefundOutcome::Pending {
            provider_ref,
            poll_after_ms,
        } => {
            let next = now + (*poll_after_ms).max(0);
            return note_refund_pending(
                &lc.db.write,
                refund_id,
                provider_ref.as_deref(),
                next,
                now,
            )
            .await;
        }
        RefundOutcome::Succeeded { provider_ref } => (
            RefundEnd::Succeeded {
                provider_ref: provider_ref.as_deref(),
            },
            EventKind::RefundSucceeded,
        ),
        RefundOutcome::Failed { code, message } => {
            (RefundEnd::Failed { code, message }, EventKind::RefundFailed)
        }
    };
    let mut tx = lc.db.begin().await?;
    let Some((refund, payment)) = finish_refund(&mut tx, refund_id, &end, now).await? else {
        return Ok(());
    };
    let session = session_in(&mut tx, &payment.session_id).await?;
    let transfer = refund_transfers(&mut *tx, &[&refund.id]).await?.pop();
    let event = build_refund_event(kind, &refund, &payment, &session, transfer.as_ref(), now);
    record_event(&mut tx, &event).await?;
    lc.commit(tx, "committing a refund's outcome").await?;
    tracing::info!(refund.id = %refund.id, status = %refund.status, payment.ledger_status = %payment.ledger_status, "refund finished");
    Ok(())
}

/// One pass over pending refunds that are due: their providers are asked again. Returns how
/// many were asked.
#[tracing::instrument(skip_all)]
pub async fn reconcile_refunds_once(lc: Lifecycle<'_>) -> anyhow::Result<usize> {
    let claimed = claim_refunds_to_poll(&lc.db.write, now_ms(), 30_000, 50).await?;
    let asked = claimed.len();
    for refund in claimed {
        let Some(payment) = get_payment_by_id(&lc.db.write, &refund.payment_id).await? else {
            continue;
        };
        ask_provider(lc, &refund, &payment).await?;
    }
    Ok(asked)
}
