//! Payments: the buyer's attempt to pay a session, created when they choose a route.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{List, ListParams};
use super::refunds::{Refund, refunds_with_transfers};
use super::sessions::RouteSummary;
use crate::auth::Authenticated;
use crate::db::payments::{PaymentFilter, PaymentRow, get_payment, list_payments};
use crate::db::refunds::refunds_of_payment;
use crate::db::sessions::get_session_by_id;
use crate::domain::SessionId;
use crate::domain::fees::{Fees, FeesJson};
use crate::domain::metadata::Metadata;
use crate::domain::money::cents_to_json;
use crate::domain::time::iso_seconds;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Payment {
    /// `pay_…`
    pub id: String,
    /// Always `payment`.
    pub object: &'static str,
    #[schema(value_type = f64)]
    pub amount: serde_json::Value,
    pub currency: String,
    /// `pending`, `paid` or `failed`.
    pub status: &'static str,
    /// `pending`, `settled`, `partially_refunded` or `refunded`.
    pub ledger_status: &'static str,
    /// What its refunds that succeeded gave back, in dollars.
    #[schema(value_type = f64)]
    pub amount_refunded: serde_json::Value,
    pub created: String,
    pub customer_id: String,
    pub invoice_id: String,
    pub session_id: String,
    /// Extension: which of the session's payments this is (1 for the first; after a failed
    /// payment the buyer may pay again, as payment 2, 3, …).
    pub attempt: i64,
    pub route: Option<RouteSummary>,
    pub fees: FeesJson,
    /// Present when reading one payment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    pub livemode: bool,
    /// Extension: the card's brand and last four digits, for card payments.
    pub card: Option<CardSummary>,
    /// Extension: the settlement transaction, once paid.
    pub tx_hash: Option<String>,
    /// Extension: why it failed (`card_declined`, `provider_timeout`, …).
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// Present when reading one payment: its refunds, oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refunds: Option<Vec<Refund>>,
    /// Extension: the buyer's receipt page, a permanent link that needs no key (`null` until
    /// the payment is paid).
    pub receipt_url: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardSummary {
    pub brand: String,
    pub last4: String,
}

impl Payment {
    pub fn from_row(row: PaymentRow, state: &AppState) -> Payment {
        let route = state
            .settings
            .routes
            .iter()
            .find(|r| r.id == row.route_id)
            .map(RouteSummary::of);
        let fees = Fees {
            buyer_fee: row.buyer_fee_cents,
            gateway_fee: row.gateway_fee_cents,
            merchant_net: row.merchant_net_cents,
            total: row.total_cents,
        };
        let receipt_url = (row.status == crate::domain::PaymentStatus::Paid).then(|| {
            format!(
                "{}{}",
                state.public_url,
                crate::domain::receipt::path(
                    &state.receipt_secret,
                    row.id.as_str(),
                    row.language.as_deref(),
                )
            )
        });
        Payment {
            receipt_url,
            id: row.id.into_string(),
            object: "payment",
            amount: cents_to_json(row.amount_cents),
            currency: row.currency,
            status: row.status.as_str(),
            ledger_status: row.ledger_status.as_str(),
            amount_refunded: cents_to_json(row.refunded_cents),
            created: iso_seconds(row.created_at),
            customer_id: row.customer_id.into_string(),
            invoice_id: row.invoice_id.into_string(),
            session_id: row.session_id.into_string(),
            attempt: row.attempt,
            route,
            fees: fees.to_json(),
            metadata: None,
            livemode: row.environment.livemode(),
            card: match (row.card_brand, row.card_last4) {
                (Some(brand), Some(last4)) => Some(CardSummary { brand, last4 }),
                _ => None,
            },
            tx_hash: row.tx_hash,
            failure_code: row.failure_code,
            failure_message: row.failure_message,
            refunds: None,
        }
    }
}

/// List payments, newest first.
#[utoipa::path(
    get,
    path = "/api/gateway/payments",
    tag = "Payments",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor: the last id of the previous page"),
        ("customerId" = Option<String>, Query, description = "`cus_…`"),
        ("invoiceId" = Option<String>, Query, description = "`inv_…`"),
        ("paymentId" = Option<String>, Query, description = "`pay_…`, or a session's `chk_…`"),
        ("status" = Option<String>, Query, description = "`pending`, `paid` or `failed`"),
    ),
    responses(
        (status = 200, description = "A page of payments", body = super::list::PaymentList),
        (status = 400, description = "Invalid parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_payments_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(
        req.query_string(),
        &["customerId", "invoiceId", "paymentId", "status"],
    )?;
    let (payment_id, session_id) = match params.get("paymentId") {
        Some(id) if id.starts_with(SessionId::PREFIX) => (None, Some(id)),
        other => (other, None),
    };
    let filter = PaymentFilter {
        customer_id: params.get("customerId"),
        invoice_id: params.get("invoiceId"),
        payment_id,
        session_id,
        status: params.get("status"),
        starting_after: params.starting_after.clone(),
        limit: params.limit,
    };
    let owner = &auth.0;
    let rows = list_payments(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        &filter,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, |r| {
        Payment::from_row(r, &state)
    })))
}

/// The key's payment `id` (`pay_…`, or its session's `chk_…`); 404 for anything else.
pub async fn payment_of_key(
    state: &AppState,
    auth: &Authenticated,
    id: &str,
) -> Result<PaymentRow, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("payment", id);
    if !(id.starts_with("pay_") || id.starts_with(SessionId::PREFIX))
        || id.chars().any(char::is_control)
    {
        return Err(not_found());
    }
    get_payment(&state.db.read, &owner.merchant_id, owner.environment, id)
        .await?
        .ok_or_else(not_found)
}

/// Retrieve a payment by its `pay_…` id or by its session's `chk_…` id.
#[utoipa::path(
    get,
    path = "/api/gateway/payments/{id}",
    tag = "Payments",
    params(("id" = String, Path, description = "`pay_…` or `chk_…`")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such payment for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get_payment_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = payment_of_key(&state, &auth, &id).await?;
    let session = get_session_by_id(&state.db.read, &row.session_id).await?;
    let refunds = refunds_of_payment(&state.db.read, &row.id).await?;
    let mut payment = Payment::from_row(row, &state);
    payment.refunds = Some(refunds_with_transfers(&state.db.read, refunds).await?);
    payment.metadata = Some(
        session
            .map(|s| Metadata::from_db(&s.metadata).pairs().clone())
            .unwrap_or_default(),
    );
    Ok(HttpResponse::Ok().json(payment))
}
