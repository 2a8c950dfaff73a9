//! Settings: built-in defaults, then an optional TOML file (`OPENRAILS_CONFIG`), then
//! environment variables. `config.example.toml` and the README table document every option.

use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::crypto::secret_box::EncryptionKeys;
use crate::domain::payment_route::{INTEGRATIONS, PaymentRoute, default_routes};

/// How the process presents itself: readable logs in development, JSON logs in production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Development,
    Production,
}

/// Branding for every merchant that has not set its own through the API or the command line.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrandingDefaults {
    pub display_name: Option<String>,
    /// `#rrggbb`
    pub brand_color: Option<String>,
    /// `rounded`, `pill` or `square`
    pub button_shape: Option<String>,
    /// Path of a PNG, JPEG, WebP or SVG file (at most 64 KiB; an SVG must be a plain drawing).
    pub logo_path: Option<String>,
    pub note: Option<String>,
    /// A catalog's code: `en`, `es`, `pt-BR`, `fr`, `de`, `it`, `nl`, `pl`, `ja`, `zh-CN`, `ko` or `ar`
    pub default_language: Option<String>,
}

/// Environment variables given to the server beside the process's (see
/// [`Settings::secret_env`]); `Debug` shows their names only.
#[derive(Clone, Default, PartialEq)]
pub struct SecretEnv(pub std::collections::BTreeMap<String, String>);

impl std::fmt::Debug for SecretEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl SecretEnv {
    /// The variable `name`: given here, or the process's.
    pub fn var(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Address to listen on.
    pub bind: String,
    /// Base of `checkoutUrl`; empty means `http://` + the bound address.
    pub public_url: String,
    /// `sqlite://path` or `postgres://…`.
    pub database_url: String,
    /// Connections per pool (reads on SQLite; everything on PostgreSQL). On SQLite each read
    /// holds a connection (and its thread) for the query, so fewer than the concurrent requests
    /// makes them queue; on PostgreSQL, keep instances × this under the server's limit.
    pub database_max_connections: u32,
    /// How long a request waits for a PostgreSQL connection before it is answered `503`.
    pub database_acquire_timeout_ms: u64,
    pub mode: Mode,
    /// Largest session amount in dollars.
    pub max_amount: u32,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long a client may take to send a request body once its headers arrived.
    pub body_timeout_seconds: u64,
    /// How long a new connection may take to send its first request's line and headers.
    pub head_timeout_seconds: u64,
    /// Lifetime of a session when the request gives no `expiresInSeconds`.
    pub default_expires_in_seconds: i64,
    /// How often the sweeper looks for sessions past `expiresAt`.
    pub sweep_interval_seconds: u64,
    /// How long in-flight requests get to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// Name of the merchant created on first start.
    pub first_merchant_name: String,
    /// Folder of the pages' text catalogs (`<language>.toml`); when missing, the copies built
    /// into the binary are used.
    pub locales_dir: String,
    /// Folder of the pages' CSS and script, served under `/static`; when missing, the copies
    /// built into the binary are served.
    pub static_dir: String,
    /// The checkout pages' look for merchants that have not set their own (`[branding]`).
    pub branding: BrandingDefaults,
    /// Payment routes offered to buyers (`[[routes]]` tables).
    pub routes: Vec<PaymentRoute>,
    /// How long a payment may stay pending at its provider before reconciliation fails it.
    pub provider_timeout_seconds: i64,
    /// How many payments one session may try: after a failed one the buyer may pay again
    /// until this many have been made.
    pub payment_attempts_per_session: i64,
    /// How often in-flight payments are checked with their provider.
    pub reconcile_interval_seconds: i64,
    /// How long after a hand-off was claimed reconciliation treats it as cut short (the
    /// process died, or the database failed, before the provider's answer was recorded) and
    /// drives it again. Must be longer than any provider takes to answer a hand-off: one still
    /// in progress would be driven again beside it, and a card (whose number is never stored)
    /// would then fail as `handoff_interrupted`.
    pub handoff_redrive_after_seconds: i64,
    /// How long the sandbox's delayed test card stays pending before it pays.
    pub sandbox_delay_seconds: i64,
    /// How long after a payment's window a transfer on chain is still matched to it (and
    /// honoured): its unique amount is not given to another payment meanwhile.
    pub late_payment_horizon_seconds: i64,
    /// How long a webhook endpoint has to answer.
    pub webhook_timeout_seconds: u64,
    /// How long a worker owns a claimed delivery unless it renews the lease (it does while the
    /// attempt lasts); after that another worker may take it over.
    pub webhook_lease_seconds: i64,
    /// Most deliveries one worker has in flight at once (and claims per step).
    pub webhook_batch_size: i64,
    /// Most deliveries to one endpoint one worker has in flight at once.
    pub webhook_endpoint_concurrency: i64,
    /// How often an idle worker looks for deliveries queued by other instances.
    pub webhook_poll_interval_ms: u64,
    /// An endpoint whose every delivery has failed for this long is disabled.
    pub webhook_disable_after_seconds: i64,
    /// After a secret rotation, how long the old secret keeps signing too.
    pub webhook_secret_overlap_seconds: i64,
    /// In production mode, let sandbox endpoints reach loopback, private and other non-public
    /// addresses (they may in development mode; production endpoints never may).
    pub webhook_allow_private_sandbox_endpoints: bool,
    /// Seal webhook secrets at rest: from `OPENRAILS_ENCRYPTION_KEY` and
    /// `OPENRAILS_ENCRYPTION_KEY_PREVIOUS` only, never from the file.
    #[serde(skip)]
    pub encryption: EncryptionKeys,
    /// Environment variables the server reads secrets from (a route's `secret_key_env`):
    /// these first, then the process's. Empty but in tests, which give secrets here rather
    /// than change the process's environment.
    #[serde(skip)]
    pub secret_env: SecretEnv,
    /// How long the paid page waits for the merchant to acknowledge `payment.paid` before
    /// sending the buyer back anyway.
    pub redirect_wait_seconds: i64,
    /// Requests per second one API key may make, on average; counted by each instance on its
    /// own (with N instances a key may make up to N times this).
    pub api_rate_per_second: u32,
    /// Requests one API key may make at once above its rate, after a quiet moment.
    pub api_rate_burst: u32,
    /// Declined cards one checkout session takes; after that it offers only its other routes.
    pub card_attempts_per_session: i64,
    /// Declined cards the checkout pages take from one client address in an hour, counted in
    /// the database across instances; after that its card forms refuse until the hour has
    /// passed.
    pub card_attempts_per_address_per_hour: i64,
    /// Addresses of the reverse proxies in front of the server: a request that comes from one
    /// of them is counted by the client address it names in `X-Forwarded-For` (the nearest one
    /// that is not itself a proxy). Requests from any other address are counted by their
    /// connection's address, whatever their headers say.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// `/readyz` answers 503 when a webhook delivery that is due has waited longer than this.
    pub ready_webhook_backlog_seconds: i64,
    /// `/readyz` answers 503 when every call to a provider has failed for this long.
    pub ready_provider_failing_seconds: i64,
    /// Receipt e-mails to buyers, when a payment is paid and when a refund succeeds; `false`
    /// sends none (a session may also ask for none with `sendReceipt: false`).
    pub send_receipts: bool,
    /// An address that gets a copy of every receipt e-mail (the shop's own); empty for none.
    pub receipt_copy_to: String,
    /// The SMTP server receipt e-mails go through: `smtp://user@host:587` (STARTTLS, required),
    /// `smtps://user@host:465`, or `smtp://127.0.0.1:25?tls=none` for a relay on this machine.
    /// Empty (the default): e-mails are kept in the outbox and shown, never sent. The password
    /// goes in `OPENRAILS_SMTP_PASSWORD` (or in the URL).
    pub smtp_url: SmtpUrl,
    /// The sender of receipt e-mails, e.g. `Nimbus Studio <receipts@nimbus.example>`; needed
    /// with `smtp_url`.
    pub smtp_from: String,
    /// Send the sandbox's receipt e-mails too (to try delivery); otherwise they are kept.
    pub smtp_send_sandbox: bool,
    /// How long one SMTP exchange may take.
    pub smtp_timeout_seconds: u64,
    /// The wait before a failed e-mail's second try; each later wait is four times longer, at
    /// most six hours.
    pub email_retry_base_seconds: i64,
    /// Tries before an e-mail is given up (a permanent refusal, 5xx, gives up at once).
    pub email_max_attempts: i64,
    /// How often the e-mail worker looks for e-mails to send.
    pub email_poll_interval_ms: u64,
}

/// `smtp_url`, which may hold a password: `Debug` does not show it.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct SmtpUrl(pub String);

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "SmtpUrl(none)"
        } else {
            "SmtpUrl(…)"
        })
    }
}

impl FromEnv for SmtpUrl {
    fn from_env(_: &str, value: &str) -> anyhow::Result<SmtpUrl> {
        Ok(SmtpUrl(value.trim().to_owned()))
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: "127.0.0.1:8080".into(),
            public_url: String::new(),
            database_url: "sqlite://data/openrails.db".into(),
            database_max_connections: 32,
            database_acquire_timeout_ms: 2_000,
            mode: Mode::Development,
            max_amount: 10_000,
            max_body_bytes: 64 * 1024,
            body_timeout_seconds: 10,
            head_timeout_seconds: 5,
            default_expires_in_seconds: 86_400,
            sweep_interval_seconds: 15,
            shutdown_timeout_seconds: 30,
            first_merchant_name: "Demo Store".into(),
            static_dir: "static".into(),
            locales_dir: "locales".into(),
            branding: BrandingDefaults::default(),
            routes: default_routes(),
            provider_timeout_seconds: 1_800,
            payment_attempts_per_session: 5,
            reconcile_interval_seconds: 5,
            handoff_redrive_after_seconds: 15,
            sandbox_delay_seconds: 5,
            late_payment_horizon_seconds: 7 * 86_400,
            webhook_timeout_seconds: 10,
            webhook_lease_seconds: 5,
            webhook_batch_size: 64,
            webhook_endpoint_concurrency: 8,
            webhook_poll_interval_ms: 1_000,
            webhook_disable_after_seconds: 3 * 86_400,
            webhook_secret_overlap_seconds: 86_400,
            webhook_allow_private_sandbox_endpoints: false,
            encryption: EncryptionKeys::default(),
            secret_env: SecretEnv::default(),
            redirect_wait_seconds: 5,
            api_rate_per_second: 100,
            api_rate_burst: 200,
            card_attempts_per_session: 3,
            card_attempts_per_address_per_hour: 20,
            trusted_proxies: vec![
                std::net::Ipv4Addr::LOCALHOST.into(),
                std::net::Ipv6Addr::LOCALHOST.into(),
            ],
            ready_webhook_backlog_seconds: 300,
            ready_provider_failing_seconds: 300,
            send_receipts: true,
            receipt_copy_to: String::new(),
            smtp_url: SmtpUrl::default(),
            smtp_from: String::new(),
            smtp_send_sandbox: false,
            smtp_timeout_seconds: 30,
            email_retry_base_seconds: 60,
            email_max_attempts: 8,
            email_poll_interval_ms: 1_000,
        }
    }
}

/// The environment variables that override one setting each, and the setting.
macro_rules! env_overrides {
    ($($name:literal => $field:ident),* $(,)?) => {
        /// Every environment variable that overrides one setting (the encryption keys, read
        /// from the environment only, come as a pair; see `Settings::apply_env`).
        pub const ENV_OVERRIDES: &[&str] = &[$($name),*];

        impl Settings {
            fn apply_overrides(
                &mut self,
                get: &impl Fn(&str) -> Option<String>,
            ) -> anyhow::Result<()> {
                $(
                    if let Some(value) = get($name) {
                        self.$field = FromEnv::from_env($name, &value)?;
                    }
                )*
                Ok(())
            }
        }
    };
}

env_overrides! {
    "OPENRAILS_BIND" => bind,
    "OPENRAILS_PUBLIC_URL" => public_url,
    "DATABASE_URL" => database_url,
    "OPENRAILS_DATABASE_MAX_CONNECTIONS" => database_max_connections,
    "OPENRAILS_DATABASE_ACQUIRE_TIMEOUT_MS" => database_acquire_timeout_ms,
    "OPENRAILS_LOCALES_DIR" => locales_dir,
    "OPENRAILS_STATIC_DIR" => static_dir,
    "OPENRAILS_MODE" => mode,
    "OPENRAILS_MAX_AMOUNT" => max_amount,
    "OPENRAILS_MAX_BODY_BYTES" => max_body_bytes,
    "OPENRAILS_BODY_TIMEOUT_SECONDS" => body_timeout_seconds,
    "OPENRAILS_HEAD_TIMEOUT_SECONDS" => head_timeout_seconds,
    "OPENRAILS_DEFAULT_EXPIRES_IN_SECONDS" => default_expires_in_seconds,
    "OPENRAILS_SWEEP_INTERVAL_SECONDS" => sweep_interval_seconds,
    "OPENRAILS_SHUTDOWN_TIMEOUT_SECONDS" => shutdown_timeout_seconds,
    "OPENRAILS_PROVIDER_TIMEOUT_SECONDS" => provider_timeout_seconds,
    "OPENRAILS_PAYMENT_ATTEMPTS_PER_SESSION" => payment_attempts_per_session,
    "OPENRAILS_RECONCILE_INTERVAL_SECONDS" => reconcile_interval_seconds,
    "OPENRAILS_HANDOFF_REDRIVE_AFTER_SECONDS" => handoff_redrive_after_seconds,
    "OPENRAILS_SANDBOX_DELAY_SECONDS" => sandbox_delay_seconds,
    "OPENRAILS_LATE_PAYMENT_HORIZON_SECONDS" => late_payment_horizon_seconds,
    "OPENRAILS_WEBHOOK_TIMEOUT_SECONDS" => webhook_timeout_seconds,
    "OPENRAILS_WEBHOOK_LEASE_SECONDS" => webhook_lease_seconds,
    "OPENRAILS_WEBHOOK_BATCH_SIZE" => webhook_batch_size,
    "OPENRAILS_WEBHOOK_ENDPOINT_CONCURRENCY" => webhook_endpoint_concurrency,
    "OPENRAILS_WEBHOOK_POLL_INTERVAL_MS" => webhook_poll_interval_ms,
    "OPENRAILS_WEBHOOK_DISABLE_AFTER_SECONDS" => webhook_disable_after_seconds,
    "OPENRAILS_WEBHOOK_SECRET_OVERLAP_SECONDS" => webhook_secret_overlap_seconds,
    "OPENRAILS_WEBHOOK_ALLOW_PRIVATE_SANDBOX_ENDPOINTS" => webhook_allow_private_sandbox_endpoints,
    "OPENRAILS_REDIRECT_WAIT_SECONDS" => redirect_wait_seconds,
    "OPENRAILS_API_RATE_PER_SECOND" => api_rate_per_second,
    "OPENRAILS_API_RATE_BURST" => api_rate_burst,
    "OPENRAILS_CARD_ATTEMPTS_PER_SESSION" => card_attempts_per_session,
    "OPENRAILS_CARD_ATTEMPTS_PER_ADDRESS_PER_HOUR" => card_attempts_per_address_per_hour,
    "OPENRAILS_TRUSTED_PROXIES" => trusted_proxies,
    "OPENRAILS_READY_WEBHOOK_BACKLOG_SECONDS" => ready_webhook_backlog_seconds,
    "OPENRAILS_READY_PROVIDER_FAILING_SECONDS" => ready_provider_failing_seconds,
    "OPENRAILS_SEND_RECEIPTS" => send_receipts,
    "OPENRAILS_RECEIPT_COPY_TO" => receipt_copy_to,
    "OPENRAILS_SMTP_URL" => smtp_url,
    "OPENRAILS_SMTP_FROM" => smtp_from,
    "OPENRAILS_SMTP_SEND_SANDBOX" => smtp_send_sandbox,
    "OPENRAILS_SMTP_TIMEOUT_SECONDS" => smtp_timeout_seconds,
    "OPENRAILS_EMAIL_RETRY_BASE_SECONDS" => email_retry_base_seconds,
    "OPENRAILS_EMAIL_MAX_ATTEMPTS" => email_max_attempts,
    "OPENRAILS_EMAIL_POLL_INTERVAL_MS" => email_poll_interval_ms,
}

/// A setting's value from an environment variable's text.
trait FromEnv: Sized {
    fn from_env(name: &str, value: &str) -> anyhow::Result<Self>;
}

/// Text settings take the value as it is.
/// Addresses are comma-separated; blanks around each are ignored, and an empty value is an
/// empty list.
impl FromEnv for Vec<std::net::IpAddr> {
    fn from_env(name: &str, value: &str) -> anyhow::Result<Vec<std::net::IpAddr>> {
        value
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|a| {
                a.parse()
                    .map_err(|_| anyhow::anyhow!("{name} holds {a:?}, which is not an IP address"))
            })
            .collect()
    }
}

impl FromEnv for String {
    fn from_env(_: &str, value: &str) -> anyhow::Result<String> {
        Ok(value.to_owned())
    }
}

/// Numbers and switches are parsed, white space around them ignored.
macro_rules! from_env_by_parsing {
    ($($ty:ty),+) => {$(
        impl FromEnv for $ty {
            fn from_env(name: &str, value: &str) -> anyhow::Result<$ty> {
                value
                    .trim()
                    .parse()
                    .map_err(|_| anyhow::anyhow!("{name}={value:?} is not a valid value"))
            }
        }
    )+};
}

from_env_by_parsing!(u32, u64, i64, usize, bool);

impl FromEnv for Mode {
    fn from_env(name: &str, value: &str) -> anyhow::Result<Mode> {
        match value.trim() {
            "development" => Ok(Mode::Development),
            "production" => Ok(Mode::Production),
            other => bail!("{name}={other:?}: use development or production"),
        }
    }
}

impl Settings {
    /// Defaults, then the file named by `OPENRAILS_CONFIG`, then environment variables.
    pub fn load() -> anyhow::Result<Settings> {
        let mut settings = match std::env::var("OPENRAILS_CONFIG") {
            Ok(path) if !path.is_empty() => Self::from_file(Path::new(&path))?,
            _ => Settings::default(),
        };
        settings.apply_env(|name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn from_file(path: &Path) -> anyhow::Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("in the config file {}", path.display()))
    }

    /// Overrides from environment variables; `get` is `std::env::var` outside tests.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        self.apply_overrides(&get)?;
        let (key, previous) = (
            get("OPENRAILS_ENCRYPTION_KEY"),
            get("OPENRAILS_ENCRYPTION_KEY_PREVIOUS"),
        );
        if key.is_some() || previous.is_some() {
            self.encryption = EncryptionKeys::parse(key.as_deref(), previous.as_deref())?;
        }
        Ok(())
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.database_acquire_timeout_ms == 0 {
            bail!("database_acquire_timeout_ms must be at least 1");
        }
        if self.max_amount == 0 {
            bail!("max_amount must be at least 1");
        }
        if !(300..=604_800).contains(&self.default_expires_in_seconds) {
            bail!("default_expires_in_seconds must be between 300 and 604800");
        }
        if self.body_timeout_seconds == 0 || self.head_timeout_seconds == 0 {
            bail!("body_timeout_seconds and head_timeout_seconds must be at least 1");
        }
        if self.max_body_bytes < 1024 {
            bail!("max_body_bytes must be at least 1024");
        }
        if self.provider_timeout_seconds < 1 || self.reconcile_interval_seconds < 1 {
            bail!("provider_timeout_seconds and reconcile_interval_seconds must be at least 1");
        }
        if !(1..=100).contains(&self.payment_attempts_per_session) {
            bail!("payment_attempts_per_session must be between 1 and 100");
        }
        if self.api_rate_per_second == 0 || self.api_rate_burst == 0 {
            bail!("api_rate_per_second and api_rate_burst must be at least 1");
        }
        if !(1..=100).contains(&self.card_attempts_per_session)
            || !(1..=100_000).contains(&self.card_attempts_per_address_per_hour)
        {
            bail!(
                "card_attempts_per_session must be between 1 and 100, and \
                 card_attempts_per_address_per_hour between 1 and 100000"
            );
        }
        if self.ready_webhook_backlog_seconds < 1 || self.ready_provider_failing_seconds < 1 {
            bail!(
                "ready_webhook_backlog_seconds and ready_provider_failing_seconds must be at least 1"
            );
        }
        if self.handoff_redrive_after_seconds < 1 {
            bail!("handoff_redrive_after_seconds must be at least 1");
        }
        // A worker renews its leases every third of their length while attempts last; two
        // seconds leave room for a renewal to commit before the lease runs out.
        if self.webhook_timeout_seconds == 0 || self.webhook_lease_seconds < 2 {
            bail!(
                "webhook_timeout_seconds must be at least 1 and webhook_lease_seconds at least 2"
            );
        }
        if !(1..=500).contains(&self.webhook_endpoint_concurrency) {
            bail!("webhook_endpoint_concurrency must be between 1 and 500");
        }
        if !(1..=500).contains(&self.webhook_batch_size) {
            bail!("webhook_batch_size must be between 1 and 500");
        }
        if self.webhook_poll_interval_ms == 0 {
            bail!("webhook_poll_interval_ms must be at least 1");
        }
        if self.redirect_wait_seconds < 0 || self.webhook_secret_overlap_seconds < 0 {
            bail!("redirect_wait_seconds and webhook_secret_overlap_seconds must not be negative");
        }
        if self.sandbox_delay_seconds < 0 {
            bail!("sandbox_delay_seconds must not be negative");
        }
        if !(0..=31_536_000).contains(&self.late_payment_horizon_seconds) {
            bail!("late_payment_horizon_seconds must be between 0 and 31536000 (a year)");
        }
        if self.sweep_interval_seconds == 0 {
            bail!("sweep_interval_seconds must be at least 1");
        }
        let b = &self.branding;
        if let Some(color) = &b.brand_color {
            crate::domain::branding::Color::parse(color)
                .map_err(|m| anyhow::anyhow!("branding.brand_color {m}"))?;
        }
        if let Some(shape) = &b.button_shape {
            crate::domain::branding::ButtonShape::parse(shape)
                .map_err(|m| anyhow::anyhow!("branding.button_shape {m}"))?;
        }
        if let Some(note) = &b.note {
            crate::domain::branding::plain_text(note, crate::domain::branding::MAX_NOTE_CHARS)
                .map_err(|m| anyhow::anyhow!("branding.note {m}"))?;
        }
        if let Some(path) = &b.logo_path {
            crate::domain::branding::logo_type_for_path(path).ok_or_else(|| {
                anyhow::anyhow!("branding.logo_path must be a .png, .jpg, .webp or .svg file")
            })?;
            let size = std::fs::metadata(path)
                .with_context(|| format!("reading branding.logo_path {path}"))?
                .len();
            if size as usize > crate::domain::branding::MAX_LOGO_BYTES {
                bail!("branding.logo_path must be at most 64 KiB");
            }
            if let Some(kind) = crate::domain::branding::logo_type_for_path(path) {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading branding.logo_path {path}"))?;
                crate::domain::branding::check_logo(kind, &bytes)
                    .map_err(|m| anyhow::anyhow!("branding.logo_path {path} {m}"))?;
            }
        }
        for route in &self.routes {
            if !INTEGRATIONS.contains(&route.integration.as_str()) {
                bail!(
                    "route {}: integration {:?} is not a configured provider (available: {})",
                    route.id,
                    route.integration,
                    INTEGRATIONS.join(", ")
                );
            }
            let onchain = route.integration == crate::domain::payment_route::ONCHAIN_INTEGRATION;
            match (&route.onchain, onchain) {
                (Some(settings), true) => {
                    if route.kind != crate::domain::RouteKind::Wallet {
                        bail!(
                            "route {}: the onchain integration carries wallet routes only",
                            route.id
                        );
                    }
                    settings
                        .check(&route.environments)
                        .map_err(|m| anyhow::anyhow!("route {}: {m}", route.id))?;
                }
                (None, true) => bail!(
                    "route {}: integration \"onchain\" needs its settings: onchain = {{ rpc_url = \"…\", chain_id = 8453, settlement_address = \"0x…\" }}",
                    route.id
                ),
                (Some(_), false) => bail!(
                    "route {}: an onchain = {{ … }} table belongs to integration \"onchain\"",
                    route.id
                ),
                (None, false) => {}
            }
            if route.integration == crate::domain::payment_route::SANDBOX_REDIRECT_INTEGRATION
                && (route.kind != crate::domain::RouteKind::Card
                    || route.environments != [crate::domain::Environment::Sandbox])
            {
                bail!(
                    "route {}: integration \"sandbox_redirect\" carries card routes in the sandbox only",
                    route.id
                );
            }
            let stripe = route.integration == crate::domain::payment_route::STRIPE_INTEGRATION;
            match (&route.stripe, stripe) {
                (Some(settings), true) => {
                    settings
                        .check(route.kind, &route.environments, &|name| {
                            self.secret_env.var(name)
                        })
                        .map_err(|m| anyhow::anyhow!("route {}: {m}", route.id))?;
                }
                (None, true) => bail!(
                    "route {}: integration \"stripe\" needs its settings: stripe = {{ secret_key_env = \"STRIPE_SECRET_KEY\", webhook_secret_env = \"STRIPE_WEBHOOK_SECRET\" }}",
                    route.id
                ),
                (Some(_), false) => bail!(
                    "route {}: a stripe = {{ … }} table belongs to integration \"stripe\"",
                    route.id
                ),
                (None, false) => {}
            }
            for rate in [route.buyer_fee_rate, route.gateway_fee_rate] {
                if !(0.0..0.5).contains(&rate) {
                    bail!("route {}: fee rates must be between 0 and 0.5", route.id);
                }
            }
            if let Some(template) = &route.explorer_tx_url {
                let parsed = url::Url::parse(&template.replace("{tx}", "0x0"));
                let fits = template.contains("{tx}")
                    && parsed.is_ok_and(|u| matches!(u.scheme(), "https" | "http"));
                if !fits {
                    bail!(
                        "route {}: explorer_tx_url must be an http(s) URL with {{tx}} where the transaction hash goes, e.g. \"https://basescan.org/tx/{{tx}}\"",
                        route.id
                    );
                }
            }
        }
        if !self.receipt_copy_to.is_empty()
            && crate::domain::Email::parse(&self.receipt_copy_to).is_err()
        {
            bail!("receipt_copy_to must be an e-mail address");
        }
        if self.smtp_target()?.is_some() {
            if self.smtp_from.is_empty() {
                bail!(
                    "smtp_url needs smtp_from: the sender of receipt e-mails, e.g. \"Shop <receipts@shop.example>\""
                );
            }
            crate::domain::smtp::check_sender(&self.smtp_from)?;
        }
        if self.email_max_attempts < 1 || self.email_retry_base_seconds < 1 {
            bail!("email_max_attempts and email_retry_base_seconds must be at least 1");
        }
        let public_url_ok = self.public_url.is_empty()
            || self.public_url.starts_with("http://")
            || self.public_url.starts_with("https://");
        if !public_url_ok {
            bail!("public_url must start with http:// or https://");
        }
        Ok(())
    }

    /// The SMTP server of `smtp_url`, its password from `OPENRAILS_SMTP_PASSWORD` when the URL
    /// has none; `None` without `smtp_url`.
    pub fn smtp_target(&self) -> anyhow::Result<Option<crate::domain::smtp::SmtpTarget>> {
        if self.smtp_url.0.is_empty() {
            return Ok(None);
        }
        crate::domain::smtp::SmtpTarget::parse(
            &self.smtp_url.0,
            self.secret_env.var("OPENRAILS_SMTP_PASSWORD"),
        )
        .map(Some)
    }

    /// The routes of the `onchain` integration, each with its checked settings (what
    /// [`Settings::validate`] refuses comes back as the same error).
    pub fn onchain_routes(
        &self,
    ) -> anyhow::Result<Vec<(&PaymentRoute, crate::domain::payment_route::OnchainTarget)>> {
        let onchain = crate::domain::payment_route::ONCHAIN_INTEGRATION;
        self.routes
            .iter()
            .filter(|r| r.integration == onchain)
            .filter_map(|r| r.onchain.as_ref().map(|o| (r, o)))
            .map(|(route, settings)| {
                let target = settings
                    .check(&route.environments)
                    .map_err(|m| anyhow::anyhow!("route {}: {m}", route.id))?;
                Ok((route, target))
            })
            .collect()
    }

    /// The routes of the `stripe` integration by id, with their checked settings and
    /// secrets read from the environment (what [`Settings::validate`] refuses comes back as
    /// the same error).
    pub fn stripe_routes(
        &self,
    ) -> anyhow::Result<Vec<(&PaymentRoute, crate::domain::stripe::StripeTarget)>> {
        let stripe = crate::domain::payment_route::STRIPE_INTEGRATION;
        self.routes
            .iter()
            .filter(|r| r.integration == stripe)
            .filter_map(|r| r.stripe.as_ref().map(|s| (r, s)))
            .map(|(route, settings)| {
                let target = settings
                    .check(route.kind, &route.environments, &|name| {
                        self.secret_env.var(name)
                    })
                    .map_err(|m| anyhow::anyhow!("route {}: {m}", route.id))?;
                Ok((route, target))
            })
            .collect()
    }

    /// The base of the checkout's addresses: `public_url`, or `http://` and `address` (where
    /// the server listens) when it is not set.
    pub fn public_url_for(&self, address: &str) -> String {
        if self.public_url.is_empty() {
            format!("http://{address}")
        } else {
            self.public_url.trim_end_matches('/').to_owned()
        }
    }

    /// Largest amount in cents.
    pub fn max_amount_cents(&self) -> i64 {
        i64::from(self.max_amount) * 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_file() {
        let mut s: Settings =
            toml::from_str("bind = \"0.0.0.0:9000\"\nmax_amount = 50").expect("valid toml");
        assert_eq!(s.bind, "0.0.0.0:9000");
        s.apply_env(|name| (name == "OPENRAILS_MAX_AMOUNT").then(|| "70".to_owned()))
            .expect("valid env");
        assert_eq!(s.max_amount, 70);
        assert_eq!(s.database_url, "sqlite://data/openrails.db");
    }

    #[test]
    fn the_example_file_documents_exactly_the_defaults() {
        let example: Settings =
            toml::from_str(include_str!("../config.example.toml")).expect("example parses");
        assert_eq!(example, Settings::default());
    }

    #[test]
    fn a_webhook_lease_must_leave_room_for_its_renewal() {
        let mut s = Settings::default();
        assert!(s.validate().is_ok());
        s.webhook_lease_seconds = 1;
        assert!(s.validate().is_err());
        s.webhook_lease_seconds = 2;
        assert!(s.validate().is_ok());
        s.webhook_endpoint_concurrency = 0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn a_cut_short_hand_off_is_driven_again_after_a_configurable_delay_of_at_least_a_second() {
        let mut s = Settings::default();
        assert_eq!(s.handoff_redrive_after_seconds, 15);
        s.apply_env(|name| {
            (name == "OPENRAILS_HANDOFF_REDRIVE_AFTER_SECONDS").then(|| "3".to_owned())
        })
        .expect("valid env");
        assert_eq!(s.handoff_redrive_after_seconds, 3);
        assert!(s.validate().is_ok());
        s.handoff_redrive_after_seconds = 0;
        assert!(s.validate().is_err());
    }

    #[test]
    fn every_environment_variable_is_read_and_documented() {
        let example = include_str!("../config.example.toml");
        let readme = include_str!("../README.md");
        let documented: Vec<&str> = example
            .split("env: ")
            .skip(1)
            .filter_map(|rest| rest.split_whitespace().next())
            .collect();
        for name in &documented {
            assert!(
                ENV_OVERRIDES.contains(name),
                "{name} is documented but not read"
            );
        }
        for name in ENV_OVERRIDES {
            assert!(
                documented.contains(name),
                "{name} is read but not in the example"
            );
            assert!(
                readme.contains(name),
                "{name} is read but not in the README"
            );
            // Each one overrides its setting: a bad value is refused, naming the variable.
            let mut s = Settings::default();
            let bad = s.apply_env(|n| (n == *name).then(|| "\u{1}not a value".to_owned()));
            let is_text = [
                "OPENRAILS_BIND",
                "OPENRAILS_PUBLIC_URL",
                "DATABASE_URL",
                "OPENRAILS_LOCALES_DIR",
                "OPENRAILS_STATIC_DIR",
                "OPENRAILS_RECEIPT_COPY_TO",
                "OPENRAILS_SMTP_URL",
                "OPENRAILS_SMTP_FROM",
            ]
            .contains(name);
            match bad {
                Err(e) => assert!(!is_text && e.to_string().contains(name), "{name}: {e}"),
                Ok(()) => assert!(is_text, "{name} took a value that is not one"),
            }
        }
    }

    #[test]
    fn the_smtp_password_is_never_shown() {
        let mut s = Settings {
            smtp_url: SmtpUrl("smtp://shop:hunter2-secret@127.0.0.1:2525?tls=none".into()),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("hunter2"));
        let missing_from = s.validate().unwrap_err().to_string();
        assert!(missing_from.contains("smtp_from"), "{missing_from}");
        assert!(!missing_from.contains("hunter2"), "{missing_from}");
        s.smtp_from = "not an address".into();
        let bad_from = s.validate().unwrap_err().to_string();
        assert!(!bad_from.contains("hunter2"), "{bad_from}");
        s.smtp_from = "Shop <receipts@shop.example>".into();
        assert!(s.validate().is_ok());
        s.smtp_url = SmtpUrl("smtp://shop:hunter2-secret@mail.example?tls=none".into());
        let clear = s.validate().unwrap_err().to_string();
        assert!(
            clear.contains("only for a relay on this machine"),
            "{clear}"
        );
        assert!(!clear.contains("hunter2"), "{clear}");
    }

    #[test]
    fn unknown_file_keys_and_bad_values_are_refused() {
        assert!(toml::from_str::<Settings>("bnid = \"x\"").is_err());
        let mut s = Settings::default();
        assert!(s.apply_env(|_| Some("nope".into())).is_err());
    }

    #[test]
    fn the_encryption_key_comes_from_the_environment_only() {
        assert!(toml::from_str::<Settings>("encryption = \"x\"").is_err());
        assert!(toml::from_str::<Settings>("encryption_key = \"x\"").is_err());
        let key = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
        let mut s = Settings::default();
        s.apply_env(|name| (name == "OPENRAILS_ENCRYPTION_KEY").then(|| key.to_owned()))
            .expect("valid key");
        assert!(s.encryption.is_configured());
        assert!(!format!("{s:?}").contains(key));
        let mut s = Settings::default();
        assert!(
            s.apply_env(|name| (name == "OPENRAILS_ENCRYPTION_KEY").then(|| "short".to_owned()))
                .is_err()
        );
    }
}
