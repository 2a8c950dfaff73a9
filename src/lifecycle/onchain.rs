//! Payments on chain: a scanner per chain and token reads new blocks' `Transfer` logs to our
//! addresses over plain JSON-RPC, records each log once, counts confirmations, notices
//! reorganisations, and settles the payments it watches.
//!
//! One step ([`scan_once`]), run by one instance at a time (a lease in the database):
//! 1. the head (`eth_blockNumber`), and the stored cursor's block hash checked against the
//!    chain: a different hash means a reorganisation, and the last
//!    [`MAX_CONFIRMATIONS`] blocks are scanned again;
//! 2. the next range of blocks (at most `max_block_range`): the hash of its last block, then
//!    its logs (`eth_getLogs` on the token's `Transfer` topic, recipients in batches), each
//!    checked against its transaction's receipt (a log the receipt does not hold fails the
//!    step); each log recorded once by (chain, transaction, log index), matched to the payment
//!    that waits for it, in the transaction that moves the cursor (only while the lease is
//!    held);
//! 3. every transfer not yet confirmed has its block checked against the chain: one no
//!    longer there is `removed` (the page goes back to waiting; after `paid` it is logged at
//!    error level and counted), one deep enough is `confirmed`;
//! 4. each watched payment with transfers is settled: `payment.provider_pending` (with the
//!    transaction) when its transfer is first seen, `payment.paid` once the confirmed
//!    transfers add up to the amount, late or not.
//!
//! Refunds on chain ride along: while refunds await their transfer, step 2 also reads the
//! logs from the addresses they are sent from to their buyers; a log of a refund's exact
//! amount is recorded for the oldest such refund, counted like any other, and the refund
//! succeeds (`refund.succeeded`) once its transfer is confirmed.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Context;

use super::callbacks::apply_outcome;
use super::events::build_event;
use super::outbox::record_event;
use super::refunds::apply_refund_outcome;
use super::{Lifecycle, session_in};
use crate::config::Settings;
use crate::db::onchain::{
    ScannerStep, active_watches, advance_scanner, awaiting_refunds, claim_scanner, open_transfers,
    record_transfer, refunds_to_settle, transfers_of, update_transfer, watches_to_settle,
};
use crate::db::payments::{get_payment_by_id, note_transfer_seen};
use crate::domain::event::EventKind;
use crate::domain::onchain::{
    ChainAddress, Progress, RefundTransfer, Transfer, TransferState, Watch,
};
use crate::domain::payment_route::{MAX_CONFIRMATIONS, PayTo};
use crate::domain::{Outcome, PaymentStatus, RefundId};
use crate::providers::RefundOutcome;
use crate::providers::onchain::rpc::{RpcClient, RpcError, TransferLog};
use crate::providers::onchain::scanner_key;

/// Recipients per `eth_getLogs` call (an OR-list in the filter's third topic).
const ADDRESS_BATCH: usize = 50;

/// How long an RPC call may take.
const RPC_TIMEOUT: Duration = Duration::from_secs(10);

/// One chain and token, watched for transfers to the addresses of the routes that use it.
#[derive(Debug, Clone)]
pub struct Scanner {
    /// `{chain}:{token}`, the scanner's row in the database.
    pub key: String,
    /// The chain.
    pub chain_id: u64,
    /// The token contract.
    pub token: ChainAddress,
    /// The chain's JSON-RPC endpoint.
    pub rpc: RpcClient,
    /// The most blocks one `eth_getLogs` call covers.
    pub max_block_range: u64,
    /// How often the chain is asked for new blocks.
    pub poll_interval: Duration,
    /// The routes' settlement addresses: watched always, so a transfer that matches no
    /// payment is still recorded.
    pub addresses: Vec<ChainAddress>,
    /// The confirmations a transfer that matches no payment needs (the routes' largest).
    pub confirmations: u64,
    /// The token's decimals, as configured.
    pub decimals: u8,
}

impl Scanner {
    /// How long an instance holds the lease past a step: long enough for a slow step, short
    /// enough that another instance takes over soon after the holder dies.
    pub fn lease(&self) -> Duration {
        (self.poll_interval * 5).max(Duration::from_secs(10))
    }
}

/// The scanners the configured `onchain` routes need, one per chain and token; the first
/// route of each gives its RPC endpoint.
pub fn scanners(settings: &Settings) -> anyhow::Result<Vec<Scanner>> {
    let mut by_key: BTreeMap<String, Scanner> = BTreeMap::new();
    for (route, target) in settings.onchain_routes()? {
        let key = scanner_key(&target);
        // A settlement address is watched always; derived addresses while their payments are.
        let fixed = match target.pay_to {
            PayTo::UniqueAmount(address) => Some(address),
            PayTo::Xpub(_) => None,
        };
        match by_key.get_mut(&key) {
            Some(scanner) => {
                if scanner.decimals != target.decimals {
                    anyhow::bail!(
                        "route {}: onchain.token_decimals {} differs from another route's {} for the same token",
                        route.id,
                        target.decimals,
                        scanner.decimals
                    );
                }
                scanner.addresses.extend(fixed);
                scanner.confirmations = scanner.confirmations.max(target.confirmations);
                scanner.max_block_range = scanner.max_block_range.min(target.max_block_range);
                scanner.poll_interval = scanner
                    .poll_interval
                    .min(Duration::from_millis(target.poll_interval_ms));
            }
            None => {
                let scanner = Scanner {
                    key: key.clone(),
                    chain_id: target.chain_id,
                    token: target.token,
                    rpc: RpcClient::new(target.rpc_url.expose(), RPC_TIMEOUT)?,
                    max_block_range: target.max_block_range,
                    poll_interval: Duration::from_millis(target.poll_interval_ms),
                    addresses: fixed.into_iter().collect(),
                    confirmations: target.confirmations,
                    decimals: target.decimals,
                };
                by_key.insert(key, scanner);
            }
        }
    }
    Ok(by_key.into_values().collect())
}

/// Asks the chain whether `scanner` is configured for it: the chain id and the token's
/// decimals must match (an error: payments would be watched on the wrong chain or read with
/// the wrong amounts). An endpoint that cannot be reached is only a warning: the scanner
/// keeps asking, and payments wait.
pub async fn check_chain(scanner: &Scanner) -> anyhow::Result<()> {
    let rpc = &scanner.rpc;
    let unreachable = |e: RpcError| {
        tracing::warn!(scanner = %scanner.key, error.cause = %e, "the chain's RPC endpoint did not answer; payments on it wait until it does");
        Ok(())
    };
    let chain_id = match rpc.chain_id().await {
        Ok(id) => id,
        Err(e) => return unreachable(e),
    };
    if chain_id != scanner.chain_id {
        anyhow::bail!(
            "onchain.rpc_url of chain {} answers for chain {chain_id}: point it at the configured chain",
            scanner.chain_id
        );
    }
    let decimals = match rpc.decimals(scanner.token).await {
        Ok(decimals) => decimals,
        Err(e) if e.is_transient() => return unreachable(e),
        Err(e) => anyhow::bail!(
            "onchain.token_address {} does not answer decimals() on chain {chain_id} ({e}): is it the token's contract on this chain?",
            scanner.token
        ),
    };
    if decimals != u64::from(scanner.decimals) {
        anyhow::bail!(
            "onchain.token_decimals is {} but the token {} on chain {chain_id} has {decimals}",
            scanner.decimals,
            scanner.token
        );
    }
    tracing::info!(scanner = %scanner.key, "chain checked");
    Ok(())
}

/// How long to wait before the next step after `failures` failed steps in a row: doubling from
/// the poll interval (twice that after a 429), at most a minute.
pub fn backoff(poll_interval: Duration, failures: u32, rate_limited: bool) -> Duration {
    let base = if rate_limited {
        poll_interval * 2
    } else {
        poll_interval
    };
    base.saturating_mul(1 << failures.saturating_sub(1).min(10))
        .min(Duration::from_secs(60))
}

/// What one step did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanReport {
    /// Whether this instance held the lease (otherwise it did nothing).
    pub leader: bool,
    /// The chain's head.
    pub head: u64,
    /// The last block scanned, after the step.
    pub scanned_to: u64,
    /// Whether the scan reached the head.
    pub caught_up: bool,
    /// Transfer logs found (new or seen again).
    pub found: usize,
    /// Reorganisations found.
    pub reorgs: u64,
    /// Payments it paid.
    pub paid: usize,
}

/// One step of `scanner` for the instance `owner` (see the module's documentation). RPC
/// failures come back as errors holding an [`RpcError`]; nothing is written then.
#[tracing::instrument(skip_all, fields(scanner = %scanner.key))]
pub async fn scan_once(
    lc: Lifecycle<'_>,
    scanner: &Scanner,
    owner: &str,
    now: i64,
) -> anyhow::Result<ScanReport> {
    let lease_until = now + scanner.lease().as_millis() as i64;
    let Some(row) = claim_scanner(lc.db, &scanner.key, owner, now, lease_until).await? else {
        return Ok(ScanReport::default());
    };
    let rpc = &scanner.rpc;
    let head = rpc.block_number().await?;
    let mut step = ScannerStep {
        head,
        ..ScannerStep::default()
    };
    // Where the last step stopped, and whether the chain still has that block.
    let mut rescan_from = None;
    let cursor = match &row.cursor {
        None => head.saturating_sub(scanner.max_block_range),
        Some((number, hash)) => match rpc.block_hash(*number).await? {
            Some(canonical) if canonical == *hash => *number,
            _ => {
                let back = number.saturating_sub(MAX_CONFIRMATIONS);
                tracing::warn!(
                    block = number,
                    rescan_from = back + 1,
                    "the chain reorganised under the last scanned block; scanning again"
                );
                step.reorgs += 1;
                rescan_from = Some(back + 1);
                back
            }
        },
    };
    let to = head.min(cursor + scanner.max_block_range);
    let mut report = ScanReport {
        leader: true,
        head,
        scanned_to: cursor,
        caught_up: to >= head,
        reorgs: step.reorgs,
        ..ScanReport::default()
    };
    let watches = active_watches(&lc.db.read, scanner.chain_id, scanner.token, now).await?;
    let awaiting = awaiting_refunds(&lc.db.read, scanner.chain_id, scanner.token).await?;
    let mut found = Vec::new();
    let mut refund_logs = Vec::new();
    if to > cursor {
        // The hash first: should the chain reorganise before the logs are read, the next
        // step finds this hash gone and scans these blocks again.
        let to_hash = rpc
            .block_hash(to)
            .await?
            .ok_or_else(|| RpcError::Malformed(format!("block {to} is missing")))?;
        let recipients: BTreeSet<ChainAddress> = scanner
            .addresses
            .iter()
            .copied()
            .chain(watches.iter().map(|w| w.address))
            .collect();
        let recipients: Vec<ChainAddress> = recipients.into_iter().collect();
        for batch in recipients.chunks(ADDRESS_BATCH) {
            found.extend(rpc.transfers(scanner.token, batch, cursor + 1, to).await?);
        }
        refund_logs = refund_transfers_in(scanner, &awaiting, &found, cursor + 1, to).await?;
        // Each log is checked against its receipt before it counts: an endpoint that gives a
        // log its chain does not hold fails the step, and nothing of it is written.
        for log in found.iter().chain(&refund_logs) {
            rpc.confirm(scanner.token, log).await?;
        }
        step.cursor = Some((to, to_hash));
        report.scanned_to = to;
    } else if rescan_from.is_some() {
        let hash = rpc.block_hash(cursor).await?;
        step.cursor = hash.map(|h| (cursor, h));
    }
    report.found = found.len() + refund_logs.len();

    // Transfers already recorded: still on the chain? Deep enough?
    let open = open_transfers(
        &lc.db.read,
        scanner.chain_id,
        scanner.token,
        rescan_from.map(|b| b.saturating_sub(1)),
    )
    .await?;
    let blocks: BTreeSet<u64> = open
        .iter()
        .map(|t| t.block_number)
        .filter(|&n| n <= report.scanned_to)
        .collect();
    let mut canonical: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for number in blocks {
        canonical.insert(number, rpc.block_hash(number).await?);
    }

    let mut tx = lc.db.begin().await?;
    for log in &found {
        let watch = watches
            .iter()
            .find(|w| w.matches(log.to, log.value, log.block_number));
        if watch.is_none() {
            tracing::warn!(tx_hash = %log.tx_hash, to = %log.to, units = %log.value, "a transfer to a settlement address matches no payment; recorded");
        }
        let confirmations = watch.map_or(scanner.confirmations, |w| w.confirmations);
        // Its block was read in this step: deep enough already, it is confirmed at once.
        let transfer = Transfer {
            payment_id: watch.map(|w| w.payment_id.clone()),
            ..log.recorded(scanner.chain_id, scanner.token, confirmations, head)
        };
        record_transfer(&mut *tx, &transfer, now).await?;
    }
    let mut claimed: BTreeSet<&RefundId> = BTreeSet::new();
    for log in &refund_logs {
        // The oldest refund this transfer is, that has no transfer on the chain yet.
        let Some((refund, _)) = awaiting.iter().find(|(r, matched)| {
            !matched
                && !claimed.contains(&r.refund_id)
                && r.matches(log.from, log.to, log.value, log.block_number)
        }) else {
            continue;
        };
        claimed.insert(&refund.refund_id);
        let transfer = Transfer {
            refund_id: Some(refund.refund_id.clone()),
            ..log.recorded(scanner.chain_id, scanner.token, refund.confirmations, head)
        };
        tracing::info!(refund.id = %refund.refund_id, tx_hash = %log.tx_hash, "a refund's transfer is on the chain");
        record_transfer(&mut *tx, &transfer, now).await?;
    }
    for t in &open {
        // A transfer found again in this step was recorded in its current block above.
        if found
            .iter()
            .chain(&refund_logs)
            .any(|l| l.tx_hash == t.tx_hash && l.log_index == t.log_index)
        {
            continue;
        }
        let Some(hash) = canonical.get(&t.block_number) else {
            continue;
        };
        let mut changed = t.clone();
        if hash.as_deref() != Some(t.block_hash.as_str()) {
            changed.state = TransferState::Removed;
            if t.state == TransferState::Confirmed {
                let paid = match &t.payment_id {
                    Some(id) => get_payment_by_id(&mut *tx, id)
                        .await?
                        .is_some_and(|p| p.status == PaymentStatus::Paid),
                    None => false,
                };
                if paid {
                    step.reorgs_after_paid += 1;
                    tracing::error!(tx_hash = %t.tx_hash, payment.id = ?t.payment_id, block = t.block_number, "a reorganisation removed the transfer of a paid payment");
                }
                if let Some(refund) = &t.refund_id {
                    tracing::error!(tx_hash = %t.tx_hash, refund.id = %refund, block = t.block_number, "a reorganisation removed the confirmed transfer of a refund");
                }
            }
            tracing::warn!(tx_hash = %t.tx_hash, payment.id = ?t.payment_id, block = t.block_number, "a transfer left the chain");
        } else if t.state == TransferState::Seen && t.depth(head) >= t.confirmations {
            changed.state = TransferState::Confirmed;
        }
        if changed.state != t.state {
            update_transfer(&mut *tx, &changed, now).await?;
        }
    }
    if !advance_scanner(&mut *tx, &scanner.key, owner, &step, now).await? {
        tx.rollback().await.context("rolling back a scan step")?;
        tracing::info!("the scanner's lease passed to another instance");
        return Ok(ScanReport::default());
    }
    tx.commit().await.context("committing a scan step")?;
    report.paid = settle(lc, scanner, now).await?;
    settle_refunds(lc, scanner).await?;
    Ok(report)
}

/// The transfers in blocks `from..=to` that may be refunds awaited on `scanner`'s chain: from
/// the address a refund is sent from to its buyer (those of `found`, transfers to our own
/// addresses, left out: they are recorded as such).
async fn refund_transfers_in(
    scanner: &Scanner,
    awaiting: &[(RefundTransfer, bool)],
    found: &[TransferLog],
    from: u64,
    to: u64,
) -> anyhow::Result<Vec<TransferLog>> {
    let open: Vec<&RefundTransfer> = awaiting
        .iter()
        .filter(|(_, matched)| !matched)
        .map(|(r, _)| r)
        .collect();
    if open.is_empty() {
        return Ok(Vec::new());
    }
    let senders: Vec<ChainAddress> = open
        .iter()
        .map(|r| r.from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let buyers: Vec<ChainAddress> = open
        .iter()
        .map(|r| r.to)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut logs = Vec::new();
    for batch in buyers.chunks(ADDRESS_BATCH) {
        logs.extend(
            scanner
                .rpc
                .transfers_between(scanner.token, &senders, batch, from, to)
                .await?,
        );
    }
    logs.retain(|l| {
        !found
            .iter()
            .any(|f| f.tx_hash == l.tx_hash && f.log_index == l.log_index)
    });
    Ok(logs)
}

/// Ends every refund of `scanner`'s chain whose transfer is now confirmed: `refund.succeeded`,
/// with the transaction as its reference.
async fn settle_refunds(lc: Lifecycle<'_>, scanner: &Scanner) -> anyhow::Result<()> {
    for (refund_id, tx_hash) in
        refunds_to_settle(&lc.db.write, scanner.chain_id, scanner.token).await?
    {
        let outcome = RefundOutcome::Succeeded {
            provider_ref: Some(tx_hash),
        };
        apply_refund_outcome(lc, &refund_id, &outcome).await?;
    }
    Ok(())
}

/// Settles every watched payment of `scanner` that has transfers and is not paid: tells the
/// merchant when its transfer is first seen, and pays it once its confirmed transfers add up.
/// Returns how many it paid.
async fn settle(lc: Lifecycle<'_>, scanner: &Scanner, now: i64) -> anyhow::Result<usize> {
    let watches = watches_to_settle(&lc.db.write, scanner.chain_id, scanner.token, now).await?;
    let mut paid = 0;
    for watch in watches {
        if settle_payment(lc, &watch).await? {
            paid += 1;
        }
    }
    Ok(paid)
}

/// Settles one watched payment; `true` when it paid it now.
async fn settle_payment(lc: Lifecycle<'_>, watch: &Watch) -> anyhow::Result<bool> {
    let transfers = transfers_of(&lc.db.write, &watch.payment_id).await?;
    let progress = Progress::of(watch.units, &transfers);
    let Some(payment) = get_payment_by_id(&lc.db.write, &watch.payment_id).await? else {
        return Ok(false);
    };
    if let Some((_, tx_hash)) = &progress.first_seen
        && payment.status == PaymentStatus::Pending
        && payment.tx_hash.as_deref() != Some(tx_hash.as_str())
    {
        seen(lc, &payment.id, tx_hash).await?;
    }
    let Some(tx_hash) = progress.paid_by.clone() else {
        return Ok(false);
    };
    let outcome = Outcome::Paid {
        tx_hash: Some(tx_hash.clone()),
    };
    let applied = apply_outcome(lc, &payment.id, &outcome).await?;
    if applied {
        let late = payment.status == PaymentStatus::Failed;
        let excess = progress.excess();
        tracing::info!(payment.id = %payment.id, tx_hash = %tx_hash, late, excess = %excess, "paid on chain");
    }
    Ok(applied)
}

/// The payment's transfer is on the chain: its transaction is noted, its window is extended
/// so that the confirmations can come, and the merchant is told (`payment.provider_pending`,
/// once per payment).
async fn seen(
    lc: Lifecycle<'_>,
    payment_id: &crate::domain::PaymentId,
    tx_hash: &str,
) -> anyhow::Result<()> {
    let now = crate::domain::time::now_ms();
    let mut tx = lc.db.begin().await?;
    let Some(payment) = get_payment_by_id(&mut *tx, payment_id).await? else {
        return Ok(());
    };
    let deadline = lc.provider_deadline(lc.route_of(&payment), now);
    if !note_transfer_seen(&mut *tx, payment_id, tx_hash, deadline).await? {
        return Ok(());
    }
    let current = get_payment_by_id(&mut *tx, payment_id)
        .await?
        .context("payment vanished")?;
    let session = session_in(&mut tx, &current.session_id).await?;
    let event = build_event(
        EventKind::ProviderPending,
        &session,
        Some(&current),
        lc.route_of(&current),
        now,
    );
    record_event(&mut tx, &event).await?;
    lc.commit(tx, "committing a transfer seen on chain").await?;
    tracing::info!(payment.id = %payment_id, tx_hash, "transfer seen on chain");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_back_off_doubling_to_a_minute() {
        let poll = Duration::from_secs(2);
        assert_eq!(backoff(poll, 1, false), Duration::from_secs(2));
        assert_eq!(backoff(poll, 3, false), Duration::from_secs(8));
        assert_eq!(backoff(poll, 1, true), Duration::from_secs(4));
        assert_eq!(backoff(poll, 5, true), Duration::from_secs(60));
        assert_eq!(backoff(poll, 40, false), Duration::from_secs(60));
    }
}
