//! A merchant's branding on the pages: what the merchant set, else the config file's
//! `[branding]`. Colours and shapes arrive as a small stylesheet of their own (the pages allow
//! no inline style), the logo from our own host (the pages request nothing from elsewhere).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpResponse, web};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::db::merchants::{get_branding, get_logo};
use crate::domain::MerchantId;
use crate::domain::branding::MerchantBranding;
use crate::domain::branding::{ButtonShape, Color, check_logo, logo_type_for_path};
use crate::state::AppState;

/// The branding a page shows.
#[derive(Debug, Clone, Default)]
pub struct Brand {
    pub display_name: Option<String>,
    pub color: Option<Color>,
    pub shape: Option<ButtonShape>,
    pub has_logo: bool,
    pub note: Option<String>,
    pub default_language: Option<String>,
    /// Changes whenever the branding does, for cache-busting URLs.
    version: String,
}

impl Brand {
    /// Branding from stored settings alone (no config defaults).
    pub fn from_row(row: &MerchantBranding) -> Brand {
        Self::merge(row, &crate::config::BrandingDefaults::default())
    }

    /// The merchant's own settings, each falling back to the config file's.
    pub fn resolve(state: &AppState, row: &MerchantBranding) -> Brand {
        Self::merge(row, &state.settings.branding)
    }

    fn merge(row: &MerchantBranding, defaults: &crate::config::BrandingDefaults) -> Brand {
        let pick = |own: &Option<String>, default: &Option<String>| {
            own.clone()
                .or_else(|| default.clone())
                .filter(|s| !s.is_empty())
        };
        let color =
            pick(&row.brand_color, &defaults.brand_color).and_then(|c| Color::parse(&c).ok());
        let shape = pick(&row.button_shape, &defaults.button_shape)
            .and_then(|s| ButtonShape::parse(&s).ok());
        let has_logo = row.logo_type.is_some() || defaults.logo_path.is_some();
        // Only branded pages link the stylesheet or logo, so only they need a version.
        let version = if color.is_some() || shape.is_some() || has_logo {
            let fingerprint = format!(
                "{:?}{:?}{:?}{}",
                color,
                shape,
                row.branding_updated_at,
                defaults.logo_path.as_deref().unwrap_or_default()
            );
            let digest = Sha256::digest(fingerprint.as_bytes());
            const_hex::encode(&digest[..5])
        } else {
            String::new()
        };
        Brand {
            display_name: pick(&row.display_name, &defaults.display_name),
            color,
            shape,
            has_logo,
            note: pick(&row.note, &defaults.note),
            default_language: pick(&row.default_language, &defaults.default_language),
            version,
        }
    }

    pub fn css_href(&self, merchant_id: &str) -> Option<String> {
        (self.color.is_some() || self.shape.is_some())
            .then(|| format!("/brand/{merchant_id}/style.css?v={}", self.version))
    }

    pub fn logo_href(&self, merchant_id: &str) -> Option<String> {
        self.has_logo
            .then(|| format!("/brand/{merchant_id}/logo?v={}", self.version))
    }

    /// The custom properties the main stylesheet reads for buttons.
    pub fn stylesheet(&self) -> String {
        let mut css = String::from("/* Merchant branding. */\n:root {\n");
        // The surfaces of static/checkout.css, light and dark.
        let light = Color {
            r: 0xff,
            g: 0xff,
            b: 0xff,
        };
        let dark = Color {
            r: 0x1a,
            g: 0x1f,
            b: 0x26,
        };
        if let Some(color) = self.color {
            css.push_str(&format!(
                "  --color-brand: {};\n  --color-brand-text: {};\n  --color-brand-ink: {};\n",
                color.hex(),
                color.text_color().hex(),
                color.ink_on(light).hex()
            ));
        }
        if let Some(shape) = self.shape {
            css.push_str(&format!("  --radius-button: {};\n", shape.radius()));
        }
        css.push_str("}\n");
        if let Some(color) = self.color {
            css.push_str(&format!(
                "@media (prefers-color-scheme: dark) {{\n  :root {{ --color-brand-ink: {}; }}\n}}\n",
                color.ink_on(dark).hex()
            ));
        }
        css
    }
}

async fn brand_of(state: &AppState, merchant_id: &str) -> anyhow::Result<Option<Brand>> {
    let Some(id) = MerchantId::parse(merchant_id) else {
        return Ok(None);
    };
    Ok(get_branding(&state.db.read, &id)
        .await?
        .map(|row| Brand::resolve(state, &row)))
}

/// `GET /brand/{merchant}/style.css`.
pub async fn brand_stylesheet(
    state: web::Data<AppState>,
    merchant: web::Path<String>,
) -> HttpResponse {
    match brand_of(&state, &merchant).await {
        Ok(Some(brand)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "text/css; charset=utf-8"))
            .insert_header((CACHE_CONTROL, "public, max-age=86400"))
            .body(brand.stylesheet()),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::error!(error.cause = format!("{e:#}"), "reading branding failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// `GET /brand/{merchant}/logo`: the merchant's logo, or the config file's. Sent with a
/// sandboxing policy, so an SVG opened directly cannot run script on this host.
pub async fn brand_logo(state: web::Data<AppState>, merchant: web::Path<String>) -> HttpResponse {
    let found = async {
        let Some(id) = MerchantId::parse(&merchant) else {
            return anyhow::Ok(None);
        };
        if let Some((kind, data)) = get_logo(&state.db.read, &id).await? {
            let bytes = base64::engine::general_purpose::STANDARD.decode(data)?;
            return Ok(Some((kind, bytes)));
        }
        match &state.settings.branding.logo_path {
            Some(path) => Ok(Some((
                logo_type_for_path(path)
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
                std::fs::read(path)?,
            ))),
            None => Ok(None),
        }
    };
    // Checked again here: a logo stored before SVGs were checked, or a file edited since the
    // start, is not served.
    let found = async {
        anyhow::Ok(match found.await? {
            Some((kind, bytes)) => match check_logo(&kind, &bytes) {
                Ok(()) => Some((kind, bytes)),
                Err(reason) => {
                    tracing::warn!(merchant.id = %merchant, reason, "logo not served");
                    None
                }
            },
            None => None,
        })
    };
    match found.await {
        Ok(Some((kind, bytes))) => {
            let mut response = HttpResponse::Ok().body(bytes);
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(&kind) {
                headers.insert(CONTENT_TYPE, value);
            }
            headers.insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            );
            headers.insert(
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            );
            response
        }
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => {
            tracing::error!(error.cause = format!("{e:#}"), "reading a logo failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}
