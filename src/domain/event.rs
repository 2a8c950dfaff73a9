//! The webhook events a session produces, and their payload (SPEC section 6).

use serde_json::json;

use super::EventId;
use super::fees::Fees;
use super::metadata::Metadata;
use super::money::cents_to_json;
use super::payment_route::PaymentRoute;
use super::time::iso_millis;

/// The events a session can produce, each at most once per payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// The provider accepted the hand-off.
    ProviderPending,
    /// The provider confirmed the payment: the one signal to fulfil an order.
    Paid,
    /// The payment failed.
    Failed,
    /// The session expired before a payment was made (extension; only to endpoints that ask).
    Expired,
    /// The merchant asked for a refund (only to endpoints that ask, as every refund event).
    RefundCreated,
    /// A refund's money went back to the buyer.
    RefundSucceeded,
    /// A refund failed; its amount can be refunded again.
    RefundFailed,
}

impl EventKind {
    /// Every event type, in the order the API lists them.
    pub const ALL: [EventKind; 7] = [
        EventKind::ProviderPending,
        EventKind::Paid,
        EventKind::Failed,
        EventKind::Expired,
        EventKind::RefundCreated,
        EventKind::RefundSucceeded,
        EventKind::RefundFailed,
    ];

    /// What an endpoint subscribes to when it names no events: the three payment outcomes.
    pub const DEFAULT_SUBSCRIPTION: [EventKind; 3] = [
        EventKind::ProviderPending,
        EventKind::Paid,
        EventKind::Failed,
    ];

    /// Whether it reports on a payment (`payment.…`), not a refund.
    pub fn is_payment(self) -> bool {
        !matches!(
            self,
            EventKind::RefundCreated | EventKind::RefundSucceeded | EventKind::RefundFailed
        )
    }

    /// The kind named `payment.paid`, …
    pub fn parse(type_name: &str) -> Option<EventKind> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.type_name() == type_name)
    }

    /// `payment.paid`, …: the `type` of the event.
    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::ProviderPending => "payment.provider_pending",
            EventKind::Paid => "payment.paid",
            EventKind::Failed => "payment.failed",
            EventKind::Expired => "payment.expired",
            EventKind::RefundCreated => "refund.created",
            EventKind::RefundSucceeded => "refund.succeeded",
            EventKind::RefundFailed => "refund.failed",
        }
    }

    /// Every type name, comma-separated, for messages.
    pub fn type_names() -> String {
        EventKind::ALL.map(EventKind::type_name).join(", ")
    }

    /// The `data.status` the event carries (a refund event: its refund's status).
    pub fn status(self) -> &'static str {
        match self {
            EventKind::ProviderPending => "pending",
            EventKind::Paid => "paid",
            EventKind::Failed | EventKind::RefundFailed => "failed",
            EventKind::Expired => "expired",
            EventKind::RefundCreated => "pending",
            EventKind::RefundSucceeded => "succeeded",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            EventKind::ProviderPending => "provider_pending",
            EventKind::Paid => "paid",
            EventKind::Failed | EventKind::RefundFailed => "failed",
            EventKind::Expired => "expired",
            EventKind::RefundCreated => "created",
            EventKind::RefundSucceeded => "succeeded",
        }
    }

    /// `evt_{refund id}_{created|succeeded|failed}`: a refund's event, one per step.
    pub fn refund_event_id(self, refund_id: &str) -> EventId {
        EventId::from_trusted(format!("evt_{refund_id}_{}", self.suffix()))
    }

    /// `evt_{session id}_{suffix}` for the session's first payment, and
    /// `evt_{session id}_{suffix}_{attempt}` for the payments a buyer makes after one failed
    /// (`evt_chk_…_failed_2`); `payment.expired` happens once per session. Stable, so a
    /// receiver can deduplicate on it.
    pub fn event_id(self, session_id: &str, attempt: i64) -> EventId {
        EventId::from_trusted(if attempt <= 1 || self == EventKind::Expired {
            format!("evt_{session_id}_{}", self.suffix())
        } else {
            format!("evt_{session_id}_{}_{attempt}", self.suffix())
        })
    }
}

/// Everything a payload is made of.
pub struct PayloadParts<'a> {
    /// Which event it is.
    pub kind: EventKind,
    /// The session it reports on.
    pub session_id: &'a str,
    /// The session's customer.
    pub customer_id: &'a str,
    /// Whether the session is in production.
    pub livemode: bool,
    /// The session's amount, in cents.
    pub amount_cents: i64,
    /// The session's currency (`USD`).
    pub currency: &'a str,
    /// The payment's route; `None` when no payment was made (an expiry).
    pub route: Option<&'a PaymentRoute>,
    /// The payment's fees; `None` when no payment was made.
    pub fees: Option<Fees>,
    /// The settlement transaction, for a payment on chain.
    pub tx_hash: Option<&'a str>,
    /// The merchant's metadata of the session, sent back as it was given.
    pub metadata: Metadata,
    /// The payment it reports on; `None` when there is none (an expiry).
    pub payment_id: Option<&'a str>,
    /// Which of the session's payments this is (1 for the first).
    pub attempt: i64,
    /// Why the payment failed (`card_declined`, …), for `payment.failed`.
    pub failure_code: Option<&'a str>,
    /// When the event happened (Unix milliseconds): its `created`.
    pub now_ms: i64,
}

/// The webhook body: `id`, `type`, `livemode`, `created`, `data{…}`.
pub fn payload(p: &PayloadParts<'_>) -> serde_json::Value {
    json!({
        "id": p.kind.event_id(p.session_id, p.attempt).as_str(),
        "type": p.kind.type_name(),
        "livemode": p.livemode,
        "created": iso_millis(p.now_ms),
        "data": {
            "session_id": p.session_id,
            "customer_id": p.customer_id,
            "status": p.kind.status(),
            "amount": cents_to_json(p.amount_cents),
            "currency": p.currency,
            "asset": p.route.map_or("USDC", PaymentRoute::asset),
            "network": p.route.map_or("Base", PaymentRoute::network),
            "route": p.route.map(|r| json!({
                "id": r.id, "kind": r.kind.as_str(), "label": r.label, "provider": r.provider,
            })),
            "fees": p.fees.map(Fees::to_json),
            "tx_hash": p.tx_hash,
            "metadata": p.metadata.to_json(),
            "payment_id": p.payment_id,
            "failure_code": p.failure_code,
        }
    })
}

/// Everything a refund event's payload is made of.
pub struct RefundPayloadParts<'a> {
    /// `refund.created`, `refund.succeeded` or `refund.failed`.
    pub kind: EventKind,
    /// `re_…`
    pub refund_id: &'a str,
    /// The refund's status after the step.
    pub status: &'a str,
    /// What goes back to the buyer, in cents.
    pub amount_cents: i64,
    /// The payment's currency.
    pub currency: &'a str,
    /// Why, as the merchant said.
    pub reason: Option<&'a str>,
    /// The merchant's note.
    pub note: Option<&'a str>,
    /// Why it failed, for `refund.failed`.
    pub failure_code: Option<&'a str>,
    /// The provider's id of the refund (the transaction, on chain).
    pub provider_reference: Option<&'a str>,
    /// For a refund on chain: what the merchant sends, from where to whom.
    pub transfer: Option<&'a crate::domain::onchain::RefundTransfer>,
    /// The refund's own metadata.
    pub refund_metadata: Metadata,
    /// The payment it gives back.
    pub payment_id: &'a str,
    /// What the payment's refunds that succeeded gave back, in cents, after the step.
    pub amount_refunded_cents: i64,
    /// The payment's ledger status after the step.
    pub ledger_status: &'a str,
    /// The payment's session.
    pub session_id: &'a str,
    /// The session's customer.
    pub customer_id: &'a str,
    /// The session's metadata, as the merchant gave it.
    pub metadata: Metadata,
    /// Whether it is in production.
    pub livemode: bool,
    /// When the step happened (Unix ms).
    pub now_ms: i64,
}

/// A refund event's body: `id`, `type`, `livemode`, `created`, `data{…}`.
pub fn refund_payload(p: &RefundPayloadParts<'_>) -> serde_json::Value {
    json!({
        "id": p.kind.refund_event_id(p.refund_id).as_str(),
        "type": p.kind.type_name(),
        "livemode": p.livemode,
        "created": iso_millis(p.now_ms),
        "data": {
            "refund_id": p.refund_id,
            "status": p.status,
            "amount": cents_to_json(p.amount_cents),
            "currency": p.currency,
            "reason": p.reason,
            "note": p.note,
            "failure_code": p.failure_code,
            "provider_reference": p.provider_reference,
            "transfer": p.transfer.map(|t| json!({
                "network": crate::domain::onchain::network_name(t.chain_id),
                "chain_id": t.chain_id,
                "token": t.token.checksummed(),
                "from": t.from.checksummed(),
                "to": t.to.checksummed(),
                "amount": t.amount(),
                "units": t.units.to_string(),
                "payment_uri": t.uri(),
            })),
            "refund_metadata": p.refund_metadata.to_json(),
            "payment_id": p.payment_id,
            "amount_refunded": cents_to_json(p.amount_refunded_cents),
            "ledger_status": p.ledger_status,
            "session_id": p.session_id,
            "customer_id": p.customer_id,
            "metadata": p.metadata.to_json(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_round_trip_and_ids_name_the_attempt() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.type_name()), Some(kind));
        }
        assert_eq!(EventKind::parse("payment.refunded"), None);
        assert_eq!(
            EventKind::RefundSucceeded
                .refund_event_id("re_1")
                .into_string(),
            "evt_re_1_succeeded"
        );
        let id = |kind: EventKind, attempt| kind.event_id("chk_1", attempt).into_string();
        assert_eq!(id(EventKind::Paid, 1), "evt_chk_1_paid");
        assert_eq!(id(EventKind::Failed, 2), "evt_chk_1_failed_2");
        assert_eq!(id(EventKind::Expired, 3), "evt_chk_1_expired");
    }
}
