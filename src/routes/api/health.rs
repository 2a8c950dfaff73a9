//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "The process is up", body = super::schemas::Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How long readiness may take: a probe that hangs is as bad as one that fails.
const READINESS_BUDGET: Duration = Duration::from_millis(900);

/// Readiness: the database answers, every migration is applied, and a write commits.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses(
        (status = 200, description = "Ready to serve", body = super::schemas::Readiness),
        (status = 503, description = "The database is unreachable, not migrated or cannot write", body = super::schemas::Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = &state.db;
    let check = async {
        let reachable = db.ping().await;
        let migrated = reachable && db.migrations_applied().await.unwrap_or(false);
        let writable = match migrated {
            true => match db.write_probe().await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(
                        error.cause = format!("{e:#}"),
                        "readiness: the database cannot write"
                    );
                    false
                }
            },
            false => false,
        };
        (reachable, migrated, writable)
    };
    let (reachable, migrated, writable, answered) =
        match tokio::time::timeout(READINESS_BUDGET, check).await {
            Ok((r, m, w)) => (r, m, w, true),
            Err(_) => (false, false, false, false),
        };
    let ready = reachable && migrated && writable;
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": match (answered, reachable) {
            (false, _) => "timed_out",
            (true, true) => "reachable",
            (true, false) => "unreachable",
        },
        "migrations": if migrated { "applied" } else if reachable { "pending" } else { "unknown" },
        "writes": if writable { "ok" } else if migrated { "failing" } else { "unknown" },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
            .json(body)
    }
}
