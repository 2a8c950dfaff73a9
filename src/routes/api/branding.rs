//! `GET`/`PUT /api/gateway/branding`: the merchant's look on the checkout pages.

use super::body::read_json_object;
use crate::auth::Authenticated;
use crate::db::merchants::{get_branding, update_branding};
use crate::domain::branding::{Branding, parse_update};
use crate::domain::time::now_ms;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};

/// Read the merchant's branding (as set through the API or the command line; the config
/// file's `[branding]` applies to whatever is unset).
#[utoipa::path(get, path = "/api/gateway/branding", tag = "Branding",
    responses((status = 200, description = "The branding", body = Branding), (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_branding_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let id = &auth.0.merchant_id;
    let row = get_branding(&state.db.read, id).await?.unwrap_or_default();
    Ok(HttpResponse::Ok().json(Branding::from_row(row, id.as_str())))
}

/// Change the merchant's branding. Fields left out stay as they are; `null` clears one.
#[utoipa::path(put, path = "/api/gateway/branding", tag = "Branding",
    request_body(content = super::schemas::BrandingUpdateRequest, content_type = "application/json"),
    responses((status = 200, description = "The branding", body = Branding), (status = 400, description = "Invalid field", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn put_branding_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body =
        read_json_object(&req, payload, state.settings.max_body_bytes.max(128 * 1024)).await?;
    let (update, issues) = parse_update(&body, &state.catalogs.codes());
    if !issues.is_empty() {
        return Err(ApiError::validation(issues, Some("Send e.g. {\"brandColor\": \"#0b57d0\", \"buttonShape\": \"pill\", \"note\": \"Questions? hello@shop.example\"}.".into())));
    }
    let id = &auth.0.merchant_id;
    update_branding(&state.db, id, &update, now_ms()).await?;
    let row = get_branding(&state.db.read, id).await?.unwrap_or_default();
    tracing::info!(merchant.id = %id, "branding updated");
    Ok(HttpResponse::Ok().json(Branding::from_row(row, id.as_str())))
}
