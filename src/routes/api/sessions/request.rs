//! The body of `POST /api/gateway/sessions`, parsed field by field so that every problem is
//! reported at once, unknown fields are named (with a near-miss suggestion), and the amount is
//! read from its exact JSON text.

use crate::domain::input::{Fields, RawObject};
use crate::domain::session_request::CreateSession;
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
    "sendReceipt",
];

pub const MIN_EXPIRES_IN: i64 = 300;
pub const MAX_EXPIRES_IN: i64 = 604_800;

/// Parses the body of `POST /api/gateway/sessions`; `key_environment` decides the rules for
/// `redirectUrl` when the body names no environment.
pub fn parse_create_session(
    body: RawObject,
    key_environment: Environment,
    max_amount_cents: i64,
) -> Result<CreateSession, ApiError> {
    let mut f = Fields::new(&body, FIELDS);
    let product = f.required::<String>("product");
    let product = f.check("product", product, |s: String| ProductName::parse(&s));
    let amount = f.required_raw("amount");
    let amount = f.check("amount", amount, |raw| money(raw, max_amount_cents));
    let customer = f.required::<String>("customer");
    let customer = f.check("customer", customer, |s: String| Email::parse(&s));
    let environment = f.optional::<String>("environment");
    let environment = f.check("environment", environment, |s| {
        Environment::parse(&s).ok_or_else(|| "must be sandbox or production".to_owned())
    });
    let preferred_route = f.optional::<String>("preferredRoute");
    let preferred_route = f.check("preferredRoute", preferred_route, |s| {
        RouteKind::parse(&s).ok_or_else(|| "must be card, wallet or local".to_owned())
    });
    let effective_environment = environment.unwrap_or(key_environment);
    let redirect_url = f.optional::<String>("redirectUrl");
    let redirect_url = f.check("redirectUrl", redirect_url, |s| {
        RedirectUrl::parse(&s, effective_environment)
    });
    let metadata = metadata_field(&mut f);
    let idempotency_key = f.optional::<String>("idempotencyKey");
    let idempotency_key = f.check("idempotencyKey", idempotency_key, |s| bounded_text(&s, 255));
    let client_reference_id = f.optional::<String>("clientReferenceId");
    let client_reference_id = f.check("clientReferenceId", client_reference_id, |s| {
        bounded_text(&s, 200)
    });
    let expires_in_seconds = f.optional_raw("expiresInSeconds");
    let expires_in_seconds =
        f.check(
            "expiresInSeconds",
            expires_in_seconds,
            |raw| match whole_number(raw) {
                Some(n) if (MIN_EXPIRES_IN..=MAX_EXPIRES_IN).contains(&n) => Ok(n),
                Some(_) => Err(format!(
                    "must be between {MIN_EXPIRES_IN} and {MAX_EXPIRES_IN}"
                )),
                None => Err("must be a whole number of seconds".to_owned()),
            },
        );

    let send_receipt = f.optional::<bool>("sendReceipt");

    let issues = f.finish();
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
            send_receipt,
        }),
        _ => Err(ApiError::validation(
            vec![FieldIssue::new("body", "is invalid")],
            None,
        )),
    }
}

/// A money amount's exact JSON text, as US dollars of at most `max_cents`.
pub(crate) fn money(raw: &str, max_cents: i64) -> Result<Amount, String> {
    Amount::parse_json(raw, max_cents).map_err(|e| {
        if raw.trim_start().starts_with('"') {
            "must be a number, not a string".to_owned()
        } else {
            e.to_string()
        }
    })
}

/// The optional `metadata` member: parsed (empty when absent), or `None` with its problems
/// recorded.
pub(crate) fn metadata_field(f: &mut Fields<'_>) -> Option<Metadata> {
    match f.optional_raw("metadata") {
        None => Some(Metadata::default()),
        Some(raw) => match Metadata::parse_json(raw) {
            Ok(metadata) => Some(metadata),
            Err(found) => {
                for issue in found {
                    f.issue(&issue.field, issue.message);
                }
                None
            }
        },
    }
}

/// `s` if it is 1 to `max` characters without control characters.
pub(crate) fn bounded_text(s: &str, max: usize) -> Result<String, String> {
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
pub(crate) fn whole_number(raw: &str) -> Option<i64> {
    let number = serde_json::from_str::<serde_json::Number>(raw).ok()?;
    if let Some(n) = number.as_i64() {
        return Some(n);
    }
    let f = number.as_f64()?;
    (f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f as i64)
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
        "sendReceipt" => "Send sendReceipt as true or false, or leave it out to follow the server's send_receipts.".into(),
        other => match closest(other, FIELDS) {
            Some(hit) => format!("Rename {other} to {hit}."),
            None => format!("Remove {other}; the fields are {}.", FIELDS.join(", ")),
        },
    }
}
