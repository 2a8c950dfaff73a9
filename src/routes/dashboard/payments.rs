//! Payments: the list with its filters and cursor paging, one payment with its whole
//! timeline, and the actions on it (refund, expire its session), each checked against the
//! viewer's role and written to the audit log.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

use askama::Template;
use futures_util::StreamExt;

use super::{Chrome, Viewer, error_page, message, render, see_other, signed_post, viewer};
use crate::db::dashboard::{PaymentLine, PaymentSearch, search_payments};
use crate::db::events::{get_event, list_events};
use crate::db::payments::{PaymentRow, callbacks_of_payment, get_payment, redirects_of_payment};
use crate::db::refunds::refunds_of_payment;
use crate::db::sessions::{SessionRow, get_session_by_id};
use crate::db::webhook_deliveries::list_event_attempts;
use crate::domain::account::Permission;
use crate::domain::money::format_plain;
use crate::domain::refund::{RefundReason, RefundStatus};
use crate::domain::time::now_ms;
use crate::domain::{Amount, Metadata, PaymentStatus, SessionStatus};
use crate::i18n::Catalog;
use crate::lifecycle::accounts::audit;
use crate::lifecycle::expiry::{MerchantExpiry, expire_for_merchant};
use crate::lifecycle::outbox::{commit_and_wake, redeliver_event};
use crate::lifecycle::refunds::{RefundAsk, Refunding, create_refund};
use crate::routes::pages::form::field;
use crate::state::AppState;

const PAGE_SIZE: i64 = 50;

/// One row of the list.
pub(super) struct Line {
    pub(super) id: String,
    pub(super) created: String,
    pub(super) status: &'static str,
    pub(super) amount: String,
    pub(super) email: String,
    pub(super) product: String,
    pub(super) route: String,
}

/// The payments list.
#[derive(Template)]
#[template(path = "dashboard/payments.html")]
struct ListPage {
    chrome: Chrome,
    /// The filters as given, to fill the form again.
    status: String,
    route: String,
    email: String,
    reference: String,
    metadata: String,
    from: String,
    to: String,
    statuses: Vec<&'static str>,
    routes: Vec<String>,
    lines: Vec<Line>,
    /// The next page's address, when there are more.
    next_href: Option<String>,
    /// The CSV export of the filtered set.
    csv_href: String,
    /// Why the filters could not be used.
    error: Option<String>,
}

/// A date `YYYY-MM-DD` as Unix ms at midnight UTC, the day after when `end` (an inclusive
/// end date).
fn day_ms(text: &str, end: bool) -> Result<Option<i64>, String> {
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format)
        .map_err(|_| format!("{text:?} is not a date (YYYY-MM-DD)"))?;
    let date = if end {
        date.next_day().unwrap_or(date)
    } else {
        date
    };
    Ok(Some(date.midnight().assume_utc().unix_timestamp() * 1000))
}

/// The list's filters, as given and as a search; `error` says why they cannot be used.
struct Filters {
    query: Vec<(String, String)>,
    search: PaymentSearch,
    error: Option<String>,
}

impl Filters {
    fn get(&self, name: &str) -> String {
        field(&self.query, name).to_owned()
    }

    fn parse(req: &HttpRequest, v: &Viewer, limit: i64) -> Filters {
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(req.query_string().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
                .collect();
        let get = |name: &str| Some(field(&query, name).to_owned()).filter(|s| !s.is_empty());
        let mut error = None;
        if query
            .iter()
            .any(|(_, value)| value.chars().any(char::is_control) || value.len() > 254)
        {
            error = Some(v.t.get("dashboard.filter_odd").into_owned());
        }
        let status = get("status");
        if let Some(status) = &status
            && PaymentStatus::parse(status).is_none()
        {
            error = Some(format!(
                "{status:?}: {}",
                v.t.get("dashboard.filter_status")
            ));
        }
        let metadata = match get("metadata") {
            None => None,
            Some(pair) => match pair.split_once('=') {
                Some((key, value)) if !key.trim().is_empty() => {
                    Some((key.trim().to_owned(), value.trim().to_owned()))
                }
                _ => {
                    error = Some(v.t.get("dashboard.filter_metadata").into_owned());
                    None
                }
            },
        };
        let dates = (
            day_ms(&get("from").unwrap_or_default(), false),
            day_ms(&get("to").unwrap_or_default(), true),
        );
        let (from_ms, to_ms) = match dates {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => {
                error = Some(e);
                (None, None)
            }
        };
        let search = PaymentSearch {
            status,
            route: get("route"),
            email: get("email"),
            client_reference_id: get("reference"),
            customer_id: get("customer").filter(|c| c.starts_with("cus_")),
            metadata,
            from_ms,
            to_ms,
            before: get("before").filter(|b| b.starts_with("pay_")),
            limit,
        };
        Filters {
            query,
            search,
            error,
        }
    }
}

/// `GET /dashboard/payments`
pub async fn list(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let filters = Filters::parse(&req, &v, PAGE_SIZE);
    let (query, search, error) = (&filters.query, &filters.search, &filters.error);
    let page = async {
        let mut found = if error.is_some() {
            Vec::new()
        } else {
            search_payments(
                &state.db.read,
                &v.user.merchant_id,
                v.session.environment,
                search,
            )
            .await?
        };
        let more = found.len() as i64 > PAGE_SIZE;
        found.truncate(PAGE_SIZE as usize);
        let next_href = match (more, found.last()) {
            (true, Some(last)) => {
                let mut pairs: Vec<(String, String)> = query
                    .iter()
                    .filter(|(k, _)| k != "before")
                    .cloned()
                    .collect();
                pairs.push(("before".into(), last.payment.id.to_string()));
                Some(format!(
                    "/dashboard/payments?{}",
                    serde_urlencoded::to_string(&pairs).unwrap_or_default()
                ))
            }
            _ => None,
        };
        anyhow::Ok(ListPage {
            chrome: Chrome::of(&state, &v, "payments").await?,
            lines: found.into_iter().map(|l| line(&v, l)).collect(),
            statuses: PaymentStatus::ALL.iter().map(|s| s.as_str()).collect(),
            routes: state.settings.routes.iter().map(|r| r.id.clone()).collect(),
            status: filters.get("status"),
            route: filters.get("route"),
            email: filters.get("email"),
            reference: filters.get("reference"),
            metadata: filters.get("metadata"),
            from: filters.get("from"),
            to: filters.get("to"),
            csv_href: format!(
                "/dashboard/payments.csv?{}",
                serde_urlencoded::to_string(
                    query
                        .iter()
                        .filter(|(k, _)| k != "before")
                        .collect::<Vec<_>>()
                )
                .unwrap_or_default()
            ),
            next_href,
            error: error.clone(),
        })
    };
    match page.await {
        Ok(page) => {
            let code = if page.error.is_some() {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            render(code, &page)
        }
        Err(e) => error_page(&v.t, &e),
    }
}

pub(super) fn line(v: &Viewer, l: PaymentLine) -> Line {
    let p = l.payment;
    Line {
        created: v.t.date(p.created_at),
        status: p.status.as_str(),
        amount: v.t.money(p.total_cents),
        email: l.customer_email,
        product: l.product,
        route: p.route_id,
        id: p.id.into_string(),
    }
}

/// One moment of a payment's timeline.
struct Moment {
    at: i64,
    when: String,
    what: String,
    detail: String,
    /// For an event the viewer may redeliver: (event id, the form's token).
    redeliver: Option<(String, String)>,
}

/// One refund, as the page lists it.
struct RefundLine {
    id: String,
    status: &'static str,
    amount: String,
    created: String,
    /// Why, and the merchant's note, in words (`requested_by_customer · Two seats`).
    why: String,
    transfer: Option<String>,
}

/// A receipt e-mail of the payment, with its tries.
struct EmailLine {
    /// Receipt, refund or the shop's copy, in words.
    kind: String,
    to: String,
    /// `pending`, `sent`, `kept` or `failed`, for the class.
    status: String,
    /// Where it stands, in words.
    status_text: String,
    /// One line per try: when, the server's answer or what went wrong.
    attempts: Vec<String>,
    subject: String,
    /// The plain-text part.
    text: String,
}

impl EmailLine {
    async fn of(
        state: &AppState,
        t: &Catalog,
        email: crate::db::emails::EmailRow,
        attempts: Vec<crate::db::emails::EmailAttemptRow>,
    ) -> anyhow::Result<EmailLine> {
        let composed = crate::routes::pages::compose(state, &email).await?;
        let (subject, text) = composed.map_or_else(Default::default, |c| (c.subject, c.text));
        Ok(EmailLine {
            kind: email_kind_text(t, &email.kind),
            status_text: email_status_text(t, &email.status, email.attempts),
            attempts: attempts
                .iter()
                .map(|a| {
                    let answer = match (&a.reply_code, &a.error) {
                        (_, Some(error)) => error.clone(),
                        (Some(code), None) => code.to_string(),
                        (None, None) => String::new(),
                    };
                    format!(
                        "#{} · {} · {} ms · {answer}",
                        a.attempt,
                        t.date(a.started_at),
                        a.duration_ms
                    )
                })
                .collect(),
            to: email.recipient,
            status: email.status,
            subject,
            text,
        })
    }
}

fn email_kind_text(t: &Catalog, kind: &str) -> String {
    t.get(match kind {
        "refund" => "dashboard.email_kind_refund",
        "receipt_copy" | "refund_copy" => "dashboard.email_kind_copy",
        _ => "dashboard.email_kind_receipt",
    })
    .into_owned()
}

fn email_status_text(t: &Catalog, status: &str, attempts: i64) -> String {
    let n = attempts.to_string();
    match status {
        "sent" => t.get("dashboard.email_sent").into_owned(),
        "kept" => t.get("dashboard.email_kept").into_owned(),
        "failed" => t.with("dashboard.email_failed", "n", &n),
        _ => t.with("dashboard.email_pending", "n", &(attempts + 1).to_string()),
    }
}

/// One payment.
#[derive(Template)]
#[template(path = "dashboard/payment.html")]
struct DetailPage {
    chrome: Chrome,
    id: String,
    session_id: String,
    status: &'static str,
    ledger_status: &'static str,
    amount: String,
    fee: String,
    total: String,
    refunded: String,
    route: String,
    provider: String,
    provider_ref: String,
    tx_hash: String,
    email: String,
    product: String,
    reference: String,
    metadata: Vec<(String, String)>,
    timeline: Vec<Moment>,
    refunds: Vec<RefundLine>,
    /// Its receipt e-mails, oldest first.
    emails: Vec<EmailLine>,
    /// The refund form's token, when the viewer may refund and the payment can be.
    refund_token: Option<String>,
    reasons: Vec<&'static str>,
    /// The expire form's token, when the viewer may and the session is open.
    expire_token: Option<String>,
    /// What the last action did, in words.
    notice: Option<String>,
}

/// `GET /dashboard/payments/{id}`
pub async fn detail(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let notice = notice_text(&v, field(&query, "notice"), field(&query, "v"));
    match found(&state, &v, &id).await {
        Ok(Some((payment, session))) => {
            match detail_page(&state, &v, payment, session, notice).await {
                Ok(page) => render(StatusCode::OK, &page),
                Err(e) => error_page(&v.t, &e),
            }
        }
        Ok(None) => message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// The viewer's payment `id` (`pay_…` or its session's `chk_…`) in the environment shown.
async fn found(
    state: &AppState,
    v: &Viewer,
    id: &str,
) -> anyhow::Result<Option<(PaymentRow, SessionRow)>> {
    if !(id.starts_with("pay_") || id.starts_with("chk_")) || id.len() > 120 {
        return Ok(None);
    }
    let Some(payment) = get_payment(
        &state.db.read,
        &v.user.merchant_id,
        v.session.environment,
        id,
    )
    .await?
    else {
        return Ok(None);
    };
    let Some(session) = get_session_by_id(&state.db.read, &payment.session_id).await? else {
        return Ok(None);
    };
    Ok(Some((payment, session)))
}

async fn detail_page(
    state: &AppState,
    v: &Viewer,
    p: PaymentRow,
    s: SessionRow,
    notice: Option<String>,
) -> anyhow::Result<DetailPage> {
    let t = &v.t;
    let mut timeline = vec![
        Moment {
            at: s.created_at,
            when: String::new(),
            what: t.get("dashboard.tl_session_created").into_owned(),
            detail: s.id.to_string(),
            redeliver: None,
        },
        Moment {
            at: p.created_at,
            when: String::new(),
            what: t.get("dashboard.tl_route_chosen").into_owned(),
            detail: format!("{} · {} · {}", p.route_id, p.provider, p.id),
            redeliver: None,
        },
    ];
    if let Some(opened) = s.opened_at {
        timeline.push(Moment {
            at: opened,
            when: String::new(),
            what: t.get("dashboard.tl_page_opened").into_owned(),
            detail: String::new(),
            redeliver: None,
        });
    }
    let (to_provider, from_provider) = redirects_of_payment(&state.db.read, &p.id).await?;
    let moves = [
        (to_provider, "dashboard.tl_to_provider", p.provider.as_str()),
        (
            from_provider,
            "dashboard.tl_from_provider",
            p.provider.as_str(),
        ),
        (
            s.sent_back_at,
            "dashboard.tl_to_merchant",
            s.redirect_url.as_deref().unwrap_or_default(),
        ),
    ];
    for (at, key, detail) in moves {
        if let Some(at) = at {
            timeline.push(Moment {
                at,
                when: String::new(),
                what: t.get(key).into_owned(),
                detail: detail.to_owned(),
                redeliver: None,
            });
        }
    }
    let events = list_events(
        &state.db.read,
        &v.user.merchant_id,
        v.session.environment,
        None,
        Some(s.id.to_string()),
        None,
        100,
    )
    .await?;
    for event in &events {
        timeline.push(Moment {
            at: event.created_at,
            when: String::new(),
            what: format!("{} {}", t.get("dashboard.tl_event"), event.kind),
            detail: event.id.to_string(),
            redeliver: v.may(Permission::Redeliver).then(|| {
                (
                    event.id.to_string(),
                    v.form_token(&format!("redeliver:{}", event.id)),
                )
            }),
        });
        for attempt in list_event_attempts(&state.db.read, &event.id).await? {
            let answer = match (attempt.status_code, &attempt.error) {
                (Some(code), _) => format!("HTTP {code}"),
                (None, Some(error)) => error.clone(),
                (None, None) => "-".into(),
            };
            let body = attempt
                .response_body
                .as_deref()
                .map(|b| b.chars().take(120).collect::<String>())
                .unwrap_or_default();
            timeline.push(Moment {
                at: attempt.started_at,
                when: String::new(),
                what: format!(
                    "{} {} #{}",
                    t.get("dashboard.tl_delivery"),
                    event.kind,
                    attempt.attempt
                ),
                detail: format!(
                    "{} · {answer} · {} ms{}",
                    attempt.endpoint_id,
                    attempt.duration_ms,
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(" · {body}")
                    }
                ),
                redeliver: None,
            });
        }
    }
    for (provider, callback, at) in callbacks_of_payment(&state.db.read, &p.id).await? {
        timeline.push(Moment {
            at,
            when: String::new(),
            what: t.get("dashboard.tl_callback").into_owned(),
            detail: format!("{provider} · {callback}"),
            redeliver: None,
        });
    }
    let refund_rows = refunds_of_payment(&state.db.read, &p.id).await?;
    for r in &refund_rows {
        timeline.push(Moment {
            at: r.created_at,
            when: String::new(),
            what: t.get("dashboard.tl_refund").into_owned(),
            detail: format!(
                "{} · {} · {}",
                r.id,
                t.money(r.amount_cents),
                r.status.as_str()
            ),
            redeliver: None,
        });
    }
    let transfers = crate::db::onchain::refund_transfers(
        &state.db.read,
        &refund_rows.iter().map(|r| &r.id).collect::<Vec<_>>(),
    )
    .await?;
    let refunds = refund_rows
        .iter()
        .map(|r| RefundLine {
            id: r.id.to_string(),
            status: r.status.as_str(),
            amount: t.money(r.amount_cents),
            created: t.date(r.created_at),
            why: [r.reason.map(|x| x.as_str().to_owned()), r.note.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" · "),
            transfer: transfers
                .iter()
                .find(|x| x.refund_id == r.id)
                .map(|x| format!("{} → {} · {}", x.amount(), x.to.checksummed(), x.uri())),
        })
        .collect();
    let mut emails = Vec::new();
    for (email, attempts) in crate::db::emails::emails_of_payment(&state.db, p.id.as_str()).await? {
        let kind = email_kind_text(t, &email.kind);
        timeline.push(Moment {
            at: email.created_at,
            when: String::new(),
            what: t.get("dashboard.tl_email").into_owned(),
            detail: format!(
                "{kind} → {} · {}",
                email.recipient,
                email_status_text(t, &email.status, email.attempts)
            ),
            redeliver: None,
        });
        emails.push(EmailLine::of(state, t, email, attempts).await?);
    }
    timeline.sort_by_key(|m| m.at);
    for m in &mut timeline {
        m.when = t.date(m.at);
    }
    let refundable = p.status == PaymentStatus::Paid && p.refund_reserved_cents < p.amount_cents;
    let expirable = s.status == SessionStatus::Routed;
    Ok(DetailPage {
        chrome: Chrome::of(state, v, "payments").await?,
        refund_token: (refundable && v.may(Permission::Refund))
            .then(|| v.form_token(&format!("refund:{}", p.id))),
        expire_token: (expirable && v.may(Permission::ExpireSession))
            .then(|| v.form_token(&format!("expire:{}", p.id))),
        reasons: RefundReason::ALL.iter().map(|r| r.as_str()).collect(),
        id: p.id.to_string(),
        session_id: s.id.to_string(),
        status: p.status.as_str(),
        ledger_status: p.ledger_status.as_str(),
        amount: t.money(p.amount_cents),
        fee: t.money(p.buyer_fee_cents),
        total: t.money(p.total_cents),
        refunded: t.money(p.refunded_cents),
        route: p.route_id.clone(),
        provider: p.provider.clone(),
        provider_ref: p.provider_ref.clone().unwrap_or_default(),
        tx_hash: p.tx_hash.clone().unwrap_or_default(),
        email: s.customer_email.clone(),
        product: s.product.clone(),
        reference: s.client_reference_id.clone().unwrap_or_default(),
        metadata: Metadata::from_db(&s.metadata)
            .pairs()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        timeline,
        refunds,
        emails,
        notice,
    })
}

/// What an action did, told on the payment's page after its redirect: only the catalog's
/// own sentences (`dashboard.notice_<key>`), filled with a checked value, so a crafted link
/// cannot make the page say anything else.
fn notice_text(v: &Viewer, key: &str, value: &str) -> Option<String> {
    let t = &v.t;
    let text = |key: &str| t.get(&format!("dashboard.notice_{key}")).into_owned();
    match key {
        "refund_done" => {
            RefundStatus::parse(value).map(|s| text(key).replace("{status}", s.as_str()))
        }
        "refund_exceeds" => value
            .parse::<i64>()
            .ok()
            .map(|cents| text(key).replace("{left}", &t.money(cents))),
        "redelivered" => value.parse::<u64>().ok().map(|n| match n {
            0 => text("redelivered_none"),
            n => text(key).replace("{n}", &n.to_string()),
        }),
        "refund_amount"
        | "refund_nothing_left"
        | "refund_not_paid"
        | "refund_not_supported"
        | "expire_done"
        | "expire_refused" => Some(text(key)),
        _ => None,
    }
}

fn back_to(id: &str, key: &str, value: &str) -> HttpResponse {
    see_other(&format!(
        "/dashboard/payments/{id}?{}",
        serde_urlencoded::to_string([("notice", key), ("v", value)]).unwrap_or_default()
    ))
}

/// `POST /dashboard/payments/{id}/refund`
pub async fn refund(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields) = match signed_post(
        &state,
        &req,
        payload,
        &format!("refund:{id}"),
        Permission::Refund,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let payment = match found(&state, &v, &id).await {
        Ok(Some((payment, _))) => payment,
        Ok(None) => return message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return error_page(&v.t, &e),
    };
    let amount = field(&fields, "amount").trim();
    let amount_cents = if amount.is_empty() {
        None
    } else {
        match Amount::parse_json(amount, state.settings.max_amount_cents()) {
            Ok(a) => Some(a.cents()),
            Err(_) => return back_to(payment.id.as_str(), "refund_amount", ""),
        }
    };
    let reason = RefundReason::parse(field(&fields, "reason"));
    let note = Some(field(&fields, "note").trim().to_owned())
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(500).collect::<String>());
    let ask = RefundAsk::new(amount_cents, reason, note, None, Metadata::default());
    let done = create_refund(
        state.lifecycle(),
        &v.user.merchant_id,
        v.session.environment,
        payment.id.as_str(),
        ask,
    )
    .await;
    let t = &v.t;
    let (key, value) = match done {
        Ok(Refunding::Created(r) | Refunding::Replayed(r)) => {
            let detail = format!(
                "{} ({}) of {}",
                format_plain(r.amount_cents),
                r.status,
                payment.id
            );
            if let Err(e) = audit(
                &state.db,
                &v.user.merchant_id,
                Some(v.session.environment),
                &v.user.email,
                "refund.create",
                Some(r.id.as_str()),
                Some(&detail),
            )
            .await
            {
                return error_page(t, &e);
            }
            ("refund_done", r.status.as_str().to_owned())
        }
        Ok(Refunding::Exceeds { left_cents }) => ("refund_exceeds", left_cents.to_string()),
        Ok(Refunding::NothingLeft) => ("refund_nothing_left", String::new()),
        Ok(Refunding::NotPaid(_)) => ("refund_not_paid", String::new()),
        Ok(Refunding::NotSupported(_) | Refunding::KeyReused { .. }) => {
            ("refund_not_supported", String::new())
        }
        Ok(Refunding::NoPayment) => return message(t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return error_page(t, &e),
    };
    back_to(payment.id.as_str(), key, &value)
}

/// `POST /dashboard/payments/{id}/expire`: expires the payment's session while no buyer
/// has started paying.
pub async fn expire(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let (v, _) = match signed_post(
        &state,
        &req,
        payload,
        &format!("expire:{id}"),
        Permission::ExpireSession,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let (payment, session) = match found(&state, &v, &id).await {
        Ok(Some(found)) => found,
        Ok(None) => return message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return error_page(&v.t, &e),
    };
    let t = &v.t;
    let key = match expire_for_merchant(
        state.lifecycle(),
        &v.user.merchant_id,
        v.session.environment,
        &session.id,
    )
    .await
    {
        Ok(MerchantExpiry::Expired(_)) => {
            if let Err(e) = audit(
                &state.db,
                &v.user.merchant_id,
                Some(v.session.environment),
                &v.user.email,
                "session.expire",
                Some(session.id.as_str()),
                None,
            )
            .await
            {
                return error_page(t, &e);
            }
            "expire_done"
        }
        Ok(MerchantExpiry::AlreadyExpired(_)) => "expire_done",
        Ok(MerchantExpiry::NotExpirable(_)) => "expire_refused",
        Ok(MerchantExpiry::Unknown) => return message(t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return error_page(t, &e),
    };
    back_to(payment.id.as_str(), key, "")
}

/// `POST /dashboard/events/{id}/redeliver`: queues the event again for its endpoints, and
/// goes back to its payment.
pub async fn redeliver(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let form = format!("redeliver:{id}");
    let (v, _) = match signed_post(&state, &req, payload, &form, Permission::Redeliver).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let done = async {
        let Some(event) = get_event(
            &state.db.read,
            &v.user.merchant_id,
            v.session.environment,
            &id,
        )
        .await?
        else {
            return anyhow::Ok(None);
        };
        let mut tx = state.db.begin().await?;
        let queued = redeliver_event(&mut tx, &event, now_ms()).await?;
        commit_and_wake(tx, &state.webhook_wakeup, "committing a redelivery").await?;
        audit(
            &state.db,
            &v.user.merchant_id,
            Some(v.session.environment),
            &v.user.email,
            "event.redeliver",
            Some(event.id.as_str()),
            Some(&format!("{queued} delivery(ies) queued")),
        )
        .await?;
        Ok(Some((event.session_id, queued)))
    };
    match done.await {
        Ok(Some((session, queued))) => {
            back_to(session.as_str(), "redelivered", &queued.to_string())
        }
        Ok(None) => message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// Rows per query of the CSV export: the export streams page after page, so memory stays flat
/// however many rows match.
const CSV_BATCH: i64 = 500;

/// A CSV field: quoted when it must be, and never read as a formula by a spreadsheet
/// (a leading `=`, `+`, `-`, `@`, tab or carriage return gets a `'`).
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// Cents as dollars with both decimals (`116.00`), as spreadsheets read them.
fn dollars(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, (cents % 100).abs())
}

fn csv_line(l: &PaymentLine) -> String {
    let p = &l.payment;
    let fields = [
        p.id.to_string(),
        p.session_id.to_string(),
        crate::domain::time::iso_seconds(p.created_at),
        p.status.as_str().to_owned(),
        p.ledger_status.as_str().to_owned(),
        dollars(p.amount_cents),
        dollars(p.buyer_fee_cents),
        dollars(p.total_cents),
        dollars(p.refunded_cents),
        p.currency.clone(),
        p.route_id.clone(),
        p.provider.clone(),
        l.customer_email.clone(),
        l.product.clone(),
        p.tx_hash.clone().unwrap_or_default(),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// `GET /dashboard/payments.csv`: every payment the filters match, newest first, as CSV,
/// streamed in batches.
pub async fn export_csv(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let filters = Filters::parse(&req, &v, CSV_BATCH);
    if filters.error.is_some() {
        return message(&v.t, StatusCode::BAD_REQUEST, "bad_filter");
    }
    let header = "id,session_id,created,status,ledger_status,amount,buyer_fee,total,refunded,\
        currency,route,provider,customer_email,product,tx_hash\r\n";
    let pool = state.db.read.clone();
    let (merchant, environment) = (v.user.merchant_id.clone(), v.session.environment);
    let batches =
        futures_util::stream::unfold((Some(filters.search), pool), move |(search, pool)| {
            let merchant = merchant.clone();
            async move {
                let mut search = search?;
                let found = match search_payments(&pool, &merchant, environment, &search).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::error!(
                            error.cause = format!("{e:#}"),
                            "a CSV export failed midway"
                        );
                        return Some((
                            Err(actix_web::error::ErrorInternalServerError("export failed")),
                            (None, pool),
                        ));
                    }
                };
                let more = found.len() as i64 > CSV_BATCH;
                let rows = &found[..found.len().min(CSV_BATCH as usize)];
                let chunk: String = rows.iter().map(csv_line).collect();
                let next = match (more, rows.last()) {
                    (true, Some(last)) => {
                        search.before = Some(last.payment.id.to_string());
                        Some(search)
                    }
                    _ => None,
                };
                Some((Ok(bytes::Bytes::from(chunk)), (next, pool)))
            }
        });
    let body = futures_util::stream::once(async move {
        Ok::<_, actix_web::Error>(bytes::Bytes::from_static(header.as_bytes()))
    })
    .chain(batches);
    let name = format!(
        "payments-{}-{}.csv",
        environment,
        crate::domain::time::iso_seconds(now_ms())
            .get(..10)
            .unwrap_or("export")
    );
    if let Err(e) = audit(
        &state.db,
        &v.user.merchant_id,
        Some(environment),
        &v.user.email,
        "payments.export",
        None,
        Some(req.query_string()),
    )
    .await
    {
        return error_page(&v.t, &e);
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{name}\""),
        ))
        .insert_header(("Cache-Control", "no-store"))
        .streaming(body)
}

/// Gallery sample lines: a few payments of the fixture shop.
pub(super) fn sample_lines(t: &Catalog) -> Vec<Line> {
    use super::gallery::{NOW, id};
    [
        (
            "paid",
            48_000,
            "ada@example.com",
            "Annual plan (3 seats)",
            "card-bridge-a",
        ),
        (
            "paid",
            11_972,
            "grace@example.com",
            "Creator plan",
            "wallet-usdc-base",
        ),
        (
            "failed",
            2_500,
            "linus@example.com",
            "Gift card",
            "card-bridge-a",
        ),
        (
            "pending",
            9_900,
            "margaret@example.com",
            "Team plan",
            "local-bank-transfer",
        ),
        (
            "paid",
            1_203,
            "alan@example.com",
            "Sticker pack <b>limited</b>",
            "card-bridge-a",
        ),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (status, cents, email, product, route))| Line {
        id: id("pay", i),
        created: t.date(NOW - i as i64 * 3_600_000),
        status,
        amount: t.money(cents),
        email: email.into(),
        product: product.into(),
        route: route.into(),
    })
    .collect()
}

/// A gallery sample of the payments list, filtered by status when `filtered`.
pub(super) fn sample_list(state: &AppState, t: &Arc<Catalog>, filtered: bool) -> HttpResponse {
    let mut lines = sample_lines(t);
    if filtered {
        lines.retain(|l| l.status == "paid");
    }
    render(
        StatusCode::OK,
        &ListPage {
            chrome: Chrome::sample(state, t, "payments"),
            status: if filtered {
                "paid".into()
            } else {
                String::new()
            },
            route: String::new(),
            email: String::new(),
            reference: String::new(),
            metadata: String::new(),
            from: String::new(),
            to: String::new(),
            statuses: PaymentStatus::ALL.iter().map(|s| s.as_str()).collect(),
            routes: state.settings.routes.iter().map(|r| r.id.clone()).collect(),
            lines,
            next_href: Some("/dashboard/payments?before=pay_preview".into()),
            csv_href: "/dashboard/payments.csv".into(),
            error: None,
        },
    )
}

/// `moments`, oldest first.
fn sorted(mut moments: Vec<Moment>) -> Vec<Moment> {
    moments.sort_by_key(|m| m.at);
    moments
}

/// A gallery sample of one payment: paid by card, partly refunded, its event delivered on the
/// second attempt.
pub(super) fn sample_detail(state: &AppState, t: &Arc<Catalog>) -> HttpResponse {
    use super::gallery::{NOW, TOKEN, id};
    let moment = |ago: i64, what: String, detail: &str, redeliver: bool| Moment {
        at: NOW - ago,
        when: t.date(NOW - ago),
        what,
        detail: detail.into(),
        redeliver: redeliver.then(|| (id("evt", 1), TOKEN.into())),
    };
    let text = |key: &str| t.get(&format!("dashboard.{key}")).into_owned();
    let paid = format!("{} payment.paid", text("tl_event"));
    let delivery = |n: i64| format!("{} payment.paid #{n}", text("tl_delivery"));
    render(
        StatusCode::OK,
        &DetailPage {
            chrome: Chrome::sample(state, t, "payments"),
            id: id("pay", 0),
            session_id: id("chk", 0),
            status: "paid",
            ledger_status: "partially_refunded",
            amount: t.money(48_000),
            fee: t.money(1_536),
            total: t.money(49_536),
            refunded: t.money(16_000),
            route: "card-bridge-a".into(),
            provider: "sandbox".into(),
            provider_ref: "sbx_ch_3QpreviewQ".into(),
            tx_hash: String::new(),
            email: "ada@example.com".into(),
            product: "Annual plan (3 seats)".into(),
            reference: "order-1042".into(),
            metadata: vec![
                ("plan".into(), "annual".into()),
                ("seats".into(), "3".into()),
            ],
            emails: vec![EmailLine {
                kind: text("email_kind_receipt"),
                to: "ada@example.com".into(),
                status: "kept".into(),
                status_text: text("email_kept"),
                attempts: Vec::new(),
                subject: t.with("email.receipt_subject", "merchant", "Demo Store"),
                text: t.with("email.paid_intro", "merchant", "Demo Store"),
            }],
            timeline: sorted(vec![
                moment(600_000, text("tl_session_created"), &id("chk", 0), false),
                moment(590_000, text("tl_page_opened"), "", false),
                moment(
                    560_000,
                    text("tl_route_chosen"),
                    "card-bridge-a · sandbox",
                    false,
                ),
                moment(558_000, text("tl_to_provider"), "sandbox", false),
                moment(541_000, text("tl_from_provider"), "sandbox", false),
                moment(540_000, paid, &id("evt", 1), true),
                moment(
                    535_000,
                    text("tl_to_merchant"),
                    "https://shop.example/orders/1042",
                    false,
                ),
                moment(
                    539_000,
                    delivery(1),
                    "we_preview · HTTP 503 · 212 ms · busy",
                    false,
                ),
                moment(509_000, delivery(2), "we_preview · HTTP 200 · 38 ms", false),
                moment(
                    540_500,
                    text("tl_callback"),
                    "sandbox · cb_01kbpreview",
                    false,
                ),
                moment(
                    60_000,
                    text("tl_refund"),
                    &format!("{} · {} · succeeded", id("re", 0), t.money(16_000)),
                    false,
                ),
            ]),
            refunds: vec![RefundLine {
                id: id("re", 0),
                status: "succeeded",
                amount: t.money(16_000),
                created: t.date(NOW - 60_000),
                why: "requested_by_customer · Downgraded from 3 seats to 2".into(),
                transfer: None,
            }],
            refund_token: Some(TOKEN.into()),
            reasons: RefundReason::ALL.iter().map(|r| r.as_str()).collect(),
            expire_token: None,
            notice: None,
        },
    )
}
