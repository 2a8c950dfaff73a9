//! A paid payment's receipt: `/receipts/{payment id}?token=…`, a permanent page in the buyer's
//! language with the merchant's branding, made to be printed or saved as a PDF by the browser.
//! A wrong token, an unknown payment and one that is not paid all get the same 404.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::steps::payment_method;
use super::{Ctx, Layout, MessagePage, error_page, render};
use crate::db::events::get_event;
use crate::db::payments::{PaymentRow, get_payment_by_id};
use crate::db::refunds::{RefundRow, refunds_of_payment};
use crate::db::sessions::{SessionView, get_session_view};
use crate::domain::event::EventKind;
use crate::domain::ids::PaymentId;
use crate::domain::receipt;
use crate::domain::refund::RefundStatus;
use crate::domain::{Environment, PaymentStatus};
use crate::state::AppState;

/// One line of the receipt: a label and its value; `code` values are ids, shown left-to-right.
pub struct Line {
    pub label: String,
    pub value: String,
    pub code: bool,
    /// A link for the value (a transaction on a block explorer).
    pub href: Option<String>,
    pub link_text: Option<String>,
}

#[derive(Template)]
#[template(path = "receipt.html")]
pub struct ReceiptPage {
    pub page: Layout,
    /// "From Nimbus Studio".
    pub from: String,
    /// The total, the page's biggest figure.
    pub total: String,
    /// "Paid on 27 May 2026, 16:40 UTC".
    pub paid_on: String,
    pub sandbox: bool,
    pub lines: Vec<Line>,
    /// One sentence per refund, oldest first.
    pub refunds: Vec<String>,
    /// What the buyer paid less what refunds gave back, when they gave something back.
    pub net: Option<String>,
}

fn line(label: String, value: String) -> Line {
    Line {
        label,
        value,
        code: false,
        href: None,
        link_text: None,
    }
}

fn code_line(label: String, value: String) -> Line {
    Line {
        code: true,
        ..line(label, value)
    }
}

/// `GET /receipts/{id}?token=…`.
pub async fn receipt_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> HttpResponse {
    let token = query.get("token").map(String::as_str).unwrap_or_default();
    let not_found = || receipt_not_found(&state, &Ctx::new(&state, &req, None));
    if !receipt::verify(&state.receipt_secret, &id, token) {
        return not_found();
    }
    let payment_id = PaymentId::from_trusted(id.into_inner());
    let loaded = async {
        let Some(payment) = get_payment_by_id(&state.db.read, &payment_id).await? else {
            return anyhow::Ok(None);
        };
        if payment.status != PaymentStatus::Paid {
            return Ok(None);
        }
        let Some(view) = get_session_view(&state.db.read, &payment.session_id).await? else {
            return Ok(None);
        };
        let refunds = refunds_of_payment(&state.db.read, &payment.id).await?;
        let paid_event = EventKind::Paid.event_id(payment.session_id.as_str(), payment.attempt);
        let paid_at = get_event(
            &state.db.read,
            &payment.merchant_id,
            payment.environment,
            paid_event.as_str(),
        )
        .await?
        .map_or(payment.updated_at, |e| e.created_at);
        Ok(Some((payment, view, refunds, paid_at)))
    };
    let (payment, view, refunds, paid_at) = match loaded.await {
        Ok(Some(found)) => found,
        Ok(None) => return not_found(),
        Err(e) => return error_page(&state, &Ctx::new(&state, &req, None), &e),
    };
    let ctx = Ctx::for_session_in(&state, &req, &view, payment.language.as_deref())
        .keeping_query(format!("token={token}"));
    render_receipt(&state, &ctx, &view, &payment, &refunds, paid_at)
}

/// The receipt of `payment` (paid at `paid_at`) in `ctx`'s language and branding: the page,
/// and the gallery's fixture.
pub fn render_receipt(
    state: &AppState,
    ctx: &Ctx,
    view: &SessionView,
    payment: &PaymentRow,
    refunds: &[RefundRow],
    paid_at: i64,
) -> HttpResponse {
    let t = &ctx.t;
    let merchant = ctx.merchant_name(&view.merchant_name);
    let mut page = ctx.layout(state, &t.get("receipt.title"), &view.merchant_name);
    // The receipt is the whole page: the note under a checkout's summary is not repeated.
    page.note = None;
    let lines = receipt_lines(state, ctx, payment, &view.session.product, paid_at);
    let refund_lines = refunds
        .iter()
        .map(|r| {
            let key = match r.status {
                RefundStatus::Succeeded => "receipt.refund_done",
                RefundStatus::Pending | RefundStatus::ActionRequired => "receipt.refund_pending",
                RefundStatus::Failed => "receipt.refund_failed",
            };
            t.with2(
                key,
                ("amount", &ctx.money(r.amount_cents)),
                ("date", &t.date(r.created_at)),
            )
        })
        .collect();
    let net = (payment.refunded_cents > 0)
        .then(|| ctx.money(payment.total_cents - payment.refunded_cents));
    render(
        StatusCode::OK,
        &ReceiptPage {
            from: t.with("receipt.from", "merchant", &merchant),
            total: ctx.money(payment.total_cents),
            paid_on: t.with("receipt.paid_on", "date", &t.date(paid_at)),
            sandbox: payment.environment == Environment::Sandbox,
            lines,
            refunds: refund_lines,
            net,
            page,
        },
    )
}

/// The receipt's lines, in the order a buyer reads them.
pub fn receipt_lines(
    state: &AppState,
    ctx: &Ctx,
    payment: &PaymentRow,
    product: &str,
    paid_at: i64,
) -> Vec<Line> {
    let t = &ctx.t;
    let route = state
        .settings
        .routes
        .iter()
        .find(|r| r.id == payment.route_id);
    let mut lines = vec![
        line(t.get("receipt.product").into(), product.to_owned()),
        line(
            t.get("receipt.amount").into(),
            ctx.money(payment.amount_cents),
        ),
    ];
    if payment.buyer_fee_cents > 0 {
        lines.push(line(
            t.get("receipt.fee").into(),
            ctx.money(payment.buyer_fee_cents),
        ));
    }
    lines.push(line(
        t.get("receipt.total").into(),
        ctx.money(payment.total_cents),
    ));
    let route_label = route.map_or(payment.route_id.clone(), |r| r.label_in(t.code).to_owned());
    // A card's brand and last four, or a bank reference; a transaction has its own line.
    let shows_own_line = payment.card_brand.is_none() && payment.tx_hash.is_some();
    let method = match payment_method(ctx, payment) {
        Some(m) if !shows_own_line => format!("{route_label} · {m}"),
        _ => route_label,
    };
    lines.push(line(t.get("receipt.method").into(), method));
    if let Some(route) = route {
        lines.push(line(
            t.get("receipt.provider").into(),
            route.provider.clone(),
        ));
    }
    lines.push(line(t.get("receipt.date").into(), t.date(paid_at)));
    lines.push(code_line(
        t.get("receipt.payment_id").into(),
        payment.id.to_string(),
    ));
    lines.push(code_line(
        t.get("receipt.invoice_id").into(),
        payment.invoice_id.to_string(),
    ));
    if let Some(tx) = &payment.tx_hash {
        let explorer = route.and_then(|r| r.explorer_tx_url.as_deref());
        lines.push(Line {
            href: explorer.map(|u| u.replace("{tx}", tx)),
            link_text: explorer.map(|u| {
                t.with(
                    "receipt.on_explorer",
                    "explorer",
                    &receipt::explorer_name(u),
                )
            }),
            ..code_line(t.get("receipt.transaction").into(), tx.clone())
        });
    }
    lines
}

fn receipt_not_found(state: &AppState, ctx: &Ctx) -> HttpResponse {
    let heading = ctx.t.get("receipt.not_found_title").into_owned();
    render(
        StatusCode::NOT_FOUND,
        &MessagePage {
            page: ctx.layout(state, &heading, super::PRODUCT_NAME),
            body: ctx.t.get("receipt.not_found_body").into_owned(),
            heading,
            back_href: None,
        },
    )
}
