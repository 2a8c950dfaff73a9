//! The gallery's fixtures: a session and payment for every [`Step`], full of markup that must
//! come out escaped, and the fixture merchant's branding.

use crate::db::payments::PaymentRow;
use crate::db::sessions::{SessionRow, SessionView};
use crate::domain::branding::MerchantBranding;
use crate::domain::time::now_ms;
use crate::domain::{
    CustomerId, Environment, InvoiceId, LedgerStatus, MerchantId, PaymentId, PaymentStatus,
    ProviderState, RouteKind, SessionId, SessionStatus,
};
use crate::providers::Instructions;
use crate::routes::pages::BrandView;
use crate::routes::pages::brand::Brand;
use crate::routes::pages::step::{Step, Transfer};

/// A session in `step`, and its latest payment.
pub fn for_step(step: Step) -> (SessionView, Option<PaymentRow>) {
    use PaymentStatus::{Failed, Paid, Pending};
    use ProviderState::{AwaitingBuyer, Challenge, Done, InFlight, Redirected};
    let (status, payment) = match step {
        Step::Choose { retry: false } => (SessionStatus::Routed, None),
        Step::Choose { retry: true } => (
            SessionStatus::Routed,
            Some(payment(RouteKind::Wallet, Done, Failed)),
        ),
        Step::Card { retry: false } => (
            SessionStatus::Pending,
            Some(payment(RouteKind::Card, AwaitingBuyer, Pending)),
        ),
        Step::Card { retry: true } => (
            SessionStatus::Routed,
            Some(payment(RouteKind::Card, Done, Failed)),
        ),
        Step::Challenge => (
            SessionStatus::Pending,
            Some(payment(RouteKind::Card, Challenge, Pending)),
        ),
        Step::AtProvider => (
            SessionStatus::Pending,
            Some(PaymentRow {
                provider: crate::providers::stripe::ID.into(),
                provider_data:
                    r#"{"redirect_url":"https://checkout.stripe.com/c/pay/cs_test_preview"}"#.into(),
                ..payment(RouteKind::Card, Redirected, Pending)
            }),
        ),
        Step::Transfer(Transfer::Wallet) => (
            SessionStatus::Pending,
            Some(payment(RouteKind::Wallet, InFlight, Pending)),
        ),
        Step::Transfer(Transfer::Bank) => (
            SessionStatus::Pending,
            Some(payment(RouteKind::Local, InFlight, Pending)),
        ),
        Step::Waiting => (
            SessionStatus::Pending,
            Some(payment(RouteKind::Card, InFlight, Pending)),
        ),
        Step::Paid => (
            SessionStatus::Paid,
            Some(payment(RouteKind::Card, Done, Paid)),
        ),
        Step::Failed => (
            SessionStatus::Failed,
            Some(payment(RouteKind::Card, Done, Failed)),
        ),
        Step::Expired => (SessionStatus::Expired, None),
    };
    (session(status), payment)
}

/// The fixture brand: purple pill buttons, a logo and a note.
pub fn brand() -> BrandView {
    let row = MerchantBranding {
        display_name: Some("Nimbus Studio".into()),
        brand_color: Some("#6d28d9".into()),
        button_shape: Some("pill".into()),
        logo_type: Some("image/svg+xml".into()),
        note: Some(
            "Questions about your order? Write to hello@nimbus.example — <we reply within a day>."
                .into(),
        ),
        default_language: None,
        branding_updated_at: Some(0),
    };
    let brand = Brand::from_row(&row);
    BrandView {
        css_href: Some("/preview/assets/brand.css".into()),
        logo_href: Some("/preview/assets/logo.svg".into()),
        brand,
    }
}

/// The fixture logo (a small SVG).
pub const LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="140" height="32" viewBox="0 0 140 32"><rect width="32" height="32" rx="8" fill="#6d28d9"/><circle cx="16" cy="16" r="7" fill="#fff"/><text x="42" y="22" font-family="system-ui, sans-serif" font-size="16" font-weight="700" fill="#6d28d9">Nimbus</text></svg>"##;

pub fn brand_css() -> String {
    brand().brand.stylesheet()
}

fn session(status: SessionStatus) -> SessionView {
    let now = now_ms();
    SessionView {
        session: SessionRow {
            id: SessionId::from_trusted("chk_preview00000000000000000000".into()),
            merchant_id: MerchantId::from_trusted("mer_preview".into()),
            environment: Environment::Sandbox,
            customer_id: CustomerId::from_trusted("cus_preview".into()),
            customer_email: "buyer@example.com".into(),
            // Fixture text full of markup: it must show as text.
            product: "Creator plan <em>annual</em> & \"extras\"".into(),
            amount_cents: 11_600,
            currency: "USD".into(),
            status,
            preferred_route: Some(RouteKind::Card),
            route_id: Some("card-bridge-a".into()),
            redirect_url: Some("https://merchant.example/success?order=ord_284".into()),
            metadata: "{}".into(),
            client_reference_id: None,
            idempotency_key: None,
            request_hash: None,
            payment_id: None,
            expires_at: if status == SessionStatus::Expired {
                now - 1
            } else {
                now + 86_400_000
            },
            created_at: now,
            updated_at: now,
            opened_at: Some(now),
            sent_back_at: None,
            receipts: "buyer".into(),
            receipt_copy_to: None,
        },
        merchant_name: "Demo Store".into(),
        branding: MerchantBranding::default(),
        cards_closed: false,
    }
}

fn payment(
    route_kind: RouteKind,
    provider_state: ProviderState,
    status: PaymentStatus,
) -> PaymentRow {
    let (route_id, fee) = match route_kind {
        RouteKind::Wallet => ("wallet-usdc-base", 58),
        RouteKind::Local => ("local-bank-transfer", 0),
        RouteKind::Card => ("card-bridge-a", 372),
    };
    let instructions = match route_kind {
        RouteKind::Wallet => Some(Instructions {
            address: Some("0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c".into()),
            asset_amount: Some("116.58".into()),
            network: Some("Base".into()),
            payment_uri: Some("ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c&uint256=116580000".into()),
            ..Instructions::new(RouteKind::Wallet)
        }),
        RouteKind::Local => Some(Instructions {
            reference: Some("ORC-PREVIEW1".into()),
            bank_name: Some("Sandbox Bank".into()),
            account_number: Some("000123456789".into()),
            routing_number: Some("110000000".into()),
            asset_amount: Some("116.00".into()),
            ..Instructions::new(RouteKind::Local)
        }),
        RouteKind::Card => None,
    };
    let paid_by_card = route_kind == RouteKind::Card && provider_state == ProviderState::Done;
    PaymentRow {
        id: PaymentId::from_trusted("pay_preview".into()),
        session_id: SessionId::from_trusted("chk_preview00000000000000000000".into()),
        merchant_id: MerchantId::from_trusted("mer_preview".into()),
        environment: Environment::Sandbox,
        customer_id: CustomerId::from_trusted("cus_preview".into()),
        attempt: 1,
        invoice_id: InvoiceId::from_trusted("inv_preview".into()),
        route_id: route_id.into(),
        route_kind,
        provider: crate::providers::sandbox::ID.into(),
        amount_cents: 11_600,
        buyer_fee_cents: fee,
        gateway_fee_cents: 348,
        merchant_net_cents: 11_252,
        total_cents: 11_600 + fee,
        currency: "USD".into(),
        status,
        ledger_status: LedgerStatus::Pending,
        provider_state,
        provider_ref: None,
        provider_data: instructions
            .and_then(|i| serde_json::to_string(&i).ok())
            .unwrap_or_else(|| "{}".into()),
        card_brand: paid_by_card.then(|| "visa".into()),
        card_last4: paid_by_card.then(|| "4242".into()),
        tx_hash: None,
        failure_code: (status == PaymentStatus::Failed).then(|| {
            match route_kind {
                RouteKind::Wallet => "transfer_failed",
                RouteKind::Local => "bank_rejected",
                RouteKind::Card => "card_declined",
            }
            .into()
        }),
        failure_message: None,
        provider_deadline: None,
        next_poll_at: None,
        created_at: 0,
        updated_at: 0,
        refund_reserved_cents: 0,
        refunded_cents: 0,
        language: None,
    }
}

/// The refunds of the receipt's fixture: one that went back, one in progress.
pub fn refunds(payment: &PaymentRow) -> Vec<crate::db::refunds::RefundRow> {
    let refund = |id: &str, cents: i64, status| crate::db::refunds::RefundRow {
        id: crate::domain::ids::RefundId::from_trusted(id.into()),
        merchant_id: payment.merchant_id.clone(),
        environment: payment.environment,
        payment_id: payment.id.clone(),
        session_id: payment.session_id.clone(),
        provider: payment.provider.clone(),
        amount_cents: cents,
        covers_cents: cents,
        currency: "USD".into(),
        status,
        reason: Some(crate::domain::refund::RefundReason::RequestedByCustomer),
        note: None,
        metadata: "{}".into(),
        idempotency_key: None,
        request_hash: None,
        provider_ref: None,
        failure_code: None,
        failure_message: None,
        next_poll_at: None,
        created_at: 1_780_000_000_000,
        updated_at: 1_780_000_000_000,
    };
    vec![refund(
        "re_preview",
        2_000,
        crate::domain::refund::RefundStatus::Succeeded,
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_steps_fixture_is_in_that_step() {
        for step in Step::ALL {
            let (view, payment) = for_step(step);
            assert_eq!(
                Step::of(&view, payment.as_ref(), now_ms()),
                step,
                "{view:?} {payment:?}"
            );
        }
    }
}
