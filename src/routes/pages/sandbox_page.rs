//! The payment page of the sandbox's hosted variant (`sandbox_redirect`), at
//! `/sandbox/pay/{payment id}`: what a provider that hosts its own page (Stripe Checkout)
//! shows, with no key anywhere. Its buttons pay, decline or go back, and it sends the buyer
//! back to the checkout as such a provider does: to `/checkout/{id}/return` once decided, to
//! the route chooser when they go back. Its decisions travel as the sandbox's signed
//! callbacks, through the one path every provider's outcome takes.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::checkout::{load, see_other};
use super::form::{cross_site_refusal, field, issue_token, read_form, verify_token};
use super::{Ctx, Layout, error_page, not_found_page, render};
use crate::db::payments::{PaymentRow, get_payment_by_id};
use crate::db::sessions::SessionView;
use crate::domain::time::now_ms;
use crate::domain::{PaymentId, ProviderState};
use crate::lifecycle;
use crate::providers::sandbox::{REDIRECT_ID, Simulation};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "sandbox_page.html")]
pub struct SandboxPage {
    pub page: Layout,
    pub heading: String,
    pub amount: String,
    pub product: String,
    pub action: String,
    pub token: String,
}

/// What the form's token is bound to.
fn bound(payment: &PaymentRow) -> String {
    format!("sandbox_page:{}", payment.id)
}

/// The payment of the page, its session, and whether the buyer may still act on it (it is the
/// session's latest payment and waits on this page).
async fn load_page(
    state: &AppState,
    id: &str,
) -> anyhow::Result<Option<(SessionView, PaymentRow, bool)>> {
    let Some(payment_id) = PaymentId::parse(id) else {
        return Ok(None);
    };
    let Some(payment) = get_payment_by_id(&state.db.read, &payment_id)
        .await?
        .filter(|p| p.provider == REDIRECT_ID)
    else {
        return Ok(None);
    };
    let Some((view, latest)) = load(state, payment.session_id.as_str()).await? else {
        return Ok(None);
    };
    let open = payment.provider_state == ProviderState::Redirected
        && latest.is_some_and(|l| l.id == payment.id);
    Ok(Some((view, payment, open)))
}

/// `GET /sandbox/pay/{payment}`: the page, or (the payment is over) back to the checkout.
pub async fn sandbox_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    match load_page(&state, &id).await {
        Ok(Some((view, payment, true))) => {
            let ctx = Ctx::for_session(&state, &req, &view);
            let heading = ctx.t.get("sandbox_page.heading").into_owned();
            render(
                StatusCode::OK,
                &SandboxPage {
                    page: ctx.layout(&state, &heading, &view.merchant_name),
                    heading,
                    amount: ctx.money(payment.total_cents),
                    product: ctx
                        .t
                        .with("result.paid_for", "product", &view.session.product),
                    action: format!("/sandbox/pay/{}", payment.id),
                    token: issue_token(
                        &state.form_secret,
                        view.session.id.as_str(),
                        &bound(&payment),
                        now_ms() / 1000,
                    ),
                },
            )
        }
        Ok(Some((view, _, false))) => see_other(format!("/checkout/{}", view.session.id)),
        Ok(None) => not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => error_page(&state, &Ctx::new(&state, &req, None), &e),
    }
}

/// `POST /sandbox/pay/{payment}`: `action` = `hosted_pay`, `hosted_decline` or `back`.
pub async fn sandbox_page_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (view, payment, open) = match load_page(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => return error_page(&state, &Ctx::new(&state, &req, None), &e),
    };
    let ctx = Ctx::for_session(&state, &req, &view);
    if let Some(refusal) = cross_site_refusal(&state, &req, &ctx, &view.merchant_name) {
        tracing::warn!(payment.id = %payment.id, "refused a cross-site post to the sandbox's payment page");
        return refusal;
    }
    let checkout = format!("/checkout/{}", view.session.id);
    let Some(fields) = read_form(&req, payload).await else {
        return see_other(checkout);
    };
    let token_ok = verify_token(
        &state.form_secret,
        view.session.id.as_str(),
        &bound(&payment),
        field(&fields, "token"),
        now_ms() / 1000,
    );
    if !open || !token_ok {
        return see_other(checkout);
    }
    let simulation = match field(&fields, "action") {
        "back" => return see_other(format!("{checkout}/routes")),
        action => match Simulation::parse(action) {
            Some(s @ (Simulation::HostedPaid | Simulation::HostedDeclined)) => s,
            _ => return see_other(checkout),
        },
    };
    let Some(hosted) = state.providers.sandbox_redirect.as_ref() else {
        return see_other(checkout);
    };
    let result = async {
        let callback = hosted.simulate(&payment.id, simulation)?;
        lifecycle::apply_signed_callback(state.lifecycle(), REDIRECT_ID, &callback).await?;
        anyhow::Ok(())
    };
    match result.await {
        Ok(()) => see_other(format!("{checkout}/return")),
        Err(e) => error_page(&state, &ctx, &e),
    }
}
