//! The preview gallery: every page in every state, language and branding, rendered from
//! fixture data (no database), for designers. `/preview` lists them in development; in
//! production it does not exist. `preview export <dir>` writes the same set as static files.
//! The states are the checkout's [`Step`]s (each drawn from a fixture that is in that step),
//! and the pages that are not steps: the card form with errors, the paid page while the
//! merchant is told, and the message pages.

pub mod fixtures;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::step::{Step, Transfer};
use super::steps::{CardErrors, CardValues, FieldError, Shown, render_step};
use super::{BrandView, Ctx, message, not_found_page, render, render_receipt};
use crate::config::Mode;
use crate::i18n::Catalog;
use crate::routes::dashboard;
use crate::state::AppState;

/// What a gallery page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shows {
    /// A step's page.
    Step(Step),
    /// The card form with errors.
    CardErrors,
    /// Paid, while the merchant is told.
    PaidConfirming,
    /// An unknown checkout.
    NotFound,
    /// A form posted from another site.
    CrossSite,
    /// Something went wrong on our side.
    Error,
    /// A paid payment's receipt, partly refunded.
    Receipt,
    /// A receipt e-mail (`refund`: the refund e-mail), its HTML part or (`text`) its plain
    /// text.
    Email { refund: bool, text: bool },
    /// A page of the merchant's dashboard (one of [`dashboard::gallery::PAGES`]).
    Dashboard,
}

/// A state of the gallery: its name in the pages' slugs, what it shows, what it is.
#[derive(Debug, Clone, Copy)]
pub struct State {
    pub name: &'static str,
    pub shows: Shows,
    pub description: &'static str,
}

const fn state(name: &'static str, shows: Shows, description: &'static str) -> State {
    State {
        name,
        shows,
        description,
    }
}

/// The states every language and branding is shown in: each [`Step`] once, and the rest.
pub const STATES: &[State] = &[
    state(
        "choose",
        Shows::Step(Step::Choose { retry: false }),
        "Choose how to pay (card preselected)",
    ),
    state(
        "card",
        Shows::Step(Step::Card { retry: false }),
        "Card form (sandbox test cards)",
    ),
    state("card-errors", Shows::CardErrors, "Card form with errors"),
    state(
        "challenge",
        Shows::Step(Step::Challenge),
        "Card confirmation step",
    ),
    state(
        "at-provider",
        Shows::Step(Step::AtProvider),
        "Back from the provider's own page without paying (Stripe)",
    ),
    state(
        "wallet",
        Shows::Step(Step::Transfer(Transfer::Wallet)),
        "USDC wallet instructions",
    ),
    state(
        "bank",
        Shows::Step(Step::Transfer(Transfer::Bank)),
        "Bank transfer instructions",
    ),
    state(
        "waiting",
        Shows::Step(Step::Waiting),
        "Waiting for the provider",
    ),
    state(
        "paid",
        Shows::Step(Step::Paid),
        "Paid (returns to the merchant at once)",
    ),
    state(
        "paid-confirming",
        Shows::PaidConfirming,
        "Paid, telling the merchant first",
    ),
    state(
        "retry-card",
        Shows::Step(Step::Card { retry: true }),
        "Card declined, paying again on the card form",
    ),
    state(
        "retry-routes",
        Shows::Step(Step::Choose { retry: true }),
        "Wallet transfer failed, choosing again",
    ),
    state(
        "failed",
        Shows::Step(Step::Failed),
        "Failed (the last attempt was declined)",
    ),
    state("expired", Shows::Step(Step::Expired), "Expired"),
    state("not-found", Shows::NotFound, "Unknown checkout (404)"),
    state(
        "cross-site",
        Shows::CrossSite,
        "Form from another site (403)",
    ),
    state("error", Shows::Error, "Something went wrong (500)"),
    state(
        "receipt",
        Shows::Receipt,
        "Receipt of a paid payment, partly refunded (/receipts/{id})",
    ),
    state(
        "email-receipt",
        Shows::Email {
            refund: false,
            text: false,
        },
        "Receipt e-mail, HTML part (templates/email/receipt.html)",
    ),
    state(
        "email-receipt-text",
        Shows::Email {
            refund: false,
            text: true,
        },
        "Receipt e-mail, plain-text part (templates/email/receipt.txt)",
    ),
    state(
        "email-refund",
        Shows::Email {
            refund: true,
            text: false,
        },
        "Refund e-mail, HTML part",
    ),
    state(
        "email-refund-text",
        Shows::Email {
            refund: true,
            text: true,
        },
        "Refund e-mail, plain-text part",
    ),
];

/// One page of the gallery.
pub struct Entry {
    /// `card-errors.es.branded`
    pub slug: String,
    pub state: State,
    pub language: &'static str,
    pub branded: bool,
}

/// Every state: the checkout's [`STATES`], then the dashboard's pages.
pub fn all_states() -> Vec<State> {
    let dashboard = dashboard::gallery::PAGES
        .iter()
        .map(|&(name, description)| state(name, Shows::Dashboard, description));
    STATES.iter().copied().chain(dashboard).collect()
}

pub fn entries(state: &AppState) -> Vec<Entry> {
    let mut all = Vec::new();
    for page_state in all_states() {
        for language in state.catalogs.codes() {
            // The dashboard and e-mails wear no merchant's page branding.
            let brandings: &[bool] = match page_state.shows {
                Shows::Dashboard | Shows::Email { .. } => &[false],
                _ => &[false, true],
            };
            for &branded in brandings {
                all.push(Entry {
                    slug: format!(
                        "{}.{language}.{}",
                        page_state.name,
                        if branded { "branded" } else { "plain" }
                    ),
                    state: page_state,
                    language,
                    branded,
                });
            }
        }
    }
    all
}

/// Whether the gallery is served: everywhere but production.
pub fn enabled(state: &AppState) -> bool {
    state.settings.mode != Mode::Production
}

/// Renders one gallery entry.
pub fn render_entry(state: &AppState, entry: &Entry, t: Arc<Catalog>) -> HttpResponse {
    let brand = entry.branded.then(fixtures::brand);
    if entry.state.shows == Shows::Dashboard {
        return dashboard::gallery::render(state, entry.state.name, &t)
            .unwrap_or_else(|| HttpResponse::NotFound().finish());
    }
    let ctx = Ctx::fixed(t, &format!("/preview/{}", entry.slug), brand);
    render_state(state, &ctx, &entry.state)
}

/// The "choose how to pay" page of the fixture checkout, wearing `brand`: the dashboard's
/// preview of a merchant's branding.
pub fn render_branded(
    state: &AppState,
    t: Arc<Catalog>,
    path: &str,
    brand: BrandView,
) -> HttpResponse {
    let ctx = Ctx::fixed(t, path, Some(brand));
    let step = Step::Choose { retry: false };
    let (mut view, payment) = fixtures::for_step(step);
    // The gallery's product tests escaping; a merchant's preview shows a plain one.
    view.session.product = "Creator plan".into();
    render_step(state, &ctx, &view, payment.as_ref(), step, Shown::default())
}

fn render_state(state: &AppState, ctx: &Ctx, page_state: &State) -> HttpResponse {
    let merchant = "Demo Store";
    let step_page = |step: Step, shown: Shown| {
        let (view, payment) = fixtures::for_step(step);
        render_step(state, ctx, &view, payment.as_ref(), step, shown)
    };
    match page_state.shows {
        Shows::Step(step) => step_page(step, Shown::default()),
        Shows::CardErrors => {
            let errors = vec![
                FieldError {
                    field: "number",
                    message_key: "card.number_invalid",
                },
                FieldError {
                    field: "expiry",
                    message_key: "card.expired",
                },
            ];
            let values = CardValues {
                expiry: "01/20".into(),
                name: "Ada <b>Lovelace</b>".into(),
            };
            let card_errors = Some(CardErrors { errors, values });
            step_page(
                Step::Card { retry: false },
                Shown {
                    card_errors,
                    ..Shown::default()
                },
            )
        }
        Shows::PaidConfirming => step_page(
            Step::Paid,
            Shown {
                confirming: true,
                ..Shown::default()
            },
        ),
        Shows::NotFound => not_found_page(state, ctx),
        Shows::CrossSite => message(state, ctx, StatusCode::FORBIDDEN, merchant, "cross_site"),
        Shows::Error => message(
            state,
            ctx,
            StatusCode::INTERNAL_SERVER_ERROR,
            merchant,
            "error",
        ),
        Shows::Receipt => {
            let (view, payment) = fixtures::for_step(Step::Paid);
            let Some(payment) = payment else {
                return not_found_page(state, ctx);
            };
            let refunds = fixtures::refunds(&payment);
            let payment = crate::db::payments::PaymentRow {
                refunded_cents: refunds.iter().map(|r| r.amount_cents).sum(),
                ..payment
            };
            render_receipt(state, ctx, &view, &payment, &refunds, 1_779_900_000_000)
        }
        Shows::Email { refund, text } => email_sample(&ctx.t, refund, text),
        Shows::Dashboard => not_found_page(state, ctx),
    }
}

/// A row of the gallery's index: a state and its pages.
pub struct GalleryRow {
    pub name: &'static str,
    pub description: &'static str,
    pub links: Vec<GalleryLink>,
}

/// A link to one page of a state.
pub struct GalleryLink {
    pub href: String,
    /// The language, and whether branded.
    pub label: String,
}

#[derive(Template)]
#[template(path = "preview.html")]
struct GalleryPage {
    css_href: String,
    gallery_css_href: &'static str,
    rows: Vec<GalleryRow>,
}

/// `GET /preview`: the list.
pub async fn gallery(state: web::Data<AppState>) -> HttpResponse {
    if !enabled(&state) {
        return HttpResponse::NotFound().finish();
    }
    render(StatusCode::OK, &gallery_page(&state, "/preview/"))
}

/// The list page, linking entries under `prefix`.
pub fn gallery_page(state: &AppState, prefix: &str) -> impl Template {
    let entries = entries(state);
    let rows = all_states()
        .into_iter()
        .map(|page_state| GalleryRow {
            name: page_state.name,
            description: page_state.description,
            links: entries
                .iter()
                .filter(|e| e.state.name == page_state.name)
                .map(|e| GalleryLink {
                    href: format!("{prefix}{}", e.slug),
                    label: format!(
                        "{}{}",
                        e.language,
                        if e.branded { " · branded" } else { "" }
                    ),
                })
                .collect(),
        })
        .collect();
    GalleryPage {
        css_href: state.assets.css_href(),
        gallery_css_href: "/preview/assets/gallery.css",
        rows,
    }
}

/// `GET /preview/{slug}`: one entry.
pub async fn gallery_entry(state: web::Data<AppState>, slug: web::Path<String>) -> HttpResponse {
    if !enabled(&state) {
        return HttpResponse::NotFound().finish();
    }
    let Some(entry) = entries(&state).into_iter().find(|e| e.slug == *slug) else {
        return HttpResponse::NotFound().finish();
    };
    let Some(t) = state.catalogs.find(entry.language) else {
        return HttpResponse::NotFound().finish();
    };
    let mut response = render_entry(&state, &entry, t);
    if let Shows::Email { .. } = entry.state.shows {
        // Mail programs drop stylesheets: the HTML part's styles are inline.
        response
            .headers_mut()
            .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(EMAIL_CSP));
    } else if entry.state.shows != Shows::Dashboard {
        // The dashboard's branding sample frames the branded checkout.
        response.headers_mut().insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(dashboard::branding::CSP_FRAMED),
        );
    }
    response
}

/// The e-mail samples' policy: their inline styles, nothing else.
pub const EMAIL_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// A sample e-mail in `t`'s language: its HTML part as sent, or its plain-text part shown in
/// a bare page.
fn email_sample(t: &Arc<Catalog>, refund: bool, text: bool) -> HttpResponse {
    let mail = crate::emails::sample(t.clone(), refund);
    let rendered = match mail.render() {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error.cause = %e, "rendering a sample e-mail failed");
            return HttpResponse::InternalServerError().finish();
        }
    };
    let html = if text {
        crate::emails::TextPage {
            mail: &mail,
            text: &rendered.text,
        }
        .render()
        .unwrap_or_default()
    } else {
        rendered.html
    };
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

/// The gallery index's own table styles (kept out of the buyers' stylesheet).
pub const GALLERY_CSS: &str = ".gallery { border-collapse: collapse; width: 100%; }
.gallery th, .gallery td { text-align: left; vertical-align: top; padding: var(--space-2); border-top: 1px solid var(--color-border); }
.gallery-links { list-style: none; margin: 0; padding: 0; display: flex; flex-wrap: wrap; gap: var(--space-1) var(--space-3); }
";

/// `GET /preview/assets/{name}`: the fixture brand's stylesheet and logo, and the index's styles.
pub async fn gallery_asset(state: web::Data<AppState>, name: web::Path<String>) -> HttpResponse {
    if !enabled(&state) {
        return HttpResponse::NotFound().finish();
    }
    match name.as_str() {
        "brand.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .body(fixtures::brand_css()),
        "gallery.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .body(GALLERY_CSS),
        "logo.svg" => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .body(fixtures::LOGO),
        _ => HttpResponse::NotFound().finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn offline() -> AppState {
        AppState::offline(Settings::default()).expect("offline state")
    }

    async fn body(response: HttpResponse) -> String {
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    #[test]
    fn every_step_has_one_gallery_state() {
        for step in Step::ALL {
            let states = STATES
                .iter()
                .filter(|s| s.shows == Shows::Step(step))
                .count();
            assert_eq!(states, 1, "{step:?}");
        }
    }

    #[tokio::test]
    async fn every_gallery_entry_renders_in_full_and_escapes_its_fixtures() {
        let state = offline();
        let all = entries(&state);
        assert_eq!(
            all.len(),
            (STATES.len() - 4) * 12 * 2 + (dashboard::gallery::PAGES.len() + 4) * 12
        );
        for entry in &all {
            let t = state.catalogs.find(entry.language).expect("catalog");
            let response = render_entry(&state, entry, t);
            let status = response.status().as_u16();
            let html = body(response).await;
            let expected = match entry.state.shows {
                Shows::NotFound => 404,
                Shows::CrossSite => 403,
                Shows::Error => 500,
                Shows::CardErrors => 422,
                Shows::Dashboard if entry.state.name == "dashboard-login-error" => 401,
                _ => 200,
            };
            assert_eq!(status, expected, "{}", entry.slug);
            assert!(
                !html.contains('⟦'),
                "{} asks for a text no catalog has",
                entry.slug
            );
            assert!(
                html.contains(&format!(
                    "<html lang=\"{}\" dir=\"{}\">",
                    entry.language,
                    if entry.language == "ar" { "rtl" } else { "ltr" }
                )),
                "{}",
                entry.slug
            );
            for raw in ["<em>annual</em>", "<b>Lovelace</b>", "<we reply"] {
                assert!(
                    !html.contains(raw),
                    "{} shows fixture markup unescaped: {raw}",
                    entry.slug
                );
            }
            assert_eq!(
                html.contains("/preview/assets/brand.css"),
                entry.branded,
                "{}",
                entry.slug
            );
        }
    }
}
