//! Logging and the per-request context. Each request gets an id (`req_…`) that is on every log
//! line it causes, in the `X-Request-Id` response header and in every error body.
//!
//! Never log card numbers, CVCs, API keys, webhook secrets or raw bodies: log ids instead.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::Mode;
use crate::domain::ids::random_token;
use crate::metrics::Metrics;
use crate::rate_limit::Verdict;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served, or `req_unknown` outside one.
pub fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| "req_unknown".to_owned())
}

/// `req_` + a random prefix drawn once per process + a counter: unique across instances and
/// restarts without a system call per request.
pub fn next_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let prefix = PREFIX.get_or_init(|| random_token(10).unwrap_or_else(|_| "0000000000".into()));
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("req_{prefix}{n:010x}")
}

/// Installs the global subscriber: readable in development, JSON lines in production.
/// `RUST_LOG` overrides the default level (`info`).
pub fn init_tracing(mode: Mode) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,actix_server=warn"));
    // The HTTP layer logs a client's malformed or oversized request at ERROR; it is the
    // client's mistake, so it is told again at INFO (`ClientProtocolErrors`) instead.
    let filter = match "actix_http::h1=off".parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let fmt = match mode {
        Mode::Development => tracing_subscriber::fmt::layer()
            .with_target(false)
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        Mode::Production => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    };
    let protocol_errors = ClientProtocolErrors.with_filter(
        tracing_subscriber::filter::Targets::new()
            .with_target("actix_http::h1", tracing::Level::WARN),
    );
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(protocol_errors)
        .try_init();
}

/// Re-tells the HTTP layer's complaints about a connection (a malformed request, a head too
/// large, a stream cut off) at INFO under our own target: client mistakes are not server
/// faults, and an operator paging on ERROR must not be woken by them.
struct ClientProtocolErrors;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ClientProtocolErrors {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        let cause = message.0;
        tracing::info!(
            target: "openrails_checkout::http",
            { error.cause = %cause },
            "refused a malformed or broken HTTP request"
        );
    }
}

/// Middleware: request id, span, access log line and the headers every response carries.
pub async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = next_request_id();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %req.method(),
        path = %req.path(),
        merchant.id = tracing::field::Empty,
    );
    let started = Instant::now();
    let mut res = REQUEST_ID
        .scope(request_id.clone(), next.call(req).instrument(span.clone()))
        .await?;
    let status = res.status().as_u16();
    if let Some(metrics) = res.request().app_data::<actix_web::web::Data<Metrics>>() {
        metrics.count_response(status);
    }
    span.in_scope(|| {
        tracing::info!(
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "served"
        );
    });
    let limit = res.request().extensions().get::<Verdict>().copied();
    let headers = res.headers_mut();
    if let Some(v) = limit {
        for (name, value) in [
            ("ratelimit-limit", u64::from(v.limit)),
            ("ratelimit-remaining", u64::from(v.remaining)),
            ("ratelimit-reset", v.reset_seconds),
        ] {
            headers.insert(
                header::HeaderName::from_static(name),
                HeaderValue::from(value),
            );
        }
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(header::HeaderName::from_static("x-request-id"), value);
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}
