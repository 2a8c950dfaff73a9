//! The OpenAPI 3 document, generated from the handlers' annotations and types.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    agent, branding, customers, events, health, invoices, payments, provider_callbacks, sessions,
    webhook_endpoints,
};

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
        agent::run_action,
        branding::get_branding_handler,
        branding::put_branding_handler,
        openapi_json,
        health::healthz,
        health::readyz,
        crate::metrics::metrics,
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

/// The OpenAPI document of the merchant API.
#[utoipa::path(get, path = "/api/openapi.json", tag = "Operations",
    responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn openapi_json() -> HttpResponse {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(|| ApiDoc::openapi().to_json().unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.clone())
}
