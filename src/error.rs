//! The merchant API's one error type. Every error on every path leaves as the same JSON
//! envelope with a stable machine `code`; a 500 says nothing but the request id, and the log
//! line carries the cause chain.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub use crate::domain::input::FieldIssue;
use crate::telemetry::current_request_id;

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    issues: Vec<FieldIssue>,
    suggestion: Option<String>,
    source: Option<anyhow::Error>,
    /// Seconds for the `Retry-After` header.
    retry_after: Option<u64>,
}

/// The body of every error response.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    /// `invalid_request_error`, `authentication_error`, `permission_error`,
    /// `rate_limit_error` or `api_error`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Stable machine-readable code, e.g. `validation_failed`.
    code: &'static str,
    message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    issues: Vec<FieldIssue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    suggestion: Option<String>,
    request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            issues: Vec::new(),
            suggestion: None,
            source: None,
            retry_after: None,
        }
    }

    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> ApiError {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// 400 for one or more bad fields; the message names the first.
    pub fn validation(issues: Vec<FieldIssue>, suggestion: Option<String>) -> ApiError {
        let message = match issues.first() {
            Some(first) if issues.len() == 1 => format!("{} {}", first.field, first.message),
            Some(first) => format!(
                "{} {} (and {} more problem{})",
                first.field,
                first.message,
                issues.len() - 1,
                if issues.len() == 2 { "" } else { "s" }
            ),
            None => "the request is invalid".to_owned(),
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "validation_failed",
            message,
            issues,
            suggestion,
            source: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(what: &str, id: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "resource_missing",
            format!("no {what} with id {id:?} exists for this API key"),
        )
    }

    pub fn internal(source: anyhow::Error) -> ApiError {
        ApiError {
            source: Some(source),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "something went wrong on our side; quote the request id if you contact support",
            )
        }
    }

    /// 503: the database cannot serve right now; the client should retry shortly.
    pub fn unavailable(source: anyhow::Error) -> ApiError {
        ApiError {
            source: Some(source),
            retry_after: Some(5),
            ..ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable",
                "the service cannot reach its database right now; nothing was changed, retry shortly",
            )
            .with_suggestion("Retry the same request after the Retry-After delay; with an idempotencyKey a retry never creates a second session.")
        }
    }

    /// 429: the API key is over its rate; `retry_after` seconds until one more request may go.
    pub fn rate_limited(retry_after: u64) -> ApiError {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "this API key made more requests than its rate allows; nothing was done",
            )
            .with_suggestion(
                "Wait for the Retry-After delay, then send the same request again; the \
                 RateLimit-Remaining header says how many requests may go at once. With an \
                 idempotencyKey a retry never creates a second session.",
            )
        }
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The envelope's JSON text, for an answer written outside a request (the HTTP layer's).
    pub fn envelope_json(&self, request_id: &str) -> Vec<u8> {
        serde_json::to_vec(&self.envelope(request_id.to_owned())).unwrap_or_default()
    }

    fn envelope(&self, request_id: String) -> ErrorEnvelope {
        ErrorEnvelope {
            error: ErrorBody {
                kind: self.kind(),
                code: self.code,
                message: self.message.clone(),
                issues: self.issues.clone(),
                suggestion: self.suggestion.clone(),
                request_id,
            },
        }
    }

    fn kind(&self) -> &'static str {
        match self.status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::FORBIDDEN => "permission_error",
            StatusCode::TOO_MANY_REQUESTS => "rate_limit_error",
            s if s.is_server_error() => "api_error",
            _ => "invalid_request_error",
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        if crate::db::is_unavailable(&e) {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let request_id = current_request_id();
        if let Some(source) = &self.source {
            tracing::error!(
                error.code = self.code,
                error.cause = format!("{source:#}"),
                "request failed"
            );
        } else {
            tracing::info!(
                error.code = self.code,
                status = self.status.as_u16(),
                "request refused"
            );
        }
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds.to_string()));
        }
        response.json(self.envelope(request_id))
    }
}
