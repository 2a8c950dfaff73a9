//! Invoices: the billing record of a session, opened with its payment.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::invoices::{InvoiceFilter, InvoiceRow, get_invoice, list_invoices};
use crate::domain::metadata::Metadata;
use crate::domain::money::cents_to_json;
use crate::domain::time::iso_seconds;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invoice {
    /// `inv_…`
    pub id: String,
    /// Always `invoice`.
    pub object: &'static str,
    #[schema(value_type = f64)]
    pub amount: serde_json::Value,
    pub currency: String,
    /// `open`, `paid` or `void`.
    pub status: &'static str,
    pub created: String,
    pub customer_id: String,
    pub payment_id: String,
    pub session_id: String,
    pub metadata: BTreeMap<String, String>,
    pub livemode: bool,
    /// What its payment's refunds that succeeded gave back, in dollars: the credit.
    #[schema(value_type = f64)]
    pub amount_credited: serde_json::Value,
}

impl From<InvoiceRow> for Invoice {
    fn from(row: InvoiceRow) -> Invoice {
        Invoice {
            id: row.id.into_string(),
            object: "invoice",
            amount: cents_to_json(row.amount_cents),
            currency: row.currency,
            status: row.status.as_str(),
            created: iso_seconds(row.created_at),
            customer_id: row.customer_id.into_string(),
            payment_id: row.payment_id.into_string(),
            session_id: row.session_id.into_string(),
            metadata: Metadata::from_db(&row.metadata).pairs().clone(),
            livemode: row.environment.livemode(),
            amount_credited: cents_to_json(row.credited_cents),
        }
    }
}

/// List invoices, newest first.
#[utoipa::path(
    get,
    path = "/api/gateway/invoices",
    tag = "Invoices",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor: the last id of the previous page"),
        ("customerId" = Option<String>, Query, description = "`cus_…`"),
        ("paymentId" = Option<String>, Query, description = "`pay_…`"),
        ("invoiceId" = Option<String>, Query, description = "`inv_…`"),
        ("status" = Option<String>, Query, description = "`open`, `paid` or `void`"),
    ),
    responses(
        (status = 200, description = "A page of invoices", body = super::list::InvoiceList),
        (status = 400, description = "Invalid parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_invoices_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(
        req.query_string(),
        &["customerId", "paymentId", "invoiceId", "status"],
    )?;
    let filter = InvoiceFilter {
        customer_id: params.get("customerId"),
        payment_id: params.get("paymentId"),
        invoice_id: params.get("invoiceId"),
        status: params.get("status"),
        starting_after: params.starting_after.clone(),
        limit: params.limit,
    };
    let owner = &auth.0;
    let rows = list_invoices(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        &filter,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, Invoice::from)))
}

/// Retrieve an invoice.
#[utoipa::path(
    get,
    path = "/api/gateway/invoices/{id}",
    tag = "Invoices",
    params(("id" = String, Path, description = "`inv_…`")),
    responses(
        (status = 200, description = "The invoice", body = Invoice),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such invoice for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get_invoice_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let owner = &auth.0;
    let not_found = || ApiError::not_found("invoice", &id);
    if !id.starts_with("inv_") || id.chars().any(char::is_control) {
        return Err(not_found());
    }
    let row = get_invoice(&state.db.read, &owner.merchant_id, owner.environment, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(Invoice::from(row)))
}
