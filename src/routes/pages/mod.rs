//! The hosted checkout pages, rendered on the server. Each page's template struct lives beside
//! its handler; every page, errors included, extends `templates/_layout.html`.

mod checkout;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue};
use askama::Template;

pub use checkout::checkout_page;

/// No inline script or style, nothing from another host, no framing.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The layout's fields, shared by every page.
pub struct Layout {
    pub lang: &'static str,
    pub title: String,
    pub merchant_name: String,
    pub css_href: String,
}

/// A page that only explains something (not found, expired, an error).
#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub lang: &'static str,
    pub title: String,
    pub merchant_name: String,
    pub css_href: String,
    pub heading: String,
    pub body: String,
    pub back_href: Option<String>,
    pub back_label: String,
}

impl MessagePage {
    pub fn new(layout: Layout, heading: &str, body: &str) -> MessagePage {
        MessagePage {
            lang: layout.lang,
            title: layout.title,
            merchant_name: layout.merchant_name,
            css_href: layout.css_href,
            heading: heading.to_owned(),
            body: body.to_owned(),
            back_href: None,
            back_label: String::new(),
        }
    }
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

/// The 404 page, in the checkout layout.
pub fn not_found_page(css_href: &str) -> HttpResponse {
    let layout = Layout {
        lang: "en",
        title: "Checkout not found".into(),
        merchant_name: "Open Rails Checkout".into(),
        css_href: css_href.to_owned(),
    };
    render(
        StatusCode::NOT_FOUND,
        &MessagePage::new(
            layout,
            "This checkout does not exist",
            "Check the link you were given, or go back to the shop and start again. No payment was taken.",
        ),
    )
}
