//! The merchant's dashboard under `/dashboard`: server-rendered like the checkout, working
//! without JavaScript, with the checkout's design tokens and security headers. People sign in
//! with a password (a cookie naming a session stored in the database, so every instance knows
//! it); every state-changing form carries a one-time token and must come from our own pages;
//! what each role may do is checked here, on the server, for every action.

mod account;
mod auth;
pub mod branding;
mod customers;
pub mod gallery;
mod home;
mod payments;
mod settings;
mod webhooks;

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{COOKIE, LOCATION, SET_COOKIE};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::accounts::{
    DashboardSessionRow, UserRow, find_session, touch_session, use_form_token,
};
use crate::domain::account::Permission;
use crate::domain::ids::random_token;
use crate::domain::time::now_ms;
use crate::i18n::Catalog;
use crate::lifecycle::accounts::{SESSION_IDLE_MS, token_hash};
use crate::routes::api::body::{BodyError, body_timeout, read_body};
use crate::routes::multipart::{self, Part};
use crate::routes::pages::form::is_same_origin;
use crate::state::AppState;

/// The session cookie's name.
const COOKIE_NAME: &str = "orc_dashboard";
/// How long a rendered form's token works.
const FORM_TOKEN_MS: i64 = 2 * 3600 * 1000;

/// The dashboard's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/dashboard")
            .route("", web::get().to(home::home))
            .route("/", web::get().to(home::home))
            .service(
                web::resource("/login")
                    .route(web::get().to(auth::login_page))
                    .route(web::post().to(auth::login_submit)),
            )
            .route("/login/code", web::post().to(auth::code_submit))
            .route("/account", web::get().to(account::account))
            .route("/account/totp", web::post().to(account::totp_on))
            .route("/account/totp/off", web::post().to(account::totp_off))
            .route("/logout", web::post().to(auth::logout))
            .route(
                "/logout-everywhere",
                web::post().to(auth::logout_everywhere),
            )
            .route("/environment", web::post().to(auth::switch_environment))
            .service(
                web::resource("/setup/{token}")
                    .route(web::get().to(auth::setup_page))
                    .route(web::post().to(auth::setup_submit)),
            )
            .route("/payments", web::get().to(payments::list))
            .route("/payments.csv", web::get().to(payments::export_csv))
            .route("/payments/{id}", web::get().to(payments::detail))
            .route("/payments/{id}/refund", web::post().to(payments::refund))
            .route("/payments/{id}/expire", web::post().to(payments::expire))
            .route(
                "/events/{id}/redeliver",
                web::post().to(payments::redeliver),
            )
            .service(
                web::resource("/keys")
                    .route(web::get().to(settings::keys))
                    .route(web::post().to(settings::create_key)),
            )
            .route("/keys/{id}/revoke", web::post().to(settings::revoke_key))
            .route("/audit", web::get().to(settings::audit_log))
            .service(
                web::resource("/branding")
                    .route(web::get().to(branding::branding))
                    .route(web::post().to(branding::save)),
            )
            .route("/branding/preview", web::get().to(branding::preview_page))
            .route("/customers", web::get().to(customers::customers))
            .route("/customers/{id}", web::get().to(customers::customer))
            .service(
                web::resource("/webhooks")
                    .route(web::get().to(webhooks::webhooks))
                    .route(web::post().to(webhooks::add)),
            )
            .route("/webhooks/{id}/{action}", web::post().to(webhooks::act))
            .default_service(web::to(not_found)),
    );
}

/// Who is looking: the signed-in person and their session.
pub struct Viewer {
    /// The person.
    pub user: UserRow,
    /// Their session (environment shown, form secret).
    pub session: DashboardSessionRow,
    /// The page's texts.
    pub t: Arc<Catalog>,
}

impl Viewer {
    /// Whether they may do `what`.
    pub fn may(&self, what: Permission) -> bool {
        self.user.role.may(what)
    }

    /// A one-time token for the form `form` of this session.
    pub fn form_token(&self, form: &str) -> String {
        issue_form_token(self.session.form_secret.as_bytes(), form, now_ms())
    }
}

/// The value of the session cookie, if the request carries one.
fn cookie_token(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_owned())
        .filter(|v| !v.is_empty() && v.len() <= 64)
}

/// The `Set-Cookie` value that signs a browser in with `token` (or out, with `None`):
/// `HttpOnly`, `SameSite=Lax`, only under `/dashboard`, `Secure` when the public URL is https.
fn session_cookie(state: &AppState, token: Option<&str>) -> String {
    let secure = if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    match token {
        Some(token) => format!(
            "{COOKIE_NAME}={token}; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
            SESSION_IDLE_MS / 1000
        ),
        None => {
            format!("{COOKIE_NAME}=; Path=/dashboard; HttpOnly; SameSite=Lax; Max-Age=0{secure}")
        }
    }
}

/// The page's language: `?lang=`, then `Accept-Language`.
fn catalog(state: &AppState, req: &HttpRequest) -> Arc<Catalog> {
    let ctx = crate::routes::pages::Ctx::new(state, req, None);
    ctx.t
}

/// The signed-in viewer, or the answer for a request that is not signed in: GET pages go to
/// the sign-in page (and come back after), anything else is refused.
async fn viewer(state: &AppState, req: &HttpRequest) -> Result<Viewer, HttpResponse> {
    let t = catalog(state, req);
    let found = match cookie_token(req) {
        Some(token) => find_session(&state.db.read, &token_hash(&token), now_ms())
            .await
            .map_err(|e| error_page(&t, &e))?,
        None => None,
    };
    let Some((session, user)) = found else {
        if req.method() == actix_web::http::Method::GET {
            let next = req
                .uri()
                .path_and_query()
                .map_or("/dashboard", |p| p.as_str());
            let to = format!(
                "/dashboard/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            );
            return Err(HttpResponse::SeeOther()
                .insert_header((LOCATION, to))
                .finish());
        }
        return Err(message(&t, StatusCode::UNAUTHORIZED, "signed_out"));
    };
    let now = now_ms();
    if let Err(e) = touch_session(
        &state.db.write,
        &session.token_hash,
        now,
        now + SESSION_IDLE_MS,
    )
    .await
    {
        tracing::warn!(
            error.cause = format!("{e:#}"),
            "extending a dashboard session failed"
        );
    }
    Ok(Viewer { user, session, t })
}

/// Checks a state-changing post: from our own pages, with a fresh token of `form` signed with
/// `secret`, never used before. `Err` is the page to answer instead.
async fn check_post(
    state: &AppState,
    req: &HttpRequest,
    t: &Arc<Catalog>,
    secret: &[u8],
    form: &str,
    token: &str,
) -> Result<(), HttpResponse> {
    let host_origin = {
        let conn = req.connection_info();
        format!("{}://{}", conn.scheme(), conn.host())
    };
    if !is_same_origin(req.headers(), &state.public_url, &host_origin) {
        return Err(message(t, StatusCode::FORBIDDEN, "cross_site"));
    }
    let now = now_ms();
    if !verify_form_token(secret, form, token, now) {
        return Err(message(t, StatusCode::FORBIDDEN, "stale_form"));
    }
    match use_form_token(&state.db.write, &token_hash(token), now + FORM_TOKEN_MS).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(message(t, StatusCode::CONFLICT, "form_used")),
        Err(e) => Err(error_page(t, &e)),
    }
}

/// A signed-in person's post of the form `form`, which their role must allow (`need`): who,
/// and the form's fields, once it passed [`check_post`] with their session's secret. `Err` is
/// the page to answer instead.
async fn signed_post(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    form: &str,
    need: Permission,
) -> Result<(Viewer, Vec<(String, String)>), HttpResponse> {
    let v = allowed_viewer(state, req, need).await?;
    let Some(fields) = crate::routes::pages::form::read_form(req, payload).await else {
        return Err(message(&v.t, StatusCode::BAD_REQUEST, "bad_form"));
    };
    check_form_token(state, req, &v, form, &fields).await?;
    Ok((v, fields))
}

/// The signed-in person, if their role allows `need`; `Err` is the page to answer instead.
async fn allowed_viewer(
    state: &AppState,
    req: &HttpRequest,
    need: Permission,
) -> Result<Viewer, HttpResponse> {
    let v = viewer(state, req).await?;
    if !v.may(need) {
        return Err(message(&v.t, StatusCode::FORBIDDEN, "forbidden"));
    }
    Ok(v)
}

/// Checks the `token` field of a posted form (see [`check_post`]).
async fn check_form_token(
    state: &AppState,
    req: &HttpRequest,
    v: &Viewer,
    form: &str,
    fields: &[(String, String)],
) -> Result<(), HttpResponse> {
    let token = crate::routes::pages::form::field(fields, "token");
    check_post(
        state,
        req,
        &v.t,
        v.session.form_secret.as_bytes(),
        form,
        token,
    )
    .await
}

/// Like [`signed_post`], for a form that may carry files (`multipart/form-data`, read whole
/// within `limit` bytes): its text fields and its files. A plain form is read as usual, with
/// no files.
async fn signed_upload(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    form: &str,
    need: Permission,
    limit: usize,
) -> Result<(Viewer, Vec<(String, String)>, Vec<Part>), HttpResponse> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(boundary) = multipart::boundary(content_type) else {
        return signed_post(state, req, payload, form, need)
            .await
            .map(|(v, fields)| (v, fields, Vec::new()));
    };
    let v = allowed_viewer(state, req, need).await?;
    let body = match read_body(req, payload, limit, body_timeout(req)).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return Err(message(&v.t, StatusCode::PAYLOAD_TOO_LARGE, "too_large"));
        }
        Err(_) => return Err(message(&v.t, StatusCode::BAD_REQUEST, "bad_form")),
    };
    let Ok(parts) = multipart::parse(&body, &boundary) else {
        return Err(message(&v.t, StatusCode::BAD_REQUEST, "bad_form"));
    };
    let (files, texts): (Vec<Part>, Vec<Part>) =
        parts.into_iter().partition(|p| p.filename.is_some());
    let Some(fields) = texts
        .into_iter()
        .map(|p| String::from_utf8(p.data).ok().map(|text| (p.name, text)))
        .collect::<Option<Vec<_>>>()
    else {
        return Err(message(&v.t, StatusCode::BAD_REQUEST, "bad_form"));
    };
    check_form_token(state, req, &v, form, &fields).await?;
    Ok((v, fields, files))
}

fn form_mac(secret: &[u8], form: &str, issued: i64, nonce: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(format!("{form}|{issued}|{nonce}").as_bytes());
    mac
}

/// `<issued ms>.<nonce>.<HMAC>`: a token for one post of `form`.
fn issue_form_token(secret: &[u8], form: &str, now: i64) -> String {
    let nonce = random_token(16).unwrap_or_default();
    let tag = const_hex::encode(form_mac(secret, form, now, &nonce).finalize().into_bytes());
    format!("{now}.{nonce}.{tag}")
}

fn verify_form_token(secret: &[u8], form: &str, token: &str, now: i64) -> bool {
    let mut parts = token.splitn(3, '.');
    let (Some(issued), Some(nonce), Some(tag)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(issued) = issued.parse::<i64>() else {
        return false;
    };
    if now - issued > FORM_TOKEN_MS || issued - now > 60_000 || tag.len() != 64 {
        return false;
    }
    let Some(bytes) = (0..64)
        .step_by(2)
        .map(|i| u8::from_str_radix(tag.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    form_mac(secret, form, issued, nonce)
        .verify_slice(&bytes)
        .is_ok()
}

/// A dashboard page that only says something; `key` names `dashboard.msg_<key>_heading` and
/// `…_body`.
#[derive(Template)]
#[template(path = "dashboard/message.html")]
struct MessagePage {
    t: Arc<Catalog>,
    css: &'static str,
    dash_css: &'static str,
    heading: String,
    body: String,
}

fn message(t: &Arc<Catalog>, status: StatusCode, key: &str) -> HttpResponse {
    render(
        status,
        &MessagePage {
            t: t.clone(),
            // Without the state at hand: the stylesheets' unversioned addresses.
            css: "/static/checkout.css",
            dash_css: "/static/dashboard.css",
            heading: t.get(&format!("dashboard.msg_{key}_heading")).into_owned(),
            body: t.get(&format!("dashboard.msg_{key}_body")).into_owned(),
        },
    )
}

/// A gallery sample of the message page.
fn sample_message(t: &Arc<Catalog>) -> HttpResponse {
    message(t, StatusCode::OK, "stale_form")
}

fn error_page(t: &Arc<Catalog>, e: &anyhow::Error) -> HttpResponse {
    tracing::error!(error.cause = format!("{e:#}"), "a dashboard page failed");
    message(t, StatusCode::INTERNAL_SERVER_ERROR, "error")
}

async fn not_found(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    message(&catalog(&state, &req), StatusCode::NOT_FOUND, "not_found")
}

/// Renders a dashboard page with the checkout pages' headers (CSP, `no-store`, `noindex`).
fn render(status: StatusCode, page: &impl Template) -> HttpResponse {
    crate::routes::pages::render(status, page)
}

/// `303` to `to`.
fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .finish()
}

/// `303` to `to`, setting (or clearing) the session cookie.
fn see_other_with_cookie(state: &AppState, to: &str, token: Option<&str>) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((LOCATION, to))
        .insert_header((SET_COOKIE, session_cookie(state, token)))
        .finish()
}

/// What every signed-in page shows around its content.
pub struct Chrome {
    t: Arc<Catalog>,
    css: String,
    dash_css: String,
    merchant_name: String,
    email: String,
    role: &'static str,
    live: bool,
    /// Which section is current: `home`, `payments`.
    section: &'static str,
    environment_token: String,
    logout_token: String,
    logout_all_token: String,
}

impl Chrome {
    /// The chrome of a gallery page: the fixture merchant's owner, in the sandbox.
    fn sample(state: &AppState, t: &Arc<Catalog>, section: &'static str) -> Chrome {
        Chrome {
            t: t.clone(),
            css: state.assets.css_href(),
            dash_css: state.assets.href("dashboard.css"),
            merchant_name: "Demo Store".into(),
            email: "owner@example.com".into(),
            role: "owner",
            live: false,
            section,
            environment_token: gallery::TOKEN.into(),
            logout_token: gallery::TOKEN.into(),
            logout_all_token: gallery::TOKEN.into(),
        }
    }

    async fn of(
        state: &AppState,
        viewer: &Viewer,
        section: &'static str,
    ) -> anyhow::Result<Chrome> {
        let merchant_name =
            crate::db::merchants::merchant_name(&state.db.read, &viewer.user.merchant_id).await?;
        Ok(Chrome {
            t: viewer.t.clone(),
            css: state.assets.css_href(),
            dash_css: state.assets.href("dashboard.css"),
            merchant_name: merchant_name.unwrap_or_default(),
            email: viewer.user.email.clone(),
            role: viewer.user.role.as_str(),
            live: viewer.session.environment.livemode(),
            section,
            environment_token: viewer.form_token("environment"),
            logout_token: viewer.form_token("logout"),
            logout_all_token: viewer.form_token("logout_everywhere"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_token_works_for_its_form_and_secret_while_fresh() {
        let t = issue_form_token(b"s", "refund", 1_000_000);
        assert!(verify_form_token(b"s", "refund", &t, 1_000_100));
        assert!(!verify_form_token(b"s", "expire", &t, 1_000_100));
        assert!(!verify_form_token(b"x", "refund", &t, 1_000_100));
        assert!(!verify_form_token(
            b"s",
            "refund",
            &t,
            1_000_000 + FORM_TOKEN_MS + 1
        ));
        assert!(!verify_form_token(b"s", "refund", "1.2.3", 1_000_000));
        assert_ne!(
            t,
            issue_form_token(b"s", "refund", 1_000_000),
            "each token its own"
        );
    }
}
