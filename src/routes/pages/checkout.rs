//! `GET /checkout/{id}`: the page the merchant sends the buyer to.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{Layout, MessagePage, not_found_page, render};
use crate::db::merchants::get_merchant_name;
use crate::db::sessions::get_session_by_id;
use crate::domain::time::now_ms;
use crate::domain::url::return_url;
use crate::domain::{Amount, MerchantId, SessionId, SessionStatus};
use crate::error::ApiError;
use crate::startup::AppState;

/// One route as the buyer sees it: what it costs on top of the price.
pub struct RouteChoice {
    pub id: String,
    pub label: String,
    pub provider: String,
    pub eta: String,
    pub buyer_fee: String,
    pub total: String,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "checkout.html")]
pub struct CheckoutPage {
    pub lang: &'static str,
    pub title: String,
    pub merchant_name: String,
    pub css_href: String,
    pub product: String,
    pub amount: String,
    pub routes: Vec<RouteChoice>,
    pub sandbox: bool,
}

pub async fn checkout_page(state: web::Data<AppState>, id: web::Path<String>) -> HttpResponse {
    match show(&state, &id).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = format!("{e:?}"), "showing the checkout page failed");
            let layout = Layout {
                lang: "en",
                title: "Something went wrong".into(),
                merchant_name: "Open Rails Checkout".into(),
                css_href: state.css_href.clone(),
            };
            render(
                StatusCode::INTERNAL_SERVER_ERROR,
                &MessagePage::new(
                    layout,
                    "Something went wrong on our side",
                    "Please try again in a moment. No payment was taken.",
                ),
            )
        }
    }
}

async fn show(state: &AppState, id: &str) -> Result<HttpResponse, ApiError> {
    let Some(session_id) = SessionId::parse(id) else {
        return Ok(not_found_page(&state.css_href));
    };
    let Some(session) = get_session_by_id(&state.db.read, &session_id).await? else {
        return Ok(not_found_page(&state.css_href));
    };
    let merchant_name = get_merchant_name(
        &state.db.read,
        &MerchantId::from_trusted(session.merchant_id.clone()),
    )
    .await?
    .unwrap_or_default();
    let status = SessionStatus::parse(&session.status)
        .unwrap_or(SessionStatus::Failed)
        .effective(session.expires_at, now_ms());
    let layout = |title: &str| Layout {
        lang: "en",
        title: title.to_owned(),
        merchant_name: merchant_name.clone(),
        css_href: state.css_href.clone(),
    };
    let amount = Amount::from_cents(session.amount_cents);

    if status != SessionStatus::Routed {
        let (heading, body) = match status {
            SessionStatus::Expired => (
                "This checkout has expired",
                "This checkout has expired. No payment was taken.",
            ),
            SessionStatus::Paid => (
                "Payment received",
                "This checkout has been paid. Thank you.",
            ),
            SessionStatus::Failed => (
                "Payment failed",
                "This payment did not go through. No money was taken.",
            ),
            _ => ("Payment in progress", "This payment is being processed."),
        };
        let mut page = MessagePage::new(layout(heading), heading, body);
        if let Some(redirect) = &session.redirect_url {
            page.back_href = Some(return_url(redirect, &session.id, status.as_str()));
            page.back_label = format!("Back to {merchant_name}");
        }
        return Ok(render(StatusCode::OK, &page));
    }

    let routes = state
        .settings
        .routes
        .iter()
        .filter(|r| r.offered_in(&session.environment))
        .map(|r| {
            let fees = r.fees(session.amount_cents);
            RouteChoice {
                id: r.id.clone(),
                label: r.label.clone(),
                provider: r.provider.clone(),
                eta: r.eta.clone(),
                buyer_fee: Amount::from_cents(fees.buyer_fee).display_usd(),
                total: Amount::from_cents(fees.total).display_usd(),
                selected: session.route_id.as_deref() == Some(r.id.as_str()),
            }
        })
        .collect();
    let page = CheckoutPage {
        lang: "en",
        title: session.product.clone(),
        merchant_name: merchant_name.clone(),
        css_href: state.css_href.clone(),
        product: session.product,
        amount: amount.display_usd(),
        routes,
        sandbox: session.environment == "sandbox",
    };
    Ok(render(StatusCode::OK, &page))
}
