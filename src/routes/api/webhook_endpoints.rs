//! Webhook endpoints: register, list, read, remove, rotate the secret, enable again.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::read_json_object;
use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::webhook_endpoints::{
    EndpointRow, delete_endpoint, enable_endpoint, get_endpoint, list_endpoints,
};
use crate::domain::Environment;
use crate::domain::input::Fields;
use crate::domain::time::{iso_seconds, now_ms};
use crate::error::{ApiError, ErrorEnvelope, FieldIssue};
use crate::state::AppState;
use crate::webhooks::client::{EndpointRules, check_endpoint_url};
use crate::webhooks::endpoints::{
    create_endpoint, default_event_list, event_list, rotate_endpoint_secret,
};

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookEndpoint {
    /// `we_…`
    pub id: String,
    /// Always `webhook_endpoint`.
    pub object: &'static str,
    pub url: String,
    pub events: Vec<String>,
    pub environment: &'static str,
    pub livemode: bool,
    /// `active` or `disabled`.
    pub status: &'static str,
    pub disabled_reason: Option<String>,
    /// `whsec_…`: only in the answer that creates or rotates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Until when the previous secret also signs, after a rotation.
    pub previous_secret_expires_at: Option<String>,
    pub created: String,
}

impl WebhookEndpoint {
    /// `secret`: the secret in plain text, for the one answer that shows it.
    fn from_row(row: EndpointRow, secret: Option<String>) -> WebhookEndpoint {
        WebhookEndpoint {
            events: row.event_types(),
            livemode: row.environment.livemode(),
            secret,
            previous_secret_expires_at: row.previous_secret_expires_at.map(iso_seconds),
            created: iso_seconds(row.created_at),
            id: row.id.into_string(),
            object: "webhook_endpoint",
            url: row.url,
            environment: row.environment.as_str(),
            status: row.status.as_str(),
            disabled_reason: row.disabled_reason,
        }
    }
}

const FIELDS: &[&str] = &["url", "events", "environment"];

/// Register a webhook endpoint.
#[utoipa::path(
    post,
    path = "/api/gateway/webhook-endpoints",
    tag = "Webhooks",
    request_body(content = super::schemas::CreateWebhookEndpointRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The endpoint, with its secret (shown only here)", body = WebhookEndpoint),
        (status = 400, description = "Invalid field", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 403, description = "The key's environment does not match", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn create_endpoint_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let owner = auth.0;
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    let mut f = Fields::new(&body, FIELDS);
    let url = f.required::<String>("url");
    let events = f.optional::<Vec<String>>("events");
    let events = match events {
        None => Some(default_event_list()),
        list => f.check("events", list, |names| {
            event_list(&names).map_err(|p| p.join("; "))
        }),
    };
    let environment = match f.optional_raw("environment") {
        None => Some(owner.environment),
        Some(_) => {
            let named = f.optional::<String>("environment");
            f.check("environment", named, |s| {
                Environment::parse(&s).ok_or("must be sandbox or production")
            })
        }
    };
    // The other environment's key is refused before its URL is checked (or resolved).
    if let Some(environment) = environment
        && environment != owner.environment
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "environment_mismatch",
            format!(
                "a {} key cannot register a {} endpoint",
                owner.environment, environment
            ),
        ));
    }
    if let (Some(url), Some(environment)) = (&url, environment)
        && let Err(reason) = check_endpoint_url(
            url,
            environment,
            EndpointRules::from_settings(&state.settings),
        )
        .await
    {
        f.issue("url", reason);
    }
    let issues = f.finish();
    if !issues.is_empty() {
        return Err(ApiError::validation(
            issues,
            Some(
                "Send url (https in production), and optionally events, e.g. [\"payment.paid\"]."
                    .into(),
            ),
        ));
    }
    let (Some(url), Some(environment), Some(events)) = (url, environment, events) else {
        return Err(ApiError::validation(
            vec![FieldIssue::new("body", "is invalid")],
            None,
        ));
    };
    let (row, secret) = create_endpoint(
        &state.db,
        &state.settings.encryption,
        &owner.merchant_id,
        environment,
        &url,
        &events,
    )
    .await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from_row(row, Some(secret))))
}

/// List webhook endpoints (never their secrets).
#[utoipa::path(
    get,
    path = "/api/gateway/webhook-endpoints",
    tag = "Webhooks",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor"),
    ),
    responses((status = 200, description = "A page of endpoints", body = super::list::WebhookEndpointList)),
    security(("api_key" = []))
)]
pub async fn list_endpoints_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(req.query_string(), &[])?;
    let owner = &auth.0;
    let rows = list_endpoints(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        params.starting_after.clone(),
        params.limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, |r| {
        WebhookEndpoint::from_row(r, None)
    })))
}

async fn find(state: &AppState, auth: &Authenticated, id: &str) -> Result<EndpointRow, ApiError> {
    let owner = &auth.0;
    get_endpoint(&state.db.read, &owner.merchant_id, owner.environment, id)
        .await?
        .ok_or_else(|| ApiError::not_found("webhook endpoint", id))
}

/// Read a webhook endpoint.
#[utoipa::path(get, path = "/api/gateway/webhook-endpoints/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_endpoint_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from_row(row, None)))
}

/// Remove a webhook endpoint. Its events stay readable and can be redelivered elsewhere.
#[utoipa::path(delete, path = "/api/gateway/webhook-endpoints/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, description = "Removed", body = super::schemas::Deleted), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn delete_endpoint_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    let mut tx = state.db.begin().await?;
    delete_endpoint(&mut tx, &row.merchant_id, &row.id).await?;
    tx.commit().await.map_err(anyhow::Error::from)?;
    Ok(HttpResponse::Ok()
        .json(serde_json::json!({"id": row.id, "object": "webhook_endpoint", "deleted": true})))
}

/// Rotate an endpoint's secret. The new secret is in the answer, only this once; the old one
/// keeps signing too (a second `v1=`) for `webhook_secret_overlap_seconds`.
#[utoipa::path(post, path = "/api/gateway/webhook-endpoints/{id}/rotate-secret", tag = "Webhooks",
    params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, description = "The endpoint with its new secret", body = WebhookEndpoint), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn rotate_secret_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    let secret = rotate_endpoint_secret(
        &state.db,
        &state.settings.encryption,
        &row.id,
        state.settings.webhook_secret_overlap_seconds,
    )
    .await?;
    let row = find(&state, &auth, &id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from_row(row, Some(secret))))
}

/// Enable an endpoint again after it was disabled (410, or failing for days).
#[utoipa::path(post, path = "/api/gateway/webhook-endpoints/{id}/enable", tag = "Webhooks",
    params(("id" = String, Path, description = "`we_…`")),
    responses((status = 200, description = "The endpoint", body = WebhookEndpoint), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn enable_endpoint_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    enable_endpoint(&state.db.write, &row.id, now_ms()).await?;
    let row = find(&state, &auth, &id).await?;
    Ok(HttpResponse::Ok().json(WebhookEndpoint::from_row(row, None)))
}
