//! The OpenAPI 3 document, generated from the handlers' annotations and types.

use std::sync::OnceLock;

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    agent, branding, customers, emails, events, health, invoices, metrics, payments,
    provider_callbacks, refunds, schemas, sessions, webhook_endpoints,
};
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Open Rails Checkout merchant API",
        description = "Create checkout sessions, read customers, and watch the service's health. Authenticate with `Authorization: Bearer sk_test_…` (sandbox) or `sk_live_…` (production)."
    ),
    paths(
        sessions::create::create_session,
        sessions::get_session_handler,
        sessions::expire_session_handler,
        customers::list_customers_handler,
        customers::get_customer_handler,
        payments::list_payments_handler,
        payments::get_payment_handler,
        emails::list_payment_emails_handler,
        refunds::create_refund_handler,
        refunds::list_refunds_handler,
        refunds::get_refund_handler,
        refunds::confirm_refund_handler,
        refunds::refund_qr_handler,
        invoices::list_invoices_handler,
        invoices::get_invoice_handler,
        provider_callbacks::provider_callback,
        webhook_endpoints::create_endpoint_handler,
        webhook_endpoints::list_endpoints_handler,
        webhook_endpoints::get_endpoint_handler,
        webhook_endpoints::delete_endpoint_handler,
        webhook_endpoints::rotate_secret_handler,
        webhook_endpoints::enable_endpoint_handler,
        events::list_events_handler,
        events::redeliver_since_handler,
        events::get_event_handler,
        events::redeliver_event_handler,
        agent::capabilities,
        agent::schema,
        agent::checkout_preview,
        agent::fees_estimate,
        agent::checkout_create,
        agent::webhook_example,
        agent::webhook_verify_sample,
        agent::unknown_action,
        branding::get_branding_handler,
        branding::put_branding_handler,
        openapi_json,
        health::healthz,
        health::readyz,
        metrics::metrics,
    ),
    modifiers(&ApiKeyAuth)
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// The OpenAPI document of the merchant API, as this server is configured: the amount's
/// maximum, the route ids and the languages are the configured ones.
#[utoipa::path(get, path = "/api/openapi.json", tag = "Operations",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn openapi_json(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(document(&state))
}

/// The generated document, completed with what holds for every operation alike.
pub fn document(state: &AppState) -> Value {
    static GENERATED: OnceLock<Value> = OnceLock::new();
    let mut doc = GENERATED
        .get_or_init(|| serde_json::to_value(ApiDoc::openapi()).unwrap_or_default())
        .clone();
    add_common_responses(&mut doc);
    let max_amount = state.settings.max_amount_cents() as f64 / 100.0;
    let routes: Vec<&str> = state
        .settings
        .routes
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    let schemas = &mut doc["components"]["schemas"];
    for name in [
        "CreateSessionRequest",
        "WebhookExampleRequest",
        "CreateRefundRequest",
    ] {
        schemas[name]["properties"]["amount"]["maximum"] = json!(max_amount);
    }
    schemas["WebhookExampleRequest"]["properties"]["routeId"]["enum"] = json!(routes);
    schemas["LanguageCode"] = json!({
        "type": "string",
        "description": "A language of the checkout pages.",
        "enum": state.catalogs.codes(),
    });
    doc
}

/// The error envelope, a reference to its schema.
fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    })
}

/// Adds the answers any operation of a kind can give: 401 and 429 where a key is needed; 400, 408, 413
/// and 415 where a JSON body is read; 400 where query parameters are; on the API, 500 and 503
/// and the HTTP layer's refusals (400, 408, 431). Query strings refuse control characters, which
/// their schema says.
fn add_common_responses(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for operation in item.values_mut() {
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let has_body = operation.get("requestBody").is_some();
            let mut has_query = false;
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            {
                for parameter in parameters {
                    if parameter["in"] == "query" {
                        has_query = true;
                        if parameter["schema"]["type"] == "string" {
                            parameter["schema"]["pattern"] = json!(schemas::NO_CONTROL);
                        }
                    }
                }
            }
            let responses = &mut operation["responses"];
            let mut add = |status: &str, description: &str| {
                if responses.get(status).is_none() {
                    responses[status] = error_response(description);
                }
            };
            if has_body || has_query {
                add(
                    "400",
                    "Invalid body, field or parameter, or a request that is not valid HTTP/1.1",
                );
            }
            if secured {
                add("401", "Missing or invalid API key");
                add(
                    "429",
                    "The API key is over its rate (rate_limited); nothing was done. Retry after the Retry-After header's seconds",
                );
            }
            if has_body {
                add(
                    "408",
                    "The body did not arrive within body_timeout_seconds, or a new connection's headers within head_timeout_seconds",
                );
                add("413", "Body too large");
                add("415", "Body is not JSON (Content-Type: application/json)");
            }
            if path.starts_with("/api/") {
                // The HTTP layer's refusals, which carry the envelope on the API's paths.
                add(
                    "400",
                    "A request that is not valid HTTP/1.1 (malformed_request)",
                );
                add(
                    "408",
                    "A new connection's headers did not arrive within head_timeout_seconds",
                );
                add(
                    "431",
                    "The request line and headers are over 128 KiB, or there are more than 96 headers",
                );
                add(
                    "500",
                    "Something went wrong on our side: only the request id, the cause is logged",
                );
                add(
                    "503",
                    "The database is unreachable or cannot write; nothing was changed. Retry after the Retry-After header's seconds",
                );
            }
        }
    }
}
