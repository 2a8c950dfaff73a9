//! The pages' CSS and script. Served from `static_dir` when that folder exists, so a designer's
//! edit shows on the next reload; otherwise from the copies built into the binary, so one
//! binary is enough to run the product.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::startup::AppState;

/// (name, content type, built-in content)
const EMBEDDED: &[(&str, &str, &str)] = &[
    (
        "checkout.css",
        "text/css; charset=utf-8",
        include_str!("../../static/checkout.css"),
    ),
    (
        "checkout.js",
        "text/javascript; charset=utf-8",
        include_str!("../../static/checkout.js"),
    ),
];

/// The bytes of a static asset: from disk when `static_dir` exists, else built in.
pub fn asset_bytes(static_dir: &str, name: &str) -> Option<Vec<u8>> {
    let dir = std::path::Path::new(static_dir);
    if dir.is_dir() {
        return std::fs::read(dir.join(name)).ok();
    }
    EMBEDDED
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, _, content)| content.as_bytes().to_vec())
}

/// `GET /static/{name}`. Versioned URLs (`?v=`) may be cached for a year; others not at all.
pub async fn static_asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    let Some((_, content_type, _)) = EMBEDDED.iter().find(|(n, _, _)| *n == name.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let Some(bytes) = asset_bytes(&state.settings.static_dir, &name) else {
        return HttpResponse::NotFound().finish();
    };
    let cache = if req.query_string().starts_with("v=")
        && state.settings.mode == crate::config::Mode::Production
    {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = HttpResponse::Ok().body(bytes);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
