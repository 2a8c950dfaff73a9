//! The `onchain` provider: USDC (or another ERC-20 token) sent straight to the merchant, with
//! no third party and no private key on the server. A hand-off reserves what the payment waits
//! for (a unique amount to the route's settlement address) and answers with the instructions
//! the page shows; the chain scanner (`lifecycle::onchain`) finds the transfer, counts its
//! confirmations and settles the payment. A poll answers from what the scanner recorded.
//!
//! It keeps its records through a [`WatchBook`] port that `state` wires to `db::onchain`.

pub mod rpc;

use std::collections::HashMap;

use anyhow::Context;
use futures_util::future::BoxFuture;

use super::{
    CallbackError, CallbackRequest, Instructions, PollResult, Provider, ProviderEvent,
    ProviderPayment, StartOutcome, StartRequest,
};
use crate::domain::hd::ExtendedPublicKey;
use crate::domain::onchain::{
    Progress, RefundTransfer, TokenUnits, Transfer, Watch, max_tag, network_name, payer_of,
    payment_uri, unique_units, units_of_total,
};
use crate::domain::payment_route::{OnchainTarget, PayTo};
use crate::domain::time::now_ms;
use crate::domain::{Outcome, PaymentId, RefundId, RouteKind};

/// The provider's id, as routes' `integration` names it.
pub const ID: &str = crate::domain::payment_route::ONCHAIN_INTEGRATION;

/// How many unique amounts a hand-off tries before it gives up (each a random tag; all of
/// them taken means the address is crowded with payments of this same total).
const TAG_TRIES: usize = 24;

/// Where the provider keeps what payments wait for and what the chain sent.
pub trait WatchBook: Send + Sync {
    /// What `payment_id` waits for, if a hand-off reserved it.
    fn find<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, anyhow::Result<Option<Watch>>>;

    /// Reserves `watch`'s amount at its address; `false` when a payment still watched has it.
    fn reserve<'a>(&'a self, watch: &'a Watch) -> BoxFuture<'a, anyhow::Result<bool>>;

    /// Gives `watch`'s payment an address of `pool` again, one whose watch is over and that
    /// never received anything: the watch as reserved (its address and index from the pool),
    /// or `None` when no address is free.
    fn reuse<'a>(
        &'a self,
        watch: &'a Watch,
        pool: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Watch>>>;

    /// The next index of `pool` never given out.
    fn next_index<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, anyhow::Result<u32>>;

    /// The chain's head as the scanner of `chain_id` and `token` last saw it.
    fn head<'a>(&'a self, scanner: &'a str) -> BoxFuture<'a, anyhow::Result<Option<u64>>>;

    /// The transfers matched to `payment_id`.
    fn transfers<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Transfer>>>;
}

/// One `onchain` route, as the provider serves it.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    /// The route's checked settings.
    pub target: OnchainTarget,
    /// How long a payment is awaited before it fails with `provider_timeout`, in ms.
    pub window_ms: i64,
}

/// The `onchain` provider.
pub struct OnchainProvider {
    routes: HashMap<String, RouteTarget>,
    book: Box<dyn WatchBook>,
    /// How long after its window a payment's address and amount are still watched, in ms.
    late_horizon_ms: i64,
    poll_after_ms: i64,
}

/// The scanner that watches `chain_id` and `token`: `{chain}:{token}`.
pub fn scanner_key(target: &OnchainTarget) -> String {
    format!("{}:{}", target.chain_id, target.token.lower())
}

impl OnchainProvider {
    /// The provider of `routes` (by route id), keeping its records in `book`. Late transfers
    /// are matched for `late_horizon_ms` after a payment's window; payments are polled every
    /// `poll_after_ms`.
    pub fn new(
        routes: HashMap<String, RouteTarget>,
        book: Box<dyn WatchBook>,
        late_horizon_ms: i64,
        poll_after_ms: i64,
    ) -> OnchainProvider {
        OnchainProvider {
            routes,
            book,
            late_horizon_ms,
            poll_after_ms,
        }
    }

    /// The route a payment went through.
    fn route(&self, payment: &ProviderPayment) -> anyhow::Result<&RouteTarget> {
        self.routes
            .get(&payment.route_id)
            .with_context(|| format!("route {} is not an onchain route", payment.route_id))
    }

    /// Reserves what `payment` waits for: a unique amount at the settlement address, or an
    /// address of its own for the exact total.
    async fn reserve(
        &self,
        payment: &ProviderPayment,
        route: &RouteTarget,
    ) -> anyhow::Result<Watch> {
        let target = &route.target;
        let now = now_ms();
        let from_block = self.book.head(&scanner_key(target)).await?.unwrap_or(0);
        let watch = |address| Watch {
            payment_id: payment.id.clone(),
            chain_id: target.chain_id,
            token: target.token,
            address,
            units: TokenUnits::ZERO,
            exact: true,
            confirmations: target.confirmations,
            from_block,
            watch_until: now + route.window_ms + self.late_horizon_ms,
            derived: None,
        };
        match &target.pay_to {
            PayTo::UniqueAmount(address) => {
                self.reserve_unique_amount(watch(*address), payment.total_cents, target.decimals)
                    .await
            }
            PayTo::Xpub(key) => {
                let units = units_of_total(payment.total_cents, target.decimals)
                    .context("the payment's total in the token's units")?;
                let watch = Watch {
                    units,
                    exact: false,
                    ..watch(key.address())
                };
                self.reserve_derived(watch, key).await
            }
        }
    }

    /// Reserves `watch` at its address with an amount no other watched payment there has:
    /// `total_cents` and a random tag below the cent.
    async fn reserve_unique_amount(
        &self,
        mut watch: Watch,
        total_cents: i64,
        decimals: u8,
    ) -> anyhow::Result<Watch> {
        let tags = max_tag(decimals);
        for _ in 0..TAG_TRIES {
            let tag = random_below(tags)? + 1;
            watch.units = unique_units(total_cents, decimals, tag)
                .context("a unique amount for this total")?;
            if self.book.reserve(&watch).await? {
                return Ok(watch);
            }
        }
        anyhow::bail!(
            "no unique amount of this total is free at the settlement address: {TAG_TRIES} tries were taken"
        )
    }

    /// Reserves `watch` at an address derived from `key`: an unused one given again when
    /// there is one (so the addresses a wallet must look through stay few), else the next.
    async fn reserve_derived(
        &self,
        mut watch: Watch,
        key: &ExtendedPublicKey,
    ) -> anyhow::Result<Watch> {
        let pool = pool_of(key);
        if let Some(reused) = self.book.reuse(&watch, &pool).await? {
            return Ok(reused);
        }
        for _ in 0..TAG_TRIES {
            let index = self.book.next_index(&pool).await?;
            // BIP32: an index without a valid key is skipped (about once in 2^127).
            let Some(address) = key.receiving_address(index) else {
                continue;
            };
            watch.address = address;
            watch.derived = Some((pool.clone(), index));
            if self.book.reserve(&watch).await? {
                return Ok(watch);
            }
        }
        anyhow::bail!("no address of the extended public key could be reserved")
    }

    /// What the page shows the buyer for `watch`.
    fn instructions(&self, watch: &Watch, route: &RouteTarget) -> Instructions {
        let target = &route.target;
        Instructions {
            address: Some(watch.address.checksummed()),
            asset_amount: Some(watch.units.in_tokens(target.decimals)),
            network: Some(network_name(target.chain_id)),
            payment_uri: Some(payment_uri(
                target.token,
                target.chain_id,
                watch.address,
                watch.units,
            )),
            chain_id: Some(target.chain_id),
            token: Some(target.token.checksummed()),
            units: Some(watch.units.to_string()),
            exact: watch.exact,
            ..Instructions::new(RouteKind::Wallet)
        }
    }
}

/// The pool of addresses derived from `key`: named by the key's own address, so that every
/// route with the same key, on any chain, counts one sequence of indexes.
pub fn pool_of(key: &ExtendedPublicKey) -> String {
    format!("xpub:{}", key.address().lower())
}

/// A random number below `n` (n ≥ 1).
fn random_below(n: u64) -> anyhow::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(u64::from_le_bytes(bytes) % n.max(1))
}

impl Provider for OnchainProvider {
    fn id(&self) -> &str {
        ID
    }

    fn start<'a>(
        &'a self,
        request: StartRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<StartOutcome>> {
        Box::pin(async move {
            let payment = request.payment;
            let route = self.route(payment)?;
            let watch = match self.book.find(&payment.id).await? {
                Some(watch) => watch,
                None => self.reserve(payment, route).await?,
            };
            let instructions = self.instructions(&watch, route);
            Ok(StartOutcome::Waiting {
                provider_ref: format!(
                    "{}:{}:{}",
                    watch.chain_id,
                    watch.address.lower(),
                    watch.units
                ),
                provider_data: serde_json::to_value(instructions)?,
                poll_after_ms: self.poll_after_ms,
            })
        })
    }

    fn parse_callback(
        &self,
        _request: CallbackRequest<'_>,
        _now_ms: i64,
    ) -> Result<Option<ProviderEvent>, CallbackError> {
        Err(CallbackError::Malformed(
            "the onchain provider takes no callbacks: it watches the chain".into(),
        ))
    }

    fn poll<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let Some(watch) = self.book.find(&payment.id).await? else {
                return Ok(PollResult::Unknown);
            };
            let transfers = self.book.transfers(&payment.id).await?;
            let progress = Progress::of(watch.units, &transfers);
            Ok(match progress.paid_by {
                Some(tx_hash) => PollResult::Final(
                    Outcome::Paid {
                        tx_hash: Some(tx_hash),
                    },
                    None,
                ),
                None => PollResult::Pending,
            })
        })
    }

    fn refunds(&self) -> bool {
        true
    }

    /// The merchant sends the refund from the address that received the payment to the
    /// address that sent it (the transfer that completed the payment), exactly the amount.
    fn refund_by_merchant<'a>(
        &'a self,
        payment: &'a ProviderPayment,
        refund_id: &'a RefundId,
        amount_cents: i64,
    ) -> BoxFuture<'a, anyhow::Result<Option<RefundTransfer>>> {
        Box::pin(async move {
            let route = self.route(payment)?;
            let target = &route.target;
            let transfers = self.book.transfers(&payment.id).await?;
            let (buyer, ours) = payer_of(&transfers, payment.tx_hash.as_deref())
                .context("the payment has no confirmed transfer on chain to give back")?;
            let units = units_of_total(amount_cents, target.decimals)
                .context("the refund's amount in the token's units")?;
            let from_block = self.book.head(&scanner_key(target)).await?.unwrap_or(0);
            Ok(Some(RefundTransfer {
                refund_id: refund_id.clone(),
                chain_id: target.chain_id,
                token: target.token,
                decimals: target.decimals,
                from: ours,
                to: buyer,
                units,
                confirmations: target.confirmations,
                from_block,
            }))
        })
    }
}
