//! Checkout sessions: create, read, expire.

pub mod create;
pub(crate) mod request;

use std::collections::BTreeMap;

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Authenticated;
use crate::db::payments::get_payment_by_session;
use crate::db::sessions::{SessionRow, get_session};
use crate::domain::fees::FeesJson;
use crate::domain::metadata::Metadata;
use crate::domain::payment_route::PaymentRoute;
use crate::domain::time::{iso_seconds, now_ms};
use crate::domain::{Amount, PaymentId, RouteKind, SessionId};
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::{MerchantExpiry, expire_for_merchant};
use crate::state::AppState;

pub use create::create_session;
pub use request::FIELDS as CREATE_FIELDS;

/// The seed page's checkout session object, plus our extensions.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutSession {
    /// `chk_…`
    pub id: String,
    /// Always `checkout_session`.
    pub object: &'static str,
    /// Where to send the buyer: the public URL + `/checkout/` + id.
    pub checkout_url: String,
    pub redirect_url: Option<String>,
    /// `routed` (also again after a failed payment, while the buyer may pay again), `pending`,
    /// `paid`, `failed` (the buyer gave up after a failure, or the attempts ran out) or
    /// `expired`.
    pub status: &'static str,
    /// US dollars, e.g. `116` or `116.5`.
    #[schema(value_type = f64)]
    pub amount: serde_json::Value,
    /// Always `USD`.
    pub currency: String,
    /// The buyer's e-mail address.
    pub customer: String,
    pub metadata: BTreeMap<String, String>,
    /// Extension: the product name shown to the buyer.
    pub product: String,
    /// Extension: `cus_…`.
    pub customer_id: String,
    pub client_reference_id: Option<String>,
    /// `sandbox` or `production`.
    pub environment: &'static str,
    pub livemode: bool,
    /// `card`, `wallet` or `local`, when the request named one.
    pub preferred_route: Option<&'static str>,
    /// The route picked for the preferred kind.
    pub route: Option<RouteSummary>,
    /// What the buyer pays and the merchant receives through `route`, once a route is known.
    pub fees: Option<FeesJson>,
    /// ISO 8601 UTC.
    pub expires_at: String,
    /// ISO 8601 UTC.
    pub created: String,
    /// `pay_…` once the buyer starts paying.
    pub payment_id: Option<String>,
    /// Extension: whether the buyer gets receipt e-mails (`sendReceipt: false` at creation, or
    /// the server's `send_receipts = false`, turn them off).
    pub send_receipt: bool,
}

/// A route as shown on sessions, payments and webhooks.
#[derive(Debug, Serialize, ToSchema)]
pub struct RouteSummary {
    pub id: String,
    /// `card`, `wallet` or `local`.
    pub kind: String,
    pub label: String,
    pub provider: String,
}

impl RouteSummary {
    pub fn of(route: &PaymentRoute) -> RouteSummary {
        RouteSummary {
            id: route.id.clone(),
            kind: route.kind.as_str().to_owned(),
            label: route.label.clone(),
            provider: route.provider.clone(),
        }
    }
}

impl CheckoutSession {
    /// `at_provider`: whether the session's payment has reached a provider (which keeps a
    /// session past its deadline open).
    pub fn from_row(
        row: SessionRow,
        state: &AppState,
        now_ms: i64,
        at_provider: bool,
    ) -> CheckoutSession {
        let status = row.status.effective(row.expires_at, now_ms, at_provider);
        let route = row
            .route_id
            .as_deref()
            .and_then(|id| state.settings.routes.iter().find(|r| r.id == id));
        let fees = route.map(|r| r.fees(row.amount_cents).to_json());
        let route = route.map(RouteSummary::of);
        CheckoutSession {
            checkout_url: format!("{}/checkout/{}", state.public_url, row.id),
            id: row.id.into_string(),
            object: "checkout_session",
            redirect_url: row.redirect_url,
            status: status.as_str(),
            amount: Amount::from_cents(row.amount_cents).to_json(),
            currency: row.currency,
            customer: row.customer_email,
            metadata: Metadata::from_db(&row.metadata).pairs().clone(),
            product: row.product,
            customer_id: row.customer_id.into_string(),
            client_reference_id: row.client_reference_id,
            livemode: row.environment.livemode(),
            environment: row.environment.as_str(),
            preferred_route: row.preferred_route.map(RouteKind::as_str),
            route,
            fees,
            expires_at: iso_seconds(row.expires_at),
            created: iso_seconds(row.created_at),
            payment_id: row.payment_id.map(PaymentId::into_string),
            send_receipt: row.receipts == "buyer",
        }
    }
}

/// The session object, reading its payment when there is one.
pub async fn session_object(state: &AppState, row: SessionRow) -> anyhow::Result<CheckoutSession> {
    let at_provider = match &row.payment_id {
        Some(_) => get_payment_by_session(&state.db.read, &row.id)
            .await?
            .is_some_and(|p| p.at_provider()),
        None => false,
    };
    Ok(CheckoutSession::from_row(row, state, now_ms(), at_provider))
}

fn parse_session_id(id: &str) -> Result<SessionId, ApiError> {
    SessionId::parse(id).ok_or_else(|| ApiError::not_found("checkout session", id))
}

/// Retrieve a checkout session.
#[utoipa::path(
    get,
    path = "/api/gateway/sessions/{id}",
    tag = "Checkout sessions",
    params(("id" = String, Path, description = "`chk_…`")),
    responses(
        (status = 200, description = "The session", body = CheckoutSession),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such session for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get_session_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&id)?;
    let owner = &auth.0;
    let row = get_session(&state.db.read, &owner.merchant_id, owner.environment, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("checkout session", id.as_str()))?;
    Ok(HttpResponse::Ok().json(session_object(&state, row).await?))
}

/// Expire a session no buyer has started paying.
#[utoipa::path(
    post,
    path = "/api/gateway/sessions/{id}/expire",
    tag = "Checkout sessions",
    params(("id" = String, Path, description = "`chk_…`")),
    responses(
        (status = 200, description = "The expired session", body = CheckoutSession),
        (status = 404, description = "No such session for this key", body = ErrorEnvelope),
        (status = 409, description = "The buyer has already started paying, or it is over", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn expire_session_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = parse_session_id(&id)?;
    let owner = &auth.0;
    let row = match expire_for_merchant(
        state.lifecycle(),
        &owner.merchant_id,
        owner.environment,
        &id,
    )
    .await?
    {
        MerchantExpiry::Expired(row) | MerchantExpiry::AlreadyExpired(row) => row,
        MerchantExpiry::NotExpirable(row) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "session_not_expirable",
                format!(
                    "the session is {}; only a session no buyer has started paying can be expired",
                    row.status
                ),
            ));
        }
        MerchantExpiry::Unknown => {
            return Err(ApiError::not_found("checkout session", id.as_str()));
        }
    };
    Ok(HttpResponse::Ok().json(CheckoutSession::from_row(*row, &state, now_ms(), false)))
}
