//! The sandbox provider's books, as a real provider keeps its own: what it decided for each
//! hand-off, under our idempotency key.

use super::text_enum::text_enum;

text_enum! {
    /// What the sandbox made of a hand-off.
    SandboxDecision {
        /// The test card pays at once.
        Paid = "paid",
        /// The test card is refused.
        Failed = "failed",
        /// The test card asks the buyer to confirm first.
        Challenge = "challenge",
        /// The test card pays once `settle_at` has passed.
        Delayed = "delayed",
        /// A wallet or bank transfer: the buyer's button decides.
        AwaitingTransfer = "awaiting_transfer",
    }
}

/// What the sandbox decided for one hand-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The hand-off's idempotency key (`pay_…_start`): one entry per payment.
    pub idempotency_key: String,
    /// The sandbox's id of the payment (`sbx_…`).
    pub provider_ref: String,
    /// What it decided.
    pub decision: SandboxDecision,
    /// A made-up settlement transaction, for a payment that pays.
    pub tx_hash: Option<String>,
    /// Why the payment failed (`card_declined`, …), when it did.
    pub failure_code: Option<String>,
    /// The failure in words, when it failed.
    pub failure_message: Option<String>,
    /// When a `Delayed` payment settles (Unix ms).
    pub settle_at: Option<i64>,
    /// The provider's data for the payment (transfer instructions), JSON text.
    pub provider_data: String,
    /// When it was decided (Unix ms).
    pub created_at: i64,
}
