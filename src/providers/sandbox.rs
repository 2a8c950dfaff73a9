//! The sandbox provider: every path of every route, driven by deterministic inputs, with no
//! money moving. Its outcomes travel as signed callbacks through the same code that applies a
//! real provider's callbacks.
//!
//! Cards: 4242 4242 4242 4242 pays; 4000 0000 0000 0002 is declined; 4000 0000 0000 9995 has
//! insufficient funds; 4000 0027 6000 3184 asks for a challenge (approve or deny);
//! 4000 0000 0000 0077 stays pending at the provider, then pays after `delay`.
//! Wallet and bank transfer: the page offers buttons that simulate the transfer or its failure.
//!
//! Like a real provider it keeps books (a [`Ledger`]; the server keeps it in its own database,
//! standing for the provider's): each hand-off's decision under our idempotency key, so a
//! hand-off driven again gets the same answer and a poll learns every outcome it decided.

use anyhow::Context;
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{
    CallbackError, CallbackRequest, Instructions, NeedsBuyer, PollResult, Provider, ProviderEvent,
    ProviderPayment, RefundOutcome, RefundRequest, SignedCallback, StartOutcome, StartRequest,
    Update,
};
use crate::crypto::signature::{self, SignatureError};
use crate::domain::ids::random_token;
use crate::domain::sandbox::{LedgerEntry, SandboxDecision};
use crate::domain::time::now_ms;
use crate::domain::{Outcome, PaymentId, RouteKind};

/// Where the sandbox keeps its books: a real provider keeps them in its own storage.
pub trait Ledger: Send + Sync {
    /// The decision recorded under `key`, if any.
    fn find<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<LedgerEntry>>>;

    /// Records `entry` unless its key was recorded before, and returns the entry that stands:
    /// the first decision for a key wins, however many hand-offs race.
    fn record<'a>(&'a self, entry: &'a LedgerEntry) -> BoxFuture<'a, anyhow::Result<LedgerEntry>>;
}

/// The sandbox's provider id.
pub const ID: &str = crate::domain::payment_route::SANDBOX_INTEGRATION;
/// The id of the sandbox's hosted variant, whose card payments are paid on a page of its own.
pub const REDIRECT_ID: &str = crate::domain::payment_route::SANDBOX_REDIRECT_INTEGRATION;
/// The header that carries the signature of a sandbox callback.
pub const SIGNATURE_HEADER: &str = "x-sandbox-signature";

/// USDC's token contract on Base (chain 8453).
pub const USDC_BASE_CONTRACT: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
/// Base's chain id, for wallet payment URIs.
pub const BASE_CHAIN_ID: u32 = 8453;

/// The test cards, for the sandbox pages: (number, catalog key of what it does).
pub const TEST_CARDS: &[(&str, &str)] = &[
    ("4242 4242 4242 4242", "card.test_pays"),
    ("4000 0000 0000 0002", "card.test_declined"),
    ("4000 0000 0000 9995", "card.test_insufficient"),
    ("4000 0027 6000 3184", "card.test_challenge"),
    ("4000 0000 0000 0077", "card.test_delayed"),
];

/// What a buyer can make happen on a sandbox page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simulation {
    /// The buyer confirms a challenged card payment: it pays.
    ApproveChallenge,
    /// The buyer refuses the challenge: the payment fails.
    DenyChallenge,
    /// The buyer pays on the hosted variant's page.
    HostedPaid,
    /// The hosted variant's page declines the card.
    HostedDeclined,
    /// The wallet transfer arrives: the payment pays.
    TransferSucceeded,
    /// The wallet transfer fails.
    TransferFailed,
    /// The bank transfer arrives: the payment pays.
    BankConfirmed,
    /// The bank rejects the transfer: the payment fails.
    BankRejected,
}

impl Simulation {
    /// The simulation a page's button names (`approve`, `transfer_fail`, …), if any.
    pub fn parse(s: &str) -> Option<Simulation> {
        Some(match s {
            "approve" => Simulation::ApproveChallenge,
            "hosted_pay" => Simulation::HostedPaid,
            "hosted_decline" => Simulation::HostedDeclined,
            "deny" => Simulation::DenyChallenge,
            "transfer" => Simulation::TransferSucceeded,
            "transfer_fail" => Simulation::TransferFailed,
            "bank_confirm" => Simulation::BankConfirmed,
            "bank_reject" => Simulation::BankRejected,
            _ => return None,
        })
    }
}

/// The sandbox provider: decides by test card or by the buyer's button, keeps its books in a
/// [`Ledger`] and signs its callbacks with its own secret.
pub struct SandboxProvider {
    id: &'static str,
    ledger: Box<dyn Ledger>,
    secret: Vec<u8>,
    delay_ms: i64,
    poll_interval_ms: i64,
    settlement_address: String,
    /// The hosted variant's payment pages: `{base}/{payment id}`.
    hosted_pages: Option<String>,
}

/// The sandbox's callback, signed in `x-sandbox-signature`; also its OpenAPI schema.
#[derive(Serialize, Deserialize, utoipa::ToSchema)]
pub struct CallbackBody {
    /// The callback's own id; each is applied once.
    id: String,
    /// `pay_…`
    payment: String,
    /// `payment.succeeded` or `payment.failed`.
    #[serde(rename = "type")]
    kind: String,
    tx_hash: Option<String>,
    failure_code: Option<String>,
    failure_message: Option<String>,
}

impl SandboxProvider {
    /// A sandbox keeping its books in `ledger` and signing callbacks with `secret`. The delayed
    /// test card pays `delay_ms` after its hand-off; other accepted hand-offs ask to be polled
    /// `poll_interval_ms` later.
    pub fn new(
        ledger: Box<dyn Ledger>,
        secret: Vec<u8>,
        delay_ms: i64,
        poll_interval_ms: i64,
    ) -> SandboxProvider {
        SandboxProvider {
            id: ID,
            ledger,
            secret,
            delay_ms,
            poll_interval_ms,
            settlement_address: "0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c".into(),
            hosted_pages: None,
        }
    }

    /// The sandbox's hosted variant (`sandbox_redirect`): like a provider that hosts its own
    /// payment page, a card payment sends the buyer to a page of its own
    /// (`{public_url}/sandbox/pay/{payment id}`, served by us for it), where buttons pay,
    /// decline or go back; it keeps its books in `ledger` too.
    pub fn hosted(
        ledger: Box<dyn Ledger>,
        secret: Vec<u8>,
        poll_interval_ms: i64,
        public_url: &str,
    ) -> SandboxProvider {
        SandboxProvider {
            id: REDIRECT_ID,
            hosted_pages: Some(format!("{public_url}/sandbox/pay")),
            ..SandboxProvider::new(ledger, secret, 0, poll_interval_ms)
        }
    }

    /// A signed callback, as the sandbox "sends" it.
    pub fn callback(
        &self,
        payment_id: &PaymentId,
        outcome: &Outcome,
    ) -> anyhow::Result<SignedCallback> {
        let body = match outcome {
            Outcome::Paid { tx_hash } => CallbackBody {
                id: format!("cb_{}", random_token(20)?),
                payment: payment_id.to_string(),
                kind: "payment.succeeded".into(),
                tx_hash: tx_hash.clone(),
                failure_code: None,
                failure_message: None,
            },
            Outcome::Failed { code, message } => CallbackBody {
                id: format!("cb_{}", random_token(20)?),
                payment: payment_id.to_string(),
                kind: "payment.failed".into(),
                tx_hash: None,
                failure_code: Some(code.clone()),
                failure_message: Some(message.clone()),
            },
        };
        let body = serde_json::to_string(&body)?;
        let signature = signature::header(&[&self.secret], now_ms() / 1000, body.as_bytes());
        Ok(SignedCallback {
            body,
            header: SIGNATURE_HEADER,
            signature,
        })
    }

    /// The callback a sandbox button produces.
    pub fn simulate(
        &self,
        payment_id: &PaymentId,
        simulation: Simulation,
    ) -> anyhow::Result<SignedCallback> {
        let failed = |code: &str, message: &str| Outcome::Failed {
            code: code.into(),
            message: message.into(),
        };
        let outcome = match simulation {
            Simulation::ApproveChallenge
            | Simulation::TransferSucceeded
            | Simulation::BankConfirmed => Outcome::Paid {
                tx_hash: Some(fake_tx_hash()?),
            },
            Simulation::HostedPaid => Outcome::Paid { tx_hash: None },
            Simulation::HostedDeclined => failed("card_declined", "The card was declined."),
            Simulation::DenyChallenge => failed(
                "authentication_failed",
                "The card's confirmation step was not completed.",
            ),
            Simulation::TransferFailed => failed("transfer_failed", "The wallet transfer failed."),
            Simulation::BankRejected => failed("bank_rejected", "The bank rejected the transfer."),
        };
        self.callback(payment_id, &outcome)
    }

    fn wallet_instructions(&self, payment: &ProviderPayment) -> Instructions {
        // USDC has 6 decimals: one cent is 10^4 base units.
        let base_units = payment.total_cents * 10_000;
        Instructions {
            kind: RouteKind::Wallet,
            address: Some(self.settlement_address.clone()),
            asset_amount: Some(format!(
                "{}.{:02}",
                payment.total_cents / 100,
                payment.total_cents % 100
            )),
            network: Some("Base".into()),
            payment_uri: Some(format!(
                "ethereum:{USDC_BASE_CONTRACT}@{BASE_CHAIN_ID}/transfer?address={}&uint256={base_units}",
                self.settlement_address
            )),
            ..Instructions::new(RouteKind::Wallet)
        }
    }

    fn bank_instructions(payment: &ProviderPayment) -> Instructions {
        let tail: String = payment
            .id
            .as_str()
            .chars()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Instructions {
            kind: RouteKind::Local,
            reference: Some(format!("ORC-{}", tail.to_uppercase())),
            bank_name: Some("Sandbox Bank".into()),
            account_number: Some("000123456789".into()),
            routing_number: Some("110000000".into()),
            asset_amount: Some(format!(
                "{}.{:02}",
                payment.total_cents / 100,
                payment.total_cents % 100
            )),
            ..Instructions::new(RouteKind::Local)
        }
    }
}

fn fake_tx_hash() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random generator failed: {e}"))?;
    Ok(const_hex::encode_prefixed(bytes))
}

impl Provider for SandboxProvider {
    fn id(&self) -> &str {
        self.id
    }

    fn start<'a>(
        &'a self,
        request: StartRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<StartOutcome>> {
        Box::pin(async move {
            let entry = match self.ledger.find(request.idempotency_key).await? {
                Some(entry) => entry,
                None => self.ledger.record(&self.decide(&request)?).await?,
            };
            self.answer(request.payment, &entry)
        })
    }

    fn parse_callback(
        &self,
        request: CallbackRequest<'_>,
        now_ms: i64,
    ) -> Result<Option<ProviderEvent>, CallbackError> {
        let body = request.body;
        let signature_header = request.header(SIGNATURE_HEADER);
        signature::verify(&self.secret, signature_header, body, now_ms / 1000)
            .map_err(CallbackError::Signature)?;
        let parsed: CallbackBody =
            serde_json::from_slice(body).map_err(|e| CallbackError::Malformed(e.to_string()))?;
        let outcome = match parsed.kind.as_str() {
            "payment.succeeded" => Outcome::Paid {
                tx_hash: parsed.tx_hash,
            },
            "payment.failed" => Outcome::Failed {
                code: parsed
                    .failure_code
                    .unwrap_or_else(|| "provider_failed".into()),
                message: parsed
                    .failure_message
                    .unwrap_or_else(|| "The provider reported a failure.".into()),
            },
            other => {
                return Err(CallbackError::Malformed(format!(
                    "unknown callback type {other:?}"
                )));
            }
        };
        let payment_id = PaymentId::parse(&parsed.payment).ok_or_else(|| {
            CallbackError::Malformed(format!("{:?} is not a payment id", parsed.payment))
        })?;
        Ok(Some(ProviderEvent {
            callback_id: parsed.id,
            payment_id,
            update: Update::Final(outcome),
            charged: None,
        }))
    }

    fn refunds(&self) -> bool {
        true
    }

    fn refund<'a>(
        &'a self,
        request: RefundRequest<'a>,
    ) -> BoxFuture<'a, anyhow::Result<RefundOutcome>> {
        Box::pin(async move {
            let key = format!("{}_refund", request.refund_id);
            let entry = match self.ledger.find(&key).await? {
                Some(entry) => entry,
                None => {
                    self.ledger
                        .record(&self.decide_refund(&key, &request)?)
                        .await?
                }
            };
            Ok(self.refund_answer(&entry))
        })
    }

    fn poll<'a>(
        &'a self,
        payment: &'a ProviderPayment,
    ) -> BoxFuture<'a, anyhow::Result<PollResult>> {
        Box::pin(async move {
            let key = super::idempotency_key(&payment.id);
            let Some(entry) = self.ledger.find(&key).await? else {
                return Ok(PollResult::Unknown);
            };
            Ok(match entry.decision {
                SandboxDecision::Paid => PollResult::Final(
                    Outcome::Paid {
                        tx_hash: entry.tx_hash,
                    },
                    None,
                ),
                SandboxDecision::Failed => PollResult::Final(entry_failure(&entry), None),
                SandboxDecision::Delayed if entry.settle_at.is_some_and(|at| now_ms() >= at) => {
                    PollResult::Final(
                        Outcome::Paid {
                            tx_hash: entry.tx_hash,
                        },
                        None,
                    )
                }
                // A challenge, a transfer and a bank payment wait for the buyer's button.
                SandboxDecision::Delayed
                | SandboxDecision::Challenge
                | SandboxDecision::AwaitingTransfer => PollResult::Pending,
            })
        })
    }
}

fn entry_failure(entry: &LedgerEntry) -> Outcome {
    Outcome::Failed {
        code: entry
            .failure_code
            .clone()
            .unwrap_or_else(|| "provider_failed".into()),
        message: entry
            .failure_message
            .clone()
            .unwrap_or_else(|| "The provider reported a failure.".into()),
    }
}

/// A refund of this amount fails (`refund_declined`).
pub const REFUND_DECLINED_CENTS: i64 = 1_313;
/// A refund of this amount stays pending, then succeeds after the sandbox's delay.
pub const REFUND_DELAYED_CENTS: i64 = 777;

impl SandboxProvider {
    /// What the sandbox makes of a refund it has not seen: by its amount, declined
    /// ([`REFUND_DECLINED_CENTS`]), delayed ([`REFUND_DELAYED_CENTS`]), or given back at once.
    fn decide_refund(&self, key: &str, request: &RefundRequest<'_>) -> anyhow::Result<LedgerEntry> {
        let now = now_ms();
        let mut entry = LedgerEntry {
            idempotency_key: key.to_owned(),
            provider_ref: format!("sbx_re_{}", random_token(16)?),
            decision: SandboxDecision::Paid,
            tx_hash: None,
            failure_code: None,
            failure_message: None,
            settle_at: None,
            provider_data: "{}".into(),
            created_at: now,
        };
        match request.amount_cents {
            REFUND_DECLINED_CENTS => {
                entry.decision = SandboxDecision::Failed;
                entry.failure_code = Some("refund_declined".into());
                entry.failure_message =
                    Some("The sandbox declines refunds of 13.13 (its test amount).".into());
            }
            REFUND_DELAYED_CENTS => {
                entry.decision = SandboxDecision::Delayed;
                entry.settle_at = Some(now + self.delay_ms);
            }
            _ => {}
        }
        Ok(entry)
    }

    /// A refund's answer from what was decided; a delayed one succeeds once its time came.
    fn refund_answer(&self, entry: &LedgerEntry) -> RefundOutcome {
        let provider_ref = Some(entry.provider_ref.clone());
        match entry.decision {
            SandboxDecision::Failed => RefundOutcome::Failed {
                code: entry
                    .failure_code
                    .clone()
                    .unwrap_or_else(|| "refund_declined".into()),
                message: entry
                    .failure_message
                    .clone()
                    .unwrap_or_else(|| "The provider declined the refund.".into()),
            },
            SandboxDecision::Delayed => match entry.settle_at {
                Some(at) if now_ms() < at => RefundOutcome::Pending {
                    provider_ref,
                    poll_after_ms: at - now_ms(),
                },
                _ => RefundOutcome::Succeeded { provider_ref },
            },
            _ => RefundOutcome::Succeeded { provider_ref },
        }
    }

    /// What the sandbox makes of a hand-off it has not seen: the test card's outcome, or
    /// instructions for a transfer.
    fn decide(&self, request: &StartRequest<'_>) -> anyhow::Result<LedgerEntry> {
        let payment = request.payment;
        let mut entry = LedgerEntry {
            idempotency_key: request.idempotency_key.to_owned(),
            provider_ref: format!("sbx_{}", random_token(16)?),
            decision: SandboxDecision::AwaitingTransfer,
            tx_hash: None,
            failure_code: None,
            failure_message: None,
            settle_at: None,
            provider_data: "{}".into(),
            created_at: now_ms(),
        };
        let mut fail = |code: &str, message: &str| {
            entry.decision = SandboxDecision::Failed;
            entry.failure_code = Some(code.into());
            entry.failure_message = Some(message.into());
        };
        match payment.route_kind {
            // The hosted variant: the buyer decides on its page.
            RouteKind::Card if self.hosted_pages.is_some() => {}
            RouteKind::Card => {
                let card = request.card.ok_or(NeedsBuyer)?;
                match card.number() {
                    "4242424242424242" => {
                        entry.decision = SandboxDecision::Paid;
                        entry.tx_hash = Some(fake_tx_hash()?);
                    }
                    "4000000000000002" => fail("card_declined", "The card was declined."),
                    "4000000000009995" => {
                        fail("insufficient_funds", "The card has insufficient funds.")
                    }
                    "4000002760003184" => entry.decision = SandboxDecision::Challenge,
                    "4000000000000077" => {
                        let settle_at = now_ms() + self.delay_ms;
                        entry.decision = SandboxDecision::Delayed;
                        entry.settle_at = Some(settle_at);
                        entry.tx_hash = Some(fake_tx_hash()?);
                        entry.provider_data = json!({ "settle_at": settle_at }).to_string();
                    }
                    _ => fail("card_declined", "The sandbox only accepts its test cards."),
                }
            }
            RouteKind::Wallet => {
                entry.provider_data = serde_json::to_string(&self.wallet_instructions(payment))?
            }
            RouteKind::Local => {
                entry.provider_data = serde_json::to_string(&Self::bank_instructions(payment))?
            }
        }
        Ok(entry)
    }

    /// The hand-off's answer from what was decided; the same every time it is asked.
    fn answer(
        &self,
        payment: &ProviderPayment,
        entry: &LedgerEntry,
    ) -> anyhow::Result<StartOutcome> {
        let provider_ref = entry.provider_ref.clone();
        let provider_data: serde_json::Value = serde_json::from_str(&entry.provider_data)?;
        let immediate = |outcome: Outcome| -> anyhow::Result<StartOutcome> {
            Ok(StartOutcome::Accepted {
                provider_ref: provider_ref.clone(),
                provider_data: provider_data.clone(),
                callbacks: vec![self.callback(&payment.id, &outcome)?],
                poll_after_ms: self.poll_interval_ms,
            })
        };
        match entry.decision {
            SandboxDecision::Paid => immediate(Outcome::Paid {
                tx_hash: entry.tx_hash.clone(),
            }),
            SandboxDecision::Failed => immediate(entry_failure(entry)),
            SandboxDecision::Challenge => Ok(StartOutcome::Challenge {
                provider_ref,
                provider_data,
            }),
            SandboxDecision::Delayed => Ok(StartOutcome::Accepted {
                provider_ref,
                provider_data,
                callbacks: Vec::new(),
                poll_after_ms: (entry.settle_at.unwrap_or(0) - now_ms()).max(0),
            }),
            SandboxDecision::AwaitingTransfer if payment.route_kind == RouteKind::Card => {
                let base = self
                    .hosted_pages
                    .as_deref()
                    .context("a card payment awaits its buyer only on the hosted variant")?;
                Ok(StartOutcome::Redirect {
                    provider_ref,
                    url: format!("{base}/{}", payment.id),
                    poll_after_ms: self.poll_interval_ms,
                })
            }
            SandboxDecision::AwaitingTransfer => Ok(StartOutcome::Accepted {
                provider_ref,
                provider_data,
                callbacks: Vec::new(),
                poll_after_ms: self.poll_interval_ms,
            }),
        }
    }
}

impl From<SignatureError> for CallbackError {
    fn from(e: SignatureError) -> CallbackError {
        CallbackError::Signature(e)
    }
}
