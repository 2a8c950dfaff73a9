//! API-key authentication: `Authorization: Bearer sk_…`, or HTTP Basic with the key as the
//! user name. The key's environment decides which records the request sees.

use actix_web::HttpMessage;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use futures_util::future::LocalBoxFuture;
use std::time::Instant;

use crate::db::api_keys::{KeyOwner, key_owner};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;

const HOW_TO_GET_A_KEY: &str = "Send your secret key as `Authorization: Bearer sk_test_…`. \
The server prints a sandbox key the first time it starts; create another with \
`openrails-checkout keys create --environment sandbox`.";

/// The merchant and environment a valid API key stands for.
#[derive(Debug, Clone)]
pub struct Authenticated(pub KeyOwner);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Authenticated, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let secret = secret_from_header(req);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let secret = secret?;
            let state = state.ok_or_else(|| {
                ApiError::internal(anyhow::anyhow!("application state is not configured"))
            })?;
            match key_owner(&state.db, &secret).await? {
                Some(owner) => {
                    tracing::Span::current().record("merchant.id", owner.merchant_id.as_str());
                    let verdict = state
                        .api_limiter
                        .take(owner.key_id.as_str(), Instant::now());
                    // The answer's `RateLimit-*` headers (added by `telemetry::request_context`).
                    req.extensions_mut().insert(verdict);
                    if !verdict.allowed {
                        Metrics::add(&state.metrics.api_rate_limited, 1);
                        tracing::warn!(
                            api_key.id = owner.key_id.as_str(),
                            "API key over its rate: refused"
                        );
                        return Err(ApiError::rate_limited(verdict.retry_after_seconds));
                    }
                    Ok(Authenticated(owner))
                }
                None => Err(unauthorized(
                    "invalid_api_key",
                    "the API key is not valid; it may have been revoked",
                )),
            }
        })
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, code, message).with_suggestion(HOW_TO_GET_A_KEY)
}

/// The key from the `Authorization` header, checked for shape only.
fn secret_from_header(req: &HttpRequest) -> Result<String, ApiError> {
    let Some(value) = req.headers().get(AUTHORIZATION) else {
        return Err(unauthorized("missing_api_key", "no API key was sent"));
    };
    let value = value
        .to_str()
        .map_err(|_| unauthorized("invalid_api_key", "the Authorization header is malformed"))?
        .trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let secret = if scheme.eq_ignore_ascii_case("bearer") {
        rest.trim().to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                unauthorized(
                    "invalid_api_key",
                    "the Basic credentials are not valid base64",
                )
            })?;
        decoded.split(':').next().unwrap_or_default().to_owned()
    } else {
        return Err(unauthorized(
            "invalid_api_key",
            "the Authorization header must use the Bearer or Basic scheme",
        ));
    };
    if !(secret.starts_with("sk_test_") || secret.starts_with("sk_live_")) || secret.len() > 200 {
        return Err(unauthorized(
            "invalid_api_key",
            "the API key must start with sk_test_ or sk_live_",
        ));
    }
    Ok(secret)
}
