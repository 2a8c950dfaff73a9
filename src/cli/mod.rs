//! The command line: `serve` (the default), `migrate`, `backup`, `restore`, `copy-to`, `keys`,
//! `preview`, `branding`, `webhooks`, `refunds`, `users`, `providers`.

mod backup;
mod branding;
pub mod preview;
mod providers;
mod refunds;
mod users;
mod webhooks;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::bootstrap::{ensure_first_merchant, welcome_text};
use crate::config::Settings;
use crate::db::Db;
use crate::db::api_keys::{create_api_key, list_api_keys, revoke_api_key};
use crate::db::merchants::first_merchant;
use crate::domain::account::Role;
use crate::domain::time::{iso_seconds, now_ms};
use crate::domain::{ApiKeyId, Environment, MerchantId};
use crate::lifecycle::accounts::create_setup_link;
use crate::startup::Application;
use crate::telemetry::init_tracing;

/// Self-hostable hosted checkout. Settings come from defaults, the TOML file named by
/// OPENRAILS_CONFIG, then environment variables (see README).
#[derive(Parser)]
#[command(name = "openrails-checkout", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and checkout pages (the default).
    Serve,
    /// Apply database migrations and exit; with --dry-run, list what would change.
    Migrate {
        /// List the migrations that would be applied, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Copy the SQLite database into a new file while the server runs, and verify the copy.
    Backup {
        /// The new file.
        file: std::path::PathBuf,
    },
    /// Restore a backup as the database DATABASE_URL names, into an empty data folder.
    Restore {
        /// The backup.
        file: std::path::PathBuf,
    },
    /// Copy every row into another, empty database (SQLite to PostgreSQL and back), verified.
    CopyTo {
        /// The target's URL: postgres://… or sqlite://…
        url: String,
    },
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Export the preview gallery as static HTML.
    Preview {
        #[command(subcommand)]
        action: preview::PreviewAction,
    },
    /// Set or show the checkout pages' branding.
    Branding {
        #[command(subcommand)]
        action: branding::BrandingAction,
    },
    /// Manage webhook endpoints, send a test event, replay events.
    Webhooks {
        #[command(subcommand)]
        action: webhooks::WebhooksAction,
    },
    /// Refund paid payments, list refunds.
    Refunds {
        #[command(subcommand)]
        action: refunds::RefundsAction,
    },
    /// The dashboard's people: create, list, disable, reset a password.
    Users {
        #[command(subcommand)]
        action: users::UsersAction,
    },
    /// Check the configured payment providers.
    Providers {
        #[command(subcommand)]
        action: providers::ProvidersAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print it once.
    Create {
        /// sandbox (sk_test_…) or production (sk_live_…).
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        /// A note to recognise the key by.
        #[arg(long, default_value = "created from the command line")]
        label: String,
        /// The merchant (default: the first one).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// List keys (never their secrets).
    List,
    /// Revoke a key by its id (key_…).
    Revoke { id: String },
}

/// Parses the command line and runs the subcommand.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    init_tracing(settings.mode);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { dry_run } => backup::migrate(settings, dry_run).await,
        Command::Backup { file } => backup::backup(settings, &file).await,
        Command::Restore { file } => backup::restore(settings, &file).await,
        Command::CopyTo { url } => backup::copy_to(settings, &url).await,
        Command::Keys { action } => keys(settings, action).await,
        Command::Webhooks { action } => webhooks::run(settings, action).await,
        Command::Branding { action } => branding::run(settings, action).await,
        Command::Preview { action } => preview::run(settings, action).await,
        Command::Providers { action } => providers::run(settings, action).await,
        Command::Refunds { action } => refunds::run(settings, action).await,
        Command::Users { action } => users::run(settings, action).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let merchant_name = settings.first_merchant_name.clone();
    let app = Application::build(settings).await?;
    if let Some(first) = ensure_first_merchant(app.db(), &merchant_name).await? {
        println!("{}", welcome_text(&first, app.public_url()));
        let token = create_setup_link(app.db(), &first.merchant_id, Role::Owner).await?;
        println!(
            "Create the owner's dashboard account (the link works once, for 24 hours):\n\n    {}/dashboard/setup/{token}\n",
            app.public_url()
        );
    }
    tracing::info!(
        public_url = app.public_url(),
        port = app.port(),
        instance = %app.state().instance_id,
        "listening"
    );
    app.run_until_stopped().await
}

async fn keys(settings: Settings, action: KeysAction) -> anyhow::Result<()> {
    let db = Db::connect(&settings.database_url, 1).await?;
    db.migrate().await?;
    match action {
        KeysAction::Create {
            environment,
            label,
            merchant,
        } => {
            let merchant_id = resolve_merchant(&db, &settings, merchant).await?;
            let (row, secret) =
                create_api_key(&db.write, &merchant_id, environment, &label, now_ms()).await?;
            println!(
                "Created {} key {} for {}. It is shown only this once:\n\n    {secret}\n",
                row.environment, row.id, row.merchant_id
            );
        }
        KeysAction::List => {
            for key in list_api_keys(&db.read).await? {
                let state = match key.revoked_at {
                    Some(at) => format!("revoked {}", iso_seconds(at)),
                    None => "active".to_owned(),
                };
                println!(
                    "{}  {}  {:<10}  {}  {}  created {}  \"{}\"",
                    key.id,
                    key.merchant_id,
                    key.environment,
                    key.key_hint,
                    state,
                    iso_seconds(key.created_at),
                    key.label
                );
            }
        }
        KeysAction::Revoke { id } => {
            let key_id = ApiKeyId::parse(&id).context("the id must look like key_…")?;
            if revoke_api_key(&db.write, &key_id, now_ms()).await? {
                println!("revoked {key_id}");
            } else {
                anyhow::bail!("no active key {key_id}");
            }
        }
    }
    db.close().await;
    Ok(())
}

/// `--environment`: `sandbox` or `production`.
fn parse_environment(s: &str) -> Result<Environment, String> {
    Environment::parse(s).ok_or_else(|| "must be sandbox or production".to_owned())
}

/// `--merchant`, or the first merchant (created when the database has none).
async fn resolve_merchant(
    db: &Db,
    settings: &Settings,
    merchant: Option<String>,
) -> anyhow::Result<MerchantId> {
    if let Some(id) = merchant {
        return MerchantId::parse(&id).context("--merchant must be a mer_… id");
    }
    if let Some(id) = first_merchant(&db.read).await? {
        return Ok(id);
    }
    ensure_first_merchant(db, &settings.first_merchant_name).await?;
    first_merchant(&db.read)
        .await?
        .context("no merchant could be created")
}
