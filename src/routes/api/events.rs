//! Events (the webhook outbox as merchants see it), their delivery attempts, and redelivery.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::body::read_json_object;
use super::list::{List, ListParams};
use crate::auth::Authenticated;
use crate::db::events::{EventRow, get_event, list_events};
use crate::db::webhook_deliveries::{list_event_attempts, list_event_deliveries};
use crate::domain::DeliveryStatus;
use crate::domain::input::Fields;
use crate::domain::time::{iso_millis, iso_seconds, now_ms, parse_rfc3339_ms};
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::outbox::{commit_and_wake, redeliver_event, redeliver_since};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `evt_{session id}_{step}`
    pub id: String,
    /// Always `event`.
    pub object: &'static str,
    #[serde(rename = "type")]
    pub kind: String,
    pub session_id: String,
    pub created: String,
    pub livemode: bool,
    /// Exactly the body webhook deliveries carry.
    pub payload: serde_json::Value,
    /// Present when reading one event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliveries: Option<Vec<serde_json::Value>>,
    /// Every attempt, oldest first: status, duration, the first 2 KiB of the answer, error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<Vec<serde_json::Value>>,
}

impl From<EventRow> for Event {
    fn from(row: EventRow) -> Event {
        Event {
            payload: serde_json::from_str(&row.payload).unwrap_or_default(),
            livemode: row.environment.livemode(),
            created: iso_millis(row.created_at),
            id: row.id.into_string(),
            object: "event",
            kind: row.kind,
            session_id: row.session_id.into_string(),
            deliveries: None,
            attempts: None,
        }
    }
}

/// List events.
#[utoipa::path(get, path = "/api/gateway/events", tag = "Webhooks",
    params(
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "1–100, default 20"),
        ("startingAfter" = Option<String>, Query, description = "Cursor"),
        ("type" = Option<String>, Query, description = "e.g. `payment.paid`"),
        ("sessionId" = Option<String>, Query, description = "`chk_…`"),
    ),
    responses((status = 200, description = "A page of events", body = super::list::EventList), (status = 400, description = "Invalid parameter", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn list_events_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let params = ListParams::parse(req.query_string(), &["type", "sessionId"])?;
    let owner = &auth.0;
    let rows = list_events(
        &state.db.read,
        &owner.merchant_id,
        owner.environment,
        params.get("type"),
        params.get("sessionId"),
        params.starting_after.clone(),
        params.limit,
    )
    .await?;
    Ok(HttpResponse::Ok().json(List::page(rows, params.limit, Event::from)))
}

async fn find(state: &AppState, auth: &Authenticated, id: &str) -> Result<EventRow, ApiError> {
    let owner = &auth.0;
    get_event(&state.db.read, &owner.merchant_id, owner.environment, id)
        .await?
        .ok_or_else(|| ApiError::not_found("event", id))
}

/// Read an event with its deliveries and every attempt.
#[utoipa::path(get, path = "/api/gateway/events/{id}", tag = "Webhooks",
    params(("id" = String, Path, description = "`evt_…`")),
    responses((status = 200, description = "The event", body = Event), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_event_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    let deliveries = list_event_deliveries(&state.db.read, &row.id).await?;
    let attempts = list_event_attempts(&state.db.read, &row.id).await?;
    let mut event = Event::from(row);
    event.deliveries = Some(
        deliveries
            .into_iter()
            .map(|d| {
                json!({
                    "id": d.id, "endpointId": d.endpoint_id, "status": d.status.as_str(), "attempts": d.attempts,
                    "nextAttemptAt": (d.status == DeliveryStatus::Pending).then(|| iso_seconds(d.next_attempt_at)),
                    "lastStatusCode": d.last_status_code, "lastError": d.last_error,
                    "deliveredAt": d.delivered_at.map(iso_seconds),
                })
            })
            .collect(),
    );
    event.attempts = Some(
        attempts
            .into_iter()
            .map(|a| {
                json!({
                    "deliveryId": a.delivery_id, "endpointId": a.endpoint_id, "attempt": a.attempt,
                    "startedAt": iso_millis(a.started_at), "durationMs": a.duration_ms,
                    "statusCode": a.status_code, "responseBody": a.response_body, "error": a.error,
                })
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(event))
}

/// Queue one event again for its endpoints.
#[utoipa::path(post, path = "/api/gateway/events/{id}/redeliver", tag = "Webhooks",
    params(("id" = String, Path, description = "`evt_…`")),
    responses((status = 200, description = "How many deliveries were queued", body = super::schemas::Redelivered), (status = 404, description = "Unknown", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn redeliver_event_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = find(&state, &auth, &id).await?;
    let mut tx = state.db.begin().await?;
    let queued = redeliver_event(&mut tx, &row, now_ms()).await?;
    commit_and_wake(tx, &state.webhook_wakeup, "committing a redelivery").await?;
    Ok(HttpResponse::Ok().json(json!({"id": row.id, "queued": queued})))
}

/// Queue every event since a time again (`{"since": "2026-11-24T00:00:00Z"}`).
#[utoipa::path(post, path = "/api/gateway/events/redeliver", tag = "Webhooks",
    request_body(content = super::schemas::RedeliverSinceRequest, content_type = "application/json"),
    responses((status = 200, description = "How many events and deliveries were queued", body = super::schemas::RedeliveredSince), (status = 400, description = "Invalid field", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn redeliver_since_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    let mut f = Fields::new(&body, &["since"]);
    let since = f.required::<String>("since");
    let since = f.check("since", since, |s| {
        parse_rfc3339_ms(&s).ok_or("must be an RFC 3339 time such as 2026-11-24T00:00:00Z")
    });
    let issues = f.finish();
    let (Some(since), true) = (since, issues.is_empty()) else {
        return Err(ApiError::validation(
            issues,
            Some("Send {\"since\": \"2026-11-24T00:00:00Z\"}.".into()),
        ));
    };
    let owner = &auth.0;
    let (events, queued) = redeliver_since(
        &state.db,
        &state.webhook_wakeup,
        &owner.merchant_id,
        owner.environment,
        since,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({"events": events, "queued": queued})))
}
