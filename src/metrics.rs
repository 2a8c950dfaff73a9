//! `GET /metrics`: counters of this instance in the Prometheus text format, plus a few gauges
//! read from the database at scrape time (shared by all instances).

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use actix_web::{HttpResponse, web};

use crate::startup::AppState;

/// What this instance counts.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HTTP responses by status class: 2xx, 3xx, 4xx, 5xx.
    responses: [AtomicU64; 4],
    pub sessions_created: AtomicU64,
    pub webhook_attempts_succeeded: AtomicU64,
    pub webhook_attempts_failed: AtomicU64,
}

impl Metrics {
    pub fn count_response(&self, status: u16) {
        if let Some(slot) = (status / 100)
            .checked_sub(2)
            .and_then(|i| self.responses.get(usize::from(i)))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

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
    for (i, class) in ["2xx", "3xx", "4xx", "5xx"].iter().enumerate() {
        let _ = writeln!(
            out,
            "openrails_http_responses_total{{class=\"{class}\"}} {}",
            m.responses[i].load(Ordering::Relaxed)
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
    ];
    for (name, help, value) in counters {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            value.load(Ordering::Relaxed)
        );
    }
    // Shared state, from the database.
    let gauges: [(&str, &str, &str); 3] = [
        (
            "openrails_webhook_deliveries_pending",
            "Webhook deliveries waiting to be sent (all instances).",
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'",
        ),
        (
            "openrails_webhook_deliveries_failed",
            "Webhook deliveries given up on (all instances).",
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'failed'",
        ),
        (
            "openrails_payments_at_provider",
            "Payments pending at a provider (all instances).",
            "SELECT COUNT(*) FROM payments WHERE provider_state IN ('in_flight', 'challenge')",
        ),
    ];
    let mut database_up = 1;
    for (name, help, sql) in gauges {
        match sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&state.db.read)
            .await
        {
            Ok(value) => {
                let _ = writeln!(
                    out,
                    "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
                );
            }
            Err(e) => {
                database_up = 0;
                tracing::warn!(error = %e, metric = name, "reading a metric failed");
            }
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
