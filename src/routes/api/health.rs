//! Liveness and readiness probes.

use std::time::Duration;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db::metrics::webhook_backlog_ms;
use crate::domain::time::now_ms;
use crate::providers::health::Calls;
use crate::state::AppState;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "Operations",
    responses((status = 200, description = "The process is up", body = super::schemas::Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// How long readiness may take: a probe that hangs is as bad as one that fails.
const READINESS_BUDGET: Duration = Duration::from_millis(900);

/// What stands in the way of serving well, beyond the database itself: the webhook backlog and
/// the providers. Shared by `/readyz` and `/metrics`.
pub struct Pressure {
    /// How long the oldest due webhook delivery has waited (ms); `None` when it could not be
    /// read.
    pub webhook_backlog_ms: Option<i64>,
    /// Each provider this instance called, with how long every call to it has failed (ms; 0
    /// while its last call was answered).
    pub providers: Vec<(String, Calls, i64)>,
}

impl Pressure {
    /// The figures now.
    pub async fn read(state: &AppState) -> Pressure {
        let now = now_ms();
        let webhook_backlog_ms = match webhook_backlog_ms(&state.db.read, now).await {
            Ok(ms) => Some(ms),
            Err(e) => {
                tracing::warn!(
                    error.cause = format!("{e:#}"),
                    "reading the webhook backlog failed"
                );
                None
            }
        };
        let providers = state
            .providers
            .health
            .snapshot()
            .into_iter()
            .map(|(id, calls)| {
                let failing = calls.failing_since.map_or(0, |since| (now - since).max(0));
                (id, calls, failing)
            })
            .collect();
        Pressure {
            webhook_backlog_ms,
            providers,
        }
    }
}

/// Readiness: the database answers, every migration is applied, a write commits, no due
/// webhook delivery has waited longer than `ready_webhook_backlog_seconds`, and no provider
/// has failed every call for `ready_provider_failing_seconds`.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses(
        (status = 200, description = "Ready to serve", body = super::schemas::Readiness),
        (status = 503, description = "Not ready: `reasons` says why (the database is unreachable, not migrated or cannot write; the webhook backlog is too old; a provider fails every call)", body = super::schemas::Readiness),
    ))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = &state.db;
    let settings = &state.settings;
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
        let pressure = match migrated {
            true => Some(Pressure::read(&state).await),
            false => None,
        };
        (reachable, migrated, writable, pressure)
    };
    let (reachable, migrated, writable, pressure, answered) =
        match tokio::time::timeout(READINESS_BUDGET, check).await {
            Ok((r, m, w, p)) => (r, m, w, p, true),
            Err(_) => (false, false, false, None, false),
        };
    let mut reasons: Vec<String> = Vec::new();
    if !answered {
        reasons.push("the database did not answer within a second".into());
    } else if !reachable {
        reasons.push("the database is unreachable".into());
    } else if !migrated {
        reasons.push("migrations are missing: run `openrails-checkout migrate`".into());
    } else if !writable {
        reasons.push("the database cannot write".into());
    }
    let backlog_ms = pressure.as_ref().and_then(|p| p.webhook_backlog_ms);
    let backlog_limit_ms = settings.ready_webhook_backlog_seconds * 1000;
    let backlog_late = backlog_ms.is_some_and(|ms| ms > backlog_limit_ms);
    if backlog_late {
        reasons.push(format!(
            "a due webhook delivery has waited {} s, more than ready_webhook_backlog_seconds ({})",
            backlog_ms.unwrap_or_default() / 1000,
            settings.ready_webhook_backlog_seconds
        ));
    }
    let failing_limit_ms = settings.ready_provider_failing_seconds * 1000;
    let mut providers = serde_json::Map::new();
    for (id, calls, failing_ms) in pressure.iter().flat_map(|p| &p.providers) {
        let failing = *failing_ms > failing_limit_ms;
        if failing {
            reasons.push(format!(
                "every call to provider {id} has failed for {} s, more than ready_provider_failing_seconds ({})",
                failing_ms / 1000,
                settings.ready_provider_failing_seconds
            ));
        }
        providers.insert(
            id.clone(),
            json!({
                "status": if failing { "failing" } else { "ok" },
                "failingSeconds": failing_ms / 1000,
                "answered": calls.answered,
                "failed": calls.failed,
            }),
        );
    }
    let ready = reasons.is_empty();
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "database": match (answered, reachable) {
            (false, _) => "timed_out",
            (true, true) => "reachable",
            (true, false) => "unreachable",
        },
        "migrations": if migrated { "applied" } else if reachable { "pending" } else { "unknown" },
        "writes": if writable { "ok" } else if migrated { "failing" } else { "unknown" },
        "webhooks": match backlog_ms {
            None => "unknown",
            Some(_) if backlog_late => "behind",
            Some(_) => "ok",
        },
        "webhookBacklogSeconds": backlog_ms.map(|ms| ms / 1000),
        "providers": providers,
        "reasons": reasons,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, "5"))
            .json(body)
    }
}
