//! Webhook endpoints: add (the secret shown once), rotate (the new secret shown once; the old
//! one keeps signing for `webhook_secret_overlap_seconds`), enable, remove, send a test event,
//! and the delivery log with filters by endpoint and outcome.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Viewer, error_page, message, render, see_other, signed_post, viewer};
use crate::db::dashboard::{AttemptSearch, delivery_log};
use crate::db::webhook_endpoints::{
    delete_endpoint, enable_endpoint, get_endpoint, list_endpoints,
};
use crate::domain::EndpointStatus;
use crate::domain::account::Permission;
use crate::domain::event::EventKind;
use crate::domain::time::now_ms;
use crate::lifecycle::accounts::audit;
use crate::routes::pages::form::field;
use crate::state::AppState;
use crate::webhooks::client::{EndpointRules, check_endpoint_url};
use crate::webhooks::endpoints::{
    create_endpoint, event_list, rotate_endpoint_secret, send_test_event,
};

/// One endpoint, as listed, with its forms' tokens when the viewer may act.
struct EndpointLine {
    id: String,
    url: String,
    events: String,
    status: &'static str,
    disabled: bool,
    failing: bool,
    created: String,
    rotate_token: Option<String>,
    enable_token: Option<String>,
    remove_token: Option<String>,
    test_token: Option<String>,
}

/// One attempt of the delivery log.
struct AttemptView {
    when: String,
    event_id: String,
    endpoint_id: String,
    attempt: i64,
    answer: String,
    ok: bool,
    duration_ms: i64,
    body: String,
}

/// The webhooks page.
#[derive(Template)]
#[template(path = "dashboard/webhooks.html")]
struct WebhooksPage {
    chrome: Chrome,
    endpoints: Vec<EndpointLine>,
    /// Every event type, for the add form.
    kinds: Vec<&'static str>,
    add_token: Option<String>,
    /// A secret just made (added or rotated), with its endpoint: shown in this answer only.
    secret: Option<(String, String)>,
    /// What a test event got back, or what an action did.
    notice: Option<String>,
    /// Why the add form was refused.
    error: Option<String>,
    /// The delivery log and its filters.
    attempts: Vec<AttemptView>,
    filter_endpoint: String,
    filter_outcome: String,
    next_href: Option<String>,
}

const LOG_PAGE: i64 = 50;

async fn page(
    state: &AppState,
    v: &Viewer,
    query: &[(String, String)],
    secret: Option<(String, String)>,
    notice: Option<String>,
    error: Option<String>,
) -> anyhow::Result<WebhooksPage> {
    let may = v.may(Permission::ManageWebhooks);
    let (merchant, environment) = (&v.user.merchant_id, v.session.environment);
    let endpoints = list_endpoints(&state.db.read, merchant, environment, None, 100)
        .await?
        .into_iter()
        .map(|e| {
            let token = |what: &str| may.then(|| v.form_token(&format!("{what}:{}", e.id)));
            let disabled = e.status == EndpointStatus::Disabled;
            EndpointLine {
                rotate_token: token("rotate"),
                enable_token: if disabled { token("enable") } else { None },
                remove_token: token("remove"),
                test_token: token("test"),
                events: e.event_types().join(", "),
                status: e.status.as_str(),
                disabled,
                failing: e.failing_since.is_some(),
                created: v.t.date(e.created_at),
                url: e.url,
                id: e.id.into_string(),
            }
        })
        .collect();
    let get = |name: &str| field(query, name).to_owned();
    let (filter_endpoint, filter_outcome) = (get("endpoint"), get("outcome"));
    let search = AttemptSearch {
        endpoint_id: Some(filter_endpoint.clone()).filter(|e| e.starts_with("we_")),
        succeeded: match filter_outcome.as_str() {
            "ok" => Some(true),
            "failed" => Some(false),
            _ => None,
        },
        before: Some(get("before")).filter(|b| b.starts_with("att_")),
        limit: LOG_PAGE,
    };
    let mut rows = delivery_log(&state.db.read, merchant, environment, &search).await?;
    let more = rows.len() as i64 > LOG_PAGE;
    rows.truncate(LOG_PAGE as usize);
    let next_href = match (more, rows.last()) {
        (true, Some(last)) => Some(format!(
            "/dashboard/webhooks?{}",
            serde_urlencoded::to_string([
                ("endpoint", filter_endpoint.as_str()),
                ("outcome", filter_outcome.as_str()),
                ("before", last.id.as_str()),
            ])
            .unwrap_or_default()
        )),
        _ => None,
    };
    let attempts = rows
        .into_iter()
        .map(|a| AttemptView {
            when: v.t.date(a.started_at),
            ok: a.status_code.is_some_and(|c| (200..300).contains(&c)),
            answer: match (a.status_code, a.error) {
                (Some(code), _) => format!("HTTP {code}"),
                (None, Some(error)) => error,
                (None, None) => "-".into(),
            },
            body: a
                .response_body
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
            event_id: a.event_id,
            endpoint_id: a.endpoint_id,
            attempt: a.attempt,
            duration_ms: a.duration_ms,
        })
        .collect();
    Ok(WebhooksPage {
        chrome: Chrome::of(state, v, "webhooks").await?,
        endpoints,
        kinds: EventKind::ALL.iter().map(|k| k.type_name()).collect(),
        add_token: may.then(|| v.form_token("add_endpoint")),
        secret,
        notice,
        error,
        attempts,
        filter_endpoint,
        filter_outcome,
        next_href,
    })
}

fn query_of(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| {
            let v: String = v.chars().filter(|c| !c.is_control()).take(254).collect();
            (k.into_owned(), v)
        })
        .collect()
}

/// `GET /dashboard/webhooks`
pub async fn webhooks(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let query = query_of(&req);
    let notice = match field(&query, "notice") {
        "removed" | "enabled" => Some(
            v.t.get(&format!(
                "dashboard.notice_endpoint_{}",
                field(&query, "notice")
            ))
            .into_owned(),
        ),
        _ => None,
    };
    match page(&state, &v, &query, None, notice, None).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/webhooks`: adds an endpoint; its secret is shown in this answer only.
pub async fn add(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields) = match signed_post(
        &state,
        &req,
        payload,
        "add_endpoint",
        Permission::ManageWebhooks,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let environment = v.session.environment;
    let url = field(&fields, "url").trim().to_owned();
    let chosen: Vec<String> = fields
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, value)| value.clone())
        .collect();
    let checked = async {
        let events = event_list(&chosen).map_err(|p| p.join("; "))?;
        check_endpoint_url(
            &url,
            environment,
            EndpointRules::from_settings(&state.settings),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>(events)
    };
    let events = match checked.await {
        Ok(events) => events,
        Err(why) => {
            return match page(&state, &v, &[], None, None, Some(why)).await {
                Ok(page) => render(StatusCode::BAD_REQUEST, &page),
                Err(e) => error_page(&v.t, &e),
            };
        }
    };
    let made = async {
        let (row, secret) = create_endpoint(
            &state.db,
            &state.settings.encryption,
            &v.user.merchant_id,
            environment,
            &url,
            &events,
        )
        .await?;
        audit(
            &state.db,
            &v.user.merchant_id,
            Some(environment),
            &v.user.email,
            "webhook_endpoint.create",
            Some(row.id.as_str()),
            Some(&url),
        )
        .await?;
        page(
            &state,
            &v,
            &[],
            Some((row.id.to_string(), secret)),
            None,
            None,
        )
        .await
    };
    match made.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/webhooks/{id}/{action}`: `rotate`, `enable`, `remove` or `test`.
pub async fn act(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> HttpResponse {
    let (id, action) = path.into_inner();
    if !matches!(action.as_str(), "rotate" | "enable" | "remove" | "test") {
        return message(
            &super::catalog(&state, &req),
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
    let form = format!("{action}:{id}");
    let (v, _) = match signed_post(&state, &req, payload, &form, Permission::ManageWebhooks).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let (merchant, environment) = (v.user.merchant_id.clone(), v.session.environment);
    let endpoint = match get_endpoint(&state.db.read, &merchant, environment, &id).await {
        Ok(Some(e)) => e,
        Ok(None) => return message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => return error_page(&v.t, &e),
    };
    let done: anyhow::Result<HttpResponse> = async {
        audit(
            &state.db,
            &merchant,
            Some(environment),
            &v.user.email,
            &format!("webhook_endpoint.{action}"),
            Some(&id),
            None,
        )
        .await?;
        Ok(match action.as_str() {
            "rotate" => {
                let secret = rotate_endpoint_secret(
                    &state.db,
                    &state.settings.encryption,
                    &endpoint.id,
                    state.settings.webhook_secret_overlap_seconds,
                )
                .await?;
                let page = page(&state, &v, &[], Some((id.clone(), secret)), None, None).await?;
                render(StatusCode::OK, &page)
            }
            "enable" => {
                enable_endpoint(&state.db.write, &endpoint.id, now_ms()).await?;
                see_other("/dashboard/webhooks?notice=enabled")
            }
            "remove" => {
                let mut tx = state.db.begin().await?;
                delete_endpoint(&mut tx, &merchant, &endpoint.id).await?;
                tx.commit().await?;
                see_other("/dashboard/webhooks?notice=removed")
            }
            _ => {
                let notice = send_test(&state, &v, &endpoint).await?;
                let page = page(&state, &v, &[], None, Some(notice), None).await?;
                render(StatusCode::OK, &page)
            }
        })
    }
    .await;
    done.unwrap_or_else(|e| error_page(&v.t, &e))
}

/// Sends a signed sample `payment.paid` to the endpoint (through the environment's address
/// rules) and says what came back.
async fn send_test(
    state: &AppState,
    v: &Viewer,
    endpoint: &crate::db::webhook_endpoints::EndpointRow,
) -> anyhow::Result<String> {
    let secret = state
        .settings
        .encryption
        .open(endpoint.id.as_str(), &endpoint.secret)
        .map_err(|e| anyhow::anyhow!("opening the endpoint's secret: {e}"))?;
    let client = state.webhook_clients.for_environment(endpoint.environment);
    let sent = send_test_event(
        client,
        &endpoint.url,
        &secret,
        state.settings.routes.first(),
    )
    .await;
    Ok(match sent {
        Ok(response) => {
            let status = response.status().as_u16();
            v.t.get("dashboard.notice_test_answered")
                .replace("{status}", &status.to_string())
        }
        Err(e) => {
            v.t.get("dashboard.notice_test_failed")
                .replace("{why}", &crate::webhooks::worker::describe(&e))
        }
    })
}

/// A gallery sample: two endpoints, one failing, and their delivery log.
pub(super) fn sample(state: &AppState, t: &std::sync::Arc<crate::i18n::Catalog>) -> HttpResponse {
    use super::gallery::{NOW, TOKEN, id};
    let endpoint = |i: usize, url: &str, failing: bool| EndpointLine {
        id: id("we", i),
        url: url.into(),
        events: "payment.paid, payment.failed, refund.succeeded".into(),
        status: "active",
        disabled: false,
        failing,
        created: t.date(NOW - 20 * 86_400_000),
        rotate_token: Some(TOKEN.into()),
        enable_token: None,
        remove_token: Some(TOKEN.into()),
        test_token: Some(TOKEN.into()),
    };
    let attempt = |ago: i64, n: i64, endpoint: usize, code: Option<u16>, ms: i64| AttemptView {
        when: t.date(NOW - ago),
        event_id: id("evt", 1),
        endpoint_id: id("we", endpoint),
        attempt: n,
        answer: code.map_or_else(|| "connection refused".into(), |c| format!("HTTP {c}")),
        ok: code.is_some_and(|c| (200..300).contains(&c)),
        duration_ms: ms,
        body: String::new(),
    };
    render(
        StatusCode::OK,
        &WebhooksPage {
            chrome: Chrome::sample(state, t, "webhooks"),
            endpoints: vec![
                endpoint(0, "https://shop.example/hooks/openrails", false),
                endpoint(1, "https://erp.example/payments/inbox", true),
            ],
            kinds: EventKind::ALL.iter().map(|k| k.type_name()).collect(),
            add_token: Some(TOKEN.into()),
            secret: None,
            notice: None,
            error: None,
            attempts: vec![
                attempt(60_000, 3, 1, None, 5),
                attempt(120_000, 2, 1, Some(502), 211),
                attempt(180_000, 1, 0, Some(200), 38),
            ],
            filter_endpoint: String::new(),
            filter_outcome: String::new(),
            next_href: None,
        },
    )
}
