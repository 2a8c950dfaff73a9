//! Signing in and out, the one-time setup link, and the environment switch.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{
    catalog, check_post, error_page, issue_form_token, message, render, see_other,
    see_other_with_cookie, signed_post,
};
use crate::db::accounts::{delete_session, delete_user_sessions, set_session_environment};
use crate::domain::Environment;
use crate::domain::UserId;
use crate::domain::account::Permission;
use crate::domain::time::now_ms;
use crate::i18n::Catalog;
use crate::lifecycle::accounts::{
    AddUserError, SetUp, SignIn, audit, redeem_setup_link, second_factor, setup_link, sign_in,
    token_hash,
};
use crate::routes::pages::form::{field, read_form};
use crate::state::AppState;

/// The sign-in page.
#[derive(Template)]
#[template(path = "dashboard/login.html")]
struct LoginPage {
    t: Arc<Catalog>,
    css: String,
    dash_css: String,
    token: String,
    next: String,
    email: String,
    /// Why the last try failed, in words.
    error: Option<String>,
}

/// Where to go after signing in: a dashboard path only (never another site).
fn safe_next(next: &str) -> String {
    let ok = next.starts_with("/dashboard")
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control);
    if ok {
        next.to_owned()
    } else {
        "/dashboard".to_owned()
    }
}

fn login_form(
    state: &AppState,
    t: &Arc<Catalog>,
    status: StatusCode,
    next: &str,
    email: &str,
    error: Option<String>,
) -> HttpResponse {
    render(
        status,
        &LoginPage {
            t: t.clone(),
            css: state.assets.css_href(),
            dash_css: state.assets.href("dashboard.css"),
            token: issue_form_token(&state.form_secret, "login", now_ms()),
            next: safe_next(next),
            email: email.to_owned(),
            error,
        },
    )
}

fn query_value(req: &HttpRequest, name: &str) -> String {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// `GET /dashboard/login`
pub async fn login_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let t = catalog(&state, &req);
    login_form(
        &state,
        &t,
        StatusCode::OK,
        &query_value(&req, "next"),
        "",
        None,
    )
}

/// `POST /dashboard/login`
pub async fn login_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let t = catalog(&state, &req);
    let Some(fields) = read_form(&req, payload).await else {
        return message(&t, StatusCode::BAD_REQUEST, "bad_form");
    };
    let (email, password, next) = (
        field(&fields, "email"),
        field(&fields, "password"),
        field(&fields, "next"),
    );
    if let Err(answer) = check_post(
        &state,
        &req,
        &t,
        &state.form_secret,
        "login",
        field(&fields, "token"),
    )
    .await
    {
        return answer;
    }
    let signed = sign_in(
        &state.db,
        email,
        password,
        &crate::routes::client_address(&req, &state.settings.trusted_proxies),
    )
    .await;
    answer_sign_in(&state, &t, next, email, signed)
}

/// The page or redirect that answers a sign-in's step.
fn answer_sign_in(
    state: &AppState,
    t: &Arc<Catalog>,
    next: &str,
    email: &str,
    signed: anyhow::Result<SignIn>,
) -> HttpResponse {
    match signed {
        Ok(SignIn::Done { token, .. }) => {
            see_other_with_cookie(state, &safe_next(next), Some(&token))
        }
        Ok(SignIn::SecondFactor { user }) => render(
            StatusCode::OK,
            &CodePage {
                t: t.clone(),
                css: state.assets.css_href(),
                dash_css: state.assets.href("dashboard.css"),
                token: issue_form_token(&state.form_secret, &format!("code:{}", user.id), now_ms()),
                user: user.id.to_string(),
                next: safe_next(next),
            },
        ),
        Ok(SignIn::Wrong) => login_form(
            state,
            t,
            StatusCode::UNAUTHORIZED,
            next,
            email,
            Some(t.get("dashboard.login_wrong").into_owned()),
        ),
        Ok(SignIn::Throttled {
            retry_after_seconds,
        }) => {
            let mut answer = login_form(
                state,
                t,
                StatusCode::TOO_MANY_REQUESTS,
                next,
                email,
                Some(t.with(
                    "dashboard.login_throttled",
                    "minutes",
                    &((retry_after_seconds + 59) / 60).to_string(),
                )),
            );
            if let Ok(value) = retry_after_seconds.to_string().parse() {
                answer
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            answer
        }
        Err(e) => error_page(t, &e),
    }
}

/// The second step of a sign-in: the authenticator app's code.
#[derive(Template)]
#[template(path = "dashboard/code.html")]
struct CodePage {
    t: Arc<Catalog>,
    css: String,
    dash_css: String,
    token: String,
    user: String,
    next: String,
}

/// `POST /dashboard/login/code`: the second factor's code. A wrong one starts over at the
/// password (and counts as a failed sign-in).
pub async fn code_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let t = catalog(&state, &req);
    let Some(fields) = read_form(&req, payload).await else {
        return message(&t, StatusCode::BAD_REQUEST, "bad_form");
    };
    let Some(user) = UserId::parse(field(&fields, "user")) else {
        return message(&t, StatusCode::BAD_REQUEST, "bad_form");
    };
    let form = format!("code:{user}");
    if let Err(answer) = check_post(
        &state,
        &req,
        &t,
        &state.form_secret,
        &form,
        field(&fields, "token"),
    )
    .await
    {
        return answer;
    }
    let next = field(&fields, "next");
    match second_factor(
        &state.db,
        &user,
        field(&fields, "code"),
        &crate::routes::client_address(&req, &state.settings.trusted_proxies),
    )
    .await
    {
        Ok(SignIn::Wrong) => login_form(
            &state,
            &t,
            StatusCode::UNAUTHORIZED,
            next,
            "",
            Some(t.get("dashboard.code_wrong").into_owned()),
        ),
        signed => answer_sign_in(&state, &t, next, "", signed),
    }
}

/// `POST /dashboard/logout`: ends this browser's session.
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, _) = match signed_post(&state, &req, payload, "logout", Permission::Read).await {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    if let Err(e) = delete_session(&state.db.write, &v.session.token_hash).await {
        return error_page(&v.t, &e);
    }
    see_other_with_cookie(&state, "/dashboard/login", None)
}

/// `POST /dashboard/logout-everywhere`: ends every session of this person, on every device.
pub async fn logout_everywhere(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, _) =
        match signed_post(&state, &req, payload, "logout_everywhere", Permission::Read).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let done = async {
        let ended = delete_user_sessions(&state.db.write, &v.user.id).await?;
        audit(
            &state.db,
            &v.user.merchant_id,
            None,
            &v.user.email,
            "user.sign_out_everywhere",
            Some(v.user.id.as_str()),
            Some(&format!("{ended} session(s) ended")),
        )
        .await
    };
    if let Err(e) = done.await {
        return error_page(&v.t, &e);
    }
    see_other_with_cookie(&state, "/dashboard/login", None)
}

/// `POST /dashboard/environment`: shows sandbox or production.
pub async fn switch_environment(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields) =
        match signed_post(&state, &req, payload, "environment", Permission::Read).await {
            Ok(found) => found,
            Err(answer) => return answer,
        };
    let Some(environment) = Environment::parse(field(&fields, "environment")) else {
        return message(&v.t, StatusCode::BAD_REQUEST, "bad_form");
    };
    if let Err(e) =
        set_session_environment(&state.db.write, &v.session.token_hash, environment).await
    {
        return error_page(&v.t, &e);
    }
    see_other("/dashboard")
}

/// The page of a one-time setup link.
#[derive(Template)]
#[template(path = "dashboard/setup.html")]
struct SetupPage {
    t: Arc<Catalog>,
    css: String,
    dash_css: String,
    token: String,
    role: &'static str,
    email: String,
    error: Option<String>,
}

/// `GET /dashboard/setup/{token}`
pub async fn setup_page(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
) -> HttpResponse {
    let t = catalog(&state, &req);
    match setup_link(&state.db, &link).await {
        Ok(Some((_, role))) => {
            setup_form(&state, &t, StatusCode::OK, &link, role.as_str(), "", None)
        }
        Ok(None) => message(&t, StatusCode::GONE, "link_gone"),
        Err(e) => error_page(&t, &e),
    }
}

fn setup_form(
    state: &AppState,
    t: &Arc<Catalog>,
    status: StatusCode,
    link: &str,
    role: &'static str,
    email: &str,
    error: Option<String>,
) -> HttpResponse {
    render(
        status,
        &SetupPage {
            t: t.clone(),
            css: state.assets.css_href(),
            dash_css: state.assets.href("dashboard.css"),
            token: issue_form_token(
                &state.form_secret,
                &format!("setup:{}", token_hash(link)),
                now_ms(),
            ),
            role,
            email: email.to_owned(),
            error,
        },
    )
}

/// `POST /dashboard/setup/{token}`: creates the account and signs it in.
pub async fn setup_submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    link: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let t = catalog(&state, &req);
    let Some(fields) = read_form(&req, payload).await else {
        return message(&t, StatusCode::BAD_REQUEST, "bad_form");
    };
    let form = format!("setup:{}", token_hash(&link));
    if let Err(answer) = check_post(
        &state,
        &req,
        &t,
        &state.form_secret,
        &form,
        field(&fields, "token"),
    )
    .await
    {
        return answer;
    }
    let (email, password) = (field(&fields, "email"), field(&fields, "password"));
    if password != field(&fields, "password_again") {
        let role = match setup_link(&state.db, &link).await {
            Ok(Some((_, role))) => role.as_str(),
            Ok(None) => return message(&t, StatusCode::GONE, "link_gone"),
            Err(e) => return error_page(&t, &e),
        };
        return setup_form(
            &state,
            &t,
            StatusCode::BAD_REQUEST,
            &link,
            role,
            email,
            Some(t.get("dashboard.setup_mismatch").into_owned()),
        );
    }
    match redeem_setup_link(&state.db, &link, email, password).await {
        Ok(SetUp::Done { token, .. }) => see_other_with_cookie(&state, "/dashboard", Some(&token)),
        Ok(SetUp::LinkGone) => message(&t, StatusCode::GONE, "link_gone"),
        Ok(SetUp::Invalid(why)) => {
            let role = match setup_link(&state.db, &link).await {
                Ok(Some((_, role))) => role.as_str(),
                Ok(None) => return message(&t, StatusCode::GONE, "link_gone"),
                Err(e) => return error_page(&t, &e),
            };
            let text = match why {
                AddUserError::Email(why) => format!("{} {why}", t.get("dashboard.email")),
                AddUserError::Password(why) => format!("{} {why}", t.get("dashboard.password")),
                AddUserError::Taken => t.get("dashboard.setup_taken").into_owned(),
            };
            setup_form(
                &state,
                &t,
                StatusCode::BAD_REQUEST,
                &link,
                role,
                email,
                Some(text),
            )
        }
        Err(e) => error_page(&t, &e),
    }
}

/// Gallery samples: the sign-in page (with a wrong password when `error`), the second
/// factor's page and the account setup page.
pub(super) fn sample(
    state: &AppState,
    t: &Arc<Catalog>,
    which: super::gallery::Public,
) -> HttpResponse {
    use super::gallery::{Public, TOKEN};
    let (css, dash_css) = (state.assets.css_href(), state.assets.href("dashboard.css"));
    match which {
        Public::Login { error } => render(
            if error {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::OK
            },
            &LoginPage {
                t: t.clone(),
                css,
                dash_css,
                token: TOKEN.into(),
                next: "/dashboard".into(),
                email: if error {
                    "owner@example.com".into()
                } else {
                    String::new()
                },
                error: error.then(|| t.get("dashboard.login_wrong").into_owned()),
            },
        ),
        Public::Code => render(
            StatusCode::OK,
            &CodePage {
                t: t.clone(),
                css,
                dash_css,
                token: TOKEN.into(),
                user: "usr_preview".into(),
                next: "/dashboard".into(),
            },
        ),
        Public::Setup => render(
            StatusCode::OK,
            &SetupPage {
                t: t.clone(),
                css,
                dash_css,
                token: TOKEN.into(),
                role: "owner",
                email: String::new(),
                error: None,
            },
        ),
    }
}
