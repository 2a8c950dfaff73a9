//! `GET /checkout/{id}`: one URL for the whole journey. What it shows is the session's
//! [`Step`], so the back button, a reload or a second tab always show the current state,
//! never a stale form.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::chain::chain_status;
use super::links::Links;
use super::step::{Step, effective_status, page_state_key};
use super::steps::{Shown, render_step, to_provider};
use super::{Ctx, error_page, not_found_page};
use crate::db::card_declines::declined_in_session;
use crate::db::payments::{PaymentRow, Redirect, note_redirect, read_payment_by_session};
use crate::db::sessions::{
    SessionRow, SessionView, mark_opened, mark_sent_back, read_session_view,
};
use crate::db::webhook_deliveries::event_delivery_state;
use crate::domain::PaymentId;
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::domain::{PaymentStatus, SessionId, SessionStatus};
use crate::lifecycle::hand_off::redirect_url;
use crate::state::AppState;

/// `GET /checkout/{id}`: the page of the session's current step.
pub async fn checkout_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let loaded = async {
        let Some((view, payment)) = load(&state, &id).await? else {
            return anyhow::Ok(None);
        };
        if view.session.opened_at.is_none() {
            // The funnel's first step, written on the first view only.
            mark_opened(&state.db.write, &view.session.id, now_ms()).await?;
        }
        let confirming = merchant_still_confirming(&state, &view.session, payment.as_ref()).await?;
        // The paid page sends the buyer on to `redirectUrl` at once (unless it waits for the
        // merchant to confirm): noted for the timeline, the first time.
        if view.session.status == SessionStatus::Paid
            && !confirming
            && view.session.redirect_url.is_some()
            && view.session.sent_back_at.is_none()
        {
            mark_sent_back(&state.db.write, &view.session.id, now_ms()).await?;
        }
        let chain = chain_status(&state, payment.as_ref()).await?;
        Ok(Some((view, payment, confirming, chain)))
    };
    match loaded.await {
        Ok(Some((view, payment, confirming, chain))) => {
            let ctx = Ctx::for_session(&state, &req, &view);
            let step = Step::of(&view, payment.as_ref(), now_ms());
            let shown = Shown {
                confirming,
                chain,
                ..Shown::default()
            };
            render_step(&state, &ctx, &view, payment.as_ref(), step, shown)
        }
        Ok(None) => not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => error_page(&state, &Ctx::new(&state, &req, None), &e),
    }
}

/// `GET /checkout/{id}/card`: the card form's own address (the form with errors is shown
/// there), so a reload, a new tab or a language link shows the card form again while the
/// buyer can still pay by card; any other step is shown at `/checkout/{id}`.
pub async fn card_page_get(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    step_page(&state, &req, &id, |step| {
        matches!(step, Step::Card { .. }).then_some(step)
    })
    .await
}

/// `GET /checkout/{id}/routes`: the route chooser, for a session open to another attempt
/// after a failed payment ("pay another way", also after a declined card), and where a
/// provider's own page sends a buyer who gave up there; any other step is shown at
/// `/checkout/{id}`.
pub async fn routes_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    step_page(&state, &req, &id, |step| match step {
        Step::Choose { .. } | Step::AtProvider => Some(step),
        Step::Card { retry: true } => Some(Step::Choose { retry: true }),
        _ => None,
    })
    .await
}

/// A step's own address: the page `shows` picks for the session's step, or (`None`) a `303`
/// to `/checkout/{id}`, which shows whatever the step is.
async fn step_page(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    shows: impl FnOnce(Step) -> Option<Step>,
) -> HttpResponse {
    match load(state, id).await {
        Ok(Some((view, payment))) => {
            let ctx = Ctx::for_session(state, req, &view);
            let step = Step::of(&view, payment.as_ref(), now_ms());
            match shows(step) {
                Some(step) => {
                    render_step(state, &ctx, &view, payment.as_ref(), step, Shown::default())
                }
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
    see_other(Links::new(ctx, session_id).page())
}

/// `303 See Other` to `location`, one of ours.
pub(super) fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((actix_web::http::header::LOCATION, location))
        .finish()
}

/// `GET /checkout/{id}/provider`: on the way to the provider's own payment page, while the
/// buyer has not finished there; any other step is shown at `/checkout/{id}`.
pub async fn to_provider_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    match load(&state, &id).await {
        Ok(Some((view, payment))) => {
            let ctx = Ctx::for_session(&state, &req, &view);
            let step = Step::of(&view, payment.as_ref(), now_ms());
            let href = payment
                .as_ref()
                .filter(|_| step == Step::AtProvider)
                .and_then(|p| Some((p, redirect_url(&p.provider_data)?)));
            match href {
                Some((payment, href)) => {
                    note_move(&state, &payment.id, Redirect::ToProvider).await;
                    to_provider(&state, &ctx, &view, payment, href)
                }
                None => see_checkout(&ctx, &view.session.id),
            }
        }
        Ok(None) => not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => error_page(&state, &Ctx::new(&state, &req, None), &e),
    }
}

/// Notes a move to or from a provider's page for the payment's timeline. A failure to note it
/// is logged and does not stop the buyer.
pub(super) async fn note_move(state: &AppState, payment: &PaymentId, redirect: Redirect) {
    if let Err(e) = note_redirect(&state.db.write, payment, redirect, now_ms()).await {
        tracing::warn!(payment.id = %payment, error = %e, "could not note a redirect");
    }
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

/// `GET /checkout/{id}/status`: what the page's script polls to update itself.
pub async fn checkout_status(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    let loaded = async {
        let Some((view, payment)) = load(&state, &id).await? else {
            return anyhow::Ok(None);
        };
        let chain = chain_status(&state, payment.as_ref()).await?;
        Ok(Some((view, payment, chain)))
    };
    match loaded.await {
        Ok(Some((view, payment, chain))) => {
            let now = now_ms();
            HttpResponse::Ok().json(json!({
                "status": effective_status(&view.session, payment.as_ref(), now).as_str(),
                "state": page_state_key(&view.session, payment.as_ref(), chain.as_ref(), now),
            }))
        }
        Ok(None) => HttpResponse::NotFound().json(json!({"status": "not_found"})),
        Err(e) => {
            tracing::error!(
                error.cause = format!("{e:#}"),
                "reading a checkout's status failed"
            );
            HttpResponse::InternalServerError().json(json!({"status": "unknown"}))
        }
    }
}

/// The session (with its merchant's name and branding) and its latest payment.
pub(super) async fn load(
    state: &AppState,
    id: &str,
) -> anyhow::Result<Option<(SessionView, Option<PaymentRow>)>> {
    let Some(session_id) = SessionId::parse(id) else {
        return Ok(None);
    };
    let Some(view) = read_session_view(&state.db, &session_id).await? else {
        return Ok(None);
    };
    let payment = match &view.session.payment_id {
        Some(_) => read_payment_by_session(&state.db, &view.session.id).await?,
        None => None,
    };
    let mut view = view;
    // After a failed payment the buyer may choose again: by card only while the session has
    // taken fewer than `card_attempts_per_session` declined cards.
    if payment
        .as_ref()
        .is_some_and(|p| p.status == PaymentStatus::Failed)
    {
        let declined = declined_in_session(&state.db.read, &view.session.id).await?;
        view.cards_closed = declined >= state.settings.card_attempts_per_session;
    }
    Ok(Some((view, payment)))
}
