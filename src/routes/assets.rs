//! `GET /static/{name}`: the pages' CSS and script (see [`crate::assets`] for where they come
//! from and how their versions are computed).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /static/{name}`. Immutable for a year when `v` is the content's version, else
/// `no-cache`; always with an `ETag`, and 304 when `If-None-Match` has it.
pub async fn static_asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> HttpResponse {
    let Some(asset) = state.assets.current(&name) else {
        return HttpResponse::NotFound().finish();
    };
    let asked: Vec<(String, String)> =
        serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    let versioned = asked.iter().any(|(k, v)| k == "v" && *v == asset.version);
    let cache = if versioned { IMMUTABLE } else { "no-cache" };
    let etag = format!("W/\"{}\"", asset.version);
    let not_modified = req
        .headers()
        .get_all(IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag.trim_matches('"') == asset.version);
    let mut response = if not_modified {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((ETAG, etag))
        .insert_header((CACHE_CONTROL, cache));
    if not_modified {
        return response.finish();
    }
    response
        .insert_header((CONTENT_TYPE, asset.content_type))
        .body(asset.bytes.clone())
}
