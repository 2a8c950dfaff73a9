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

    /// `evt_{session id}_{suffix}`: stable, so a receiver can deduplicate on it.
    pub fn event_id(self, session_id: &str) -> String {
        format!("evt_{session_id}_{}", self.suffix())
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
    let id = kind.event_id(&session.id);
    let fees = payment.map(|p| Fees {
        buyer_fee: p.buyer_fee_cents,
        gateway_fee: p.gateway_fee_cents,
        merchant_net: p.merchant_net_cents,
        total: p.total_cents,
    });
    let payload = json!({
        "id": id,
        "type": kind.type_name(),
        "livemode": session.environment == "production",
        "created": iso_millis(now_ms),
        "data": {
            "session_id": session.id,
            "customer_id": session.customer_id,
            "status": status,
            "amount": cents_to_json(session.amount_cents),
            "currency": session.currency,
            "asset": route.map_or("USDC", |r| r.asset.as_str()),
            "network": route.map_or("Base", |r| r.network.as_str()),
            "route": route.map(|r| json!({
                "id": r.id, "kind": r.kind, "label": r.label, "provider": r.provider,
            })),
            "fees": fees.map(Fees::to_json),
            "tx_hash": payment.and_then(|p| p.tx_hash.clone()),
            "metadata": Metadata::from_db(&session.metadata).to_json(),
            "payment_id": payment.map(|p| p.id.clone()),
            "failure_code": payment.and_then(|p| p.failure_code.clone()),
        }
    });
    EventRow {
        id,
        merchant_id: session.merchant_id.clone(),
        environment: session.environment.clone(),
        session_id: session.id.clone(),
        kind: kind.type_name().to_owned(),
        payload: payload.to_string(),
        created_at: now_ms,
    }
}
