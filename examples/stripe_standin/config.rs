//! The accounts it serves (one per secret key), from the environment.

use super::DEFAULT_API_VERSION;

/// One secret key: an account of its own.
#[derive(Clone)]
pub struct Account {
    pub secret: String,
    pub livemode: bool,
}

pub struct Config {
    pub accounts: Vec<Account>,
    pub webhook_url: Option<String>,
    pub webhook_secret: Option<String>,
    pub api_version: String,
}

impl Config {
    /// From the environment; a message naming the variable when one is wrong. Secrets
    /// are never part of a message.
    pub fn from_env() -> Result<Config, String> {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let keys = var("STANDIN_SECRET_KEY")
            .ok_or("STANDIN_SECRET_KEY is not set (the sk_test_… or sk_live_… key to accept)")?;
        let accounts = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|key| {
                let livemode = if key.starts_with("sk_test_") {
                    false
                } else if key.starts_with("sk_live_") {
                    true
                } else {
                    return Err("STANDIN_SECRET_KEY must hold sk_test_… or sk_live_… keys");
                };
                Ok(Account {
                    secret: key.to_owned(),
                    livemode,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let webhook_url = var("STANDIN_WEBHOOK_URL");
        if let Some(url) = &webhook_url {
            check_loopback(url)?;
        }
        let webhook_secret = var("STANDIN_WEBHOOK_SECRET");
        match &webhook_secret {
            Some(secret) if !secret.starts_with("whsec_") => {
                return Err("STANDIN_WEBHOOK_SECRET must start with whsec_".into());
            }
            None if webhook_url.is_some() => {
                return Err("STANDIN_WEBHOOK_URL needs STANDIN_WEBHOOK_SECRET (whsec_…)".into());
            }
            _ => {}
        }
        Ok(Config {
            accounts,
            webhook_url,
            webhook_secret,
            api_version: var("STANDIN_API_VERSION").unwrap_or(DEFAULT_API_VERSION.into()),
        })
    }

    pub fn account(&self, secret: &str) -> Option<&Account> {
        self.accounts.iter().find(|a| a.secret == secret)
    }
}

/// Webhooks go to this machine only: nothing the stand-in sends leaves 127.0.0.1.
pub fn check_loopback(url: &str) -> Result<(), String> {
    let parsed =
        url::Url::parse(url).map_err(|_| format!("STANDIN_WEBHOOK_URL is not a URL: {url}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    if !matches!(parsed.scheme(), "http" | "https") || !loopback {
        return Err(format!(
            "STANDIN_WEBHOOK_URL must be an http URL on 127.0.0.1, not {url}"
        ));
    }
    Ok(())
}
