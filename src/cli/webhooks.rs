//! `openrails-checkout webhooks add|list|remove|test|reencrypt|replay`.

use anyhow::{Context, bail};
use clap::Subcommand;

use super::{parse_environment, resolve_merchant};
use crate::config::Settings;
use crate::db::Db;
use crate::db::webhook_endpoints::{delete_endpoint, list_all_endpoints};
use crate::domain::Environment;
use crate::domain::time::{iso_seconds, parse_rfc3339_ms};
use crate::lifecycle::outbox::redeliver_since;
use crate::webhooks::client::{EndpointRules, WebhookClients, check_endpoint_url};
use crate::webhooks::endpoints::{
    create_endpoint, default_event_list, event_list, new_secret, send_test_event,
};
use crate::webhooks::secrets::reseal_all;

#[derive(Subcommand)]
pub enum WebhooksAction {
    /// Register an endpoint and print its secret once.
    Add {
        url: String,
        /// Comma-separated event types (default: payment.provider_pending,payment.paid,payment.failed).
        #[arg(long)]
        events: Option<String>,
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        /// The merchant (default: the first one).
        #[arg(long)]
        merchant: Option<String>,
    },
    /// List endpoints (never their secrets).
    List,
    /// Remove an endpoint by its id (we_…).
    Remove { id: String },
    /// Send a signed sample payment.paid event to a URL and show the answer.
    Test {
        url: String,
        /// Sign with this secret (default: a new one, printed).
        #[arg(long)]
        secret: Option<String>,
    },
    /// Encrypt every stored secret with OPENRAILS_ENCRYPTION_KEY (every command and the server
    /// do so at start too); fails when one cannot be decrypted.
    Reencrypt,
    /// Queue again every event since a time (RFC 3339), for the endpoints subscribed to it.
    Replay {
        #[arg(long)]
        since: String,
        #[arg(long, default_value_t = Environment::Sandbox, value_parser = parse_environment)]
        environment: Environment,
        #[arg(long)]
        merchant: Option<String>,
    },
}

pub async fn run(settings: Settings, action: WebhooksAction) -> anyhow::Result<()> {
    if let WebhooksAction::Test { url, secret } = action {
        return send_test(&settings, &url, secret).await;
    }
    let db = Db::connect(&settings.database_url, 1).await?;
    db.migrate().await?;
    // Before anything is written: a missing or wrong key stops here, naming the endpoint.
    let resealed = reseal_all(&db, &settings.encryption).await?;
    match action {
        WebhooksAction::Add {
            url,
            events,
            environment,
            merchant,
        } => {
            let events = match events {
                None => default_event_list(),
                Some(list) => {
                    let names: Vec<String> = list
                        .split(',')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect();
                    event_list(&names)
                        .map_err(|problems| anyhow::anyhow!("--events {}", problems.join("; ")))?
                }
            };
            if let Err(reason) =
                check_endpoint_url(&url, environment, EndpointRules::from_settings(&settings)).await
            {
                bail!("the URL {reason}");
            }
            let merchant_id = resolve_merchant(&db, &settings, merchant).await?;
            let (row, secret) = create_endpoint(
                &db,
                &settings.encryption,
                &merchant_id,
                environment,
                &url,
                &events,
            )
            .await?;
            println!(
                "Registered {} ({environment}) for {} with events {}.\nIts signing secret is shown only this once:\n\n    {}\n",
                row.id,
                row.url,
                events.join(", "),
                secret
            );
        }
        WebhooksAction::List => {
            for e in list_all_endpoints(&db.read).await? {
                println!(
                    "{}  {}  {:<10}  {:<8}  {}  [{}]  created {}",
                    e.id,
                    e.merchant_id,
                    e.environment,
                    e.status,
                    e.url,
                    e.event_types().join(","),
                    iso_seconds(e.created_at)
                );
            }
        }
        WebhooksAction::Remove { id } => {
            let Some(endpoint) = list_all_endpoints(&db.read)
                .await?
                .into_iter()
                .find(|e| e.id.as_str() == id)
            else {
                bail!("no endpoint {id}");
            };
            let mut tx = db.begin().await?;
            delete_endpoint(&mut tx, &endpoint.merchant_id, &endpoint.id).await?;
            tx.commit().await?;
            println!("removed {id}");
        }
        WebhooksAction::Replay {
            since,
            environment,
            merchant,
        } => {
            let since_ms = parse_rfc3339_ms(&since)
                .context("--since must be an RFC 3339 time, e.g. 2026-11-24T00:00:00Z")?;
            let merchant_id = resolve_merchant(&db, &settings, merchant).await?;
            // No worker runs in this process to wake: a server's worker finds them.
            let nobody = tokio::sync::Notify::new();
            let (events, queued) =
                redeliver_since(&db, &nobody, &merchant_id, environment, since_ms).await?;
            println!(
                "queued {queued} deliveries of {events} events; a running server sends them within a second or so"
            );
        }
        WebhooksAction::Reencrypt => match settings.encryption.current_id() {
            Some(key_id) => println!(
                "every webhook secret is encrypted with key {key_id} ({resealed} endpoints re-encrypted)"
            ),
            None => bail!("set OPENRAILS_ENCRYPTION_KEY to encrypt webhook secrets"),
        },
        WebhooksAction::Test { .. } => {}
    }
    db.close().await;
    Ok(())
}

/// Sends a representative `payment.paid` event, signed, and prints what came back.
async fn send_test(settings: &Settings, url: &str, secret: Option<String>) -> anyhow::Result<()> {
    let secret = match secret {
        Some(secret) => secret,
        None => {
            let secret = new_secret()?;
            println!("Signing with a new secret: {secret}");
            secret
        }
    };
    // The operator's own command: it may test a local receiver whatever the mode.
    let clients = WebhookClients::new(
        std::time::Duration::from_secs(settings.webhook_timeout_seconds),
        EndpointRules::sandbox_anywhere(),
    )?;
    let client = clients.for_environment(Environment::Sandbox);
    let response = send_test_event(client, url, &secret, settings.routes.first())
        .await
        .with_context(|| format!("sending the test event to {url}"))?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    println!(
        "{url} answered {status}\n{}",
        text.chars().take(2048).collect::<String>()
    );
    if !status.is_success() {
        bail!("the endpoint did not answer with a 2xx status");
    }
    Ok(())
}
