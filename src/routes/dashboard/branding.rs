//! `GET /dashboard/branding`: the checkout's branding (name, logo, colour, button shape, note,
//! default language) edited by the owner, beside a preview of the checkout page wearing what
//! is saved (a frame of `/dashboard/branding/preview`: no script needed to see it).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_SECURITY_POLICY, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine;

use super::{Chrome, error_page, render, see_other, signed_upload, viewer};
use crate::db::merchants::{get_branding, update_branding};
use crate::domain::account::Permission;
use crate::domain::branding::{ButtonShape, MAX_LOGO_BYTES, parse_update, sniff_image};
use crate::domain::input::RawObject;
use crate::domain::time::now_ms;
use crate::lifecycle::accounts::audit;
use crate::routes::pages::brand::Brand;
use crate::routes::pages::form::field;
use crate::routes::pages::{BrandView, preview};
use crate::state::AppState;

/// The dashboard pages' policy, with frames of our own origin allowed (the preview).
const CSP_WITH_PREVIEW: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
script-src 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; \
base-uri 'none'; form-action 'self'";

/// The preview's policy: the checkout page's, framed by our own pages only.
pub const CSP_FRAMED: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
script-src 'self'; connect-src 'self'; frame-ancestors 'self'; base-uri 'none'; \
form-action 'none'";

/// The branding page.
#[derive(Template)]
#[template(path = "dashboard/branding.html")]
struct BrandingPage {
    chrome: Chrome,
    display_name: String,
    color: String,
    shape: String,
    note: String,
    language: String,
    /// The saved logo's address, when there is one.
    logo_href: Option<String>,
    /// The largest logo, in KiB.
    max_logo_kib: usize,
    shapes: Vec<&'static str>,
    languages: Vec<(&'static str, String)>,
    /// The form's token, when the viewer may edit.
    token: Option<String>,
    /// The preview's address (changes with every save).
    preview_href: String,
    notice: Option<String>,
    error: Option<String>,
}

async fn page(
    state: &AppState,
    v: &super::Viewer,
    notice: Option<String>,
    error: Option<String>,
) -> anyhow::Result<BrandingPage> {
    let row = get_branding(&state.db.read, &v.user.merchant_id)
        .await?
        .unwrap_or_default();
    let logo_href = row
        .logo_type
        .is_some()
        .then(|| Brand::resolve(state, &row).logo_href(v.user.merchant_id.as_str()))
        .flatten();
    Ok(BrandingPage {
        chrome: Chrome::of(state, v, "branding").await?,
        logo_href,
        max_logo_kib: MAX_LOGO_BYTES / 1024,
        preview_href: format!(
            "/dashboard/branding/preview?v={}",
            row.branding_updated_at.unwrap_or(0)
        ),
        display_name: row.display_name.unwrap_or_default(),
        color: row.brand_color.unwrap_or_default(),
        shape: row.button_shape.unwrap_or_default(),
        note: row.note.unwrap_or_default(),
        language: row.default_language.unwrap_or_default(),
        shapes: ["rounded", "pill", "square"]
            .into_iter()
            .filter(|s| ButtonShape::parse(s).is_ok())
            .collect(),
        languages: state
            .catalogs
            .codes()
            .into_iter()
            .filter_map(|code| {
                state
                    .catalogs
                    .find(code)
                    .map(|c| (c.code, c.get("meta.language_name").into_owned()))
            })
            .collect(),
        token: v
            .may(Permission::EditBranding)
            .then(|| v.form_token("branding")),
        notice,
        error,
    })
}

fn with_csp(mut response: HttpResponse, csp: &'static str) -> HttpResponse {
    response
        .headers_mut()
        .insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    response
}

/// `GET /dashboard/branding`
pub async fn branding(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let saved = url::form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, value)| k == "notice" && value == "saved");
    let notice = saved.then(|| v.t.get("dashboard.notice_branding_saved").into_owned());
    match page(&state, &v, notice, None).await {
        Ok(page) => with_csp(render(StatusCode::OK, &page), CSP_WITH_PREVIEW),
        Err(e) => error_page(&v.t, &e),
    }
}

/// The largest branding form: the logo and room for the other fields.
const MAX_BRANDING_FORM_BYTES: usize = MAX_LOGO_BYTES + 16 * 1024;

/// `POST /dashboard/branding`: saves the form (an empty field clears its part). Sent as
/// `multipart/form-data` when it carries a logo; a logo file replaces the saved one, the
/// `remove_logo` box clears it, and neither leaves it alone.
pub async fn save(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let (v, fields, files) = match signed_upload(
        &state,
        &req,
        payload,
        "branding",
        Permission::EditBranding,
        MAX_BRANDING_FORM_BYTES,
    )
    .await
    {
        Ok(found) => found,
        Err(answer) => return answer,
    };
    let refuse = async |why: String| match page(&state, &v, None, Some(why)).await {
        Ok(page) => with_csp(render(StatusCode::BAD_REQUEST, &page), CSP_WITH_PREVIEW),
        Err(e) => error_page(&v.t, &e),
    };
    // The form's fields as the API's body: one parser, one set of rules.
    let text = |name: &str| {
        let value = field(&fields, name).trim();
        if value.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::String(value.to_owned())
        }
    };
    let mut body = serde_json::json!({
        "displayName": text("display_name"),
        "brandColor": text("color"),
        "buttonShape": text("shape"),
        "note": text("note"),
        "defaultLanguage": text("language"),
    });
    // A chosen file, by what its bytes are (not its name); the API's rules check the rest.
    let logo = files
        .iter()
        .find(|f| f.name == "logo" && !f.data.is_empty());
    if let Some(file) = logo {
        let Some(kind) = sniff_image(&file.data) else {
            return refuse(v.t.get("dashboard.branding_logo_not_image").into_owned()).await;
        };
        let data = base64::engine::general_purpose::STANDARD.encode(&file.data);
        body["logo"] = format!("data:{kind};base64,{data}").into();
    } else if field(&fields, "remove_logo") == "1" {
        body["logo"] = serde_json::Value::Null;
    }
    let parsed = RawObject::parse(body.to_string().as_bytes())
        .map(|raw| parse_update(&raw, &state.catalogs.codes()));
    let update = match parsed {
        Ok((update, issues)) if issues.is_empty() => update,
        Ok((_, issues)) => {
            let why = issues
                .iter()
                .map(|i| format!("{} {}", i.field, i.message))
                .collect::<Vec<_>>()
                .join("; ");
            return refuse(why).await;
        }
        Err(e) => return error_page(&v.t, &anyhow::anyhow!("the branding form: {e}")),
    };
    let done = async {
        update_branding(&state.db, &v.user.merchant_id, &update, now_ms()).await?;
        audit(
            &state.db,
            &v.user.merchant_id,
            None,
            &v.user.email,
            "branding.update",
            None,
            None,
        )
        .await
    };
    match done.await {
        Ok(()) => see_other("/dashboard/branding?notice=saved"),
        Err(e) => error_page(&v.t, &e),
    }
}

/// `GET /dashboard/branding/preview`: the checkout's first page with the saved branding and
/// made-up contents, for the branding page's frame.
pub async fn preview_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let v = match viewer(&state, &req).await {
        Ok(v) => v,
        Err(answer) => return answer,
    };
    let row = match get_branding(&state.db.read, &v.user.merchant_id).await {
        Ok(row) => row.unwrap_or_default(),
        Err(e) => return error_page(&v.t, &e),
    };
    let brand = Brand::resolve(&state, &row);
    let id = v.user.merchant_id.as_str();
    let view = BrandView {
        css_href: brand.css_href(id),
        logo_href: brand.logo_href(id),
        brand,
    };
    let t = match row
        .default_language
        .as_deref()
        .and_then(|code| state.catalogs.find(code))
    {
        Some(catalog) => catalog,
        None => v.t.clone(),
    };
    with_csp(
        preview::render_branded(&state, t, "/dashboard/branding/preview", view),
        CSP_FRAMED,
    )
}

/// A gallery sample: the fixture brand in the form, beside the gallery's branded checkout.
pub(super) fn sample(state: &AppState, t: &std::sync::Arc<crate::i18n::Catalog>) -> HttpResponse {
    let page = BrandingPage {
        chrome: super::Chrome::sample(state, t, "branding"),
        display_name: "Nimbus".into(),
        color: "#6d28d9".into(),
        shape: "pill".into(),
        note: "Questions? We reply within a day.".into(),
        language: String::new(),
        logo_href: Some("/preview/assets/logo.svg".into()),
        max_logo_kib: MAX_LOGO_BYTES / 1024,
        shapes: vec!["rounded", "pill", "square"],
        languages: state
            .catalogs
            .codes()
            .into_iter()
            .filter_map(|code| state.catalogs.find(code))
            .map(|c| (c.code, c.get("meta.language_name").into_owned()))
            .collect(),
        token: Some(super::gallery::TOKEN.into()),
        preview_href: format!("/preview/choose.{}.branded", t.code),
        notice: None,
        error: None,
    };
    with_csp(render(StatusCode::OK, &page), CSP_WITH_PREVIEW)
}
