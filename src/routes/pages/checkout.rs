//! `GET /checkout/{id}`: one URL for the whole journey. What it shows follows from the
//! session and its payment, so the back button, a reload or a second tab always show the
//! current state, never a stale form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::form::issue_token;
use super::{Ctx, Layout, MessagePage, Summary, error_page, not_found_page, render};
use crate::db::payments::{PaymentRow, get_payment_by_session};
use crate::db::sessions::{SessionRow, SessionView, get_session_view};
use crate::db::webhook_deliveries::event_delivery_state;
use crate::domain::time::now_ms;
use crate::domain::url::return_url;
use crate::domain::{SessionId, SessionStatus};
use crate::lifecycle::events::EventKind;
use crate::providers::Instructions;
use crate::providers::sandbox::TEST_CARDS;
use crate::startup::AppState;

/// Seconds before the result page sends the buyer back to the merchant.
const RETURN_DELAY_SECONDS: u32 = 3;
/// Seconds between refreshes of a waiting page without JavaScript.
const REFRESH_SECONDS: u32 = 5;

/// One route as the buyer sees it: what it costs on top of the price.
pub struct RouteChoice {
    pub id: String,
    pub label: String,
    pub provider: String,
    pub eta: String,
    /// "Fee $3.72 · Total $119.72", in the page's language.
    pub fees: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "checkout.html")]
pub struct CheckoutPage {
    pub page: Layout,
    pub summary: Summary,
    pub routes: Vec<RouteChoice>,
    pub action: String,
    pub token: String,
}

pub struct FieldError {
    pub field: &'static str,
    pub message: &'static str,
}

/// What the card form sends back after an error (never the number or the security code).
#[derive(Default)]
pub struct CardValues {
    pub expiry: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "card.html")]
pub struct CardPage {
    pub page: Layout,
    pub summary: Summary,
    pub action: String,
    pub token: String,
    pub errors: Vec<FieldError>,
    pub values: CardValues,
    pub test_cards: Vec<(&'static str, &'static str)>,
}

impl CardPage {
    fn error_for(&self, field: &str) -> Option<&'static str> {
        self.errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message)
    }
}

#[derive(Template)]
#[template(path = "challenge.html")]
pub struct ChallengePage {
    pub page: Layout,
    pub summary: Summary,
    pub action: String,
    pub token: String,
    pub sandbox: bool,
}

/// The sandbox's simulation form: action URL, token, and (value, label) per button.
pub type SandboxButtons = (String, String, Vec<(&'static str, &'static str)>);

#[derive(Template)]
#[template(path = "instructions.html")]
pub struct InstructionsPage {
    pub page: Layout,
    pub summary: Summary,
    pub instructions: Instructions,
    /// What to transfer, in the page's money format.
    pub bank_amount: String,
    pub qr_svg: String,
    pub simulate: Option<SandboxButtons>,
}

#[derive(Template)]
#[template(path = "waiting.html")]
pub struct WaitingPage {
    pub page: Layout,
    pub summary: Summary,
}

#[derive(Template)]
#[template(path = "result.html")]
pub struct ResultPage {
    pub page: Layout,
    pub summary: Summary,
    pub paid: bool,
    pub reason: String,
    pub back_href: Option<String>,
    /// Paid, and the merchant is being told before the buyer goes back.
    pub confirming: bool,
}

pub async fn checkout_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let loaded = async {
        let Some((view, payment)) = load(&state, &id).await? else {
            return anyhow::Ok(None);
        };
        let confirming = merchant_still_confirming(&state, &view.session).await?;
        Ok(Some((view, payment, confirming)))
    };
    match loaded.await {
        Ok(Some((view, payment, confirming))) => {
            let ctx = Ctx::for_session(&state, &req, &view);
            if confirming {
                show_confirming(&state, &ctx, &view, payment.as_ref())
            } else {
                show(&state, &ctx, &view, payment.as_ref(), None)
            }
        }
        Ok(None) => not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => error_page(&state, &Ctx::new(&state, &req, None), &e),
    }
}

/// Whether the buyer of a paid session should wait a moment before going back: the merchant
/// has an endpoint for `payment.paid` that has not acknowledged it yet, and the short wait
/// (`redirect_wait_seconds`) since the payment is not over. Then the merchant knows of the
/// payment before the buyer lands on its page; if it is slow, the buyer goes anyway.
async fn merchant_still_confirming(state: &AppState, session: &SessionRow) -> anyhow::Result<bool> {
    if session.status != "paid"
        || session.redirect_url.is_none()
        || now_ms() >= session.updated_at + state.settings.redirect_wait_seconds * 1000
    {
        return Ok(false);
    }
    let event_id = EventKind::Paid.event_id(&session.id);
    let (delivered, owed) = event_delivery_state(&state.db.read, &event_id).await?;
    Ok(delivered == 0 && owed > 0)
}

/// The paid page while the merchant confirms: no return yet, a refresh every second.
pub(super) fn show_confirming(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
) -> HttpResponse {
    let session = &view.session;
    let mut page = ctx.layout(state, &ctx.t.get("result.paid_title"), &view.merchant_name);
    page.refresh = Some("1".into());
    page.status_url = Some(format!("/checkout/{}/status", session.id));
    page.state_key = "paid:confirming".into();
    render(
        StatusCode::OK,
        &ResultPage {
            page,
            summary: summary(state, ctx, session, payment),
            paid: true,
            reason: String::new(),
            back_href: None,
            confirming: true,
        },
    )
}

/// `GET /checkout/{id}/status`: what the page's script polls to update itself.
pub async fn checkout_status(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    match load(&state, &id).await {
        Ok(Some((view, payment))) => HttpResponse::Ok().json(json!({
            "status": effective_status(&view.session, payment.as_ref()).as_str(),
            "state": state_key(&view.session, payment.as_ref()),
        })),
        Ok(None) => HttpResponse::NotFound().json(json!({"status": "not_found"})),
        Err(e) => {
            tracing::error!(
                error = format!("{e:#}"),
                "reading a checkout's status failed"
            );
            HttpResponse::InternalServerError().json(json!({"status": "unknown"}))
        }
    }
}

/// The session (with its merchant's name) and its payment.
pub(super) async fn load(
    state: &AppState,
    id: &str,
) -> anyhow::Result<Option<(SessionView, Option<PaymentRow>)>> {
    let Some(session_id) = SessionId::parse(id) else {
        return Ok(None);
    };
    let Some(view) = get_session_view(&state.db.read, &session_id).await? else {
        return Ok(None);
    };
    let payment = match &view.session.payment_id {
        Some(_) => get_payment_by_session(&state.db.read, &view.session.id).await?,
        None => None,
    };
    Ok(Some((view, payment)))
}

/// The status a buyer should see: past its deadline, a session nobody is paying yet (no
/// payment, or one that never reached a provider) is expired, even before the sweeper says so.
pub(super) fn effective_status(
    session: &SessionRow,
    payment: Option<&PaymentRow>,
) -> SessionStatus {
    SessionStatus::parse(&session.status)
        .unwrap_or(SessionStatus::Failed)
        .effective(
            session.expires_at,
            now_ms(),
            payment.is_some_and(PaymentRow::at_provider),
        )
}

/// A short name for what the page shows; when it changes, the page is out of date.
fn state_key(session: &SessionRow, payment: Option<&PaymentRow>) -> String {
    match payment {
        Some(p) => format!(
            "{}:{}",
            effective_status(session, Some(p)).as_str(),
            p.provider_state
        ),
        None => effective_status(session, None).as_str().to_owned(),
    }
}

fn summary(
    state: &AppState,
    ctx: &Ctx,
    session: &SessionRow,
    payment: Option<&PaymentRow>,
) -> Summary {
    let route = payment.and_then(|p| state.settings.routes.iter().find(|r| r.id == p.route_id));
    Summary {
        product: session.product.clone(),
        amount: ctx.money(session.amount_cents),
        route_label: route.map(|r| r.label_in(ctx.t.code).to_owned()),
        fee: payment.map(|p| ctx.money(p.buyer_fee_cents)),
        total: payment.map(|p| ctx.money(p.total_cents)),
        sandbox: session.environment == "sandbox",
        expires: payment.is_none().then(|| ctx.t.date(session.expires_at)),
    }
}

/// The page for the current state. `card_errors` re-renders the card form after a refusal.
pub(super) fn show(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
    card_errors: Option<(Vec<FieldError>, CardValues)>,
) -> HttpResponse {
    let session = &view.session;
    let status = effective_status(session, payment);
    let now_s = now_ms() / 1000;
    let layout = |key: &str| ctx.layout(state, &ctx.t.get(key), &view.merchant_name);
    let waiting = |title: &str| {
        let mut page = layout(title);
        page.status_url = Some(format!("/checkout/{}/status", session.id));
        page.state_key = state_key(session, payment);
        page.refresh = Some(REFRESH_SECONDS.to_string());
        page
    };
    let token = |step: &str| issue_token(&state.form_secret, &session.id, step, now_s);
    let sandbox = session.environment == "sandbox";

    match (status, payment) {
        (SessionStatus::Paid | SessionStatus::Failed, _) => {
            let paid = status == SessionStatus::Paid;
            let back_href = session
                .redirect_url
                .as_deref()
                .map(|url| return_url(url, &session.id, status.as_str()));
            let mut page = layout(if paid {
                "result.paid_title"
            } else {
                "result.failed_title"
            });
            if let Some(href) = &back_href {
                page.refresh = Some(format!("{RETURN_DELAY_SECONDS};url={href}"));
                page.return_url = Some(href.clone());
                page.return_delay = RETURN_DELAY_SECONDS;
            }
            render(
                StatusCode::OK,
                &ResultPage {
                    page,
                    summary: summary(state, ctx, session, payment),
                    paid,
                    reason: failure_reason(ctx, payment),
                    back_href,
                    confirming: false,
                },
            )
        }
        (SessionStatus::Expired, _) => render(
            StatusCode::OK,
            &MessagePage {
                page: layout("message.expired_title"),
                heading: ctx.t.get("message.expired_heading").into_owned(),
                body: ctx.t.get("message.expired_body").into_owned(),
                back_href: session
                    .redirect_url
                    .as_deref()
                    .map(|url| return_url(url, &session.id, "expired")),
            },
        ),
        (_, None) => {
            let routes = state
                .settings
                .routes
                .iter()
                .filter(|r| {
                    r.offered_in(&session.environment)
                        && state.providers.get(&r.integration).is_some()
                })
                .map(|r| {
                    let fees = r.fees(session.amount_cents);
                    RouteChoice {
                        id: r.id.clone(),
                        label: r.label_in(ctx.t.code).to_owned(),
                        provider: r.provider.clone(),
                        eta: r.eta_in(ctx.t.code).to_owned(),
                        fees: ctx.t.with2(
                            "checkout.route_fees",
                            ("fee", &ctx.money(fees.buyer_fee)),
                            ("total", &ctx.money(fees.total)),
                        ),
                        selected: session.route_id.as_deref() == Some(r.id.as_str()),
                    }
                })
                .collect();
            render(
                StatusCode::OK,
                &CheckoutPage {
                    page: ctx.layout(state, &session.product, &view.merchant_name),
                    summary: summary(state, ctx, session, None),
                    routes,
                    action: ctx.link(&format!("/checkout/{}/start", session.id)),
                    token: token("start"),
                },
            )
        }
        (_, Some(p)) if p.provider_state == "awaiting_buyer" && p.route_kind == "card" => {
            let (errors, values) = card_errors.unwrap_or_default();
            let status = if errors.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            let page = layout(if errors.is_empty() {
                "card.title"
            } else {
                "card.error_title"
            });
            render(
                status,
                &CardPage {
                    page,
                    summary: summary(state, ctx, session, Some(p)),
                    action: ctx.link(&format!("/checkout/{}/card", session.id)),
                    token: token("card"),
                    errors,
                    values,
                    test_cards: if sandbox {
                        TEST_CARDS.to_vec()
                    } else {
                        Vec::new()
                    },
                },
            )
        }
        (_, Some(p)) if p.provider_state == "challenge" => render(
            StatusCode::OK,
            &ChallengePage {
                page: layout("challenge.title"),
                summary: summary(state, ctx, session, Some(p)),
                action: ctx.link(&format!("/checkout/{}/challenge", session.id)),
                token: token("challenge"),
                sandbox,
            },
        ),
        (_, Some(p)) if p.route_kind != "card" && p.provider_state == "in_flight" => {
            let instructions: Instructions =
                serde_json::from_str(&p.provider_data).unwrap_or_default();
            let qr_svg = instructions
                .payment_uri
                .as_deref()
                .map(qr_svg)
                .unwrap_or_default();
            let simulate = sandbox.then(|| {
                let buttons = if p.route_kind == "wallet" {
                    vec![
                        ("transfer", "wallet.simulate_ok"),
                        ("transfer_fail", "wallet.simulate_fail"),
                    ]
                } else {
                    vec![
                        ("bank_confirm", "bank.simulate_ok"),
                        ("bank_reject", "bank.simulate_fail"),
                    ]
                };
                (
                    format!("/checkout/{}/simulate", session.id),
                    token("simulate"),
                    buttons,
                )
            });
            render(
                StatusCode::OK,
                &InstructionsPage {
                    page: waiting(if p.route_kind == "wallet" {
                        "wallet.title"
                    } else {
                        "bank.title"
                    }),
                    bank_amount: ctx.money(p.total_cents),
                    summary: summary(state, ctx, session, Some(p)),
                    instructions,
                    qr_svg,
                    simulate,
                },
            )
        }
        (_, Some(p)) => render(
            StatusCode::OK,
            &WaitingPage {
                page: waiting("waiting.title"),
                summary: summary(state, ctx, session, Some(p)),
            },
        ),
    }
}

/// Why a payment failed, in the page's language (by its code), else the provider's words.
fn failure_reason(ctx: &Ctx, payment: Option<&PaymentRow>) -> String {
    let Some(p) = payment else {
        return ctx.t.get("result.failed_generic").into_owned();
    };
    let key = format!("failure.{}", p.failure_code.as_deref().unwrap_or("unknown"));
    match ctx.t.keys().contains(key.as_str()) {
        true => ctx.t.get(&key).into_owned(),
        false => p
            .failure_message
            .clone()
            .unwrap_or_else(|| ctx.t.get("result.failed_generic").into_owned()),
    }
}

/// The payment request as a QR code, drawn on the server as SVG.
fn qr_svg(uri: &str) -> String {
    match qrcode::QrCode::new(uri.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<qrcode::render::svg::Color<'_>>()
                .min_dimensions(200, 200)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration.
            svg.find("<svg")
                .map(|i| svg[i..].to_owned())
                .unwrap_or_default()
        }
        Err(e) => {
            tracing::warn!(error = %e, "the payment request does not fit a QR code");
            String::new()
        }
    }
}
