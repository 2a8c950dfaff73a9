//! `GET /dashboard/account`: who is signed in, and their second factor: turned on by scanning
//! a QR code and typing the app's first code, turned off with a current code.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{Chrome, check_post, error_page, message, render, see_other, signed_post, viewer};
use crate::domain::account::Permission;
use crate::domain::totp::otpauth_uri;
use crate::lifecycle::accounts::{disable_totp, enable_totp, new_totp_secret};
use crate::routes::pages::form::{field, read_form};
use crate::routes::pages::qr::qr_svg;
use crate::state::AppState;

/// The account page.
#[derive(Template)]
#[template(path = "dashboard/account.html")]
struct AccountPage {
    chrome: Chrome,
    /// Whether a second factor is on.
    totp_on: bool,
    /// To turn it on: a fresh secret (base32), its QR code (SVG) and the form's token.
    secret: String,
    qr: String,
    on_token: String,
    /// To turn it off.
    off_token: String,
    /// What the last action did: `totp_on`, `totp_off`, `code_wrong`.
    notice: Option<String>,
}

/// `GET /dashboard/account`
pub async fn account(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let notice = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "notice")
        .and_then(|(_, value)| match value.as_ref() {
            "totp_on" | "totp_off" | "code_wrong" => {
                Some(v.t.get(&format!("dashboard.notice_{value}")).into_owned())
            }
            _ => None,
        });
    let page = async {
        let secret = new_totp_secret()?;
        let issuer = v.t.get("dashboard.app_name").into_owned();
        anyhow::Ok(AccountPage {
            chrome: Chrome::of(&state, &v, "account").await?,
            totp_on: v.user.totp_secret.is_some(),
            qr: qr_svg(&otpauth_uri(&issuer, &v.user.email, &secret)),
            on_token: v.form_token(&format!("totp_on:{secret}")),
            off_token: v.form_token("totp_off"),
            secret,
            notice,
        })
    };
    match page.await {
        Ok(page) => render(StatusCode::OK, &page),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/account/totp`: turns the second factor on with the page's secret, once the
/// app's code matches it.
pub async fn totp_on(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let Some(fields) = read_form(&req, payload).await else {
        return message(&v.t, StatusCode::BAD_REQUEST, "bad_form");
    };
    // The secret comes back from the page; the token, bound to it, proves the page gave it.
    let secret = field(&fields, "secret");
    let form = format!("totp_on:{secret}");
    let token = field(&fields, "token");
    if let Err(answer) = check_post(
        &state,
        &req,
        &v.t,
        v.session.form_secret.as_bytes(),
        &form,
        token,
    )
    .await
    {
        return answer;
    }
    match enable_totp(&state.db, &v.user, secret, field(&fields, "code")).await {
        Ok(true) => see_other("/dashboard/account?notice=totp_on"),
        Ok(false) => see_other("/dashboard/account?notice=code_wrong"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `POST /dashboard/account/totp/off`: turns the second factor off with a current code.
pub async fn totp_off(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields) = match signed_post(&state, &req, payload, "totp_off", Permission::Read).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    match disable_totp(&state.db, &v.user, field(&fields, "code")).await {
        Ok(true) => see_other("/dashboard/account?notice=totp_off"),
        Ok(false) => see_other("/dashboard/account?notice=code_wrong"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// A gallery sample: the account page with the second factor off.
pub(super) fn sample(state: &AppState, t: &std::sync::Arc<crate::i18n::Catalog>) -> HttpResponse {
    let secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP".to_owned();
    let issuer = t.get("dashboard.app_name").into_owned();
    render(
        StatusCode::OK,
        &AccountPage {
            chrome: Chrome::sample(state, t, "account"),
            totp_on: false,
            qr: qr_svg(&otpauth_uri(&issuer, "owner@example.com", &secret)),
            on_token: super::gallery::TOKEN.into(),
            off_token: super::gallery::TOKEN.into(),
            secret,
            notice: None,
        },
    )
}
