//! Stripe's error envelope (`{"error": {type, code, message, param}}`) and the answers that carry it.

use serde_json::{Value, json};

/// An error as Stripe answers it: `{"error": {"type", "code"?, "message", "param"?,
/// "doc_url"?, "decline_code"?}}`. Stripe leaves `code` out of some errors (a bad API key,
/// a mismatched idempotency key, an internal error, an invalid enum value): so does this.
/// (Boxed: errors travel in every `Result` of request parsing, which should stay small.)
#[derive(Debug, Clone)]
pub struct ApiError(Box<Fields>);

#[derive(Debug, Clone)]
pub struct Fields {
    pub status: u16,
    pub kind: String,
    pub code: Option<String>,
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
    pub headers: Vec<(&'static str, String)>,
}

impl std::ops::Deref for ApiError {
    type Target = Fields;

    fn deref(&self) -> &Fields {
        &self.0
    }
}

impl std::ops::DerefMut for ApiError {
    fn deref_mut(&mut self) -> &mut Fields {
        &mut self.0
    }
}

impl ApiError {
    pub fn new(status: u16, kind: &str, message: impl Into<String>) -> ApiError {
        ApiError(Box::new(Fields {
            status,
            kind: kind.to_owned(),
            code: None,
            message: message.into(),
            param: None,
            decline_code: None,
            headers: Vec::new(),
        }))
    }

    /// A 400 `invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "invalid_request_error", message)
    }

    pub fn code(mut self, code: &str) -> ApiError {
        self.code = Some(code.to_owned());
        self
    }

    pub fn param(mut self, param: impl Into<String>) -> ApiError {
        self.param = Some(param.into());
        self
    }

    pub fn header(mut self, name: &'static str, value: &str) -> ApiError {
        self.headers.push((name, value.to_owned()));
        self
    }

    pub fn missing(param: &str) -> ApiError {
        ApiError::invalid(format!("Missing required param: {param}."))
            .code("parameter_missing")
            .param(param)
    }

    pub fn unknown(param: &str) -> ApiError {
        ApiError::invalid(format!("Received unknown parameter: {param}"))
            .code("parameter_unknown")
            .param(param)
    }

    pub fn empty(param: &str) -> ApiError {
        ApiError::invalid(format!(
            "You passed an empty string for '{param}'. We assume empty values are an attempt \
             to unset a parameter; however '{param}' cannot be unset. You should remove \
             '{param}' from your request or supply a non-empty value."
        ))
        .code("parameter_invalid_empty")
        .param(param)
    }

    pub fn not_an_integer(param: &str, value: &str) -> ApiError {
        ApiError::invalid(format!("Invalid integer: {value}"))
            .code("parameter_invalid_integer")
            .param(param)
    }

    /// 404 for an object this account does not have; `other_mode` when the id belongs to
    /// the other mode, as Stripe says then.
    pub fn no_such(object: &str, id: &str, param: &str, other_mode: Option<bool>) -> ApiError {
        let mut message = format!("No such {object}: '{id}'");
        if let Some(live_id) = other_mode {
            let (exists, used) = if live_id {
                ("live", "test")
            } else {
                ("test", "live")
            };
            message.push_str(&format!(
                "; a similar object exists in {exists} mode, but a {used} mode key was used \
                 to make this request."
            ));
        }
        let mut error = ApiError::invalid(message)
            .code("resource_missing")
            .param(param);
        error.status = 404;
        error
    }

    pub fn unrecognized(method: &str, path: &str) -> ApiError {
        let mut error = ApiError::invalid(format!(
            "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs \
             or we can help at https://support.stripe.com/."
        ));
        error.status = 404;
        error
    }

    /// The default error for an injected fault of `status`.
    pub fn injected(status: u16) -> Option<ApiError> {
        Some(match status {
            400 => ApiError::invalid("Injected by the stand-in: the request was refused."),
            401 => ApiError::new(
                401,
                "invalid_request_error",
                "Invalid API Key provided: sk_test_****************************",
            ),
            402 => {
                let mut error = ApiError::new(402, "card_error", "Your card was declined.")
                    .code("card_declined");
                error.decline_code = Some("generic_decline".into());
                error
            }
            404 => ApiError::no_such("checkout.session", "cs_injected", "id", None),
            409 => ApiError::new(
                409,
                "invalid_request_error",
                "This object cannot be accessed right now because another API request or \
                 Stripe process is currently accessing it. If you see this error \
                 intermittently, retry the request. If you see this error frequently and are \
                 making multiple concurrent requests to a single object, make your requests \
                 serially or at a lower rate.",
            )
            .code("lock_timeout")
            .header("Stripe-Should-Retry", "true"),
            429 => ApiError::new(
                429,
                "invalid_request_error",
                "Request rate limit exceeded. Learn more about rate limits here \
                 https://stripe.com/docs/rate-limits.",
            )
            .code("rate_limit"),
            500 | 502 | 503 => ApiError::new(status, "api_error", "An unknown error occurred"),
            _ => return None,
        })
    }

    pub fn body(&self) -> Value {
        let mut error = json!({"type": self.kind, "message": self.message});
        if let Some(code) = &self.code {
            error["code"] = json!(code);
            error["doc_url"] = json!(format!(
                "https://stripe.com/docs/error-codes/{}",
                code.replace('_', "-")
            ));
        }
        if let Some(param) = &self.param {
            error["param"] = json!(param);
        }
        if let Some(decline_code) = &self.decline_code {
            error["decline_code"] = json!(decline_code);
        }
        json!({ "error": error })
    }
}
