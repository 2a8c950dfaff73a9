//! `GET /metrics`: this instance's counters in the Prometheus text format, plus a few gauges
//! read from the database at scrape time (shared by all instances).

use std::fmt::Write;

use actix_web::{HttpResponse, web};

use super::health::Pressure;
use crate::db::metrics::{
    count_failed_deliveries, count_payments_at_provider, count_pending_deliveries,
};
use crate::db::onchain::{ScannerRow, list_scanners};
use crate::metrics::Metrics;
use crate::state::AppState;

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "Operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let m = &state.metrics;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP openrails_http_responses_total HTTP responses of this instance, by status class."
    );
    let _ = writeln!(out, "# TYPE openrails_http_responses_total counter");
    for (class, count) in m.responses() {
        let _ = writeln!(
            out,
            "openrails_http_responses_total{{class=\"{class}\"}} {count}"
        );
    }
    let counters = [
        (
            "openrails_sessions_created_total",
            "Checkout sessions created by this instance.",
            &m.sessions_created,
        ),
        (
            "openrails_webhook_attempts_succeeded_total",
            "Webhook attempts answered with 2xx, by this instance.",
            &m.webhook_attempts_succeeded,
        ),
        (
            "openrails_webhook_attempts_failed_total",
            "Webhook attempts that failed, by this instance.",
            &m.webhook_attempts_failed,
        ),
        (
            "openrails_onchain_rpc_calls_total",
            "JSON-RPC calls this instance's chain scanners made.",
            &m.onchain_rpc_calls,
        ),
        (
            "openrails_onchain_scan_failures_total",
            "Chain scan steps of this instance that failed and were retried.",
            &m.onchain_scan_failures,
        ),
        (
            "openrails_provider_amount_mismatches_total",
            "Provider answers that named another amount or currency than the payment asked (nothing applied), by this instance.",
            &m.provider_amount_mismatches,
        ),
        (
            "openrails_api_rate_limited_total",
            "API requests refused with 429 because their key was over its rate, by this instance.",
            &m.api_rate_limited,
        ),
        (
            "openrails_card_attempts_refused_session_total",
            "Card payments refused because the session had card_attempts_per_session declined cards, by this instance.",
            &m.cards_refused_session,
        ),
        (
            "openrails_card_attempts_refused_address_total",
            "Card payments refused because the client address had card_attempts_per_address_per_hour declined cards in the last hour, by this instance.",
            &m.cards_refused_address,
        ),
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            Metrics::get(value)
        );
    }
    // Shared state, from the database.
    let db = &state.db.read;
    let gauges = [
        (
            "openrails_webhook_deliveries_pending",
            "Webhook deliveries waiting to be sent (all instances).",
            count_pending_deliveries(db).await,
        ),
        (
            "openrails_webhook_deliveries_failed",
            "Webhook deliveries given up on (all instances).",
            count_failed_deliveries(db).await,
        ),
        (
            "openrails_payments_at_provider",
            "Payments pending at a provider (all instances).",
            count_payments_at_provider(db).await,
        ),
    ];
    let mut database_up = 1;
    for (name, help, value) in gauges {
        match value {
            Ok(value) => {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
            Err(e) => {
                database_up = 0;
                tracing::warn!(
                    error.cause = format!("{e:#}"),
                    metric = name,
                    "reading a metric failed"
                );
            }
        }
    }
    // The figures `/readyz` judges by.
    let pressure = Pressure::read(&state).await;
    match pressure.webhook_backlog_ms {
        Some(ms) => {
            let _ = writeln!(
                out,
                "# HELP openrails_webhook_backlog_seconds How long the oldest due webhook delivery has waited (all instances).\n# TYPE openrails_webhook_backlog_seconds gauge\nopenrails_webhook_backlog_seconds {}",
                ms as f64 / 1000.0
            );
        }
        None => database_up = 0,
    }
    if !pressure.providers.is_empty() {
        let _ = writeln!(
            out,
            "# HELP openrails_provider_calls_total Calls this instance made to each provider, answered or failed.\n# TYPE openrails_provider_calls_total counter"
        );
        for (id, calls, _) in &pressure.providers {
            let _ = writeln!(
                out,
                "openrails_provider_calls_total{{provider=\"{id}\",outcome=\"answered\"}} {}\nopenrails_provider_calls_total{{provider=\"{id}\",outcome=\"failed\"}} {}",
                calls.answered, calls.failed
            );
        }
        let _ = writeln!(
            out,
            "# HELP openrails_provider_failing_seconds How long every call this instance made to each provider has failed (0 while the last was answered).\n# TYPE openrails_provider_failing_seconds gauge"
        );
        for (id, _, failing_ms) in &pressure.providers {
            let _ = writeln!(
                out,
                "openrails_provider_failing_seconds{{provider=\"{id}\"}} {}",
                *failing_ms as f64 / 1000.0
            );
        }
    }
    match list_scanners(db).await {
        Ok(scanners) if !scanners.is_empty() => write_scanners(&mut out, &scanners),
        Ok(_) => {}
        Err(e) => {
            database_up = 0;
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "reading the chain scanners failed"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP openrails_database_up Whether the database answered the scrape.\n# TYPE openrails_database_up gauge\nopenrails_database_up {database_up}"
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

/// A scanner's series: name, type, help, and its value for one scanner.
type Series = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ScannerRow) -> Option<u64>,
);

/// The chain scanners' gauges and counters (shared by all instances), one series per scanner.
fn write_scanners(out: &mut String, scanners: &[ScannerRow]) {
    let series: [Series; 5] = [
        (
            "openrails_onchain_head_block",
            "gauge",
            "The chain's head as its scanner last saw it.",
            |s| s.head,
        ),
        (
            "openrails_onchain_scanned_block",
            "gauge",
            "The last block the scanner scanned.",
            |s| s.cursor.as_ref().map(|c| c.0),
        ),
        (
            "openrails_onchain_lag_blocks",
            "gauge",
            "Blocks between the head and the last block scanned.",
            |s| Some(s.head?.saturating_sub(s.cursor.as_ref()?.0)),
        ),
        (
            "openrails_onchain_reorgs_total",
            "counter",
            "Reorganisations the scanner found.",
            |s| Some(s.reorgs),
        ),
        (
            "openrails_onchain_reorgs_after_paid_total",
            "counter",
            "Transfers of paid payments that a reorganisation removed.",
            |s| Some(s.reorgs_after_paid),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for scanner in scanners {
            if let Some(v) = value(scanner) {
                let _ = writeln!(out, "{name}{{scanner=\"{}\"}} {v}", scanner.scanner);
            }
        }
    }
}
