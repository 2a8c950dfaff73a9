//! `GET /checkout/{id}`: one URL for the whole journey. What it shows follows from the
//! session and its payment, so the back button, a reload or a second tab always show the
//! current state, never a stale form.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;

use super::form::issue_token;
use super::{Ctx, Expiry, Layout, MessagePage, Summary, error_page, not_found_page, render};
use crate::db::payments::{PaymentRow, get_payment_by_session};
use crate::db::sessions::{SessionRow, SessionView, get_session_view};
use crate::db::webhook_deliveries::event_delivery_state;
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::url::return_url;
use crate::domain::{
    Environment, PaymentStatus, ProviderState, RouteKind, SessionId, SessionStatus,
};
use crate::providers::Instructions;
use crate::providers::sandbox::TEST_CARDS;
use crate::state::AppState;

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
    /// After a failed payment: why, and the way back to the merchant.
    pub retry: Option<Retry>,
}

/// What the buyer sees after a failed payment while the session is still open: why it
/// failed, and a form that gives up and goes back to the merchant.
pub struct Retry {
    pub reason: String,
    /// The field the reason's link moves to (the card number, or the route that failed).
    pub field: String,
    pub leave_action: String,
    pub leave_token: String,
    pub leave_label: String,
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
    /// After a declined card: why, and the ways out.
    pub retry: Option<Retry>,
    /// The route chooser, to pay another way (after a failed card).
    pub other_routes_href: Option<String>,
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
    /// A wallet transfer (else a bank transfer).
    pub wallet: bool,
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
    /// What the buyer paid with: card brand and last four, transaction hash, bank reference.
    pub method: Option<String>,
    pub payment_id: Option<String>,
    pub customer_email: Option<String>,
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
        let confirming = merchant_still_confirming(&state, &view.session, payment.as_ref()).await?;
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

/// `GET /checkout/{id}/card`: the card form's own address (the form with errors is shown
/// here), so a reload, a new tab or a language link shows the card form again while the
/// buyer can still pay by card; any other state is shown at `/checkout/{id}`.
pub async fn card_page_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    step_page(&state, &req, &id, |status, payment| {
        let card_form = payment.is_some_and(|p| {
            p.route_kind == RouteKind::Card
                && ((status == SessionStatus::Pending
                    && p.provider_state == ProviderState::AwaitingBuyer)
                    || (status == SessionStatus::Routed && p.status == PaymentStatus::Failed))
        });
        card_form.then_some(Want::Current)
    })
    .await
}

/// `GET /checkout/{id}/routes`: the route chooser, for a session open to another attempt
/// after a failed payment ("pay another way"); any other state is shown at `/checkout/{id}`.
pub async fn routes_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    step_page(&state, &req, &id, |status, _| {
        (status == SessionStatus::Routed).then_some(Want::Routes)
    })
    .await
}

/// A step's own address: the page `want` picks for the session's state, or (`None`) a `303` to
/// `/checkout/{id}`, which shows whatever the state is.
async fn step_page(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    want: impl FnOnce(SessionStatus, Option<&PaymentRow>) -> Option<Want>,
) -> HttpResponse {
    match load(state, id).await {
        Ok(Some((view, payment))) => {
            let ctx = Ctx::for_session(state, req, &view);
            let status = effective_status(&view.session, payment.as_ref());
            match want(status, payment.as_ref()) {
                Some(want) => show_page(state, &ctx, &view, payment.as_ref(), None, want),
                None => see_checkout(&ctx, &view.session.id),
            }
        }
        Ok(None) => not_found_page(state, &Ctx::new(state, req, None)),
        Err(e) => error_page(state, &Ctx::new(state, req, None), &e),
    }
}

/// `GET` on a form's address (`/start`, `/challenge`, `/simulate`, `/leave`): the page that
/// posted it was shown at `/checkout/{id}`, so that is where a reload or a link goes.
pub async fn to_checkout_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    match SessionId::parse(&id) {
        Some(id) => see_checkout(&Ctx::new(&state, &req, None), &id),
        None => not_found_page(&state, &Ctx::new(&state, &req, None)),
    }
}

/// `303 See Other` to the checkout page, keeping the buyer's language choice.
pub(super) fn see_checkout(ctx: &Ctx, session_id: &SessionId) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            actix_web::http::header::LOCATION,
            ctx.link(&format!("/checkout/{session_id}")),
        ))
        .finish()
}

/// Whether the buyer of a paid session should wait a moment before going back: the merchant
/// has an endpoint for `payment.paid` that has not acknowledged it yet, and the short wait
/// (`redirect_wait_seconds`) since the payment is not over. Then the merchant knows of the
/// payment before the buyer lands on its page; if it is slow, the buyer goes anyway.
async fn merchant_still_confirming(
    state: &AppState,
    session: &SessionRow,
    payment: Option<&PaymentRow>,
) -> anyhow::Result<bool> {
    let Some(payment) = payment else {
        return Ok(false);
    };
    if session.status != SessionStatus::Paid
        || session.redirect_url.is_none()
        || now_ms() >= session.updated_at + state.settings.redirect_wait_seconds * 1000
    {
        return Ok(false);
    }
    let event_id = EventKind::Paid.event_id(session.id.as_str(), payment.attempt);
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
            method: payment.and_then(|p| payment_method(ctx, p)),
            payment_id: payment.map(|p| p.id.to_string()),
            customer_email: Some(session.customer_email.clone()).filter(|e| !e.is_empty()),
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
    session.status.effective(
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
    let breakdown = payment.filter(|p| p.buyer_fee_cents > 0).map(|p| {
        ctx.t.with2(
            "layout.breakdown",
            ("amount", &ctx.money(p.amount_cents)),
            ("fee", &ctx.money(p.buyer_fee_cents)),
        )
    });
    let headline = match payment {
        Some(p) => ctx.money(p.total_cents),
        None => ctx.money(session.amount_cents),
    };
    Summary {
        product: session.product.clone(),
        headline,
        breakdown,
        amount: ctx.money(session.amount_cents),
        route_label: route.map(|r| r.label_in(ctx.t.code).to_owned()),
        fee: payment.map(|p| ctx.money(p.buyer_fee_cents)),
        total: payment.map(|p| ctx.money(p.total_cents)),
        sandbox: session.environment == Environment::Sandbox,
        expires: payment.is_none().then(|| Expiry {
            text: ctx.t.open_for(session.expires_at - now_ms()),
            iso: crate::domain::time::iso_seconds(session.expires_at),
            template: ctx.t.get("layout.open_until").into_owned(),
        }),
    }
}

/// What a page asks of `show`: the current state, or (at `/checkout/{id}/routes`) the route
/// chooser of a session that is open for another attempt.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Want {
    Current,
    Routes,
    /// The answer to "return to the merchant": the failed page, sending the buyer on at once.
    Leaving,
}

/// The failed page after the buyer chose to go back: it sends them to `redirectUrl` at once.
pub(super) fn show_leaving(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
) -> HttpResponse {
    show_page(state, ctx, view, payment, None, Want::Leaving)
}

/// The page for the current state. `card_errors` re-renders the card form after a refusal.
pub(super) fn show(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
    card_errors: Option<(Vec<FieldError>, CardValues)>,
) -> HttpResponse {
    show_page(state, ctx, view, payment, card_errors, Want::Current)
}

pub(super) fn show_page(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: Option<&PaymentRow>,
    card_errors: Option<(Vec<FieldError>, CardValues)>,
    want: Want,
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
    let token = |step: &str| {
        issue_token(
            &state.form_secret,
            session.id.as_str(),
            &bound_step(step, payment),
            now_s,
        )
    };
    let sandbox = session.environment == Environment::Sandbox;
    // The session is open again after this payment failed: the buyer may try again.
    let failed_before =
        payment.filter(|p| status == SessionStatus::Routed && p.status == PaymentStatus::Failed);
    let retry = |field: String| {
        failed_before.map(|p| Retry {
            reason: failure_reason(ctx, Some(p)),
            field,
            leave_action: ctx.link(&format!("/checkout/{}/leave", session.id)),
            leave_token: token("leave"),
            leave_label: match &session.redirect_url {
                Some(_) => ctx.t.with(
                    "result.return_to",
                    "merchant",
                    &ctx.merchant_name(&view.merchant_name),
                ),
                None => ctx.t.get("retry.cancel").into_owned(),
            },
        })
    };
    let choose = || {
        let selected = failed_before
            .map(|p| p.route_id.as_str())
            .or(session.route_id.as_deref());
        let routes = state
            .settings
            .routes
            .iter()
            .filter(|r| {
                r.offered_in(session.environment) && state.providers.get(&r.integration).is_some()
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
                    selected: selected == Some(r.id.as_str()),
                }
            })
            .collect();
        let field = format!("route-{}", selected.unwrap_or_default());
        let mut page = ctx.layout(state, &session.product, &view.merchant_name);
        if failed_before.is_some() {
            page.title = ctx.t.get("retry.title").into_owned();
        }
        render(
            StatusCode::OK,
            &CheckoutPage {
                page,
                summary: summary(state, ctx, session, None),
                routes,
                action: ctx.link(&format!("/checkout/{}/start", session.id)),
                token: token("start"),
                retry: retry(field),
            },
        )
    };

    match (status, payment) {
        (SessionStatus::Paid | SessionStatus::Failed, _) => {
            let paid = status == SessionStatus::Paid;
            let back_href = session
                .redirect_url
                .as_deref()
                .map(|url| return_url(url, session.id.as_str(), status.as_str()));
            let mut page = layout(if paid {
                "result.paid_title"
            } else {
                "result.failed_title"
            });
            // Paid: the merchant has been told (or the short wait is over), so the buyer goes
            // back at once. Failed: the buyer stays until they choose to go.
            if (paid || want == Want::Leaving)
                && !ctx.preview
                && let Some(href) = &back_href
            {
                page.redirect_now = Some(href.clone());
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
                    method: payment.and_then(|p| payment_method(ctx, p)),
                    payment_id: payment.map(|p| p.id.to_string()),
                    customer_email: Some(session.customer_email.clone()).filter(|e| !e.is_empty()),
                },
            )
        }
        (SessionStatus::Expired, _) => render(
            StatusCode::OK,
            &MessagePage {
                page: layout("message.expired_title"),
                heading: ctx.t.get("message.expired_heading").into_owned(),
                body: ctx.t.get("message.expired_body").into_owned(),
                back_href: session.redirect_url.as_deref().map(|url| {
                    return_url(url, session.id.as_str(), SessionStatus::Expired.as_str())
                }),
            },
        ),
        (_, Some(p))
            if failed_before.is_some()
                && p.route_kind == RouteKind::Card
                && want == Want::Current =>
        {
            card_page(
                state,
                ctx,
                view,
                p,
                card_errors,
                retry("number".into()),
                token("card"),
            )
        }
        (_, None) => choose(),
        (_, Some(_)) if failed_before.is_some() => choose(),
        (_, Some(p))
            if p.provider_state == ProviderState::AwaitingBuyer
                && p.route_kind == RouteKind::Card =>
        {
            card_page(state, ctx, view, p, card_errors, None, token("card"))
        }
        (_, Some(p)) if p.provider_state == ProviderState::Challenge => render(
            StatusCode::OK,
            &ChallengePage {
                page: layout("challenge.title"),
                summary: summary(state, ctx, session, Some(p)),
                action: ctx.link(&format!("/checkout/{}/challenge", session.id)),
                token: token("challenge"),
                sandbox,
            },
        ),
        (_, Some(p))
            if p.route_kind != RouteKind::Card && p.provider_state == ProviderState::InFlight =>
        {
            let instructions: Instructions = serde_json::from_str(&p.provider_data)
                .unwrap_or_else(|_| Instructions::new(p.route_kind));
            let wallet = p.route_kind == RouteKind::Wallet;
            let qr_svg = instructions
                .payment_uri
                .as_deref()
                .map(qr_svg)
                .unwrap_or_default();
            let simulate = sandbox.then(|| {
                let buttons = if wallet {
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
                    ctx.link(&format!("/checkout/{}/simulate", session.id)),
                    token("simulate"),
                    buttons,
                )
            });
            let mut summary = summary(state, ctx, session, Some(p));
            if wallet && let Some(amount) = &instructions.asset_amount {
                // What the buyer sends is the figure that matters: the USDC amount.
                summary.headline = format!("{amount} USDC");
            }
            render(
                StatusCode::OK,
                &InstructionsPage {
                    page: waiting(if wallet { "wallet.title" } else { "bank.title" }),
                    bank_amount: ctx.money(p.total_cents),
                    summary,
                    wallet,
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

/// The card form: for a card payment waiting for the buyer's card, or (with `retry`) to try
/// again after a declined card.
fn card_page(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    p: &PaymentRow,
    card_errors: Option<(Vec<FieldError>, CardValues)>,
    retry: Option<Retry>,
    token: String,
) -> HttpResponse {
    let session = &view.session;
    let (errors, values) = card_errors.unwrap_or_default();
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let title = if !errors.is_empty() {
        "card.error_title"
    } else if retry.is_some() {
        "retry.title"
    } else {
        "card.title"
    };
    // A new card's errors replace the reason the last one failed.
    let retry = retry.map(|r| Retry {
        reason: if errors.is_empty() {
            r.reason
        } else {
            String::new()
        },
        ..r
    });
    render(
        status,
        &CardPage {
            page: ctx.layout(state, &ctx.t.get(title), &view.merchant_name),
            summary: summary(state, ctx, session, Some(p)),
            action: ctx.link(&format!("/checkout/{}/card", session.id)),
            other_routes_href: retry
                .is_some()
                .then(|| ctx.link(&format!("/checkout/{}/routes", session.id))),
            token,
            errors,
            values,
            test_cards: if session.environment == Environment::Sandbox {
                TEST_CARDS.to_vec()
            } else {
                Vec::new()
            },
            retry,
        },
    )
}

/// What a form token is bound to: the step, and the payment the page showed with its status,
/// so a page's form stops working once that payment has moved on (see `form`).
pub(super) fn bound_step(step: &str, payment: Option<&PaymentRow>) -> String {
    match payment {
        Some(p) => format!("{step}:{}:{}", p.id, p.status),
        None => format!("{step}::"),
    }
}

/// How the buyer paid, in words: "Visa ending 4242", a transaction hash, a bank reference.
fn payment_method(ctx: &Ctx, p: &PaymentRow) -> Option<String> {
    if let (Some(brand), Some(last4)) = (&p.card_brand, &p.card_last4) {
        return Some(ctx.t.with2(
            "result.card_method",
            ("brand", &card_brand_name(brand)),
            ("last4", last4),
        ));
    }
    if let Some(tx) = &p.tx_hash {
        return Some(ctx.t.with("result.tx_method", "tx", tx));
    }
    let instructions: Instructions = serde_json::from_str(&p.provider_data).ok()?;
    instructions
        .reference
        .map(|r| ctx.t.with("result.bank_method", "reference", &r))
}

fn card_brand_name(brand: &str) -> String {
    match brand {
        "visa" => "Visa".into(),
        "mastercard" => "Mastercard".into(),
        "amex" => "American Express".into(),
        "discover" => "Discover".into(),
        other => other.to_owned(),
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
