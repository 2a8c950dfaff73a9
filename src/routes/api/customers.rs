//! Customers, created implicitly from the e-mail of a checkout session.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::customers::{CustomerFilter, CustomerRow, get_customer, list_customers};
use crate::domain::CustomerId;
use crate::domain::time::iso_seconds;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Customer {
    /// `cus_…`
    pub id: String,
    /// Always `customer`.
    pub object: &'static str,
    pub email: String,
    /// `active`.
    pub status: &'static str,
    pub livemode: bool,
    /// ISO 8601 UTC.
    pub created: String,
}

impl From<CustomerRow> for Customer {
    fn from(row: CustomerRow) -> Customer {
        Customer {
            id: row.id.into_string(),
            object: "customer",
            email: row.email,
            status: row.status.as_str(),
            livemode: row.environment.livemode(),
            created: iso_seconds(row.created_at),
        }
    }
}

/// List customers, newest first.
#[utoipa::path(
    get,
    path = "/api/gateway/customers",
    tag = "Customers",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor: the last id of the previous page"),
        ("email" = Option<String>, Query, description = "Exact e-mail, case-insensitive"),
        ("customerId" = Option<String>, Query, description = "One `cus_…`"),
        ("status" = Option<String>, Query, description = "Customer status"),
    ),
    responses(
        (status = 200, description = "A page of customers", body = super::list::CustomerList),
        (status = 400, description = "Invalid parameter", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn list_customers_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(req.query_string(), &["email", "customerId", "status"])?;
    let filter = CustomerFilter {
        email: params.get("email"),
        customer_id: params.get("customerId"),
        status: params.get("status"),
        starting_after: params.starting_after.clone(),
        limit: params.limit,
    };
    let owner = &auth.0;
    let rows = list_customers(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        &filter,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, Customer::from)))
}

/// Retrieve a customer.
#[utoipa::path(
    get,
    path = "/api/gateway/customers/{id}",
    tag = "Customers",
    params(("id" = String, Path, description = "`cus_…`")),
    responses(
        (status = 200, description = "The customer", body = Customer),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 404, description = "No such customer for this key", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn get_customer_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let not_found = || ApiError::not_found("customer", &id);
    let customer_id = CustomerId::parse(&id).ok_or_else(not_found)?;
    let owner = &auth.0;
    let row = get_customer(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        &customer_id,
    )
    .await?
    .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok().json(Customer::from(row)))
}
