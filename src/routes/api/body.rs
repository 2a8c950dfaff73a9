//! Reading a request body ourselves, so that every way a body can be wrong (too large, too slow,
//! not JSON, not an object, a repeated key) gets the API's error envelope instead of actix's
//! plain-text answers. The JSON object itself is read by [`RawObject`], which keeps each value's
//! exact text (numbers included).

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::domain::input::RawObject;
use crate::error::ApiError;
use crate::state::AppState;

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The client stopped sending before the body was complete.
    TimedOut,
    Unreadable(String),
}

/// Reads the whole body, at most `limit` bytes, within `timeout`: a client that starts a
/// body and never finishes it must not hold a connection (and its memory) for ever.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::BytesMut, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// The configured body time-out of the server handling `req`.
pub fn body_timeout(req: &HttpRequest) -> Duration {
    let seconds = req
        .app_data::<web::Data<AppState>>()
        .map_or(10, |state| state.settings.body_timeout_seconds);
    Duration::from_secs(seconds)
}

impl BodyError {
    /// The API's answer to it.
    pub fn into_api_error(self, limit: usize) -> ApiError {
        match self {
            BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
            .with_suggestion("Send a smaller body; metadata is limited to 10 short string values."),
            BodyError::TimedOut => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            )
            .with_suggestion("Send the whole body at once, with a correct Content-Length."),
            BodyError::Unreadable(e) => ApiError::bad_request(
                "body_unreadable",
                format!("the request body could not be read: {e}"),
            ),
        }
    }
}

/// Checks the content type and size, then parses a JSON object.
pub async fn read_json_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<RawObject, ApiError> {
    check_content_type(req)?;
    let body = read_body(req, payload, limit, body_timeout(req))
        .await
        .map_err(|e| e.into_api_error(limit))?;
    RawObject::parse(&body).map_err(|message| {
        ApiError::bad_request("invalid_json", message).with_suggestion(
            "Send one JSON object, e.g. {\"product\": \"Creator plan\", \"amount\": 116, \"customer\": \"buyer@example.com\"}.",
        )
    })
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        let got = if content_type.is_empty() {
            "no Content-Type".to_owned()
        } else {
            format!("Content-Type {content_type:?}")
        };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be JSON, but the request has {got}"),
        )
        .with_suggestion("Send the body as JSON with the header Content-Type: application/json."))
    }
}
