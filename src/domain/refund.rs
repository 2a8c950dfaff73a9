//! A refund's vocabulary: its status, its reason, and how much of a payment it gives back.
//!
//! The policy: a payment's product amount (`amount_cents`, before the buyer's fee) is what
//! refunds may cover, all of them together, pending and succeeded. A refund that asks for no
//! amount while nothing was refunded gives back everything the buyer paid (the amount and the
//! buyer's fee); a refund of an amount gives back that amount, and one that asks for no amount
//! after earlier refunds gives back what is left of the product amount.

use super::text_enum::text_enum;

text_enum! {
    /// Where a refund stands.
    RefundStatus {
        /// Asked of the provider, not decided yet.
        Pending = "pending",
        /// The money went back to the buyer.
        Succeeded = "succeeded",
        /// The provider refused it; the amount is refundable again.
        Failed = "failed",
        /// The merchant must send the money themselves (a payment on chain: the server holds
        /// no key); it succeeds once the transfer is seen.
        ActionRequired = "action_required",
    }
}

text_enum! {
    /// Why the merchant gives the money back.
    RefundReason {
        /// The buyer asked.
        RequestedByCustomer = "requested_by_customer",
        /// The buyer paid twice.
        Duplicate = "duplicate",
        /// The payment was fraudulent.
        Fraudulent = "fraudulent",
        /// Anything else (say it in `note`).
        Other = "other",
    }
}

/// A digest of what a refund request asks for: a retry with its idempotency key must ask for
/// exactly the same.
pub fn fingerprint(
    amount_cents: Option<i64>,
    reason: Option<RefundReason>,
    note: Option<&str>,
    metadata: &super::Metadata,
) -> String {
    use sha2::{Digest, Sha256};
    let canonical = serde_json::json!({
        "amount": amount_cents,
        "reason": reason.map(RefundReason::as_str),
        "note": note,
        "metadata": metadata.to_json(),
    });
    const_hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// How much a new refund gives back and how much of the product amount it takes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundShare {
    /// Given back to the buyer, in cents.
    pub amount_cents: i64,
    /// The part of the product amount it takes up, in cents.
    pub covers_cents: i64,
}

/// Why a refund cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShareError {
    /// Nothing is left to refund.
    NothingLeft,
    /// More was asked than is left (`left_cents`).
    Exceeds {
        /// What is left to refund, in cents.
        left_cents: i64,
    },
}

/// The share of a refund of `asked_cents` (all that is left when `None`) of a payment of
/// `amount_cents` plus `buyer_fee_cents`, of which `reserved_cents` is taken by earlier
/// refunds (pending or succeeded).
pub fn share(
    asked_cents: Option<i64>,
    amount_cents: i64,
    buyer_fee_cents: i64,
    reserved_cents: i64,
) -> Result<RefundShare, ShareError> {
    let left = amount_cents - reserved_cents;
    if left <= 0 {
        return Err(ShareError::NothingLeft);
    }
    match asked_cents {
        None if reserved_cents == 0 => Ok(RefundShare {
            amount_cents: amount_cents + buyer_fee_cents,
            covers_cents: amount_cents,
        }),
        None => Ok(RefundShare {
            amount_cents: left,
            covers_cents: left,
        }),
        Some(asked) if asked > left => Err(ShareError::Exceeds { left_cents: left }),
        Some(asked) => Ok(RefundShare {
            amount_cents: asked,
            covers_cents: asked,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_refund_gives_back_the_fee_and_a_partial_one_the_amount_asked() {
        let full = share(None, 11_600, 372, 0).unwrap();
        assert_eq!((full.amount_cents, full.covers_cents), (11_972, 11_600));
        let part = share(Some(1_000), 11_600, 372, 0).unwrap();
        assert_eq!((part.amount_cents, part.covers_cents), (1_000, 1_000));
        let rest = share(None, 11_600, 372, 1_000).unwrap();
        assert_eq!((rest.amount_cents, rest.covers_cents), (10_600, 10_600));
        assert_eq!(
            share(Some(10_601), 11_600, 372, 1_000),
            Err(ShareError::Exceeds { left_cents: 10_600 })
        );
        assert_eq!(
            share(None, 11_600, 372, 11_600),
            Err(ShareError::NothingLeft)
        );
        assert_eq!(
            share(Some(1), 11_600, 372, 11_600),
            Err(ShareError::NothingLeft)
        );
    }
}
