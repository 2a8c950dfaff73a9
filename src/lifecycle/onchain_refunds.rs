//! A refund on chain confirmed by hand: the merchant sent it (perhaps from another wallet than
//! the one the scanner watches) and names its transaction. The transaction is read from the
//! chain: mined, succeeded, holding a transfer of the refund's token and exact amount to the
//! buyer, and buried under the refund's confirmations. Then it is recorded as the refund's
//! transfer (one transfer gives back one refund, and never a payment) and the refund
//! succeeds, as when the scanner finds it.

use super::Lifecycle;
use super::onchain::scanners;
use super::refunds::apply_refund_outcome;
use crate::db::onchain::{
    assign_transfer_to_refund, get_transfer, record_transfer, refund_transfers,
};
use crate::db::refunds::{RefundRow, get_refund, get_refund_by_id};
use crate::domain::onchain::{RefundTransfer, Transfer};
use crate::domain::refund::RefundStatus;
use crate::domain::time::now_ms;
use crate::domain::{Environment, MerchantId};
use crate::providers::RefundOutcome;

/// The answer to a refund confirmed by hand.
#[derive(Debug)]
pub enum Confirming {
    /// The refund succeeded with this transaction (now, or before: a retry).
    Confirmed(Box<RefundRow>),
    /// The merchant has no such refund.
    NoRefund,
    /// The refund is not one the merchant sends on chain.
    NotOnchain,
    /// The refund awaits no transfer (it succeeded with another transaction, or failed).
    NotAwaiting(RefundStatus),
    /// The chain has no such transaction (not mined yet, or never sent).
    NotMined,
    /// The transaction failed on chain.
    Reverted,
    /// The transaction holds no transfer of the refund's amount to the buyer.
    NoMatch(Box<RefundTransfer>),
    /// The transfer is not buried deep enough yet.
    Unconfirmed {
        /// Blocks that hold it now.
        depth: u64,
        /// Blocks it needs.
        needed: u64,
    },
    /// The transfer pays a payment or gave back another refund.
    UsedElsewhere,
    /// The chain could not be asked; the text says why.
    ChainUnavailable(String),
}

/// Confirms the merchant's refund `refund_ref` with the transaction `tx_hash` (`0x` and 64
/// lower-case hex digits).
#[tracing::instrument(skip_all, fields(refund.id = %refund_ref, tx_hash = %tx_hash))]
pub async fn confirm_refund_transfer(
    lc: Lifecycle<'_>,
    merchant_id: &MerchantId,
    environment: Environment,
    refund_ref: &str,
    tx_hash: &str,
) -> anyhow::Result<Confirming> {
    let Some(refund) = get_refund(&lc.db.write, merchant_id, environment, refund_ref).await? else {
        return Ok(Confirming::NoRefund);
    };
    let Some(awaited) = refund_transfers(&lc.db.write, &[&refund.id]).await?.pop() else {
        return Ok(Confirming::NotOnchain);
    };
    match refund.status {
        RefundStatus::ActionRequired => {}
        RefundStatus::Succeeded if refund.provider_ref.as_deref() == Some(tx_hash) => {
            return Ok(Confirming::Confirmed(Box::new(refund)));
        }
        other => return Ok(Confirming::NotAwaiting(other)),
    }
    let Some(scanner) = scanners(lc.settings)?
        .into_iter()
        .find(|s| s.chain_id == awaited.chain_id && s.token == awaited.token)
    else {
        return Ok(Confirming::ChainUnavailable(format!(
            "no configured route watches chain {} any more",
            awaited.chain_id
        )));
    };
    let rpc = &scanner.rpc;
    let unavailable = |e: crate::providers::onchain::rpc::RpcError| {
        Ok(Confirming::ChainUnavailable(e.to_string()))
    };
    let receipt = match rpc.receipt(awaited.token, tx_hash).await {
        Ok(Some(receipt)) => receipt,
        Ok(None) => return Ok(Confirming::NotMined),
        Err(e) => return unavailable(e),
    };
    if !receipt.succeeded {
        return Ok(Confirming::Reverted);
    }
    let Some(log) = receipt
        .transfers
        .iter()
        .find(|l| l.to == awaited.to && l.value == awaited.units)
    else {
        return Ok(Confirming::NoMatch(Box::new(awaited)));
    };
    let head = match rpc.block_number().await {
        Ok(head) => head,
        Err(e) => return unavailable(e),
    };
    let depth = (head + 1).saturating_sub(receipt.block_number);
    if depth < awaited.confirmations {
        return Ok(Confirming::Unconfirmed {
            depth,
            needed: awaited.confirmations,
        });
    }
    let now = now_ms();
    let mut tx = lc.db.begin().await?;
    match get_transfer(&mut *tx, awaited.chain_id, tx_hash, log.log_index).await? {
        Some(known) => {
            if !assign_transfer_to_refund(&mut *tx, &known, &refund.id, now).await? {
                tx.rollback().await?;
                return Ok(Confirming::UsedElsewhere);
            }
        }
        None => {
            let transfer = Transfer {
                refund_id: Some(refund.id.clone()),
                ..log.recorded(awaited.chain_id, awaited.token, awaited.confirmations, head)
            };
            record_transfer(&mut *tx, &transfer, now).await?;
        }
    }
    tx.commit().await?;
    // Should this end not be written, the scanner ends the refund from the transfer above.
    let outcome = RefundOutcome::Succeeded {
        provider_ref: Some(tx_hash.to_owned()),
    };
    apply_refund_outcome(lc, &refund.id, &outcome).await?;
    let current = get_refund_by_id(&lc.db.write, &refund.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("a refund vanished"))?;
    tracing::info!(status = %current.status, "refund confirmed by hand");
    match current.status {
        RefundStatus::Succeeded if current.provider_ref.as_deref() == Some(tx_hash) => {
            Ok(Confirming::Confirmed(Box::new(current)))
        }
        other => Ok(Confirming::NotAwaiting(other)),
    }
}
