//! The shop's settings pages: API keys (created and shown once, listed by their hint,
//! revoked) and the audit log (every action in the dashboard and the CLI, with filters).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, Viewer, error_page, message, render, see_other, signed_post, viewer};
use crate::db::accounts::list_audit;
use crate::db::api_keys::{create_api_key, list_merchant_keys, revoke_merchant_key};
use crate::domain::Environment;
use crate::domain::account::Permission;
use crate::domain::time::now_ms;
use crate::lifecycle::accounts::audit;
use crate::routes::pages::form::field;
use crate::state::AppState;

/// One key, as listed.
struct KeyLine {
    id: String,
    hint: String,
    label: String,
    environment: &'static str,
    created: String,
    revoked: Option<String>,
    /// The revoke form's token, when the viewer may and the key works.
    revoke_token: Option<String>,
}

/// The API keys page.
#[derive(Template)]
#[template(path = "dashboard/keys.html")]
struct KeysPage {
    chrome: Chrome,
    keys: Vec<KeyLine>,
    /// The create form's token, when the viewer may.
    create_token: Option<String>,
    /// A key just created: its secret, shown this once.
    created: Option<String>,
    notice: Option<String>,
}

async fn keys_page(
    state: &AppState,
    v: &Viewer,
    created: Option<String>,
    notice: Option<String>,
) -> anyhow::Result<KeysPage> {
    let may = v.may(Permission::ManageApiKeys);
    let keys = list_merchant_keys(&state.db.read, &v.user.merchant_id)
        .await?
        .into_iter()
        .map(|k| KeyLine {
            revoke_token: (may && k.revoked_at.is_none())
                .then(|| v.form_token(&format!("revoke_key:{}", k.id))),
            id: k.id.to_string(),
            hint: k.key_hint,
            label: k.label,
            environment: k.environment.as_str(),
            created: v.t.date(k.created_at),
            revoked: k.revoked_at.map(|at| v.t.date(at)),
        })
        .collect();
    Ok(KeysPage {
        chrome: Chrome::of(state, v, "keys").await?,
        keys,
        create_token: may.then(|| v.form_token("create_key")),
        created,
        notice,
    })
}

/// `GET /dashboard/keys`
pub async fn keys(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let notice = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, value)| k == "notice" && value == "revoked")
        .map(|_| v.t.get("dashboard.notice_key_revoked").into_owned());
    match keys_page(&state, &v, None, notice).await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/keys`: creates a key and shows its secret in this answer only.
pub async fn create_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields) = match signed_post(
        &state,
        &req,
        payload,
        "create_key",
        Permission::ManageApiKeys,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let Some(environment) = Environment::parse(field(&fields, "environment")) else {
        return message(&v.t, StatusCode::BAD_REQUEST, "bad_form");
    };
    let label: String = field(&fields, "label")
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    let label = if label.is_empty() {
        format!("created by {}", v.user.email)
    } else {
        label
    };
    let made = async {
        let (row, secret) = create_api_key(
            &state.db.write,
            &v.user.merchant_id,
            environment,
            &label,
            now_ms(),
        )
        .await?;
        audit(
            &state.db,
            &v.user.merchant_id,
            Some(environment),
            &v.user.email,
            "api_key.create",
            Some(row.id.as_str()),
            Some(&label),
        )
        .await?;
        keys_page(&state, &v, Some(secret), None).await
    };
    match made.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/keys/{id}/revoke`
pub async fn revoke_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let form = format!("revoke_key:{id}");
    let (v, _) = match signed_post(&state, &req, payload, &form, Permission::ManageApiKeys).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let done = async {
        let revoked =
            revoke_merchant_key(&state.db.write, &v.user.merchant_id, &id, now_ms()).await?;
        if revoked {
            audit(
                &state.db,
                &v.user.merchant_id,
                None,
                &v.user.email,
                "api_key.revoke",
                Some(&id),
                None,
            )
            .await?;
        }
        anyhow::Ok(revoked)
    };
    match done.await {
        Ok(true) => see_other("/dashboard/keys?notice=revoked"),
        Ok(false) => message(&v.t, StatusCode::NOT_FOUND, "not_found"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// One line of the audit log, as listed.
struct AuditLine {
    when: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    environment: String,
}

/// The audit log page.
#[derive(Template)]
#[template(path = "dashboard/audit.html")]
struct AuditPage {
    chrome: Chrome,
    actor: String,
    action: String,
    lines: Vec<AuditLine>,
    next_href: Option<String>,
}

const AUDIT_PAGE: i64 = 50;

/// `GET /dashboard/audit`
pub async fn audit_log(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, value)| {
            (
                k.into_owned(),
                value
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(254)
                    .collect(),
            )
        })
        .collect();
    let get = |name: &str| field(&query, name).to_owned();
    let (actor, action, before) = (get("actor"), get("action"), get("before"));
    let page = async {
        let some = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
        let mut rows = list_audit(
            &state.db.read,
            &v.user.merchant_id,
            some(&actor).as_deref(),
            some(&action).as_deref(),
            some(&before).filter(|b| b.starts_with("aud_")).as_deref(),
            AUDIT_PAGE,
        )
        .await?;
        let more = rows.len() as i64 > AUDIT_PAGE;
        rows.truncate(AUDIT_PAGE as usize);
        let next_href = match (more, rows.last()) {
            (true, Some(last)) => Some(format!(
                "/dashboard/audit?{}",
                serde_urlencoded::to_string([
                    ("actor", actor.as_str()),
                    ("action", action.as_str()),
                    ("before", last.id.as_str()),
                ])
                .unwrap_or_default()
            )),
            _ => None,
        };
        anyhow::Ok(AuditPage {
            chrome: Chrome::of(&state, &v, "audit").await?,
            lines: rows
                .into_iter()
                .map(|r| AuditLine {
                    when: v.t.date(r.created_at),
                    actor: r.actor,
                    action: r.action,
                    target: r.target.unwrap_or_default(),
                    detail: r.detail.unwrap_or_default(),
                    environment: r.environment.unwrap_or_default(),
                })
                .collect(),
            actor: actor.clone(),
            action: action.clone(),
            next_href,
        })
    };
    match page.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// A gallery sample of the API keys page, a new key just shown.
pub(super) fn sample_keys(
    state: &AppState,
    t: &std::sync::Arc<crate::i18n::Catalog>,
) -> HttpResponse {
    use super::gallery::{NOW, TOKEN, id};
    let key = |i: usize, label: &str, environment, revoked: bool| KeyLine {
        id: id("key", i),
        hint: format!("sk_test_…{}", ["4f2a", "9c1e", "77b0"][i % 3]),
        label: label.into(),
        environment,
        created: t.date(NOW - i as i64 * 7 * 86_400_000),
        revoked: revoked.then(|| t.date(NOW - 86_400_000)),
        revoke_token: (!revoked).then(|| TOKEN.into()),
    };
    render(
        StatusCode::OK,
        &KeysPage {
            chrome: Chrome::sample(state, t, "keys"),
            keys: vec![
                key(0, "Shop server", "sandbox", false),
                key(1, "Reporting", "sandbox", false),
                key(2, "Old laptop", "sandbox", true),
            ],
            create_token: Some(TOKEN.into()),
            created: Some("sk_test_preview0000000000000000000000004f2a".into()),
            notice: None,
        },
    )
}

/// A gallery sample of the audit log.
pub(super) fn sample_audit(
    state: &AppState,
    t: &std::sync::Arc<crate::i18n::Catalog>,
) -> HttpResponse {
    use super::gallery::{NOW, id};
    let line = |ago: i64, actor: &str, action: &str, target: String, detail: &str| AuditLine {
        when: t.date(NOW - ago),
        actor: actor.into(),
        action: action.into(),
        target,
        detail: detail.into(),
        environment: "sandbox".into(),
    };
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::sample(state, t, "audit"),
            actor: String::new(),
            action: String::new(),
            lines: vec![
                line(
                    60_000,
                    "owner@example.com",
                    "refund.create",
                    id("pay", 0),
                    "$160.00 · requested_by_customer",
                ),
                line(
                    3_600_000,
                    "dev@example.com",
                    "webhook.rotate",
                    id("we", 0),
                    "",
                ),
                line(
                    7_200_000,
                    "owner@example.com",
                    "branding.update",
                    String::new(),
                    "",
                ),
                line(
                    86_400_000,
                    "cli",
                    "user.create",
                    "dev@example.com".into(),
                    "developer",
                ),
                line(
                    90_000_000,
                    "owner@example.com",
                    "sign_in",
                    String::new(),
                    "",
                ),
            ],
            next_href: None,
        },
    )
}
