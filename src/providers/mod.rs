//! Payment providers, behind one trait: start a payment, verify and parse a callback, poll a
//! payment's state. Every outcome, sandbox or real, reaches sessions through
//! `lifecycle::receive_callback` (callbacks) or `lifecycle::apply_outcome` (reconciliation).
//!
//! Every hand-off carries an idempotency key derived from the payment: a provider given the
//! same key again answers as it did the first time, which is what lets reconciliation drive a
//! hand-off again when the process died (or the database failed) between claiming the payment
//! and recording the provider's answer.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod health;
pub mod onchain;
pub mod sandbox;
pub mod stripe;

use std::collections::HashMap;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use crate::domain::card::Card;
use crate::domain::{Outcome, PaymentId, RouteKind, SessionId};

/// What a provider is told about a payment (never our whole record of it).
#[derive(Debug, Clone)]
pub struct ProviderPayment {
    /// Our id of the payment; its idempotency key is derived from it.
    pub id: PaymentId,
    /// The checkout session it pays.
    pub session_id: SessionId,
    /// The route it went through (its settings are the provider's).
    pub route_id: String,
    /// How the buyer pays: a card, a wallet or a local transfer.
    pub route_kind: RouteKind,
    /// What the buyer pays, in cents: the amount and the buyer fee.
    pub total_cents: i64,
    /// The currency of `total_cents` (`USD`).
    pub currency: String,
    /// The provider's own id for it, once it answered the hand-off.
    pub provider_ref: Option<String>,
    /// The transaction that paid it, for a payment on chain.
    pub tx_hash: Option<String>,
    /// When the buyer started it (Unix milliseconds).
    pub created_at_ms: i64,
}

/// What the buyer handed over to start paying.
pub struct StartRequest<'a> {
    /// The payment to hand over.
    pub payment: &'a ProviderPayment,
    /// Present for card routes only; never stored. Absent when a hand-off is driven again.
    pub card: Option<&'a Card>,
    /// The same for every hand-off of one payment ([`idempotency_key`]).
    pub idempotency_key: &'a str,
    /// What a provider that hosts its own payment page shows the buyer, and where it sends
    /// them back. The same for every hand-off of one payment.
    pub checkout: &'a CheckoutView,
}

/// The checkout a payment belongs to, as a provider's hosted page needs it.
#[derive(Debug, Clone)]
pub struct CheckoutView {
    /// The buyer's e-mail address.
    pub customer_email: String,
    /// What the buyer pays for.
    pub product: String,
    /// The merchant's own reference, if given.
    pub client_reference_id: Option<String>,
    /// When our session stops taking payments (Unix milliseconds).
    pub expires_at_ms: i64,
    /// Where the provider sends the buyer once they paid (our waiting page).
    pub return_url: String,
    /// Where the provider sends a buyer who gave up there (our route chooser).
    pub cancel_url: String,
}

/// The idempotency key of a payment's hand-off.
pub fn idempotency_key(payment_id: &PaymentId) -> String {
    format!("{payment_id}_start")
}

/// A provider's answer to a hand-off driven again without what only the buyer can give (the
/// card): it never saw the first one, so the payment cannot go on without the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NeedsBuyer;

impl std::fmt::Display for NeedsBuyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the provider never received this payment and needs the buyer's details")
    }
}

impl std::error::Error for NeedsBuyer {}

/// A callback as it arrived over HTTP: its headers (names in lower case) and its raw body.
#[derive(Debug, Clone, Copy)]
pub struct CallbackRequest<'a> {
    /// Every header, names in lower case.
    pub headers: &'a [(String, String)],
    /// The raw body.
    pub body: &'a [u8],
}

impl CallbackRequest<'_> {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A callback as the provider would send it over HTTP: the raw body and its signature header.
#[derive(Debug, Clone)]
pub struct SignedCallback {
    /// The raw JSON body.
    pub body: String,
    /// The name of the provider's signature header, lower case.
    pub header: &'static str,
    /// Its value for `body`.
    pub signature: String,
}

/// What the page shows the buyer while a wallet or bank transfer is awaited.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Instructions {
    /// A wallet transfer or a local one (a bank transfer).
    pub kind: RouteKind,
    /// The wallet address to send to.
    pub address: Option<String>,
    /// The amount to send, as decimal text (`119.72`): in USDC for a wallet, in dollars
    /// for a bank transfer.
    pub asset_amount: Option<String>,
    /// The network of the wallet transfer (`Base`).
    pub network: Option<String>,
    /// A URI a wallet can open (and the page shows as a QR code) to fill the transfer in.
    pub payment_uri: Option<String>,
    /// The chain of the wallet transfer, for a browser wallet's request.
    #[serde(default)]
    pub chain_id: Option<u64>,
    /// The token contract of the wallet transfer.
    #[serde(default)]
    pub token: Option<String>,
    /// The amount of the wallet transfer in the token's smallest units.
    #[serde(default)]
    pub units: Option<String>,
    /// Only this exact amount is matched to the payment (an amount unique to it at a shared
    /// address); otherwise every transfer to the address counts towards it.
    #[serde(default)]
    pub exact: bool,
    /// What the buyer must write on the bank transfer so it can be matched.
    pub reference: Option<String>,
    /// The receiving bank.
    pub bank_name: Option<String>,
    /// The receiving account's number.
    pub account_number: Option<String>,
    /// The receiving bank's routing number.
    pub routing_number: Option<String>,
}

impl Instructions {
    /// Instructions of `kind` with nothing filled in yet.
    pub fn new(kind: RouteKind) -> Instructions {
        Instructions {
            kind,
            address: None,
            asset_amount: None,
            network: None,
            payment_uri: None,
            chain_id: None,
            token: None,
            units: None,
            exact: false,
            reference: None,
            bank_name: None,
            account_number: None,
            routing_number: None,
        }
    }
}

/// The provider's answer to a hand-off.
#[derive(Debug)]
pub enum StartOutcome {
    /// The provider has the payment. It may already have sent callbacks, which the caller
    /// feeds through the callback path; otherwise it will call back or be polled.
    Accepted {
        /// The provider's id of the payment.
        provider_ref: String,
        /// What the page needs to show the buyer (e.g. transfer instructions).
        provider_data: serde_json::Value,
        /// Callbacks the provider produced at once (its decision, when it made one).
        callbacks: Vec<SignedCallback>,
        /// When to ask the provider next if no callback came.
        poll_after_ms: i64,
    },
    /// The provider showed the buyer what to do (e.g. which transfer to send) and waits for
    /// it: nothing is pending at the provider yet, so `payment.provider_pending` waits until
    /// the provider sees the buyer act.
    Waiting {
        /// The provider's id of the payment.
        provider_ref: String,
        /// What the page needs to show the buyer.
        provider_data: serde_json::Value,
        /// When to ask the provider next.
        poll_after_ms: i64,
    },
    /// The provider hosts the payment page: the buyer is sent there and comes back to our
    /// page when done. Nothing is pending until the provider accepts the payment.
    Redirect {
        /// The provider's id of the payment.
        provider_ref: String,
        /// Where to send the buyer.
        url: String,
        /// When to ask the provider next if no callback came.
        poll_after_ms: i64,
    },
    /// The provider needs the buyer to confirm (e.g. 3-D Secure) before it decides.
    Challenge {
        /// The provider's id of the payment.
        provider_ref: String,
        /// What the page needs to show the buyer for the confirmation.
        provider_data: serde_json::Value,
    },
}

/// What a provider says of a payment, in a callback or when polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The buyer finished at the provider, which accepted the payment and settles it later
    /// (a bank debit): `payment.provider_pending`.
    Accepted,
    /// The provider decided.
    Final(Outcome),
    /// About one of the payment's refunds.
    Refund {
        /// Our id of the refund.
        refund_id: crate::domain::RefundId,
        /// What the provider says of it.
        outcome: RefundOutcome,
    },
}

/// What a provider says the buyer paid, to be checked against what we asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charged {
    /// In the currency's smallest unit (cents).
    pub amount: i64,
    /// ISO code, lower or upper case.
    pub currency: String,
}

/// A verified callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEvent {
    /// The provider's id of this callback, for refusing replays.
    pub callback_id: String,
    /// The payment it is about.
    pub payment_id: PaymentId,
    /// What the provider says.
    pub update: Update,
    /// What the provider charged, when it says: a payment is marked paid only when this is
    /// what we asked.
    pub charged: Option<Charged>,
}

/// Why a callback was refused.
#[derive(Debug)]
pub enum CallbackError {
    /// The signature header is missing, malformed, stale or does not match the body.
    Signature(crate::crypto::signature::SignatureError),
    /// The body is not a callback this provider sends; the text says why.
    Malformed(String),
}

/// A provider's view of a payment, when polled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollResult {
    /// The provider has the payment and has not decided.
    Pending,
    /// The buyer finished at the provider's page; the provider settles later.
    Accepted,
    /// The provider decided; `charged` as in [`ProviderEvent`].
    Final(Outcome, Option<Charged>),
    /// The provider has no payment under this idempotency key: the hand-off never reached it.
    Unknown,
}

/// What a provider is asked to give back.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    /// The payment, as the provider was told of it.
    pub payment: &'a ProviderPayment,
    /// Our id of the refund: its idempotency key at the provider.
    pub refund_id: &'a str,
    /// The provider's id of the refund, once it answered.
    pub provider_ref: Option<&'a str>,
    /// What goes back to the buyer, in cents.
    pub amount_cents: i64,
}

/// A provider's answer about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    /// The money went back.
    Succeeded {
        /// The provider's id of the refund.
        provider_ref: Option<String>,
    },
    /// The provider took it and decides later (poll again).
    Pending {
        /// The provider's id of the refund.
        provider_ref: Option<String>,
        /// When to ask again.
        poll_after_ms: i64,
    },
    /// The provider refused it.
    Failed {
        /// Why, as a stable word (`refund_declined`, …).
        code: String,
        /// Why, in words.
        message: String,
    },
}

/// A payment provider: what the lifecycle needs of one.
pub trait Provider: Send + Sync {
    /// The provider's id, as in `/api/providers/{id}/callbacks` and the routes' `integration`.
    fn id(&self) -> &str;

    /// Hands the payment to the provider. Called outside any database transaction. With a key
    /// seen before, answers as the first time did; with an unseen key and no card for a card
    /// payment, fails with [`NeedsBuyer`].
    fn start<'a>(
        &'a self,
        request: StartRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<StartOutcome>>;

    /// Verifies a callback's signature and parses it; `None` for a genuine callback that is
    /// not about a payment (an event type we do not use, a payment that is not ours).
    fn parse_callback(
        &self,
        request: CallbackRequest<'_>,
        now_ms: i64,
    ) -> Result<Option<ProviderEvent>, CallbackError>;

    /// Whether a callback seen before is answered as received (a provider that retries
    /// anything else for days) rather than as a conflict.
    fn acknowledges_replays(&self) -> bool {
        false
    }

    /// Asks the provider where a payment stands (reconciliation).
    fn poll<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>>;

    /// Whether this provider can give money back; when not, a refund is refused before
    /// anything is reserved.
    fn refunds(&self) -> bool {
        false
    }

    /// When the merchant gives the money back themselves (the server holds no key to send
    /// it): what they must send to give back `amount_cents` of `payment`, for the refund
    /// `refund_id`. The refund then waits for that (`action_required`) instead of asking the
    /// provider. `None` for a provider that gives money back through [`Provider::refund`].
    fn refund_by_merchant<'a>(
        &'a self,
        payment: &'a ProviderPayment,
        refund_id: &'a crate::domain::RefundId,
        amount_cents: i64,
    ) -> BoxFuture<'a, anyhow::Result<Option<crate::domain::onchain::RefundTransfer>>> {
        let _ = (payment, refund_id, amount_cents);
        Box::pin(async { Ok(None) })
    }

    /// Gives (part of) a paid payment back. Called outside any transaction; the same
    /// `refund_id` again answers as the first time did.
    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        let _ = request;
        Box::pin(async { anyhow::bail!("this provider gives no refunds") })
    }

    /// Where a pending refund stands.
    fn poll_refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        self.refund(request)
    }

    /// Closes a payment the buyer abandoned on the provider's page (they chose another way
    /// to pay), so it can no longer be paid there; answers where it stands afterwards (a
    /// payment made meanwhile is `Final` paid). Providers without such a page keep the
    /// payment as it is (`Pending`).
    fn cancel<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        let _ = payment;
        Box::pin(async { Ok(PollResult::Pending) })
    }
}

/// The configured providers by id.
#[derive(Clone, Default)]
pub struct Providers {
    by_id: HashMap<String, Arc<dyn Provider>>,
    /// The sandbox provider again, as itself: its pages' buttons simulate outcomes through it.
    pub sandbox: Option<Arc<sandbox::SandboxProvider>>,
    /// The sandbox's hosted variant, as itself: the buttons of its page go through it.
    pub sandbox_redirect: Option<Arc<sandbox::SandboxProvider>>,
    /// The calls this instance made to the providers added with [`Providers::with`].
    pub health: Arc<health::ProviderHealth>,
}

impl Providers {
    /// The sandbox provider alone.
    pub fn with_sandbox(sandbox: sandbox::SandboxProvider) -> Providers {
        let sandbox = Arc::new(sandbox);
        let mut by_id: HashMap<String, Arc<dyn Provider>> = HashMap::new();
        by_id.insert(sandbox.id().to_owned(), sandbox.clone());
        Providers {
            by_id,
            sandbox: Some(sandbox),
            sandbox_redirect: None,
            health: Arc::default(),
        }
    }

    /// Adds the sandbox's hosted variant.
    pub fn with_sandbox_redirect(mut self, hosted: sandbox::SandboxProvider) -> Providers {
        let hosted = Arc::new(hosted);
        self.by_id.insert(hosted.id().to_owned(), hosted.clone());
        self.sandbox_redirect = Some(hosted);
        self
    }

    /// Adds `provider` under its id, its calls counted in [`Providers::health`].
    pub fn with(mut self, provider: Arc<dyn Provider>) -> Providers {
        let watched = health::Watched::new(provider.clone(), self.health.clone());
        self.by_id
            .insert(provider.id().to_owned(), Arc::new(watched));
        self
    }

    /// The provider with this id (a route's `integration`), if it is configured.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Provider>> {
        self.by_id.get(id)
    }
}
