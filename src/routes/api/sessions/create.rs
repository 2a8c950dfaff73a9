//! `POST /api/gateway/sessions`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::CheckoutSession;
use super::request::CreateSession;
use crate::auth::Authenticated;
use crate::db::session_writer::Inserted;
use crate::db::sessions::{NewSession, get_session_by_idempotency_key};
use crate::domain::payment_route::pick;
use crate::domain::time::now_ms;
use crate::domain::{Environment, SessionId};
use crate::error::{ApiError, ErrorEnvelope};
use crate::metrics::Metrics;
use crate::routes::api::body::read_json_object;
use crate::state::AppState;

/// Create a checkout session.
///
/// Returns a `checkoutUrl` to send the buyer to. With `idempotencyKey`, a retry with the same
/// body returns the same session (header `Idempotent-Replayed: true`).
#[utoipa::path(
    post,
    path = "/api/gateway/sessions",
    tag = "Checkout sessions",
    request_body(content = crate::routes::api::schemas::CreateSessionRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "The session", body = CheckoutSession),
        (status = 400, description = "Invalid body or field", body = ErrorEnvelope),
        (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope),
        (status = 403, description = "The key's environment does not match the session's", body = ErrorEnvelope),
        (status = 409, description = "idempotencyKey reused with a different body", body = ErrorEnvelope),
        (status = 413, description = "Body too large", body = ErrorEnvelope),
        (status = 415, description = "Body is not JSON", body = ErrorEnvelope),
    ),
    security(("api_key" = []))
)]
pub async fn create_session(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let owner = auth.0;
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    // A key of the other environment may not create this session whatever else the body
    // says: refused (403) before the fields are checked against that environment's rules.
    let asked = body
        .get("environment")
        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
        .and_then(|s| Environment::parse(&s));
    if let Some(environment) = asked
        && environment != owner.environment
    {
        return Err(environment_mismatch(owner.environment, environment));
    }
    let input = CreateSession::parse(body, owner.environment, state.settings.max_amount_cents())?;
    let environment = input.environment.unwrap_or(owner.environment);

    let payable = state
        .settings
        .routes
        .iter()
        .any(|r| r.offered_in(environment) && state.providers.get(&r.integration).is_some());
    if !payable {
        return Err(ApiError::bad_request(
            "no_route_configured",
            format!("no payment route with a provider is configured for {environment}, so a buyer could not pay this session"),
        )
        .with_suggestion(
            "Add a [[routes]] entry with environments = [\"production\"] and its provider to the config file, or create the session in sandbox.",
        ));
    }
    let route = match input.preferred_route {
        Some(kind) => Some(
            pick(&state.settings.routes, kind, environment).ok_or_else(|| {
                ApiError::bad_request(
                    "route_unavailable",
                    format!("no {} route is configured for {environment}", kind.as_str()),
                )
                .with_suggestion(
                    "Choose another preferredRoute, or configure a route of that kind.",
                )
            })?,
        ),
        None => None,
    };

    let now = now_ms();
    let fingerprint = input.fingerprint(environment);
    let expires_in = input
        .expires_in_seconds
        .unwrap_or(state.settings.default_expires_in_seconds);

    let session = NewSession {
        id: SessionId::generate(),
        merchant_id: owner.merchant_id.clone(),
        environment,
        customer_email: input.customer.as_str().to_owned(),
        email_normalized: input.customer.normalized().to_owned(),
        product: input.product.as_str().to_owned(),
        amount_cents: input.amount.cents(),
        currency: "USD".to_owned(),
        preferred_route: input.preferred_route,
        route_id: route.map(|r| r.id.clone()),
        redirect_url: input.redirect_url.map(|u| u.as_str().to_owned()),
        metadata: input.metadata.to_db(),
        client_reference_id: input.client_reference_id,
        idempotency_key: input.idempotency_key.clone(),
        request_hash: Some(fingerprint.clone()),
        expires_at: now + expires_in * 1000,
        created_at: now,
    };
    if let Inserted::Created(row) = state.session_writer.insert(session).await? {
        tracing::info!(session.id = %row.id, "session created");
        Metrics::add(&state.metrics.sessions_created, 1);
        return Ok(HttpResponse::Ok().json(CheckoutSession::from_row(*row, &state, now, false)));
    }
    // The idempotency key is taken: nothing of this attempt was written.
    let key = input.idempotency_key.unwrap_or_default();
    let existing =
        get_session_by_idempotency_key(&state.db.write, &owner.merchant_id, environment, &key)
            .await?
            .ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("idempotency conflict without a row"))
            })?;
    if existing.request_hash.as_deref() != Some(fingerprint.as_str()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            format!(
                "idempotencyKey {key:?} was already used with a different request (session {})",
                existing.id
            ),
        )
        .with_suggestion("Send the same body as the first request, or use a new idempotencyKey for a different checkout."));
    }
    tracing::info!(session.id = %existing.id, "idempotent replay");
    Ok(HttpResponse::Ok()
        .insert_header(("Idempotent-Replayed", "true"))
        .json(super::session_object(&state, existing).await?))
}

/// 403: a key of one environment asked for a session of the other.
fn environment_mismatch(key: Environment, asked: Environment) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "environment_mismatch",
        format!("a {} key cannot create a {} session", key, asked),
    )
    .with_suggestion(match asked {
        Environment::Production => {
            "Use a live key (sk_live_…) for production sessions, or send environment \"sandbox\"."
        }
        Environment::Sandbox => {
            "Use a test key (sk_test_…) for sandbox sessions, or send environment \"production\"."
        }
    })
}
