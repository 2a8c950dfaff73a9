//! `providers check`: calls each configured provider once, as harmlessly as it can, and says
//! what works: the operator's first step after configuring a route.

use std::time::Instant;

use clap::Subcommand;

use crate::config::Settings;
use crate::domain::payment_route::{ONCHAIN_INTEGRATION, SANDBOX_INTEGRATION, STRIPE_INTEGRATION};
use crate::lifecycle::onchain::{check_chain, scanners};
use crate::providers::stripe::StripeProvider;

#[derive(Subcommand)]
pub enum ProvidersAction {
    /// Call each configured provider once (for Stripe an authenticated read, for a chain its
    /// id, head and token) and report what works; exits non-zero when one fails.
    Check,
}

pub async fn run(settings: Settings, action: ProvidersAction) -> anyhow::Result<()> {
    match action {
        ProvidersAction::Check => check(&settings).await,
    }
}

async fn check(settings: &Settings) -> anyhow::Result<()> {
    let mut failures = 0;
    for route in &settings.routes {
        if route.integration == SANDBOX_INTEGRATION {
            println!("route {}: sandbox, built in: nothing to call", route.id);
        }
    }
    for scanner in scanners(settings)? {
        let started = Instant::now();
        let answer = async {
            let chain_id = scanner.rpc.chain_id().await?;
            let head = scanner.rpc.block_number().await?;
            anyhow::Ok((chain_id, head))
        };
        match answer.await {
            Ok((_, head)) => match check_chain(&scanner).await {
                Ok(()) => println!(
                    "chain {} ({ONCHAIN_INTEGRATION}): ok, head {head}, token {} answers, {} ms",
                    scanner.chain_id,
                    scanner.token,
                    started.elapsed().as_millis()
                ),
                Err(e) => {
                    failures += 1;
                    println!(
                        "chain {} ({ONCHAIN_INTEGRATION}): FAILED: {e:#}",
                        scanner.chain_id
                    );
                }
            },
            Err(e) => {
                failures += 1;
                println!(
                    "chain {} ({ONCHAIN_INTEGRATION}): FAILED: the RPC endpoint did not answer: {e:#}",
                    scanner.chain_id
                );
            }
        }
    }
    let stripe_routes = settings.stripe_routes()?;
    if !stripe_routes.is_empty() {
        let webhooks: Vec<(String, bool)> = stripe_routes
            .iter()
            .map(|(route, target)| (route.id.clone(), !target.webhook_secrets.is_empty()))
            .collect();
        let provider = StripeProvider::new(
            stripe_routes
                .into_iter()
                .map(|(route, target)| (route.id.clone(), target))
                .collect(),
            0,
        )?;
        for (route_id, has_webhook_secret) in webhooks {
            let started = Instant::now();
            match provider.check(&route_id).await {
                Ok(live) => println!(
                    "route {route_id} ({STRIPE_INTEGRATION}): ok, the {} key is accepted, {} ms{}",
                    if live { "live" } else { "test" },
                    started.elapsed().as_millis(),
                    if has_webhook_secret {
                        ""
                    } else {
                        "; no webhook secret: outcomes are learned by polling only"
                    }
                ),
                Err(e) => {
                    failures += 1;
                    println!("route {route_id} ({STRIPE_INTEGRATION}): FAILED: {e}");
                }
            }
        }
    }
    if failures > 0 {
        anyhow::bail!("{failures} provider check(s) failed");
    }
    Ok(())
}
