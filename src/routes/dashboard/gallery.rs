//! The dashboard's pages in the preview gallery, drawn from fixture data (no database, no
//! account): each page's own template and view struct, filled by a `sample` function beside
//! its handler, so a designer sees exactly what the handler would render.

use std::sync::Arc;

use actix_web::HttpResponse;

use super::{account, auth, branding, customers, home, payments, settings, webhooks};
use crate::i18n::Catalog;
use crate::state::AppState;

/// What the samples' forms carry instead of a token (the gallery's forms post nowhere real).
pub const TOKEN: &str = "preview";

/// The samples' "now": 2026-12-04 15:30 UTC, so the pages look the same on every run.
pub const NOW: i64 = 1_796_398_200_000;

/// A fixture id: `prefix` and a fixed suffix numbered `n`.
pub fn id(prefix: &str, n: usize) -> String {
    format!("{prefix}_01kbpreview{n:0>15}")
}

/// The pages people see before signing in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Public {
    /// Sign in; with a wrong password when `error`.
    Login {
        /// Whether the page tells of a wrong password.
        error: bool,
    },
    /// The second factor's code.
    Code,
    /// Creating an account from a one-time link.
    Setup,
}

/// The dashboard's pages in the gallery: (name, what it shows).
pub const PAGES: &[(&str, &str)] = &[
    ("dashboard-login", "Sign in"),
    ("dashboard-login-error", "Sign in after a wrong password"),
    ("dashboard-code", "The second factor's code"),
    (
        "dashboard-setup",
        "Creating an account from a one-time link",
    ),
    (
        "dashboard-home",
        "Overview: paid volume, today's checkouts, the funnel per route",
    ),
    (
        "dashboard-payments",
        "Payments, newest first, with filters and CSV export",
    ),
    ("dashboard-payments-filtered", "Payments filtered by status"),
    (
        "dashboard-payment",
        "One payment: facts, timeline with deliveries, refunds",
    ),
    ("dashboard-customers", "Customers"),
    ("dashboard-customer", "One customer and their payments"),
    (
        "dashboard-webhooks",
        "Webhook endpoints and the delivery log",
    ),
    ("dashboard-keys", "API keys, a new one shown once"),
    (
        "dashboard-branding",
        "Branding beside a preview of the checkout",
    ),
    (
        "dashboard-account",
        "The person's account and second factor",
    ),
    ("dashboard-audit", "The audit log"),
    ("dashboard-message", "A message page (a form that expired)"),
];

/// The page `name` of [`PAGES`] in `t`'s language; `None` for a name not there.
pub fn render(state: &AppState, name: &str, t: &Arc<Catalog>) -> Option<HttpResponse> {
    Some(match name {
        "dashboard-login" => auth::sample(state, t, Public::Login { error: false }),
        "dashboard-login-error" => auth::sample(state, t, Public::Login { error: true }),
        "dashboard-code" => auth::sample(state, t, Public::Code),
        "dashboard-setup" => auth::sample(state, t, Public::Setup),
        "dashboard-home" => home::sample(state, t),
        "dashboard-payments" => payments::sample_list(state, t, false),
        "dashboard-payments-filtered" => payments::sample_list(state, t, true),
        "dashboard-payment" => payments::sample_detail(state, t),
        "dashboard-customers" => customers::sample_list(state, t),
        "dashboard-customer" => customers::sample_one(state, t),
        "dashboard-webhooks" => webhooks::sample(state, t),
        "dashboard-keys" => settings::sample_keys(state, t),
        "dashboard-branding" => branding::sample(state, t),
        "dashboard-account" => account::sample(state, t),
        "dashboard-audit" => settings::sample_audit(state, t),
        "dashboard-message" => super::sample_message(t),
        _ => return None,
    })
}
