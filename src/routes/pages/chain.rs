//! Where a payment on chain stands, as its page tells the buyer: waiting for the transfer,
//! seen in block N with k of n confirmations, received X of Y, or gone from the chain in a
//! reorganisation. Read from what the chain scanner recorded; its key joins the page's state
//! key, so a waiting page updates as the confirmations come in.

use crate::db::onchain::{get_scanner, get_watch, transfers_of};
use crate::db::payments::PaymentRow;
use crate::domain::onchain::{Progress, TokenUnits, TransferState};
use crate::domain::{PaymentStatus, ProviderState};
use crate::providers::onchain::ID as ONCHAIN_ID;
use crate::state::AppState;

/// What the chain says of a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Nothing has arrived.
    Waiting,
    /// The whole amount is on the chain: the latest transfer is in `block`, `depth` of the
    /// `needed` confirmations.
    Seen { block: u64, depth: u64, needed: u64 },
    /// Less than the amount arrived (in tokens, as the page writes them; the rest also in
    /// the token's units, for the wallet request of the rest).
    Short {
        received: String,
        expected: String,
        rest: String,
        rest_units: TokenUnits,
    },
    /// The transfer left the chain in a reorganisation and has not come back yet.
    Removed,
}

impl ChainStatus {
    /// A word for the page's state key: it changes whenever the page should.
    pub fn key(&self) -> String {
        match self {
            ChainStatus::Waiting => "chain-waiting".into(),
            ChainStatus::Seen { depth, .. } => format!("chain-seen-{depth}"),
            ChainStatus::Short { received, .. } => format!("chain-short-{received}"),
            ChainStatus::Removed => "chain-removed".into(),
        }
    }
}

/// Where `payment` stands on chain, when it is an `onchain` payment still awaited.
pub async fn chain_status(
    state: &AppState,
    payment: Option<&PaymentRow>,
) -> anyhow::Result<Option<ChainStatus>> {
    let Some(payment) = payment.filter(|p| {
        p.provider == ONCHAIN_ID
            && p.status == PaymentStatus::Pending
            && p.provider_state == ProviderState::InFlight
    }) else {
        return Ok(None);
    };
    let db = &state.db.read;
    let Some(watch) = get_watch(db, &payment.id).await? else {
        return Ok(None);
    };
    let transfers = transfers_of(db, &payment.id).await?;
    let progress = Progress::of(watch.units, &transfers);
    let decimals = state
        .scanners
        .iter()
        .find(|s| s.chain_id == watch.chain_id && s.token == watch.token)
        .map_or(6, |s| s.decimals);
    if progress.received == TokenUnits::ZERO {
        return Ok(Some(if progress.removed > 0 {
            ChainStatus::Removed
        } else {
            ChainStatus::Waiting
        }));
    }
    if progress.received < progress.expected {
        let rest = progress.expected.minus(progress.received);
        return Ok(Some(ChainStatus::Short {
            received: progress.received.in_tokens(decimals),
            expected: progress.expected.in_tokens(decimals),
            rest: rest.in_tokens(decimals),
            rest_units: rest,
        }));
    }
    let scanner = format!("{}:{}", watch.chain_id, watch.token.lower());
    let head = get_scanner(db, &scanner)
        .await?
        .and_then(|s| s.head)
        .unwrap_or(0);
    let latest = transfers
        .iter()
        .filter(|t| t.state != TransferState::Removed)
        .map(|t| t.block_number)
        .max()
        .unwrap_or(0);
    let needed = watch.confirmations;
    Ok(Some(ChainStatus::Seen {
        block: latest,
        depth: (head + 1).saturating_sub(latest).clamp(1, needed),
        needed,
    }))
}
