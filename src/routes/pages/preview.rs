//! The preview gallery: every page in every state, language and branding, rendered from
//! fixture data (no database), for designers. `/preview` lists them in development; in
//! production it does not exist. `preview export <dir>` writes the same set as static files.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::brand::Brand;
use super::checkout::{CardValues, FieldError, show, show_confirming};
use super::{BrandView, Ctx, message, not_found_page, render};
use crate::config::Mode;
use crate::db::payments::PaymentRow;
use crate::db::sessions::{SessionRow, SessionView};
use crate::domain::branding::MerchantBranding;
use crate::domain::time::now_ms;
use crate::domain::{
    CustomerId, Environment, InvoiceId, LedgerStatus, MerchantId, PaymentId, PaymentStatus,
    ProviderState, RouteKind, SessionId, SessionStatus,
};
use crate::i18n::Catalog;
use crate::providers::Instructions;
use crate::state::AppState;

/// One page of the gallery.
pub struct Entry {
    /// `card-errors.es.branded`
    pub slug: String,
    pub state: &'static str,
    pub language: &'static str,
    pub branded: bool,
}

/// The states every language and branding is shown in.
pub const STATES: &[(&str, &str)] = &[
    ("choose", "Choose how to pay (card preselected)"),
    ("card", "Card form (sandbox test cards)"),
    ("card-errors", "Card form with errors"),
    ("challenge", "Card confirmation step"),
    ("wallet", "USDC wallet instructions"),
    ("bank", "Bank transfer instructions"),
    ("waiting", "Waiting for the provider"),
    ("paid", "Paid (returns to the merchant at once)"),
    ("paid-confirming", "Paid, telling the merchant first"),
    ("retry-card", "Card declined, paying again on the card form"),
    ("retry-routes", "Wallet transfer failed, choosing again"),
    ("failed", "Failed (the last attempt was declined)"),
    ("expired", "Expired"),
    ("not-found", "Unknown checkout (404)"),
    ("cross-site", "Form from another site (403)"),
    ("error", "Something went wrong (500)"),
];

pub fn entries(state: &AppState) -> Vec<Entry> {
    let mut all = Vec::new();
    for (page_state, _) in STATES {
        for language in state.catalogs.codes() {
            for branded in [false, true] {
                all.push(Entry {
                    slug: format!(
                        "{page_state}.{language}.{}",
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

/// The fixture brand: purple pill buttons, a logo and a note.
fn fixture_brand() -> BrandView {
    let row = MerchantBranding {
        display_name: Some("Nimbus Studio".into()),
        brand_color: Some("#6d28d9".into()),
        button_shape: Some("pill".into()),
        logo_type: Some("image/svg+xml".into()),
        note: Some(
            "Questions about your order? Write to hello@nimbus.example — <we reply within a day>."
                .into(),
        ),
        default_language: None,
        branding_updated_at: Some(0),
    };
    let brand = Brand::from_row(&row);
    BrandView {
        css_href: Some("/preview/assets/brand.css".into()),
        logo_href: Some("/preview/assets/logo.svg".into()),
        brand,
    }
}

/// The fixture logo (a small SVG).
pub const FIXTURE_LOGO: &str = r##"<svg xmlns="http://www.w3.org/2000/svg" width="140" height="32" viewBox="0 0 140 32"><rect width="32" height="32" rx="8" fill="#6d28d9"/><circle cx="16" cy="16" r="7" fill="#fff"/><text x="42" y="22" font-family="system-ui, sans-serif" font-size="16" font-weight="700" fill="#6d28d9">Nimbus</text></svg>"##;

pub fn fixture_brand_css() -> String {
    fixture_brand().brand.stylesheet()
}

fn fixture_session(status: SessionStatus) -> SessionView {
    let now = now_ms();
    SessionView {
        session: SessionRow {
            id: SessionId::from_trusted("chk_preview00000000000000000000".into()),
            merchant_id: MerchantId::from_trusted("mer_preview".into()),
            environment: Environment::Sandbox,
            customer_id: CustomerId::from_trusted("cus_preview".into()),
            customer_email: "buyer@example.com".into(),
            // Fixture text full of markup: it must show as text.
            product: "Creator plan <em>annual</em> & \"extras\"".into(),
            amount_cents: 11_600,
            currency: "USD".into(),
            status,
            preferred_route: Some(RouteKind::Card),
            route_id: Some("card-bridge-a".into()),
            redirect_url: Some("https://merchant.example/success?order=ord_284".into()),
            metadata: "{}".into(),
            client_reference_id: None,
            idempotency_key: None,
            request_hash: None,
            payment_id: None,
            expires_at: if status == SessionStatus::Expired {
                now - 1
            } else {
                now + 86_400_000
            },
            created_at: now,
            updated_at: now,
        },
        merchant_name: "Demo Store".into(),
        branding: MerchantBranding::default(),
    }
}

fn fixture_payment(
    route_kind: RouteKind,
    provider_state: ProviderState,
    status: PaymentStatus,
) -> PaymentRow {
    let (route_id, fee) = match route_kind {
        RouteKind::Wallet => ("wallet-usdc-base", 58),
        RouteKind::Local => ("local-bank-transfer", 0),
        RouteKind::Card => ("card-bridge-a", 372),
    };
    let instructions = match route_kind {
        RouteKind::Wallet => Some(Instructions {
            address: Some("0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c".into()),
            asset_amount: Some("116.58".into()),
            network: Some("Base".into()),
            payment_uri: Some("ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c&uint256=116580000".into()),
            ..Instructions::new(RouteKind::Wallet)
        }),
        RouteKind::Local => Some(Instructions {
            reference: Some("ORC-PREVIEW1".into()),
            bank_name: Some("Sandbox Bank".into()),
            account_number: Some("000123456789".into()),
            routing_number: Some("110000000".into()),
            asset_amount: Some("116.00".into()),
            ..Instructions::new(RouteKind::Local)
        }),
        RouteKind::Card => None,
    };
    let paid_by_card = route_kind == RouteKind::Card && provider_state == ProviderState::Done;
    PaymentRow {
        id: PaymentId::from_trusted("pay_preview".into()),
        session_id: SessionId::from_trusted("chk_preview00000000000000000000".into()),
        merchant_id: MerchantId::from_trusted("mer_preview".into()),
        environment: Environment::Sandbox,
        customer_id: CustomerId::from_trusted("cus_preview".into()),
        attempt: 1,
        invoice_id: InvoiceId::from_trusted("inv_preview".into()),
        route_id: route_id.into(),
        route_kind,
        provider: crate::providers::sandbox::ID.into(),
        amount_cents: 11_600,
        buyer_fee_cents: fee,
        gateway_fee_cents: 348,
        merchant_net_cents: 11_252,
        total_cents: 11_600 + fee,
        currency: "USD".into(),
        status,
        ledger_status: LedgerStatus::Pending,
        provider_state,
        provider_ref: None,
        provider_data: instructions
            .and_then(|i| serde_json::to_string(&i).ok())
            .unwrap_or_else(|| "{}".into()),
        card_brand: paid_by_card.then(|| "visa".into()),
        card_last4: paid_by_card.then(|| "4242".into()),
        tx_hash: None,
        failure_code: (status == PaymentStatus::Failed).then(|| {
            match route_kind {
                RouteKind::Wallet => "transfer_failed",
                RouteKind::Local => "bank_rejected",
                RouteKind::Card => "card_declined",
            }
            .into()
        }),
        failure_message: None,
        provider_deadline: None,
        next_poll_at: None,
        created_at: 0,
        updated_at: 0,
    }
}

/// Renders one gallery entry.
pub fn render_entry(state: &AppState, entry: &Entry, t: Arc<Catalog>) -> HttpResponse {
    let brand = entry.branded.then(fixture_brand);
    let ctx = Ctx::fixed(t, &format!("/preview/{}", entry.slug), brand);
    let merchant = "Demo Store";
    let session = fixture_session;
    match entry.state {
        "choose" => show(state, &ctx, &session(SessionStatus::Routed), None, None),
        "card" => show(
            state,
            &ctx,
            &session(SessionStatus::Pending),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::AwaitingBuyer,
                PaymentStatus::Pending,
            )),
            None,
        ),
        "card-errors" => {
            let errors = vec![
                FieldError {
                    field: "number",
                    message: "card.number_invalid",
                },
                FieldError {
                    field: "expiry",
                    message: "card.expired",
                },
            ];
            let values = CardValues {
                expiry: "01/20".into(),
                name: "Ada <b>Lovelace</b>".into(),
            };
            show(
                state,
                &ctx,
                &session(SessionStatus::Pending),
                Some(&fixture_payment(
                    RouteKind::Card,
                    ProviderState::AwaitingBuyer,
                    PaymentStatus::Pending,
                )),
                Some((errors, values)),
            )
        }
        "challenge" => show(
            state,
            &ctx,
            &session(SessionStatus::Pending),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::Challenge,
                PaymentStatus::Pending,
            )),
            None,
        ),
        "wallet" => show(
            state,
            &ctx,
            &session(SessionStatus::Pending),
            Some(&fixture_payment(
                RouteKind::Wallet,
                ProviderState::InFlight,
                PaymentStatus::Pending,
            )),
            None,
        ),
        "bank" => show(
            state,
            &ctx,
            &session(SessionStatus::Pending),
            Some(&fixture_payment(
                RouteKind::Local,
                ProviderState::InFlight,
                PaymentStatus::Pending,
            )),
            None,
        ),
        "waiting" => show(
            state,
            &ctx,
            &session(SessionStatus::Pending),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::InFlight,
                PaymentStatus::Pending,
            )),
            None,
        ),
        "paid" => show(
            state,
            &ctx,
            &session(SessionStatus::Paid),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::Done,
                PaymentStatus::Paid,
            )),
            None,
        ),
        "paid-confirming" => show_confirming(
            state,
            &ctx,
            &session(SessionStatus::Paid),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::Done,
                PaymentStatus::Paid,
            )),
        ),
        "retry-card" => show(
            state,
            &ctx,
            &session(SessionStatus::Routed),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::Done,
                PaymentStatus::Failed,
            )),
            None,
        ),
        "retry-routes" => show(
            state,
            &ctx,
            &session(SessionStatus::Routed),
            Some(&fixture_payment(
                RouteKind::Wallet,
                ProviderState::Done,
                PaymentStatus::Failed,
            )),
            None,
        ),
        "failed" => show(
            state,
            &ctx,
            &session(SessionStatus::Failed),
            Some(&fixture_payment(
                RouteKind::Card,
                ProviderState::Done,
                PaymentStatus::Failed,
            )),
            None,
        ),
        "expired" => show(state, &ctx, &session(SessionStatus::Expired), None, None),
        "not-found" => not_found_page(state, &ctx),
        "cross-site" => message(state, &ctx, StatusCode::FORBIDDEN, merchant, "cross_site"),
        _ => message(
            state,
            &ctx,
            StatusCode::INTERNAL_SERVER_ERROR,
            merchant,
            "error",
        ),
    }
}

/// A gallery row: state name, description, and links as (href, label).
type GalleryRow = (String, String, Vec<(String, String)>);

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
    let rows = STATES
        .iter()
        .map(|(name, description)| {
            let links = entries
                .iter()
                .filter(|e| e.state == *name)
                .map(|e| {
                    (
                        format!("{prefix}{}", e.slug),
                        format!(
                            "{}{}",
                            e.language,
                            if e.branded { " · branded" } else { "" }
                        ),
                    )
                })
                .collect();
            ((*name).to_owned(), (*description).to_owned(), links)
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
    render_entry(&state, &entry, t)
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
            .body(fixture_brand_css()),
        "gallery.css" => HttpResponse::Ok()
            .content_type("text/css; charset=utf-8")
            .body(GALLERY_CSS),
        "logo.svg" => HttpResponse::Ok()
            .content_type("image/svg+xml")
            .body(FIXTURE_LOGO),
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

    #[tokio::test]
    async fn every_gallery_entry_renders_in_full_and_escapes_its_fixtures() {
        let state = offline();
        let all = entries(&state);
        assert_eq!(all.len(), STATES.len() * 3 * 2);
        for entry in &all {
            let t = state.catalogs.find(entry.language).expect("catalog");
            let response = render_entry(&state, entry, t);
            let status = response.status().as_u16();
            let html = body(response).await;
            let expected = match entry.state {
                "not-found" => 404,
                "cross-site" => 403,
                "error" => 500,
                "card-errors" => 422,
                _ => 200,
            };
            assert_eq!(status, expected, "{}", entry.slug);
            assert!(
                !html.contains('⟦'),
                "{} asks for a text no catalog has",
                entry.slug
            );
            assert!(
                html.contains(&format!("<html lang=\"{}\">", entry.language)),
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

    /// The colour tokens of `static/checkout.css`, light then dark.
    type Tokens = Vec<(String, String)>;

    fn tokens() -> (Tokens, Tokens) {
        let css = include_str!("../../../static/checkout.css");
        let block = |start: usize| -> Vec<(String, String)> {
            let open = css[start..]
                .find('{')
                .map(|i| start + i + 1)
                .expect("block");
            let close = css[open..].find('}').map(|i| open + i).expect("block end");
            css[open..close]
                .lines()
                .filter_map(|l| {
                    let (name, value) = l.trim().trim_end_matches(';').split_once(':')?;
                    let value = value.trim();
                    (name.starts_with("--color-") && value.starts_with('#'))
                        .then(|| (name.to_owned(), value.to_owned()))
                })
                .collect()
        };
        let light = block(css.find(":root").expect(":root"));
        let dark_media = css.find("prefers-color-scheme: dark").expect("dark scheme");
        let dark = block(dark_media + css[dark_media..].find(":root").expect("dark :root"));
        (light, dark)
    }

    #[test]
    fn the_design_tokens_keep_aa_contrast_in_both_schemes() {
        use crate::domain::branding::Color;
        for (scheme, tokens) in [("light", tokens().0), ("dark", tokens().1)] {
            let get = |name: &str| {
                let hex = &tokens
                    .iter()
                    .find(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("{scheme} lacks {name}"))
                    .1;
                Color::parse(hex).expect("colour")
            };
            let text_pairs = [
                ("--color-text", "--color-bg"),
                ("--color-text", "--color-surface"),
                ("--color-muted", "--color-surface"),
                ("--color-muted", "--color-bg"),
                ("--color-accent", "--color-surface"),
                ("--color-accent-text", "--color-accent"),
                ("--color-error", "--color-surface"),
                ("--color-ok", "--color-surface"),
            ];
            for (fg, bg) in text_pairs {
                let ratio = get(fg).contrast(get(bg));
                assert!(ratio >= 4.5, "{scheme}: {fg} on {bg} is {ratio:.2}:1");
            }
            // Focus rings and input borders are not text: 3:1.
            for (fg, bg) in [
                ("--color-focus", "--color-bg"),
                ("--color-focus", "--color-surface"),
            ] {
                let ratio = get(fg).contrast(get(bg));
                assert!(ratio >= 3.0, "{scheme}: {fg} on {bg} is {ratio:.2}:1");
            }
        }
    }
}
