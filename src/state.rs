//! What the request handlers can reach: [`AppState`], built by one constructor for the
//! server, the command line and the offline preview. Background work does not take the whole
//! state: the webhook worker gets a [`WorkerContext`] of its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::assets::StaticAssets;
use crate::config::Settings;
use crate::db::Db;
use crate::db::installation::shared_secret;
use crate::db::onchain::{
    get_scanner, get_watch, next_pool_index, reserve_watch, reuse_pool_address, transfers_of,
};
use crate::db::sandbox_ledger::{find_decision, record_decision};
use crate::db::session_writer::SessionWriter;
use crate::domain::PaymentId;
use crate::domain::ids::random_token;
use crate::domain::onchain::{Transfer, Watch};
use crate::domain::sandbox::LedgerEntry;
use crate::domain::stripe::StripeTarget;
use crate::domain::time::now_ms;
use crate::i18n::Catalogs;
use crate::lifecycle::Lifecycle;
use crate::lifecycle::onchain::{Scanner, scanners};
use crate::metrics::Metrics;
use crate::providers::Providers;
use crate::providers::onchain::{OnchainProvider, RouteTarget, WatchBook};
use crate::providers::sandbox::{Ledger, SandboxProvider};
use crate::providers::stripe::StripeProvider;
use crate::rate_limit::KeyLimiter;
use crate::webhooks::client::{EndpointRules, WebhookClients};
use crate::webhooks::worker::WorkerContext;
use futures_util::future::BoxFuture;

/// What every handler can reach.
pub struct AppState {
    pub settings: Arc<Settings>,
    /// Base of `checkoutUrl`, without a trailing slash.
    pub public_url: String,
    pub db: Db,
    /// Group-commit writer for new sessions.
    pub session_writer: SessionWriter,
    /// The pages' CSS and script, with the content-versioned URLs pages link to.
    pub assets: StaticAssets,
    /// The payment providers the routes use.
    pub providers: Providers,
    /// The pages' texts, one catalog per language.
    pub catalogs: Catalogs,
    /// Signs the checkout pages' form tokens; shared by all instances.
    pub form_secret: Vec<u8>,
    /// Derives receipt links; shared by all instances, so every one serves every receipt.
    pub receipt_secret: Vec<u8>,
    /// The HTTP clients that deliver webhooks.
    pub webhook_clients: WebhookClients,
    /// Wakes this instance's webhook worker when an event is recorded.
    pub webhook_wakeup: Arc<Notify>,
    /// This instance's counters, for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The chain scanners of the `onchain` routes.
    pub scanners: Vec<Scanner>,
    /// This instance's name in leases it holds.
    pub instance_id: String,
    /// How fast each API key may call this instance.
    pub api_limiter: KeyLimiter,
    /// The SMTP server receipt e-mails go through; `None` keeps them unsent.
    pub mailer: Option<Arc<crate::emails::smtp::Mailer>>,
}

/// The secrets every instance of one installation shares (through the database).
pub struct SharedSecrets {
    /// Signs the checkout pages' form tokens.
    pub forms: Vec<u8>,
    /// Signs the sandbox provider's callbacks.
    pub sandbox_callbacks: Vec<u8>,
    /// Derives each paid payment's receipt link.
    pub receipts: Vec<u8>,
}

impl SharedSecrets {
    /// The installation's secrets, created by the first instance that asks.
    pub async fn load(db: &Db) -> anyhow::Result<SharedSecrets> {
        Ok(SharedSecrets {
            forms: shared_secret(db, "forms").await?,
            sandbox_callbacks: shared_secret(db, "sandbox_callbacks").await?,
            receipts: shared_secret(db, "receipts").await?,
        })
    }

    /// Fresh random secrets, for work that has no database (the offline preview).
    pub fn random() -> anyhow::Result<SharedSecrets> {
        let random = || random_token(43).map(String::into_bytes);
        Ok(SharedSecrets {
            forms: random()?,
            sandbox_callbacks: random()?,
            receipts: random()?,
        })
    }
}

impl AppState {
    /// The state over `db`; `public_url` is the base of `checkoutUrl`. Starts the session
    /// writer's task, so it must run inside the Tokio runtime.
    pub fn new(
        settings: Settings,
        db: Db,
        secrets: SharedSecrets,
        public_url: String,
    ) -> anyhow::Result<AppState> {
        let mut providers = Providers::with_sandbox(SandboxProvider::new(
            Box::new(DatabaseLedger(db.clone())),
            secrets.sandbox_callbacks.clone(),
            settings.sandbox_delay_seconds * 1000,
            settings.reconcile_interval_seconds * 1000,
        ))
        .with_sandbox_redirect(SandboxProvider::hosted(
            Box::new(DatabaseLedger(db.clone())),
            secrets.sandbox_callbacks,
            settings.reconcile_interval_seconds * 1000,
            &public_url,
        ));
        let onchain = onchain_routes(&settings)?;
        if !onchain.is_empty() {
            providers = providers.with(Arc::new(OnchainProvider::new(
                onchain,
                Box::new(DatabaseWatchBook(db.clone())),
                settings.late_payment_horizon_seconds * 1000,
                settings.reconcile_interval_seconds * 1000,
            )));
        }
        let stripe: HashMap<String, StripeTarget> = settings
            .stripe_routes()?
            .into_iter()
            .map(|(route, target)| (route.id.clone(), target))
            .collect();
        if !stripe.is_empty() {
            providers = providers.with(Arc::new(StripeProvider::new(
                stripe,
                settings.reconcile_interval_seconds * 1000,
            )?));
        }
        let scanners = scanners(&settings)?;
        let mailer = match settings.smtp_target()? {
            Some(target) => Some(Arc::new(crate::emails::smtp::Mailer::new(
                &target,
                &settings.smtp_from,
                Duration::from_secs(settings.smtp_timeout_seconds),
            )?)),
            None => None,
        };
        Ok(AppState {
            mailer,
            scanners,
            instance_id: format!("instance_{}", random_token(16)?),
            session_writer: SessionWriter::start(db.clone()),
            assets: StaticAssets::new(&settings.static_dir),
            providers,
            catalogs: Catalogs::load(&settings.locales_dir)?,
            form_secret: secrets.forms,
            receipt_secret: secrets.receipts,
            webhook_clients: WebhookClients::new(
                Duration::from_secs(settings.webhook_timeout_seconds),
                EndpointRules::from_settings(&settings),
            )?,
            webhook_wakeup: Arc::new(Notify::new()),
            metrics: Arc::new(Metrics::default()),
            api_limiter: KeyLimiter::new(settings.api_rate_per_second, settings.api_rate_burst),
            public_url,
            db,
            settings: Arc::new(settings),
        })
    }

    /// A state for rendering pages from fixtures, with no database behind it and random
    /// secrets: what `preview export` and the gallery's tests use.
    pub fn offline(settings: Settings) -> anyhow::Result<AppState> {
        AppState::new(
            settings,
            Db::unconnected()?,
            SharedSecrets::random()?,
            String::new(),
        )
    }

    /// What the use cases of `lifecycle` work with.
    pub fn lifecycle(&self) -> Lifecycle<'_> {
        Lifecycle {
            db: &self.db,
            settings: &self.settings,
            providers: &self.providers,
            sessions: &self.session_writer,
            wakeup: &self.webhook_wakeup,
            metrics: &self.metrics,
            public_url: &self.public_url,
        }
    }

    /// What this instance's webhook worker works with.
    pub fn webhook_worker(&self) -> WorkerContext {
        WorkerContext {
            db: self.db.clone(),
            settings: self.settings.clone(),
            clients: self.webhook_clients.clone(),
            metrics: self.metrics.clone(),
            wakeup: self.webhook_wakeup.clone(),
        }
    }
}

/// The configured `onchain` routes by id, checked.
pub fn onchain_routes(settings: &Settings) -> anyhow::Result<HashMap<String, RouteTarget>> {
    let mut routes = HashMap::new();
    for (route, target) in settings.onchain_routes()? {
        let window_seconds = route
            .provider_timeout_seconds
            .unwrap_or(settings.provider_timeout_seconds);
        routes.insert(
            route.id.clone(),
            RouteTarget {
                target,
                window_ms: window_seconds * 1000,
            },
        );
    }
    Ok(routes)
}

/// The `onchain` provider's records, in our own database (`onchain_*`).
struct DatabaseWatchBook(Db);

impl WatchBook for DatabaseWatchBook {
    fn find<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, anyhow::Result<Option<Watch>>> {
        Box::pin(get_watch(&self.0.write, payment_id))
    }

    fn reserve<'a>(&'a self, watch: &'a Watch) -> BoxFuture<'a, anyhow::Result<bool>> {
        Box::pin(reserve_watch(&self.0.write, watch, now_ms()))
    }

    fn reuse<'a>(
        &'a self,
        watch: &'a Watch,
        pool: &'a str,
    ) -> BoxFuture<'a, anyhow::Result<Option<Watch>>> {
        Box::pin(reuse_pool_address(&self.0, watch, pool, now_ms()))
    }

    fn next_index<'a>(&'a self, pool: &'a str) -> BoxFuture<'a, anyhow::Result<u32>> {
        Box::pin(next_pool_index(&self.0, pool))
    }

    fn head<'a>(&'a self, scanner: &'a str) -> BoxFuture<'a, anyhow::Result<Option<u64>>> {
        Box::pin(async move {
            Ok(get_scanner(&self.0.read, scanner)
                .await?
                .and_then(|s| s.head))
        })
    }

    fn transfers<'a>(
        &'a self,
        payment_id: &'a PaymentId,
    ) -> BoxFuture<'a, anyhow::Result<Vec<Transfer>>> {
        Box::pin(transfers_of(&self.0.read, payment_id))
    }
}

/// The sandbox provider's books, kept in our own database (`sandbox_ledger`).
struct DatabaseLedger(Db);

impl Ledger for DatabaseLedger {
    fn find<'a>(&'a self, key: &'a str) -> BoxFuture<'a, anyhow::Result<Option<LedgerEntry>>> {
        Box::pin(find_decision(&self.0.read, key))
    }

    fn record<'a>(&'a self, entry: &'a LedgerEntry) -> BoxFuture<'a, anyhow::Result<LedgerEntry>> {
        Box::pin(record_decision(&self.0, entry))
    }
}
