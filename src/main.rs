//! `openrails-checkout`: parse the command line, load settings, run the subcommand.

use anyhow::Context;
use clap::{Parser, Subcommand};
use openrails_checkout::bootstrap::{ensure_first_merchant, welcome_text};
use openrails_checkout::config::Settings;
use openrails_checkout::db::Db;
use openrails_checkout::db::api_keys::{create_api_key, list_api_keys, revoke_api_key};
use openrails_checkout::db::merchants::first_merchant;
use openrails_checkout::domain::time::{iso_seconds, now_ms};
use openrails_checkout::domain::{ApiKeyId, Environment, MerchantId};
use openrails_checkout::startup::Application;
use openrails_checkout::telemetry::init_tracing;

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
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create a key and print it once.
    Create {
        /// sandbox (sk_test_…) or production (sk_live_…).
        #[arg(long, default_value = "sandbox")]
        environment: String,
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

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = Settings::load()?;
    init_tracing(settings.mode);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate => {
            let db = Db::connect(&settings.database_url, 1).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys { action } => keys(settings, action).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let merchant_name = settings.first_merchant_name.clone();
    let app = Application::build(settings).await?;
    if let Some(first) = ensure_first_merchant(app.db(), &merchant_name).await? {
        println!("{}", welcome_text(&first, app.public_url()));
    }
    tracing::info!(
        public_url = app.public_url(),
        port = app.port(),
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
            let environment = Environment::parse(&environment)
                .context("--environment must be sandbox or production")?;
            let merchant_id = match merchant {
                Some(id) => MerchantId::parse(&id).context("--merchant must be a mer_… id")?,
                None => match first_merchant(&db.read).await? {
                    Some(id) => id,
                    None => {
                        ensure_first_merchant(&db, &settings.first_merchant_name).await?;
                        first_merchant(&db.read)
                            .await?
                            .context("no merchant could be created")?
                    }
                },
            };
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
