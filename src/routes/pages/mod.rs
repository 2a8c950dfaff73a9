//! The hosted checkout pages, rendered on the server. Each page's template struct lives beside
//! its handler; every page, errors included, extends `templates/_layout.html`. Forms work
//! without JavaScript; `static/checkout.js` only adds live status and copy buttons.

mod actions;
pub mod brand;
mod chain;
mod checkout;
pub mod form;
mod links;
pub mod preview;
pub mod qr;
mod receipt;
mod receipt_mail;
mod sandbox_page;
pub mod step;
mod steps;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderName, HeaderValue};
use std::sync::Arc;

use actix_web::http::header::ACCEPT_LANGUAGE;
use actix_web::{HttpRequest, web};
use askama::Template;

use crate::i18n::Catalog;

pub use actions::{
    card_submit, challenge_submit, leave_submit, return_from_provider, simulate_submit,
    start_submit,
};
pub use checkout::{
    card_page_get, checkout_page, checkout_status, routes_page, to_checkout_page, to_provider_page,
};
pub use receipt::{Line, receipt_lines, receipt_page, render_receipt};
pub use receipt_mail::{compose, run as run_email_worker, send_due_once};
pub use sandbox_page::{sandbox_page, sandbox_page_submit};

use crate::state::AppState;

/// No inline script or style, nothing from another host, no framing. Browsers apply
/// `form-action` to every redirect that follows a form post, so a post never redirects off
/// this host: it answers `303` to its own page, which sends the buyer on to the merchant by a
/// link and a timed refresh (neither is a form navigation).
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The layout's fields, shared by every page.
pub struct Layout {
    /// The page's texts (and its `lang`).
    pub t: Arc<Catalog>,
    pub title: String,
    pub merchant_name: String,
    pub css_href: String,
    pub js_href: String,
    /// The merchant's colours and button shape, when branded.
    pub brand_css_href: Option<String>,
    pub logo_href: Option<String>,
    /// A short note from the merchant, plain text.
    pub note: Option<String>,
    /// Set on pages that wait for something: the JSON the script polls.
    pub status_url: Option<String>,
    /// What the page shows, so the script can tell when it changed.
    pub state_key: String,
    /// `<meta http-equiv="refresh">` inside `<noscript>`: seconds, optionally `;url=…`.
    /// Updates the page in browsers without JavaScript.
    pub refresh: Option<String>,
    /// Where the page sends the buyer at once (an instant redirect, not a timed one: the
    /// merchant knows of the payment, or the buyer chose to go back); the page links it too.
    pub redirect_now: Option<String>,
    /// The language switcher.
    pub languages: LanguageLinks,
}

/// The language switcher: a link per language, `{href_prefix}{code}`, but for the current one.
pub struct LanguageLinks {
    /// (code, name in its own language), shared by every page.
    pub names: Arc<[(&'static str, String)]>,
    /// The page's own address up to `lang=`, other query parameters kept.
    pub href_prefix: String,
    pub current: &'static str,
}

impl LanguageLinks {
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What a page needs to know about the request: its language, and whether the buyer chose it
/// (then every link and form keeps `?lang=`).
pub struct Ctx {
    pub t: Arc<Catalog>,
    explicit: bool,
    path: String,
    /// The merchant's branding, on pages of a known session.
    brand: Option<BrandView>,
    /// A page of the preview gallery: it shows pages, so it never navigates away by itself.
    pub preview: bool,
    /// Query parameters the language links keep (a receipt's `token=…`).
    keep_query: Option<String>,
}

/// Branding with the URLs its stylesheet and logo are served at.
pub struct BrandView {
    pub brand: brand::Brand,
    pub css_href: Option<String>,
    pub logo_href: Option<String>,
}

impl Ctx {
    /// `?lang=`, then `Accept-Language`, then `merchant_default`.
    pub fn new(state: &AppState, req: &HttpRequest, merchant_default: Option<&str>) -> Ctx {
        let query_lang = if req.query_string().is_empty() {
            None
        } else {
            web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
                .ok()
                .and_then(|q| q.get("lang").cloned())
        };
        let accept = req
            .headers()
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok());
        let explicit = query_lang
            .as_deref()
            .is_some_and(|l| state.catalogs.find(l).is_some());
        Ctx {
            t: state
                .catalogs
                .negotiate(query_lang.as_deref(), accept, merchant_default),
            explicit,
            path: req.path().to_owned(),
            brand: None,
            preview: false,
            keep_query: None,
        }
    }

    /// For a session's pages: its merchant's branding and default language.
    pub fn for_session(
        state: &AppState,
        req: &HttpRequest,
        view: &crate::db::sessions::SessionView,
    ) -> Ctx {
        Self::for_session_in(state, req, view, None)
    }

    /// For a session's pages, preferring `language` (the one the buyer paid in) to the
    /// merchant's default when the request names none the catalogs have.
    pub fn for_session_in(
        state: &AppState,
        req: &HttpRequest,
        view: &crate::db::sessions::SessionView,
        language: Option<&str>,
    ) -> Ctx {
        let brand = brand::Brand::resolve(state, &view.branding);
        let mut ctx = Ctx::new(state, req, language.or(brand.default_language.as_deref()));
        let merchant_id = &view.session.merchant_id;
        ctx.brand = Some(BrandView {
            css_href: brand.css_href(merchant_id.as_str()),
            logo_href: brand.logo_href(merchant_id.as_str()),
            brand,
        });
        ctx
    }

    /// For the preview gallery: a fixed language and branding, links without `?lang=`.
    pub fn fixed(t: Arc<Catalog>, path: &str, brand: Option<BrandView>) -> Ctx {
        Ctx {
            t,
            explicit: false,
            path: path.to_owned(),
            brand,
            preview: true,
            keep_query: None,
        }
    }

    /// Keeps `query` (`token=…`) in the language links.
    pub fn keeping_query(mut self, query: String) -> Ctx {
        self.keep_query = Some(query);
        self
    }

    /// `path`, keeping the buyer's explicit language choice.
    pub fn link(&self, path: &str) -> String {
        if self.explicit {
            format!("{path}?lang={}", self.t.code)
        } else {
            path.to_owned()
        }
    }

    /// The merchant's name as its branding shows it, else `fallback` (the account's name).
    pub fn merchant_name(&self, fallback: &str) -> String {
        self.brand
            .as_ref()
            .and_then(|b| b.brand.display_name.clone())
            .unwrap_or_else(|| fallback.to_owned())
    }

    /// Money in this language's format.
    pub fn money(&self, cents: i64) -> String {
        self.t.money(cents)
    }

    pub fn layout(&self, state: &AppState, title: &str, merchant_name: &str) -> Layout {
        let languages = LanguageLinks {
            names: state.catalogs.names(),
            href_prefix: match &self.keep_query {
                Some(kept) => format!("{}?{kept}&lang=", self.path),
                None => format!("{}?lang=", self.path),
            },
            current: self.t.code,
        };
        let brand = self.brand.as_ref();
        Layout {
            t: self.t.clone(),
            title: title.to_owned(),
            merchant_name: self.merchant_name(merchant_name),
            css_href: state.assets.css_href(),
            js_href: state.assets.js_href(),
            brand_css_href: brand.and_then(|b| b.css_href.clone()),
            logo_href: brand.and_then(|b| b.logo_href.clone()),
            note: brand.and_then(|b| b.brand.note.clone()),
            status_url: None,
            state_key: String::new(),
            refresh: None,
            redirect_now: None,
            languages,
        }
    }
}

/// What is being paid, shown at the top of every step.
pub struct Summary {
    pub product: String,
    /// The biggest figure: what the buyer pays (the total once a route is chosen, the USDC
    /// amount to send on the wallet page), else the price.
    pub headline: String,
    /// "$116.00 + $3.72 fee", under the headline once a route with a fee is chosen.
    pub breakdown: Option<String>,
    /// The price.
    pub amount: String,
    pub route_label: Option<String>,
    pub fee: Option<String>,
    pub total: Option<String>,
    pub sandbox: bool,
    /// How long the checkout stays open, in words (shown before paying).
    pub expires: Option<Expiry>,
}

/// When the checkout closes: in words for every browser ("about 23 hours"), and as an
/// instant plus the sentence the script fills with it in the buyer's own time zone.
pub struct Expiry {
    pub text: String,
    pub iso: String,
    pub template: String,
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
            tracing::error!(error.cause = %e, "rendering a page failed");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong on our side. No payment was taken.")
        }
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // A checkout is one buyer's: never in a search index.
    headers.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    response
}

/// A message page in the checkout layout; `key` names the catalog texts
/// `message.<key>_heading` and `message.<key>_body`.
pub fn message(
    state: &AppState,
    ctx: &Ctx,
    status: StatusCode,
    merchant_name: &str,
    key: &str,
) -> HttpResponse {
    let heading = ctx.t.get(&format!("message.{key}_heading")).into_owned();
    render(
        status,
        &MessagePage {
            page: ctx.layout(state, &heading, merchant_name),
            body: ctx.t.get(&format!("message.{key}_body")).into_owned(),
            heading,
            back_href: None,
        },
    )
}

pub(crate) const PRODUCT_NAME: &str = "Open Rails Checkout";

/// The 404 page, in the checkout layout.
pub fn not_found_page(state: &AppState, ctx: &Ctx) -> HttpResponse {
    message(state, ctx, StatusCode::NOT_FOUND, PRODUCT_NAME, "not_found")
}

/// The page for an unexpected failure; the cause goes to the log with the request id.
pub fn error_page(state: &AppState, ctx: &Ctx, error: &anyhow::Error) -> HttpResponse {
    tracing::error!(error.cause = format!("{error:#}"), "a checkout page failed");
    message(
        state,
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        PRODUCT_NAME,
        "error",
    )
}
