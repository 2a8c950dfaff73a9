//! Building and running the server: pools, migrations, the App factory, background tasks.

use std::net::TcpListener;
use std::time::Duration;

use actix_http::{HttpService, KeepAlive};
use actix_service::{IntoServiceFactory, ServiceFactoryExt, fn_service, map_config};
use actix_web::dev::{AppConfig, Server};
use actix_web::middleware::from_fn;
use actix_web::rt::net::TcpStream;
use actix_web::{App, web};
use anyhow::Context;

use crate::config::Settings;
use crate::db::Db;
use crate::db::onchain::release_scanner;
use crate::http1::Connection;
use crate::lifecycle;
use crate::metrics::Metrics;
use crate::providers::onchain::rpc::RpcError;
use crate::routes;
use crate::state::{AppState, SharedSecrets};
use crate::telemetry::request_context;
use crate::webhooks;

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener (port 0 picks a
    /// free port, which tests use).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let db = Db::connect_with(
            &settings.database_url,
            settings.database_max_connections,
            Duration::from_millis(settings.database_acquire_timeout_ms),
        )
        .await?;
        db.migrate().await?;
        Self::build_with_db(settings, db).await
    }

    /// Builds on a database that is already migrated.
    pub async fn build_with_db(settings: Settings, db: Db) -> anyhow::Result<Application> {
        settings.validate()?;
        webhooks::secrets::reseal_all(&db, &settings.encryption).await?;
        let secrets = SharedSecrets::load(&db).await?;
        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let address = listener.local_addr().context("reading the bound address")?;
        let public_url = settings.public_url_for(&address.to_string());
        let state = web::Data::new(AppState::new(settings, db, secrets, public_url)?);
        for scanner in &state.scanners {
            lifecycle::onchain::check_chain(scanner).await?;
        }
        let server = http_server(listener, address, state.clone())?;
        Ok(Application {
            port: address.port(),
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    /// What handlers see; tests use it to drive background steps directly.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT/SIGTERM; in-flight requests get `shutdown_timeout_seconds` to
    /// finish, then background tasks stop and the pools close.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(run_expiry_sweeper(self.state.clone()));
        let reconciler = tokio::spawn(run_reconciler(self.state.clone()));
        let mailer = tokio::spawn(crate::routes::pages::run_email_worker(self.state.clone()));
        let scanners: Vec<_> = (0..self.state.scanners.len())
            .map(|i| tokio::spawn(run_scanner(self.state.clone(), i)))
            .collect();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let worker = tokio::spawn(webhooks::worker::run(self.state.webhook_worker(), stopped));
        let result = self.server.await.context("running the HTTP server");
        tracing::info!("HTTP server stopped; finishing webhook deliveries in hand");
        sweeper.abort();
        reconciler.abort();
        // An e-mail cut off mid-send keeps its lease until it runs out, then is sent again.
        mailer.abort();
        for scanner in &scanners {
            scanner.abort();
        }
        for scanner in &self.state.scanners {
            let released =
                release_scanner(&self.state.db.write, &scanner.key, &self.state.instance_id).await;
            if let Err(e) = released {
                tracing::warn!(
                    error.cause = format!("{e:#}"),
                    "releasing a chain scanner failed"
                );
            }
        }
        let _ = stop.send(true);
        let grace = Duration::from_secs(self.state.settings.webhook_timeout_seconds + 5);
        if tokio::time::timeout(grace, worker).await.is_err() {
            tracing::warn!("webhook deliveries did not finish in time; their leases will expire");
        }
        self.state.db.close().await;
        tracing::info!("shut down");
        result
    }
}

/// The HTTP/1 server on `listener`: what actix-web's `HttpServer` builds (its workers, signals,
/// graceful shutdown, keep-alive and time-outs), with each connection wrapped in a
/// [`Connection`] so that the HTTP layer's own refusals of API requests carry the error
/// envelope. `HttpServer` cannot wrap a connection, hence the pieces it is made of.
fn http_server(
    listener: TcpListener,
    address: std::net::SocketAddr,
    state: web::Data<AppState>,
) -> anyhow::Result<Server> {
    let settings = &state.settings;
    let metrics = web::Data::from(state.metrics.clone());
    let shutdown_timeout = settings.shutdown_timeout_seconds;
    let head_timeout = Duration::from_secs(settings.head_timeout_seconds);
    let server = Server::build()
        .shutdown_timeout(shutdown_timeout)
        .listen("openrails-checkout", listener, move || {
            let app = App::new()
                .app_data(state.clone())
                .app_data(metrics.clone())
                .wrap(from_fn(routes::head::head_as_get))
                .wrap(from_fn(request_context))
                .configure(routes::configure)
                .default_service(web::to(routes::not_found))
                .into_factory()
                .map_err(|e: actix_web::Error| e.error_response());
            // `HttpServer` passes the bound address as the host of requests without a `Host`
            // header; that constructor is private, so those see the default's `localhost:8080`.
            // Only HTTP/1.0 clients may leave `Host` out, and browsers (the one reader, the
            // checkout forms' same-origin check) always send it.
            let app = map_config(app, |()| AppConfig::default());
            let http = HttpService::build()
                .keep_alive(KeepAlive::default())
                .client_request_timeout(head_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .h1_allow_half_closed(true)
                .local_addr(address)
                .h1(app);
            fn_service(|io: TcpStream| {
                let peer = io.peer_addr().ok();
                std::future::ready(Ok((Connection::new(io), peer)))
            })
            .and_then(http)
        })
        .context("listening")?
        .run();
    Ok(server)
}

/// Moves sessions past `expiresAt` to `expired`. Every instance may run one: each change is
/// guarded by the status, so no session is expired twice.
async fn run_expiry_sweeper(state: web::Data<AppState>) {
    let mut tick =
        tokio::time::interval(Duration::from_secs(state.settings.sweep_interval_seconds));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = lifecycle::expire_due(state.lifecycle()).await {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "expiry sweep failed; will retry"
            );
        }
        // Declined cards older than the address limit's hour (and an hour's margin).
        let before = crate::domain::time::now_ms() - 2 * 3_600_000;
        if let Err(e) = crate::db::card_declines::forget_declines(&state.db.write, before).await {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "removing old declined cards failed; will retry"
            );
        }
    }
}

/// Asks providers about payments (and refunds) pending with them, and fails payments past the
/// time-out.
async fn run_reconciler(state: web::Data<AppState>) {
    let every = Duration::from_secs(state.settings.reconcile_interval_seconds.max(1) as u64);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = lifecycle::reconcile_once(state.lifecycle()).await {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "reconciliation failed; will retry"
            );
        }
        if let Err(e) = lifecycle::refunds::reconcile_refunds_once(state.lifecycle()).await {
            tracing::warn!(
                error.cause = format!("{e:#}"),
                "asking providers about pending refunds failed; will retry"
            );
        }
    }
}

/// Runs chain scanner `index` for as long as the server runs: a step every poll interval (at
/// once while catching up), only while this instance holds its lease; failures back off,
/// doubling up to a minute, and never stop it.
async fn run_scanner(state: web::Data<AppState>, index: usize) {
    let scanner = &state.scanners[index];
    let mut failures = 0u32;
    let mut calls = scanner.rpc.calls();
    loop {
        let step = lifecycle::onchain::scan_once(
            state.lifecycle(),
            scanner,
            &state.instance_id,
            crate::domain::time::now_ms(),
        )
        .await;
        let made = scanner.rpc.calls();
        Metrics::add(&state.metrics.onchain_rpc_calls, made - calls);
        let called = made > calls;
        calls = made;
        // The chain's node is the onchain provider's one counterpart: readiness watches it.
        let health = &state.providers.health;
        let now = crate::domain::time::now_ms();
        let pause = match step {
            Ok(report) => {
                if called {
                    health.record("onchain", true, now);
                }
                failures = 0;
                if report.leader && !report.caught_up {
                    Duration::ZERO
                } else {
                    scanner.poll_interval
                }
            }
            Err(e) => {
                if e.downcast_ref::<RpcError>().is_some() {
                    health.record("onchain", false, now);
                }
                failures += 1;
                Metrics::add(&state.metrics.onchain_scan_failures, 1);
                let rate_limited = e
                    .downcast_ref::<RpcError>()
                    .is_some_and(RpcError::is_rate_limited);
                let pause =
                    lifecycle::onchain::backoff(scanner.poll_interval, failures, rate_limited);
                tracing::warn!(scanner = %scanner.key, error.cause = format!("{e:#}"), failures, retry_in_ms = pause.as_millis() as u64, "a chain scan failed; will retry");
                pause
            }
        };
        tokio::time::sleep(pause).await;
    }
}
