//! `POST /api/gateway/sessions`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::CheckoutSession;
use super::request::parse_create_session;
use crate::auth::Authenticated;
use crate::db::api_keys::KeyOwner;
use crate::db::sessions::SessionRow;
use crate::domain::input::RawObject;
use crate::domain::session_request::CreateSession;
use crate::domain::time::now_ms;
use crate::domain::{Environment, RouteKind};
use crate::error::{ApiError, ErrorEnvelope};
use crate::lifecycle::create::{Creation, create_session as create_session_for};
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
    let body = read_json_object(&req, payload, state.settings.max_body_bytes).await?;
    match create_from_body(&state, &auth.0, body).await? {
        Made::Created(row) => {
            Ok(HttpResponse::Ok().json(CheckoutSession::from_row(*row, &state, now_ms(), false)))
        }
        Made::Replayed(row) => Ok(HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(super::session_object(&state, *row).await?)),
    }
}

/// A session made from a request's body: new, or the one its idempotency key made before.
pub(crate) enum Made {
    Created(Box<SessionRow>),
    Replayed(Box<SessionRow>),
}

/// The body of a session request read for `owner`'s key: its fields and the environment the
/// session is for. A key of the other environment may not create the session whatever else the
/// body says: refused (403) before the fields are checked against that environment's rules.
pub(crate) fn parse_for_key(
    state: &AppState,
    owner: &KeyOwner,
    body: RawObject,
) -> Result<(CreateSession, Environment), ApiError> {
    let asked = body
        .get("environment")
        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
        .and_then(|s| Environment::parse(&s));
    if let Some(environment) = asked
        && environment != owner.environment
    {
        return Err(environment_mismatch(owner.environment, environment));
    }
    let input = parse_create_session(body, owner.environment, state.settings.max_amount_cents())?;
    let environment = input.environment.unwrap_or(owner.environment);
    Ok((input, environment))
}

/// What `POST /api/gateway/sessions` and the agent action `checkout.create` do with a body.
pub(crate) async fn create_from_body(
    state: &AppState,
    owner: &KeyOwner,
    body: RawObject,
) -> Result<Made, ApiError> {
    let (input, environment) = parse_for_key(state, owner, body)?;
    match create_session_for(state.lifecycle(), &owner.merchant_id, environment, input).await? {
        Creation::Created(row) => {
            Metrics::add(&state.metrics.sessions_created, 1);
            Ok(Made::Created(row))
        }
        Creation::Replayed(row) => Ok(Made::Replayed(row)),
        Creation::KeyReused { key, session } => Err(ApiError::new(
            StatusCode::CONFLICT,
            "idempotency_key_reused",
            format!(
                "idempotencyKey {key:?} was already used with a different request (session {session})"
            ),
        )
        .with_suggestion("Send the same body as the first request, or use a new idempotencyKey for a different checkout.")),
        Creation::NoRouteConfigured => Err(no_route_configured(environment)),
        Creation::RouteUnavailable(kind) => Err(route_unavailable(kind, environment)),
    }
}

/// 400: no route with a provider is offered in `environment`.
pub(crate) fn no_route_configured(environment: Environment) -> ApiError {
    ApiError::bad_request(
        "no_route_configured",
        format!("no payment route with a provider is configured for {environment}, so a buyer could not pay this session"),
    )
    .with_suggestion(
        "Add a [[routes]] entry with environments = [\"production\"] and its provider to the config file, or create the session in sandbox.",
    )
}

/// 400: no route of the preferred kind is offered in `environment`.
pub(crate) fn route_unavailable(kind: RouteKind, environment: Environment) -> ApiError {
    ApiError::bad_request(
        "route_unavailable",
        format!("no {kind} route is configured for {environment}"),
    )
    .with_suggestion("Choose another preferredRoute, or configure a route of that kind.")
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
