//! The hosted checkout pages, rendered on the server. Each page's template struct lives beside
//! its handler; every page, errors included, extends `templates/_layout.html`. Forms work
//! without JavaScript; `static/checkout.js` only adds live status and copy buttons.

mod actions;
mod checkout;
mod form;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue};
use askama::Template;

pub use actions::{card_submit, challenge_submit, simulate_submit, start_submit};
pub use checkout::{checkout_page, checkout_status};

use crate::startup::AppState;

/// No inline script or style, nothing from another host, no framing. Browsers apply
/// `form-action` to every redirect that follows a form post, so a post never redirects off
/// this host: it answers `303` to its own page, which sends the buyer on to the merchant by a
/// link and a timed refresh (neither is a form navigation).
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The layout's fields, shared by every page.
pub struct Layout {
    pub lang: &'static str,
    pub title: String,
    pub merchant_name: String,
    pub css_href: String,
    pub js_href: String,
    /// Set on pages that wait for something: the JSON the script polls.
    pub status_url: Option<String>,
    /// What the page shows, so the script can tell when it changed.
    pub state_key: String,
    /// `<meta http-equiv="refresh">`: seconds, optionally `;url=…`. Updates without JavaScript.
    pub refresh: Option<String>,
}

impl Layout {
    pub fn new(state: &AppState, title: &str, merchant_name: &str) -> Layout {
        Layout {
            lang: "en",
            title: title.to_owned(),
            merchant_name: merchant_name.to_owned(),
            css_href: state.css_href.clone(),
            js_href: state.js_href.clone(),
            status_url: None,
            state_key: String::new(),
            refresh: None,
        }
    }
}

/// What is being paid, shown at the top of every step.
pub struct Summary {
    pub product: String,
    pub amount: String,
    pub route_label: Option<String>,
    pub fee: Option<String>,
    pub total: Option<String>,
    pub sandbox: bool,
}

/// A page that only explains something (not found, expired, an error).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub page: Layout,
    pub heading: String,
    pub body: String,
    pub back_href: Option<String>,
}

/// Renders `page` with the pages' security headers; a template error becomes a plain 500.
pub fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    let mut response = match page.render() {
        Ok(html) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .body(html),
        Err(e) => {
            tracing::error!(error = %e, "rendering a page failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong on our side. No payment was taken.")
        }
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A message page in the checkout layout.
pub fn message(
    state: &AppState,
    status: StatusCode,
    merchant_name: &str,
    heading: &str,
    body: &str,
) -> HttpResponse {
    render(
        status,
        &MessagePage {
            page: Layout::new(state, heading, merchant_name),
            heading: heading.to_owned(),
            body: body.to_owned(),
            back_href: None,
        },
    )
}

/// The 404 page, in the checkout layout.
pub fn not_found_page(state: &AppState) -> HttpResponse {
    message(
        state,
        StatusCode::NOT_FOUND,
        "Open Rails Checkout",
        "This checkout does not exist",
        "Check the link you were given, or go back to the shop and start again. No payment was taken.",
    )
}

/// The page for an unexpected failure; the cause goes to the log with the request id.
pub fn error_page(state: &AppState, error: &anyhow::Error) -> HttpResponse {
    tracing::error!(error = format!("{error:#}"), "a checkout page failed");
    message(
        state,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Open Rails Checkout",
        "Something went wrong on our side",
        "Please try again in a moment. If you already paid, you will not be charged twice.",
    )
}
