//! The webhook payload of each event, built from the rows of the transaction that writes it.

use serde_json::json;

use crate::db::events::EventRow;
use crate::db::payments::PaymentRow;
use crate::db::sessions::SessionRow;
use crate::domain::fees::Fees;
use crate::domain::metadata::Metadata;
use crate::domain::money::cents_to_json;
use crate::domain::payment_route::PaymentRoute;
use crate::domain::time::iso_millis;

/// The events a session can produce, each at most once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    ProviderPending,
    Paid,
    Failed,
    Expired,
}

impl EventKind {
    pub fn parse(type_name: &str) -> Option<EventKind> {
        [
            EventKind::ProviderPending,
            EventKind::Paid,
            EventKind::Failed,
            EventKind::Expired,
        ]
        .into_iter()
        .find(|k| k.type_name() == type_name)
    }

    pub fn type_name(self) -> &'static str {
        match self {
            EventKind::ProviderPending => "payment.provider_pending",
            EventKind::Paid => "payment.paid",
            EventKind::Failed => "payment.failed",
            EventKind::Expired => "payment.expired",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            EventKind::ProviderPending => "provider_pending",
            EventKind::Paid => "paid",
            EventKind::Failed => "failed",
            EventKind::Expired => "expired",
        }
    }

    /// `evt_{session id}_{suffix}` for the session's first payment, and
    /// `evt_{session id}_{suffix}_{attempt}` for the payments a buyer makes after one failed
    /// (`evt_chk_…_failed_2`); `payment.expired` happens once per session. Stable, so a
    /// receiver can deduplicate on it.
    pub fn event_id(self, session_id: &str, attempt: i64) -> String {
        if attempt <= 1 || self == EventKind::Expired {
            format!("evt_{session_id}_{}", self.suffix())
        } else {
            format!("evt_{session_id}_{}_{attempt}", self.suffix())
        }
    }
}

/// The event row for `kind`, with the payload of SPEC section 6.
pub fn build_event(
    kind: EventKind,
    session: &SessionRow,
    payment: Option<&PaymentRow>,
    route: Option<&PaymentRoute>,
    status: &str,
    now_ms: i64,
) -> EventRow {
    let fees = payment.map(|p| Fees {
        buyer_fee: p.buyer_fee_cents,
        gateway_fee: p.gateway_fee_cents,
        merchant_net: p.merchant_net_cents,
        total: p.total_cents,
    });
    let payload = payload(&PayloadParts {
        kind,
        session_id: &session.id,
        customer_id: &session.customer_id,
        livemode: session.environment == "production",
        status,
        amount_cents: session.amount_cents,
        currency: &session.currency,
        route,
        fees,
        tx_hash: payment.and_then(|p| p.tx_hash.as_deref()),
        metadata: Metadata::from_db(&session.metadata),
        payment_id: payment.map(|p| p.id.as_str()),
        attempt: payment.map_or(1, |p| p.attempt),
        failure_code: payment.and_then(|p| p.failure_code.as_deref()),
        now_ms,
    });
    EventRow {
        id: kind.event_id(&session.id, payment.map_or(1, |p| p.attempt)),
        merchant_id: session.merchant_id.clone(),
        environment: session.environment.clone(),
        session_id: session.id.clone(),
        kind: kind.type_name().to_owned(),
        payload: payload.to_string(),
        created_at: now_ms,
    }
}

/// Everything a payload is made of.
pub struct PayloadParts<'a> {
    pub kind: EventKind,
    pub session_id: &'a str,
    pub customer_id: &'a str,
    pub livemode: bool,
    pub status: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub route: Option<&'a PaymentRoute>,
    pub fees: Option<Fees>,
    pub tx_hash: Option<&'a str>,
    pub metadata: Metadata,
    pub payment_id: Option<&'a str>,
    /// Which of the session's payments this is (1 for the first).
    pub attempt: i64,
    pub failure_code: Option<&'a str>,
    pub now_ms: i64,
}

/// The webhook body: `id`, `type`, `livemode`, `created`, `data{…}`.
pub fn payload(p: &PayloadParts<'_>) -> serde_json::Value {
    json!({
        "id": p.kind.event_id(p.session_id, p.attempt),
        "type": p.kind.type_name(),
        "livemode": p.livemode,
        "created": iso_millis(p.now_ms),
        "data": {
            "session_id": p.session_id,
            "customer_id": p.customer_id,
            "status": p.status,
            "amount": cents_to_json(p.amount_cents),
            "currency": p.currency,
            "asset": p.route.map_or("USDC", |r| r.asset.as_str()),
            "network": p.route.map_or("Base", |r| r.network.as_str()),
            "route": p.route.map(|r| json!({
                "id": r.id, "kind": r.kind, "label": r.label, "provider": r.provider,
            })),
            "fees": p.fees.map(Fees::to_json),
            "tx_hash": p.tx_hash,
            "metadata": p.metadata.to_json(),
            "payment_id": p.payment_id,
            "failure_code": p.failure_code,
        }
    })
}
