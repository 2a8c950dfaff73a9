//! The whole URL map.

pub mod api;
pub mod assets;
pub mod dashboard;
pub mod head;
pub mod multipart;
pub mod pages;

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderValue};
use actix_web::middleware::Compress;
use actix_web::{HttpResponse, ResponseError, web};

use crate::error::ApiError;
use pages::step::Form;

/// Declares the JSON API: each path with its methods and handlers. Expands to the actix
/// resources (a wrong method on a known path gets a 405 naming the allowed ones in its body and
/// in `Allow`; `HEAD` is served as `GET` by [`head::head_as_get`]) and to
/// `API_ROUTES`, the list the OpenAPI document is checked against.
macro_rules! api_routes {
    ($( $path:literal => { $( $method:ident : $handler:path ),+ $(,)? } ),* $(,)?) => {
        /// Every API route as (method, path).
        pub const API_ROUTES: &[(&str, &str)] = &[ $( $( (stringify!($method), $path), )+ )* ];

        fn configure_api(cfg: &mut web::ServiceConfig) {
            $(
                cfg.service(
                    web::resource($path)
                        $( .route(web::method(actix_web::http::Method::$method).to($handler)) )+
                        .default_service(web::to(|| method_not_allowed(&[$( stringify!($method) ),+]))),
                );
            )*
        }
    };
}

api_routes! {
    "/api/gateway/sessions" => { POST: api::sessions::create_session },
    "/api/gateway/sessions/{id}" => { GET: api::sessions::get_session_handler },
    "/api/gateway/sessions/{id}/expire" => { POST: api::sessions::expire_session_handler },
    "/api/gateway/customers" => { GET: api::customers::list_customers_handler },
    "/api/gateway/customers/{id}" => { GET: api::customers::get_customer_handler },
    "/api/gateway/payments" => { GET: api::payments::list_payments_handler },
    "/api/gateway/payments/{id}" => { GET: api::payments::get_payment_handler },
    "/api/gateway/payments/{id}/refunds" => { POST: api::refunds::create_refund_handler },
    "/api/gateway/payments/{id}/emails" => { GET: api::emails::list_payment_emails_handler },
    "/api/gateway/refunds" => { GET: api::refunds::list_refunds_handler },
    "/api/gateway/refunds/{id}" => { GET: api::refunds::get_refund_handler },
    "/api/gateway/refunds/{id}/confirm" => { POST: api::refunds::confirm_refund_handler },
    "/api/gateway/refunds/{id}/qr" => { GET: api::refunds::refund_qr_handler },
    "/api/gateway/invoices" => { GET: api::invoices::list_invoices_handler },
    "/api/gateway/invoices/{id}" => { GET: api::invoices::get_invoice_handler },
    "/api/gateway/webhook-endpoints" => {
        POST: api::webhook_endpoints::create_endpoint_handler,
        GET: api::webhook_endpoints::list_endpoints_handler,
    },
    "/api/gateway/webhook-endpoints/{id}" => {
        GET: api::webhook_endpoints::get_endpoint_handler,
        DELETE: api::webhook_endpoints::delete_endpoint_handler,
    },
    "/api/gateway/webhook-endpoints/{id}/rotate-secret" => { POST: api::webhook_endpoints::rotate_secret_handler },
    "/api/gateway/webhook-endpoints/{id}/enable" => { POST: api::webhook_endpoints::enable_endpoint_handler },
    "/api/gateway/branding" => {
        GET: api::branding::get_branding_handler,
        PUT: api::branding::put_branding_handler,
    },
    "/api/gateway/events" => { GET: api::events::list_events_handler },
    "/api/gateway/events/redeliver" => { POST: api::events::redeliver_since_handler },
    "/api/gateway/events/{id}" => { GET: api::events::get_event_handler },
    "/api/gateway/events/{id}/redeliver" => { POST: api::events::redeliver_event_handler },
    "/api/providers/{provider}/callbacks" => { POST: api::provider_callbacks::provider_callback },
    "/api/agent/capabilities" => { GET: api::agent::capabilities },
    "/api/agent/schema/{action}" => { GET: api::agent::schema },
    "/api/agent/actions/checkout.preview" => { POST: api::agent::checkout_preview },
    "/api/agent/actions/fees.estimate" => { POST: api::agent::fees_estimate },
    "/api/agent/actions/checkout.create" => { POST: api::agent::checkout_create },
    "/api/agent/actions/webhook.example" => { POST: api::agent::webhook_example },
    "/api/agent/actions/webhook.verify_sample" => { POST: api::agent::webhook_verify_sample },
    "/api/agent/actions/{action}" => { POST: api::agent::unknown_action },
    "/api/openapi.json" => { GET: api::openapi::openapi_json },
    "/healthz" => { GET: api::health::healthz },
    "/readyz" => { GET: api::health::readyz },
    "/metrics" => { GET: api::metrics::metrics },
}

/// `/{id}/<form>`: a checkout form's address, posted to by `submit`; `GET` shows the page.
fn form_resource<F, Args>(form: Form, submit: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(format!("/{{id}}/{}", form.name()))
        .route(web::get().to(pages::to_checkout_page))
        .route(web::post().to(submit))
}

/// The client's address, as the card-testing and sign-in limits count it: the connection's,
/// or, when the connection comes from one of `trusted_proxies`, the nearest address in
/// `X-Forwarded-For` that is not a trusted proxy itself.
pub fn client_address(
    req: &actix_web::HttpRequest,
    trusted_proxies: &[std::net::IpAddr],
) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    let trusted = |ip: &std::net::IpAddr| trusted_proxies.contains(ip);
    if !trusted(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .iter()
        .rev()
        .find(|ip| !trusted(ip))
        .or(forwarded.first())
        .unwrap_or(&peer)
        .to_string()
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // The buyer's pages first, under one prefix: the router tries resources in order, and the
    // checkout page is the hottest path.
    cfg.service(
        web::scope("/checkout")
            .service(
                web::resource("/{id}")
                    .route(web::get().to(pages::checkout_page))
                    .route(web::head().to(pages::checkout_page)),
            )
            .route("/{id}/status", web::get().to(pages::checkout_status))
            .service(
                web::resource(format!("/{{id}}/{}", Form::Card.name()))
                    .route(web::get().to(pages::card_page_get))
                    .route(web::post().to(pages::card_submit)),
            )
            .route("/{id}/routes", web::get().to(pages::routes_page))
            .route("/{id}/provider", web::get().to(pages::to_provider_page))
            .route("/{id}/return", web::get().to(pages::return_from_provider))
            // Each form's address shows the checkout page when fetched (a reload, a link).
            .service(form_resource(Form::Start, pages::start_submit))
            .service(form_resource(Form::Challenge, pages::challenge_submit))
            .service(form_resource(Form::Simulate, pages::simulate_submit))
            .service(form_resource(Form::Leave, pages::leave_submit))
            .default_service(web::to(not_found)),
    );
    // A paid payment's receipt, by its unguessable link.
    cfg.service(
        web::resource("/receipts/{id}")
            .route(web::get().to(pages::receipt_page))
            .route(web::head().to(pages::receipt_page)),
    );
    // The sandbox's hosted payment page (integration `sandbox_redirect`).
    cfg.service(
        web::resource("/sandbox/pay/{payment}")
            .route(web::get().to(pages::sandbox_page))
            .route(web::post().to(pages::sandbox_page_submit)),
    );
    dashboard::configure(cfg);
    configure_api(cfg);
    // Compressed per `Accept-Encoding` (and `Vary: Accept-Encoding`); only here, where the
    // bodies are text worth compressing and carry no secrets (no BREACH-style oracle).
    cfg.service(
        web::scope("/static")
            .wrap(Compress::default())
            .route("/{name}", web::get().to(assets::static_asset)),
    );
    cfg.route("/preview", web::get().to(pages::preview::gallery));
    cfg.route(
        "/preview/assets/{name}",
        web::get().to(pages::preview::gallery_asset),
    );
    cfg.route(
        "/preview/{slug}",
        web::get().to(pages::preview::gallery_entry),
    );
    cfg.route(
        "/brand/{merchant}/style.css",
        web::get().to(pages::brand::brand_stylesheet),
    );
    cfg.route(
        "/brand/{merchant}/logo",
        web::get().to(pages::brand::brand_logo),
    );
}

/// 405 in the envelope, with `Allow` (RFC 9110, 15.5.6); `HEAD` goes wherever `GET` does.
async fn method_not_allowed(allowed: &'static [&'static str]) -> HttpResponse {
    let mut methods: Vec<&str> = allowed.to_vec();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    let methods = methods.join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("this path accepts {methods}"),
    )
    .error_response();
    if let Ok(value) = HeaderValue::from_str(&methods) {
        response.headers_mut().insert(ALLOW, value);
    }
    response
}

/// Anything no route matched: the HTML 404 page for a browser's paths, JSON for the API.
pub async fn not_found(
    req: actix_web::HttpRequest,
    state: web::Data<crate::state::AppState>,
) -> Result<HttpResponse, ApiError> {
    let path = req.path();
    let is_api = path.starts_with("/api/") || path == "/api" || path.ends_with(".json");
    if !is_api && req.method() == actix_web::http::Method::GET {
        return Ok(pages::not_found_page(
            &state,
            &pages::Ctx::new(&state, &req, None),
        ));
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "route_not_found",
        format!("there is no {} {}", req.method(), req.path()),
    )
    .with_suggestion("See /api/openapi.json for every route of the merchant API."))
}
