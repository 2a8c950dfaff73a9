//! Liveness and readiness probes.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::startup::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "The process is up", body = super::schemas::Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Readiness: the database answers and every migration is applied.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses(
        (status = 200, description = "Ready to serve", body = super::schemas::Readiness),
        (status = 503, description = "The database is unreachable or not migrated", body = super::schemas::Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let reachable = state.db.ping().await;
    let migrated = reachable && state.db.migrations_applied().await.unwrap_or(false);
    let body = json!({
        "status": if migrated { "ready" } else { "unavailable" },
        "database": if reachable { "reachable" } else { "unreachable" },
        "migrations": if migrated { "applied" } else { "pending" },
    });
    if migrated {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}
