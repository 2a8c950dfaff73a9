//! What every state-changing form needs: a token bound to the session and the step, a check
//! that the post comes from our own pages, and a small, bounded body.
//!
//! Tokens are stateless: `<issued at>.<HMAC of session, step and time>`. What makes a token
//! "one-time" is the step it is bound to, which names the payment the page showed and its
//! status (`card:pay_…:pending`): each step is a compare-and-set in the database (`routed` →
//! `pending`, `awaiting_buyer` → `in_flight`, …) that can succeed once, and once the payment
//! has moved on (failed, so the buyer may try again) the old page's token no longer fits, so
//! a replayed or double-clicked form is shown the current state instead of paying again.

use actix_web::http::header::{HeaderMap, ORIGIN, REFERER};
use actix_web::{HttpRequest, web};

use super::step::Form;
use crate::db::payments::PaymentRow;
use crate::routes::api::body::{body_timeout, read_body};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// What a form's token is bound to: the form, and the payment the page showed with its status,
/// so that a page's form stops working once that payment has moved on.
pub fn bound_to(form: Form, payment: Option<&PaymentRow>) -> String {
    match payment {
        Some(p) => format!("{}:{}:{}", form.name(), p.id, p.status),
        None => format!("{}::", form.name()),
    }
}

/// How long a rendered form stays usable.
const TOKEN_LIFETIME_SECONDS: i64 = 2 * 3600;
const MAX_FORM_BYTES: usize = 8 * 1024;

fn mac(secret: &[u8], session_id: &str, step: &str, issued_at: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{session_id}|{step}|{issued_at}").as_bytes());
    mac
}

/// A token for `step` of `session_id`.
pub fn issue_token(secret: &[u8], session_id: &str, step: &str, now_seconds: i64) -> String {
    let tag = const_hex::encode(
        mac(secret, session_id, step, now_seconds)
            .finalize()
            .into_bytes(),
    );
    format!("{now_seconds}.{tag}")
}

/// Whether `token` was issued by us for this session and step, recently.
pub fn verify_token(
    secret: &[u8],
    session_id: &str,
    step: &str,
    token: &str,
    now_seconds: i64,
) -> bool {
    let Some((issued, tag)) = token.split_once('.') else {
        return false;
    };
    let Ok(issued_at) = issued.parse::<i64>() else {
        return false;
    };
    if now_seconds - issued_at > TOKEN_LIFETIME_SECONDS || issued_at - now_seconds > 60 {
        return false;
    }
    let Some(bytes) = decode_hex(tag) else {
        return false;
    };
    mac(secret, session_id, step, issued_at)
        .verify_slice(&bytes)
        .is_ok()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() != 64 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Refuses posts from other sites. Browsers say where a post comes from in `Sec-Fetch-Site`
/// (which a page cannot forge) and in `Origin` (or at least `Referer`). The pages' referrer
/// policy is `same-origin`: under `no-referrer`, browsers send `Origin: null`, which must be
/// refused, and our own forms would be refused with it.
pub fn is_same_origin(headers: &HeaderMap, public_url: &str, host_origin: &str) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match get("sec-fetch-site") {
        Some("cross-site" | "same-site") => return false,
        Some("same-origin")
            if get("origin")
                .is_none_or(|o| o == "null" || o == origin_of(public_url) || o == host_origin) =>
        {
            return true;
        }
        _ => {}
    }
    let allowed = |origin: &str| origin == origin_of(public_url) || origin == host_origin;
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        return allowed(origin);
    }
    if let Some(referer) = headers.get(REFERER).and_then(|v| v.to_str().ok()) {
        return allowed(origin_of(referer));
    }
    true
}

/// `scheme://host[:port]` of a URL.
/// `None` for a post from our own pages; otherwise the page to answer instead (403).
pub fn cross_site_refusal(
    state: &crate::state::AppState,
    req: &actix_web::HttpRequest,
    ctx: &super::Ctx,
    merchant_name: &str,
) -> Option<actix_web::HttpResponse> {
    let host_origin = {
        let conn = req.connection_info();
        format!("{}://{}", conn.scheme(), conn.host())
    };
    if is_same_origin(req.headers(), &state.public_url, &host_origin) {
        return None;
    }
    Some(super::message(
        state,
        ctx,
        actix_web::http::StatusCode::FORBIDDEN,
        merchant_name,
        "cross_site",
    ))
}

fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

/// The fields of an `application/x-www-form-urlencoded` body, at most 8 KiB, sent within the
/// body time-out.
pub async fn read_form(req: &HttpRequest, payload: web::Payload) -> Option<Vec<(String, String)>> {
    let body = read_body(req, payload, MAX_FORM_BYTES, body_timeout(req))
        .await
        .ok()?;
    serde_urlencoded::from_bytes(&body).ok()
}

/// The first value of `name`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_works_for_its_session_and_step_only() {
        let t = issue_token(b"s", "chk_1", "start", 1_000);
        assert!(verify_token(b"s", "chk_1", "start", &t, 1_010));
        assert!(!verify_token(b"s", "chk_2", "start", &t, 1_010));
        assert!(!verify_token(b"s", "chk_1", "card", &t, 1_010));
        assert!(!verify_token(b"x", "chk_1", "start", &t, 1_010));
        assert!(!verify_token(
            b"s",
            "chk_1",
            "start",
            &t,
            1_000 + TOKEN_LIFETIME_SECONDS + 1
        ));
        assert!(!verify_token(b"s", "chk_1", "start", "garbage", 1_000));
    }

    #[test]
    fn origins_are_compared_by_scheme_host_and_port() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/checkout/x?y"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://pay.example"), "https://pay.example");
        let mut headers = HeaderMap::new();
        assert!(is_same_origin(&headers, "https://pay.example", "http://h"));
        headers.insert(ORIGIN, "https://evil.example".parse().expect("header"));
        assert!(!is_same_origin(&headers, "https://pay.example", "http://h"));
        headers.insert(ORIGIN, "https://pay.example".parse().expect("header"));
        assert!(is_same_origin(&headers, "https://pay.example", "http://h"));
        headers.insert(ORIGIN, "null".parse().expect("header"));
        assert!(!is_same_origin(&headers, "https://pay.example", "http://h"));
        headers.insert(
            actix_web::http::header::HeaderName::from_static("sec-fetch-site"),
            "same-origin".parse().expect("header"),
        );
        assert!(is_same_origin(&headers, "https://pay.example", "http://h"));
        headers.insert(
            actix_web::http::header::HeaderName::from_static("sec-fetch-site"),
            "cross-site".parse().expect("header"),
        );
        assert!(!is_same_origin(&headers, "https://pay.example", "http://h"));
    }
}
