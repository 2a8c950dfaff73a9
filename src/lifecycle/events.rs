//! The event row of each state change, built from the rows of the transaction that writes it.

use crate::db::events::EventRow;
use crate::db::payments::PaymentRow;
use crate::db::refunds::RefundRow;
use crate::db::sessions::SessionRow;
use crate::domain::event::{EventKind, PayloadParts, RefundPayloadParts, payload, refund_payload};
use crate::domain::fees::Fees;
use crate::domain::metadata::Metadata;
use crate::domain::onchain::RefundTransfer;
use crate::domain::payment_route::PaymentRoute;

/// The event row for `kind`, with the payload of SPEC section 6.
pub fn build_event(
    kind: EventKind,
    session: &SessionRow,
    payment: Option<&PaymentRow>,
    route: Option<&PaymentRoute>,
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
        session_id: session.id.as_str(),
        customer_id: session.customer_id.as_str(),
        livemode: session.environment.livemode(),
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
        id: kind.event_id(session.id.as_str(), payment.map_or(1, |p| p.attempt)),
        merchant_id: session.merchant_id.clone(),
        environment: session.environment,
        session_id: session.id.clone(),
        kind: kind.type_name().to_owned(),
        payload: payload.to_string(),
        created_at: now_ms,
    }
}

/// The event row of a refund's step, with the refund, its payment (totals after the step),
/// the session and, for a refund on chain, the transfer it awaits.
pub fn build_refund_event(
    kind: EventKind,
    refund: &RefundRow,
    payment: &PaymentRow,
    session: &SessionRow,
    transfer: Option<&RefundTransfer>,
    now_ms: i64,
) -> EventRow {
    let payload = refund_payload(&RefundPayloadParts {
        kind,
        refund_id: refund.id.as_str(),
        status: refund.status.as_str(),
        amount_cents: refund.amount_cents,
        currency: &refund.currency,
        reason: refund.reason.map(|r| r.as_str()),
        note: refund.note.as_deref(),
        failure_code: refund.failure_code.as_deref(),
        provider_reference: refund.provider_ref.as_deref(),
        transfer,
        refund_metadata: Metadata::from_db(&refund.metadata),
        payment_id: payment.id.as_str(),
        amount_refunded_cents: payment.refunded_cents,
        ledger_status: payment.ledger_status.as_str(),
        session_id: session.id.as_str(),
        customer_id: session.customer_id.as_str(),
        metadata: Metadata::from_db(&session.metadata),
        livemode: session.environment.livemode(),
        now_ms,
    });
    EventRow {
        id: kind.refund_event_id(refund.id.as_str()),
        merchant_id: session.merchant_id.clone(),
        environment: session.environment,
        session_id: session.id.clone(),
        kind: kind.type_name().to_owned(),
        payload: payload.to_string(),
        created_at: now_ms,
    }
}
