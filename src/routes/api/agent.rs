//! `POST /api/agent/actions/{action}`: helpers for building an integration. This build has
//! `webhook.example`, which returns a representative webhook payload for local testing.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::body::read_json_object;
use crate::domain::Amount;
use crate::domain::event::{EventKind, PayloadParts, payload};
use crate::domain::input::Fields;
use crate::domain::metadata::Metadata;
use crate::domain::time::now_ms;
use crate::error::{ApiError, ErrorEnvelope};
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
    let mut f = Fields::new(&body, FIELDS);
    let event = f.optional::<String>("event");
    let session_id = f.optional::<String>("sessionId");
    let customer_id = f.optional::<String>("customerId");
    let route_id = f.optional::<String>("routeId");
    let session_id = session_id.as_deref().unwrap_or("chk_nimbus_1056");
    let customer_id = customer_id.as_deref().unwrap_or("cus_7G42M9");
    let kind = match event {
        None => Some(EventKind::Paid),
        named => f.check("event", named, |name| {
            EventKind::parse(&name)
                .filter(|k| k.is_payment())
                .ok_or_else(|| {
                    let names: Vec<&str> = EventKind::ALL
                        .into_iter()
                        .filter(|k| k.is_payment())
                        .map(EventKind::type_name)
                        .collect();
                    format!("must be one of {}", names.join(", "))
                })
        }),
    };
    let amount = match f.optional_raw("amount") {
        None => Some(Amount::from_cents(89_900)),
        raw => f.check("amount", raw, |raw| {
            Amount::parse_json(raw, state.settings.max_amount_cents()).map_err(|e| e.to_string())
        }),
    };
    let metadata = match f.optional_raw("metadata") {
        None => Metadata::parse(&json!({"order_id": "ord_284"})).unwrap_or_default(),
        Some(raw) => Metadata::parse_json(raw).unwrap_or_else(|found| {
            for issue in found {
                f.issue(&issue.field, issue.message);
            }
            Metadata::default()
        }),
    };
    let route_id = route_id.as_deref().unwrap_or("card-bridge-a");
    let route = state.settings.routes.iter().find(|r| r.id == route_id);
    if route.is_none() {
        f.issue("routeId", "is not a configured route");
    }
    let issues = f.finish();
    let (Some(kind), Some(amount), true) = (kind, amount, issues.is_empty()) else {
        return Err(ApiError::validation(issues, None));
    };
    let example = payload(&PayloadParts {
        kind,
        session_id,
        customer_id,
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
