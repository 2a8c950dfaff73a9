//! A payment's vocabulary: its status, where it stands with its provider, its ledger status, its
//! invoice's status, and a provider's final word on it.

use super::text_enum::text_enum;

text_enum! {
    /// Where a payment stands for the merchant.
    PaymentStatus {
        /// Created, not decided yet.
        Pending = "pending",
        /// The provider confirmed it.
        Paid = "paid",
        /// The provider refused it, or nothing came in time.
        Failed = "failed",
    }
}

text_enum! {
    /// Whether the money of a payment is settled.
    LedgerStatus {
        /// Not settled: the payment is still open, or failed and never will be.
        Pending = "pending",
        /// The payment was confirmed and its money is settled.
        Settled = "settled",
        /// Settled, and part of it was given back by refunds that succeeded.
        PartiallyRefunded = "partially_refunded",
        /// Settled, and all of it was given back.
        Refunded = "refunded",
    }
}

text_enum! {
    /// Where a pending payment stands with its provider.
    ProviderState {
        /// Waiting for what only the buyer can give (a card's details).
        AwaitingBuyer = "awaiting_buyer",
        /// Handed to the provider (or claimed for the hand-off), which has not decided.
        InFlight = "in_flight",
        /// The provider asks the buyer to confirm (e.g. 3-D Secure).
        Challenge = "challenge",
        /// The buyer was sent to the provider's own payment page and has not finished there.
        Redirected = "redirected",
        /// Decided: the payment is paid or failed.
        Done = "done",
    }
}

impl ProviderState {
    /// Whether a provider has the payment (or is being handed it) and has not finished it.
    pub fn at_provider(self) -> bool {
        matches!(
            self,
            ProviderState::InFlight | ProviderState::Challenge | ProviderState::Redirected
        )
    }
}

text_enum! {
    /// The billing record's status, following its payment.
    InvoiceStatus {
        /// Issued, waiting for its payment.
        Open = "open",
        /// Its payment was confirmed.
        Paid = "paid",
        /// Its payment failed.
        Void = "void",
    }
}

/// A provider's final word on a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Paid; on chain, the settlement transaction.
    Paid {
        /// The settlement transaction's hash, for a payment on chain; `None` otherwise.
        tx_hash: Option<String>,
    },
    /// Failed, with a stable code (`card_declined`, …) and the provider's words.
    Failed {
        /// Why, as a stable word the API shows (`card_declined`, `provider_timeout`, …).
        code: String,
        /// The same for people: the provider's words, or ours for a time-out.
        message: String,
    },
}

impl Outcome {
    /// A failure with this code and message.
    pub fn failed(code: &str, message: &str) -> Outcome {
        Outcome::Failed {
            code: code.to_owned(),
            message: message.to_owned(),
        }
    }

    /// The payment status it leads to.
    pub fn status(&self) -> PaymentStatus {
        match self {
            Outcome::Paid { .. } => PaymentStatus::Paid,
            Outcome::Failed { .. } => PaymentStatus::Failed,
        }
    }
}
