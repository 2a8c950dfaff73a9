//! `GET`/`PUT /api/gateway/branding`: the merchant's look on the checkout pages.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::body::{RawObject, read_json_object};
use crate::auth::Authenticated;
use crate::db::merchants::{BrandingRow, BrandingUpdate, get_branding, update_branding};
use crate::domain::branding::{
    ButtonShape, Color, MAX_NAME_CHARS, MAX_NOTE_CHARS, parse_logo_data_url, plain_text,
};
use crate::domain::time::now_ms;
use crate::error::{ApiError, ErrorEnvelope, FieldIssue};
use crate::i18n::Catalogs;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Branding {
    /// Always `branding`.
    pub object: &'static str,
    pub display_name: Option<String>,
    /// `#rrggbb`
    pub brand_color: Option<String>,
    /// The text colour chosen for the brand colour (contrast ≥ 4.5:1).
    pub brand_text_color: Option<String>,
    /// `rounded`, `pill` or `square`
    pub button_shape: Option<String>,
    /// Where the pages load the logo from, when there is one.
    pub logo_url: Option<String>,
    pub note: Option<String>,
    /// `en`, `es` or `pt-BR`
    pub default_language: Option<String>,
}

impl Branding {
    pub fn from_row(row: BrandingRow, merchant_id: &str) -> Branding {
        let color = row
            .brand_color
            .as_deref()
            .and_then(|c| Color::parse(c).ok());
        Branding {
            object: "branding",
            display_name: row.display_name,
            brand_color: color.map(Color::hex),
            brand_text_color: color.map(|c| c.text_color().hex()),
            button_shape: row.button_shape,
            logo_url: row.logo_type.map(|_| format!("/brand/{merchant_id}/logo")),
            note: row.note,
            default_language: row.default_language,
        }
    }
}

const FIELDS: &[&str] = &[
    "displayName",
    "brandColor",
    "buttonShape",
    "logo",
    "note",
    "defaultLanguage",
];

/// Read the merchant's branding (as set through the API or the command line; the config
/// file's `[branding]` applies to whatever is unset).
#[utoipa::path(get, path = "/api/gateway/branding", tag = "Branding",
    responses((status = 200, description = "The branding", body = Branding), (status = 401, description = "Missing or invalid API key", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn get_branding_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let id = &auth.0.merchant_id;
    let row = get_branding(&state.db.read, id).await?.unwrap_or_default();
    Ok(HttpResponse::Ok().json(Branding::from_row(row, id.as_str())))
}

/// Change the merchant's branding. Fields left out stay as they are; `null` clears one.
#[utoipa::path(put, path = "/api/gateway/branding", tag = "Branding",
    request_body(content = super::schemas::BrandingUpdateRequest, content_type = "application/json"),
    responses((status = 200, description = "The branding", body = Branding), (status = 400, description = "Invalid field", body = ErrorEnvelope)),
    security(("api_key" = [])))]
pub async fn put_branding_handler(
    state: web::Data<AppState>,
    auth: Authenticated,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body =
        read_json_object(&req, payload, state.settings.max_body_bytes.max(128 * 1024)).await?;
    let (update, issues) = parse_update(&state.catalogs, &body);
    if !issues.is_empty() {
        return Err(ApiError::validation(issues, Some("Send e.g. {\"brandColor\": \"#0b57d0\", \"buttonShape\": \"pill\", \"note\": \"Questions? hello@shop.example\"}.".into())));
    }
    let id = &auth.0.merchant_id;
    update_branding(&state.db, id, &update, now_ms()).await?;
    let row = get_branding(&state.db.read, id).await?.unwrap_or_default();
    tracing::info!(merchant.id = %id, "branding updated");
    Ok(HttpResponse::Ok().json(Branding::from_row(row, id.as_str())))
}

/// Parses the fields of a branding change, collecting every problem.
pub fn parse_update(catalogs: &Catalogs, body: &RawObject) -> (BrandingUpdate, Vec<FieldIssue>) {
    let mut issues = body.unknown_fields(FIELDS);
    let mut update = BrandingUpdate::default();
    let present = |name: &str| body.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.get());
    let text = |name: &str, issues: &mut Vec<FieldIssue>| -> Option<Option<String>> {
        let raw = present(name)?;
        if raw == "null" {
            return Some(None);
        }
        match serde_json::from_str::<String>(raw) {
            Ok(s) => Some(Some(s)),
            Err(_) => {
                issues.push(FieldIssue::new(name, "must be a string or null"));
                None
            }
        }
    };
    let check = |name: &str,
                 value: Option<Option<String>>,
                 issues: &mut Vec<FieldIssue>,
                 f: &dyn Fn(&str) -> Result<String, String>| {
        match value {
            Some(Some(s)) => match f(&s) {
                Ok(v) => Some(Some(v).filter(|v| !v.is_empty())),
                Err(m) => {
                    issues.push(FieldIssue::new(name, m));
                    None
                }
            },
            other => other,
        }
    };
    let name = text("displayName", &mut issues);
    update.display_name = check("displayName", name, &mut issues, &|s| {
        plain_text(s, MAX_NAME_CHARS)
    });
    let color = text("brandColor", &mut issues);
    update.brand_color = check("brandColor", color, &mut issues, &|s| {
        Color::parse(s).map(Color::hex).map_err(str::to_owned)
    });
    let shape = text("buttonShape", &mut issues);
    update.button_shape = check("buttonShape", shape, &mut issues, &|s| {
        ButtonShape::parse(s)
            .map(|b| b.as_str().to_owned())
            .map_err(str::to_owned)
    });
    let note = text("note", &mut issues);
    update.note = check("note", note, &mut issues, &|s| {
        plain_text(s, MAX_NOTE_CHARS)
    });
    let language = text("defaultLanguage", &mut issues);
    update.default_language = check("defaultLanguage", language, &mut issues, &|s| {
        catalogs
            .find(s)
            .map(|c| c.code.to_owned())
            .ok_or_else(|| format!("must be one of {}", catalogs.codes().join(", ")))
    });
    match text("logo", &mut issues) {
        Some(Some(url)) => match parse_logo_data_url(&url) {
            Ok(logo) => update.logo = Some(Some(logo)),
            Err(m) => issues.push(FieldIssue::new("logo", m)),
        },
        Some(None) => update.logo = Some(None),
        None => {}
    }
    (update, issues)
}
