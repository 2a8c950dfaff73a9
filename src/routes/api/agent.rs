//! `POST /api/agent/actions/{action}`: helpers for building an integration. This build has
//! `webhook.example`, which returns a representative webhook payload for local testing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::body::read_json_object;
use crate::domain::Amount;
use crate::domain::event::{EventKind, PayloadParts, payload};
use crate::domain::metadata::Metadata;
use crate::domain::time::now_ms;
use crate::error::{ApiError, ErrorEnvelope, FieldIssue};
use crate::state::AppState;

const FIELDS: &[&str] = &[
    "event",
    "sessionId",
    "customerId",
    "amount",
    "routeId",
    "metadata",
];

/// Run an agent action (`webhook.example`).
#[utoipa::path(post, path = "/api/agent/actions/{action}", tag = "Agent actions",
    params(("action" = String, Path, description = "`webhook.example`")),
    request_body(content = super::schemas::WebhookExampleRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "An object whose `result` is a webhook payload", body = super::schemas::ActionResult),
        (status = 400, description = "Invalid field", body = ErrorEnvelope),
        (status = 404, description = "Unknown action", body = ErrorEnvelope),
    ))]
pub async fn run_action(
    state: web::Data<AppState>,
    req: HttpRequest,
    action: web::Path<String>,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if action.as_str() != "webhook.example" {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "resource_missing",
            format!(
                "there is no agent action {:?}; this server has webhook.example",
                action.as_str()
            ),
        ));
    }
    let body = read_json_object(&req, body, state.settings.max_body_bytes).await?;
    let mut issues = body.unknown_fields(FIELDS);
    let text = |name: &str, default: &str, issues: &mut Vec<FieldIssue>| match body.get(name) {
        None => default.to_owned(),
        Some(raw) => serde_json::from_str::<String>(raw).unwrap_or_else(|_| {
            issues.push(FieldIssue::new(name, "must be a string"));
            default.to_owned()
        }),
    };
    let event = text("event", "payment.paid", &mut issues);
    let session_id = text("sessionId", "chk_nimbus_1056", &mut issues);
    let customer_id = text("customerId", "cus_7G42M9", &mut issues);
    let route_id = text("routeId", "card-bridge-a", &mut issues);
    let kind = EventKind::parse(&event).unwrap_or_else(|| {
        issues.push(FieldIssue::new(
            "event",
            "must be payment.provider_pending, payment.paid, payment.failed or payment.expired",
        ));
        EventKind::Paid
    });
    let amount = match body.get("amount") {
        None => Amount::from_cents(89_900),
        Some(raw) => {
            Amount::parse_json(raw, state.settings.max_amount_cents()).unwrap_or_else(|e| {
                issues.push(FieldIssue::new("amount", e.to_string()));
                Amount::from_cents(89_900)
            })
        }
    };
    let metadata = match body.get("metadata") {
        None => Metadata::parse(&json!({"order_id": "ord_284"})).unwrap_or_default(),
        Some(raw) => Metadata::parse_json(raw).unwrap_or_else(|found| {
            issues.extend(
                found
                    .into_iter()
                    .map(|i| FieldIssue::new(i.field, i.message)),
            );
            Metadata::default()
        }),
    };
    let route = state.settings.routes.iter().find(|r| r.id == route_id);
    if route.is_none() {
        issues.push(FieldIssue::new("routeId", "is not a configured route"));
    }
    if !issues.is_empty() {
        return Err(ApiError::validation(issues, None));
    }
    let example = payload(&PayloadParts {
        kind,
        session_id: &session_id,
        customer_id: &customer_id,
        livemode: false,
        amount_cents: amount.cents(),
        currency: "USD",
        route,
        fees: route.map(|r| r.fees(amount.cents())),
        tx_hash: (kind == EventKind::Paid).then_some("0xabc123"),
        metadata,
        payment_id: Some("pay_abc123"),
        attempt: 1,
        failure_code: (kind == EventKind::Failed).then_some("card_declined"),
        now_ms: now_ms(),
    });
    Ok(HttpResponse::Ok().json(json!({"result": example})))
}
