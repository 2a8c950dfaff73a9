//! `POST /api/providers/{provider}/callbacks`: where providers report outcomes. Only signed,
//! fresh, never-seen callbacks are applied, through the one code path for provider outcomes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use serde_json::json;

use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::{CallbackResult, receive_callback};
use crate::providers::{CallbackError, CallbackRequest};
use crate::routes::api::body::{body_timeout, read_body};
use crate::state::AppState;

const MAX_CALLBACK_BYTES: usize = 64 * 1024;

/// Receive a provider callback.
#[utoipa::path(
    post,
    path = "/api/providers/{provider}/callbacks",
    tag = "Providers",
    params(("provider" = String, Path, description = "The provider's id, e.g. `sandbox`")),
    request_body(content = crate::providers::sandbox::CallbackBody, description = "The provider's own payload, signed in its header (the sandbox provider's shown)", content_type = "application/json"),
    responses(
        (status = 200, description = "Applied, or the payment was already final", body = super::schemas::CallbackReceived),
        (status = 400, description = "Malformed callback", body = ErrorEnvelope),
        (status = 401, description = "Missing, wrong or stale signature", body = ErrorEnvelope),
        (status = 404, description = "Unknown provider or payment", body = ErrorEnvelope),
        (status = 409, description = "This callback was already received (a replay; providers that retry for days, such as Stripe, get 200)", body = ErrorEnvelope),
        (status = 422, description = "The provider reports another amount than the payment asked; nothing was applied", body = ErrorEnvelope),
    )
)]
pub async fn provider_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    provider: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload, MAX_CALLBACK_BYTES, body_timeout(&req))
        .await
        .map_err(|e| e.into_api_error(MAX_CALLBACK_BYTES))?;
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let request = CallbackRequest {
        headers: &headers,
        body: &body,
    };
    let acknowledges_replays = state
        .providers
        .get(&provider)
        .is_some_and(|p| p.acknowledges_replays());
    match receive_callback(state.lifecycle(), &provider, request).await? {
        CallbackResult::Applied => {
            Ok(HttpResponse::Ok().json(json!({"received": true, "applied": true})))
        }
        CallbackResult::AlreadyFinal => {
            Ok(HttpResponse::Ok().json(json!({"received": true, "applied": false})))
        }
        CallbackResult::Replayed if acknowledges_replays => {
            Ok(HttpResponse::Ok()
                .json(json!({"received": true, "applied": false, "replayed": true})))
        }
        CallbackResult::Ignored => {
            Ok(HttpResponse::Ok().json(json!({"received": true, "applied": false})))
        }
        CallbackResult::AmountMismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "amount_mismatch",
            "the provider reports another amount or currency than the payment asked; nothing was applied",
        )),
        CallbackResult::Replayed => Err(ApiError::new(
            StatusCode::CONFLICT,
            "callback_replayed",
            "this callback was already received",
        )),
        CallbackResult::UnknownPayment => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "resource_missing",
            "the callback names a payment this provider does not carry",
        )),
        CallbackResult::UnknownProvider => Err(ApiError::not_found("provider", &provider)),
        CallbackResult::Refused(CallbackError::Signature(e)) => {
            tracing::warn!(provider = %provider, reason = %e, "refused a provider callback");
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_signature",
                e.to_string(),
            ))
        }
        CallbackResult::Refused(CallbackError::Malformed(m)) => Err(ApiError::bad_request(
            "invalid_callback",
            format!("the callback is malformed: {m}"),
        )),
    }
}
