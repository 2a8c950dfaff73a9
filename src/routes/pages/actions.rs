//! The checkout's forms. Each post checks where it comes from, its token, and that the session's
//! step carries the form ([`Step::accepts`]); it takes at most one step (a compare-and-set that
//! can succeed once), and answers `303 See Other` to the checkout page, which shows whatever
//! the state now is: a double click, a replay or the back button can only ever show the
//! current state, never pay twice.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::checkout::{load, note_move, see_checkout, see_other};
use super::form::{bound_to, cross_site_refusal, field, read_form, verify_token};
use super::links::Links;
use super::step::{Form, Step};
use super::steps::{CardErrors, CardValues, FieldError, Shown, render_step};
use super::{Ctx, error_page, not_found_page};
use crate::db::card_declines::{declined_from_address, record_decline, was_declined};
use crate::db::payments::{PaymentRow, Redirect};
use crate::db::sessions::{SessionView, mark_sent_back};
use crate::domain::card::{Card, CardForm};
use crate::domain::time::now_ms;
use crate::domain::{Environment, RouteKind, SessionStatus};
use crate::lifecycle::{self, HandedOff, Started};
use crate::metrics::Metrics;
use crate::providers::sandbox::Simulation;
use crate::state::AppState;

/// What a verified post carries.
struct Post {
    view: SessionView,
    payment: Option<PaymentRow>,
    /// The session's step when the post arrived; it carries the form.
    step: Step,
    fields: Vec<(String, String)>,
    ctx: Ctx,
}

/// Loads the session, refuses cross-site posts, reads the form and checks its token and that
/// the session's step carries it. `Err` is the response to send instead of acting.
async fn accept_post(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
    payload: web::Payload,
    form: Form,
) -> Result<Post, HttpResponse> {
    let step_name = form.name();
    let (view, payment) = match load(state, id).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(not_found_page(state, &Ctx::new(state, req, None))),
        Err(e) => return Err(error_page(state, &Ctx::new(state, req, None), &e)),
    };
    let ctx = Ctx::for_session(state, req, &view);
    if let Some(refusal) = cross_site_refusal(state, req, &ctx, &view.merchant_name) {
        tracing::warn!(session.id = %view.session.id, form = step_name, "refused a cross-site form post");
        return Err(refusal);
    }
    let Some(fields) = read_form(req, payload).await else {
        return Err(see_checkout(&ctx, &view.session.id));
    };
    if !verify_token(
        &state.form_secret,
        view.session.id.as_str(),
        &bound_to(form, payment.as_ref()),
        field(&fields, "token"),
        now_ms() / 1000,
    ) {
        tracing::info!(session.id = %view.session.id, form = step_name, "form token refused; showing the current state");
        return Err(see_checkout(&ctx, &view.session.id));
    }
    let step = Step::of(&view, payment.as_ref(), now_ms());
    if !step.accepts(form) {
        return Err(see_checkout(&ctx, &view.session.id));
    }
    Ok(Post {
        view,
        payment,
        step,
        fields,
        ctx,
    })
}

/// `POST /checkout/{id}/start`: the buyer chose a route.
pub async fn start_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let post = match accept_post(&state, &req, &id, payload, Form::Start).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let session = &post.view.session;
    let route_id = field(&post.fields, "route");
    let route = state
        .settings
        .routes
        .iter()
        .find(|r| r.id == route_id && r.offered_in(session.environment));
    let Some(route) = route else {
        return see_checkout(&post.ctx, &session.id);
    };
    if post.view.cards_closed && route.kind == RouteKind::Card {
        Metrics::add(&state.metrics.cards_refused_session, 1);
        tracing::warn!(
            session.id = %session.id,
            limit = state.settings.card_attempts_per_session,
            "card refused: the session took its declined cards"
        );
        return see_checkout(&post.ctx, &session.id);
    }
    let result = async {
        // Back from a provider's own page without paying: the same route goes back there;
        // another one closes that page first.
        if post.step == Step::AtProvider
            && let Some(payment) = &post.payment
        {
            if payment.route_id == route.id {
                return anyhow::Ok(true);
            }
            lifecycle::leave_provider(state.lifecycle(), payment).await?;
        }
        if let Started::New(payment) =
            lifecycle::start_payment(state.lifecycle(), &session.id, route, post.ctx.t.code).await?
        {
            // Wallet and bank transfers go to the provider at once (they were created claimed
            // for it), to get their instructions, and so do payments on a provider's own page;
            // a card waits for the buyer's card details.
            if payment.at_provider()
                && let HandedOff::Redirect(_) =
                    lifecycle::hand_off_started(state.lifecycle(), &payment).await?
            {
                return Ok(true);
            }
        }
        Ok(false)
    };
    match result.await {
        Ok(true) => see_other(Links::new(&post.ctx, &session.id).to_provider()),
        Ok(false) => see_checkout(&post.ctx, &session.id),
        Err(e) => error_page(&state, &post.ctx, &e),
    }
}

/// `GET /checkout/{id}/return`: where a provider's own page sends the buyer once they paid.
/// The provider is asked at once (a webhook may take a moment), then the page shows the
/// outcome, or waits for it.
pub async fn return_from_provider(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let (view, payment) = match load(&state, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found_page(&state, &Ctx::new(&state, &req, None)),
        Err(e) => return error_page(&state, &Ctx::new(&state, &req, None), &e),
    };
    let ctx = Ctx::for_session(&state, &req, &view);
    if let Some(payment) = &payment {
        note_move(&state, &payment.id, Redirect::FromProvider).await;
        if let Err(e) = lifecycle::returned_from_provider(state.lifecycle(), payment).await {
            return error_page(&state, &ctx, &e);
        }
    }
    see_checkout(&ctx, &view.session.id)
}

/// `POST /checkout/{id}/card`: the card form.
pub async fn card_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let post = match accept_post(&state, &req, &id, payload, Form::Card).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let session = &post.view.session;
    let Some(payment) = post.payment.as_ref() else {
        return see_checkout(&post.ctx, &session.id);
    };
    // After a declined card the form stays on screen: paying again makes a new payment.
    let again = post.step == Step::Card { retry: true };
    let form = CardForm {
        number: field(&post.fields, "number"),
        expiry: field(&post.fields, "expiry"),
        cvc: field(&post.fields, "cvc"),
        name: field(&post.fields, "name"),
    };
    let today = time::OffsetDateTime::now_utc();
    let card = match Card::parse(&form, today.year() as u32, u8::from(today.month()) as u32) {
        Ok(card) => card,
        Err(issues) => {
            let errors = issues
                .into_iter()
                .map(|i| FieldError {
                    field: i.field,
                    message_key: i.message,
                })
                .collect();
            return card_form_again(&state, &post, payment, &form, errors);
        }
    };
    // Card testing: an address with too many declined cards this hour gets the form back,
    // and the card goes nowhere.
    let address = crate::routes::client_address(&req, &state.settings.trusted_proxies);
    let since = now_ms() - 3_600_000;
    match declined_from_address(&state.db.read, &address, since).await {
        Ok(declined) if declined >= state.settings.card_attempts_per_address_per_hour => {
            Metrics::add(&state.metrics.cards_refused_address, 1);
            tracing::warn!(
                session.id = %session.id,
                client.address = %address,
                limit = state.settings.card_attempts_per_address_per_hour,
                "card refused: too many declined cards from this address in the last hour"
            );
            let refusal = vec![FieldError {
                field: "number",
                message_key: "card.too_many_declines",
            }];
            let mut page = card_form_again(&state, &post, payment, &form, refusal);
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            return page;
        }
        Ok(_) => {}
        Err(e) => return error_page(&state, &post.ctx, &e),
    }
    tracing::info!(session.id = %session.id, card.brand = card.brand, card.last4 = card.last4(), again, "card submitted");
    let result = async {
        let payment = if again {
            let route = state
                .settings
                .routes
                .iter()
                .find(|r| r.id == payment.route_id && r.offered_in(session.environment));
            let Some(route) = route else {
                return anyhow::Ok(());
            };
            match lifecycle::start_payment(state.lifecycle(), &session.id, route, post.ctx.t.code)
                .await?
            {
                Started::New(payment) => *payment,
                // Another tab paid or started meanwhile, or the session closed.
                Started::Existing(_) | Started::Closed => return Ok(()),
            }
        } else {
            payment.clone()
        };
        lifecycle::hand_off(state.lifecycle(), &payment, Some(&card)).await?;
        if was_declined(&state.db.write, &payment.id).await? {
            record_decline(&state.db.write, &payment.id, &address, now_ms()).await?;
        }
        Ok(())
    };
    match result.await {
        Ok(()) => see_checkout(&post.ctx, &session.id),
        Err(e) => error_page(&state, &post.ctx, &e),
    }
}

/// The card form again with `errors`, keeping what may be sent back of `form` (never the
/// number or the security code).
fn card_form_again(
    state: &AppState,
    post: &Post,
    payment: &PaymentRow,
    form: &CardForm<'_>,
    errors: Vec<FieldError>,
) -> HttpResponse {
    let values = CardValues {
        expiry: form.expiry.to_owned(),
        name: form.name.to_owned(),
    };
    let shown = Shown {
        card_errors: Some(CardErrors { errors, values }),
        ..Shown::default()
    };
    render_step(
        state,
        &post.ctx,
        &post.view,
        Some(payment),
        post.step,
        shown,
    )
}

/// `POST /checkout/{id}/leave`: after a failed payment the buyer gives up and goes back to
/// the merchant. The session becomes `failed`; the answer is a page that sends the buyer on to
/// `redirectUrl` at once (a form post may not redirect off this host), or, without one, the
/// failed page as the end.
pub async fn leave_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let post = match accept_post(&state, &req, &id, payload, Form::Leave).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let session = &post.view.session;
    let Some(payment) = post.payment.as_ref() else {
        return see_checkout(&post.ctx, &session.id);
    };
    if let Err(e) = lifecycle::abandon(state.lifecycle(), &session.id, &payment.id).await {
        return error_page(&state, &post.ctx, &e);
    }
    match load(&state, session.id.as_str()).await {
        Ok(Some((view, payment))) if view.session.status == SessionStatus::Failed => {
            // The failed page sends the buyer on to `redirectUrl` at once.
            if view.session.redirect_url.is_some()
                && let Err(e) = mark_sent_back(&state.db.write, &view.session.id, now_ms()).await
            {
                return error_page(&state, &post.ctx, &e);
            }
            let shown = Shown {
                leaving: true,
                ..Shown::default()
            };
            render_step(
                &state,
                &post.ctx,
                &view,
                payment.as_ref(),
                Step::Failed,
                shown,
            )
        }
        Ok(_) => see_checkout(&post.ctx, &session.id),
        Err(e) => error_page(&state, &post.ctx, &e),
    }
}

/// `POST /checkout/{id}/challenge`: the buyer's answer to the issuer's confirmation step.
pub async fn challenge_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let post = match accept_post(&state, &req, &id, payload, Form::Challenge).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let simulation = match field(&post.fields, "action") {
        "approve" => Simulation::ApproveChallenge,
        "deny" => Simulation::DenyChallenge,
        _ => return see_checkout(&post.ctx, &post.view.session.id),
    };
    let response = simulate_step(&state, &post, simulation).await;
    // A card that failed its confirmation step counts as declined from this address too.
    if let Some(payment) = &post.payment {
        let address = crate::routes::client_address(&req, &state.settings.trusted_proxies);
        let noted = async {
            if was_declined(&state.db.write, &payment.id).await? {
                record_decline(&state.db.write, &payment.id, &address, now_ms()).await?;
            }
            anyhow::Ok(())
        };
        if let Err(e) = noted.await {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "noting a declined card failed"
            );
        }
    }
    response
}

/// `POST /checkout/{id}/simulate`: the sandbox's buttons for wallet and bank transfers.
pub async fn simulate_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let post = match accept_post(&state, &req, &id, payload, Form::Simulate).await {
        Ok(post) => post,
        Err(response) => return response,
    };
    let allowed = matches!(
        Simulation::parse(field(&post.fields, "action")),
        Some(
            Simulation::TransferSucceeded
                | Simulation::TransferFailed
                | Simulation::BankConfirmed
                | Simulation::BankRejected
        )
    );
    match Simulation::parse(field(&post.fields, "action")) {
        Some(simulation) if allowed => simulate_step(&state, &post, simulation).await,
        _ => see_checkout(&post.ctx, &post.view.session.id),
    }
}

/// Has the sandbox provider send the callback a real provider would, through the callback path.
async fn simulate_step(state: &AppState, post: &Post, simulation: Simulation) -> HttpResponse {
    let session = &post.view.session;
    let (Some(payment), Some(sandbox)) = (post.payment.as_ref(), state.providers.sandbox.as_ref())
    else {
        return see_checkout(&post.ctx, &session.id);
    };
    let applicable = session.environment == Environment::Sandbox
        && payment.provider == crate::providers::sandbox::ID;
    if !applicable {
        return see_checkout(&post.ctx, &session.id);
    }
    let result = async {
        let callback = sandbox.simulate(&payment.id, simulation)?;
        lifecycle::apply_signed_callback(state.lifecycle(), &payment.provider, &callback).await?;
        anyhow::Ok(())
    };
    match result.await {
        Ok(()) => see_checkout(&post.ctx, &session.id),
        Err(e) => error_page(state, &post.ctx, &e),
    }
}
