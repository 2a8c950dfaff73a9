//! The body of `POST /api/gateway/sessions`, parsed field by field so that every problem is
//! reported at once, unknown fields are named (with a near-miss suggestion), and the amount is
//! read from its exact JSON text.

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::domain::input::RawObject;
use crate::domain::suggest::closest;
use crate::domain::{Amount, Email, Environment, Metadata, ProductName, RedirectUrl, RouteKind};
use crate::error::{ApiError, FieldIssue};

pub const FIELDS: &[&str] = &[
    "product",
    "amount",
    "customer",
    "preferredRoute",
    "redirectUrl",
    "metadata",
    "idempotencyKey",
    "clientReferenceId",
    "environment",
    "expiresInSeconds",
];

pub const MIN_EXPIRES_IN: i64 = 300;
pub const MAX_EXPIRES_IN: i64 = 604_800;

/// A valid request to create a session.
#[derive(Debug, Clone)]
pub struct CreateSession {
    pub product: ProductName,
    pub amount: Amount,
    pub customer: Email,
    pub preferred_route: Option<RouteKind>,
    pub redirect_url: Option<RedirectUrl>,
    pub metadata: Metadata,
    pub idempotency_key: Option<String>,
    pub client_reference_id: Option<String>,
    /// `None` when the request leaves it to the API key.
    pub environment: Option<Environment>,
    pub expires_in_seconds: Option<i64>,
}

impl CreateSession {
    /// Parses the body; `key_environment` decides the rules for `redirectUrl` when the body
    /// names no environment.
    pub fn parse(
        body: RawObject,
        key_environment: Environment,
        max_amount_cents: i64,
    ) -> Result<CreateSession, ApiError> {
        let mut issues = Vec::new();
        let mut fields: Vec<(String, Box<RawValue>)> = Vec::new();
        for (name, value) in body.0 {
            if FIELDS.contains(&name.as_str()) {
                // An explicit null means "not given" for optional fields.
                if value.get() != "null" || REQUIRED.contains(&name.as_str()) {
                    fields.push((name, value));
                }
            } else {
                let message = match closest(&name, FIELDS) {
                    Some(hit) => format!("is not a known field; did you mean {hit}?"),
                    None => "is not a known field".to_owned(),
                };
                issues.push(FieldIssue::new(name, message));
            }
        }
        let take = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.get());

        let string = |name: &str, issues: &mut Vec<FieldIssue>| -> Option<String> {
            let raw = take(name)?;
            match serde_json::from_str::<String>(raw) {
                Ok(s) => Some(s),
                Err(_) => {
                    issues.push(FieldIssue::new(
                        name,
                        format!("must be a string, not {}", json_kind(raw)),
                    ));
                    None
                }
            }
        };

        for required in REQUIRED {
            if take(required).is_none() {
                issues.push(FieldIssue::new(*required, "is required"));
            }
        }

        let environment = string("environment", &mut issues).and_then(|s| {
            Environment::parse(&s).or_else(|| {
                issues.push(FieldIssue::new(
                    "environment",
                    "must be sandbox or production",
                ));
                None
            })
        });
        let effective_environment = environment.unwrap_or(key_environment);

        let product = string("product", &mut issues).and_then(|s| {
            ProductName::parse(&s)
                .map_err(|m| issues.push(FieldIssue::new("product", m)))
                .ok()
        });
        let amount = take("amount").and_then(|raw| {
            Amount::parse_json(raw, max_amount_cents)
                .map_err(|e| {
                    let message = if raw.trim_start().starts_with('"') {
                        "must be a number, not a string".to_owned()
                    } else {
                        e.to_string()
                    };
                    issues.push(FieldIssue::new("amount", message))
                })
                .ok()
        });
        let customer = string("customer", &mut issues).and_then(|s| {
            Email::parse(&s)
                .map_err(|m| issues.push(FieldIssue::new("customer", m)))
                .ok()
        });
        let preferred_route = string("preferredRoute", &mut issues).and_then(|s| {
            RouteKind::parse(&s).or_else(|| {
                issues.push(FieldIssue::new(
                    "preferredRoute",
                    "must be card, wallet or local",
                ));
                None
            })
        });
        let redirect_url = string("redirectUrl", &mut issues).and_then(|s| {
            RedirectUrl::parse(&s, effective_environment)
                .map_err(|m| issues.push(FieldIssue::new("redirectUrl", m)))
                .ok()
        });
        let metadata = match take("metadata") {
            None => Some(Metadata::default()),
            Some(raw) => Metadata::parse_json(raw)
                .map_err(|found| {
                    issues.extend(
                        found
                            .into_iter()
                            .map(|i| FieldIssue::new(i.field, i.message)),
                    )
                })
                .ok(),
        };
        let idempotency_key = string("idempotencyKey", &mut issues).and_then(|s| {
            bounded_text(&s, 255)
                .map_err(|m| issues.push(FieldIssue::new("idempotencyKey", m)))
                .ok()
        });
        let client_reference_id = string("clientReferenceId", &mut issues).and_then(|s| {
            bounded_text(&s, 200)
                .map_err(|m| issues.push(FieldIssue::new("clientReferenceId", m)))
                .ok()
        });
        let expires_in_seconds = take("expiresInSeconds").and_then(|raw| match whole_number(raw) {
            Some(n) if (MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&n) => Some(n),
            Some(_) => {
                issues.push(FieldIssue::new(
                    "expiresInSeconds",
                    format!("must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN}"),
                ));
                None
            }
            None => {
                issues.push(FieldIssue::new(
                    "expiresInSeconds",
                    "must be a whole number of seconds",
                ));
                None
            }
        });

        if !issues.is_empty() {
            let suggestion = issues.first().map(|i| suggestion_for(&i.field));
            return Err(ApiError::validation(issues, suggestion));
        }
        match (product, amount, customer, metadata) {
            (Some(product), Some(amount), Some(customer), Some(metadata)) => Ok(CreateSession {
                product,
                amount,
                customer,
                preferred_route,
                redirect_url,
                metadata,
                idempotency_key,
                client_reference_id,
                environment,
                expires_in_seconds,
            }),
            _ => Err(ApiError::validation(
                vec![FieldIssue::new("body", "is invalid")],
                None,
            )),
        }
    }

    /// A digest of what the request asks for, independent of key order and spacing: an
    /// idempotent retry must ask for exactly the same thing.
    pub fn fingerprint(&self, environment: Environment) -> String {
        let canonical = serde_json::json!({
            "product": self.product.as_str(),
            "amount": self.amount.cents(),
            "customer": self.customer.as_str(),
            "preferredRoute": self.preferred_route.map(RouteKind::as_str),
            "redirectUrl": self.redirect_url.as_ref().map(RedirectUrl::as_str),
            "metadata": self.metadata.to_json(),
            "clientReferenceId": self.client_reference_id,
            "environment": environment.as_str(),
            "expiresInSeconds": self.expires_in_seconds,
        });
        let digest = Sha256::digest(canonical.to_string().as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

const REQUIRED: &[&str] = &["product", "amount", "customer"];

fn bounded_text(s: &str, max: usize) -> Result<String, String> {
    if s.is_empty() {
        Err("must not be empty".into())
    } else if s.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if s.chars().any(char::is_control) {
        Err("must not contain control characters".into())
    } else {
        Ok(s.to_owned())
    }
}

/// A JSON number with no fractional part, as JSON Schema's `integer` has it: `300`, `300.0`
/// and `3e2` alike. `None` for anything else or beyond ±2^53.
fn whole_number(raw: &str) -> Option<i64> {
    let number = serde_json::from_str::<serde_json::Number>(raw).ok()?;
    if let Some(n) = number.as_i64() {
        return Some(n);
    }
    let f = number.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
}

fn json_kind(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'"') => "a string",
        _ => "a number",
    }
}

/// How to fix the first problem found.
fn suggestion_for(field: &str) -> String {
    match field.split('.').next().unwrap_or(field) {
        "amount" => "Send amount as a positive number of US dollars, e.g. 116 or 116.50.".into(),
        "product" => "Send product as the name shown to the buyer, 1 to 120 characters, e.g. \"Creator plan\".".into(),
        "customer" => "Send customer as the buyer's e-mail address, e.g. buyer@example.com.".into(),
        "preferredRoute" => "Send preferredRoute as one of card, wallet or local, or leave it out.".into(),
        "redirectUrl" => "Send redirectUrl as an absolute URL, e.g. https://merchant.example/success?order=ord_284.".into(),
        "metadata" => "Send metadata as an object of at most 10 string values, e.g. {\"order_id\": \"ord_284\"}.".into(),
        "idempotencyKey" => "Send idempotencyKey as a string of at most 255 characters, e.g. your order id.".into(),
        "clientReferenceId" => "Send clientReferenceId as a string of at most 200 characters.".into(),
        "environment" => "Send environment as sandbox or production, or leave it out to use the API key's.".into(),
        "expiresInSeconds" => "Send expiresInSeconds as a whole number from 300 to 604800.".into(),
        other => match closest(other, FIELDS) {
            Some(hit) => format!("Rename {other} to {hit}."),
            None => format!("Remove {other}; the fields are {}.", FIELDS.join(", ")),
        },
    }
}
