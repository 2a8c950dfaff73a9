//! A `stripe` route's settings (`stripe = { … }` in the config file) and their checks: the
//! secret key and the webhook signing secrets come from environment variables the settings
//! name, never from the file, and a key serves one environment only (`sk_test_…` the
//! sandbox, `sk_live_…` production).

use std::fmt;

use serde::Deserialize;

use super::{Environment, RouteKind};

/// The payment methods of Stripe Checkout a route may offer, for a one-off payment in USD.
pub const PAYMENT_METHOD_TYPES: &[&str] =
    &["card", "link", "cashapp", "amazon_pay", "us_bank_account"];

/// Methods that settle days later (a bank debit): the methods of `local` routes.
pub const DELAYED_METHOD_TYPES: &[&str] = &["us_bank_account"];

/// Stripe's API, unless a route points elsewhere (a stand-in in tests).
pub const DEFAULT_API_BASE: &str = "https://api.stripe.com";

/// A `stripe` route's settings, as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StripeRoute {
    /// The environment variable that holds the secret key (`sk_test_…` or `sk_live_…`).
    pub secret_key_env: String,
    /// The environment variable that holds the webhook endpoint's signing secret (`whsec_…`;
    /// two, separated by a comma, while a secret is rolled). Without it, outcomes are learned
    /// by polling only.
    #[serde(default)]
    pub webhook_secret_env: Option<String>,
    /// What the buyer may pay with on Stripe's page.
    #[serde(default = "default_methods")]
    pub payment_method_types: Vec<String>,
    /// Where Stripe's API is.
    #[serde(default = "default_api_base")]
    pub api_base: String,
}

fn default_methods() -> Vec<String> {
    vec!["card".into()]
}

fn default_api_base() -> String {
    DEFAULT_API_BASE.into()
}

/// A `stripe` route's settings, checked, with its secrets read.
#[derive(Clone)]
pub struct StripeTarget {
    /// The secret key: sent to Stripe only, never shown (`Debug` hides it).
    pub secret_key: String,
    /// Whether it is a live key (production) rather than a test key (the sandbox).
    pub live: bool,
    /// The webhook signing secrets accepted (none: polling only).
    pub webhook_secrets: Vec<String>,
    /// What the buyer may pay with.
    pub payment_method_types: Vec<String>,
    /// Stripe's API, without a trailing slash.
    pub api_base: String,
}

impl fmt::Debug for StripeTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StripeTarget")
            .field("secret_key", &"<hidden>")
            .field("live", &self.live)
            .field("webhook_secrets", &self.webhook_secrets.len())
            .field("payment_method_types", &self.payment_method_types)
            .field("api_base", &self.api_base)
            .finish()
    }
}

impl StripeRoute {
    /// Checks the settings of a route of `kind` offered in `environments`, reading its
    /// secrets with `env` (the process environment, or a test's). The error says what to
    /// change, and never shows a secret.
    pub fn check(
        &self,
        kind: RouteKind,
        environments: &[Environment],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<StripeTarget, String> {
        if kind == RouteKind::Wallet {
            return Err("the stripe integration carries card and local routes".into());
        }
        let live = match environments {
            [Environment::Production] => true,
            [Environment::Sandbox] => false,
            _ => {
                return Err(
                    "a Stripe key is either a test key (the sandbox) or a live key \
                     (production): give the route one environment, and configure a second \
                     route for the other"
                        .into(),
                );
            }
        };
        let secret_key =
            read(env, "stripe.secret_key_env", &self.secret_key_env)?.ok_or_else(|| {
                format!(
                    "the environment variable {} (stripe.secret_key_env) is not set: it must \
                     hold the Stripe secret key",
                    self.secret_key_env
                )
            })?;
        let key_live = key_mode(&secret_key).ok_or_else(|| {
            format!(
                "the environment variable {} does not hold a Stripe secret key (sk_test_…, \
                 sk_live_…, or a restricted rk_test_… / rk_live_… key)",
                self.secret_key_env
            )
        })?;
        match (live, key_live) {
            (true, false) => {
                return Err(format!(
                    "{} holds a test key, but the route serves production: use a live key \
                     (sk_live_…), or offer the route in the sandbox",
                    self.secret_key_env
                ));
            }
            (false, true) => {
                return Err(format!(
                    "{} holds a live key, which moves real money, but the route serves the \
                     sandbox: use a test key (sk_test_…), or offer the route in production",
                    self.secret_key_env
                ));
            }
            _ => {}
        }
        let webhook_secrets = match &self.webhook_secret_env {
            None => Vec::new(),
            Some(name) => {
                let value = read(env, "stripe.webhook_secret_env", name)?.ok_or_else(|| {
                    format!(
                        "the environment variable {name} (stripe.webhook_secret_env) is not \
                         set: it must hold the webhook endpoint's signing secret (whsec_…), \
                         or leave webhook_secret_env out to learn outcomes by polling only"
                    )
                })?;
                let secrets: Vec<String> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if secrets.is_empty() || secrets.iter().any(|s| !s.starts_with("whsec_")) {
                    return Err(format!(
                        "{name} must hold the webhook signing secret (whsec_…; two separated \
                         by a comma while one is rolled)"
                    ));
                }
                secrets
            }
        };
        if self.payment_method_types.is_empty() {
            return Err("stripe.payment_method_types must name at least one method".into());
        }
        for (i, method) in self.payment_method_types.iter().enumerate() {
            if !PAYMENT_METHOD_TYPES.contains(&method.as_str()) {
                return Err(format!(
                    "stripe.payment_method_types: {method:?} is not a method this integration \
                     offers (available: {})",
                    PAYMENT_METHOD_TYPES.join(", ")
                ));
            }
            if self.payment_method_types[..i].contains(method) {
                return Err(format!(
                    "stripe.payment_method_types names {method:?} twice"
                ));
            }
            let delayed = DELAYED_METHOD_TYPES.contains(&method.as_str());
            if delayed != (kind == RouteKind::Local) {
                return Err(if delayed {
                    format!(
                        "stripe.payment_method_types: {method:?} settles days later and belongs \
                         on a route of kind \"local\""
                    )
                } else {
                    format!(
                        "stripe.payment_method_types: {method:?} is not a bank debit: a \
                         \"local\" route offers {}",
                        DELAYED_METHOD_TYPES.join(", ")
                    )
                });
            }
        }
        let api_base = self.api_base.trim_end_matches('/').to_owned();
        check_api_base(&api_base)?;
        Ok(StripeTarget {
            secret_key,
            live,
            webhook_secrets,
            payment_method_types: self.payment_method_types.clone(),
            api_base,
        })
    }
}

/// The value of environment variable `name` (named by setting `setting`), `None` when unset
/// or empty.
fn read(
    env: &dyn Fn(&str) -> Option<String>,
    setting: &str,
    name: &str,
) -> Result<Option<String>, String> {
    let looks_like_a_secret = ["sk_", "rk_", "pk_", "whsec_"]
        .iter()
        .any(|prefix| name.starts_with(prefix));
    let valid = !name.is_empty()
        && !looks_like_a_secret
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{setting} must name an environment variable (letters, digits and _), not hold a \
             value"
        ));
    }
    Ok(env(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty()))
}

/// Whether `key` is a live key (`Some(true)`), a test key (`Some(false)`), or not a Stripe
/// secret key at all.
fn key_mode(key: &str) -> Option<bool> {
    let (mode, rest) = key
        .strip_prefix("sk_")
        .or_else(|| key.strip_prefix("rk_"))?
        .split_once('_')?;
    let well_formed = rest.len() >= 8 && rest.chars().all(|c| c.is_ascii_alphanumeric());
    match mode {
        "live" if well_formed => Some(true),
        "test" if well_formed => Some(false),
        _ => None,
    }
}

/// An `https://` address, or `http://` on this machine only (a stand-in).
fn check_api_base(api_base: &str) -> Result<(), String> {
    let url = url::Url::parse(api_base)
        .map_err(|e| format!("stripe.api_base {api_base:?} is not a URL: {e}"))?;
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "stripe.api_base must be an https:// URL (http:// only on this machine): {api_base:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(methods: &[&str]) -> StripeRoute {
        StripeRoute {
            secret_key_env: "KEY".into(),
            webhook_secret_env: Some("HOOK".into()),
            payment_method_types: methods.iter().map(|m| (*m).to_owned()).collect(),
            api_base: DEFAULT_API_BASE.into(),
        }
    }

    fn env_with(key: &'static str, hook: &'static str) -> impl Fn(&str) -> Option<String> {
        move |name: &str| match name {
            "KEY" => Some(key.to_owned()),
            "HOOK" => Some(hook.to_owned()),
            _ => None,
        }
    }

    const TEST_KEY: &str = "sk_test_51AbCdEfGhIjKlMn";
    const LIVE_KEY: &str = "sk_live_51AbCdEfGhIjKlMn";

    #[test]
    fn a_test_key_serves_the_sandbox_and_a_live_key_production_only() {
        let env = env_with(TEST_KEY, "whsec_abc");
        let target = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &env)
            .unwrap();
        assert!(!target.live);
        assert_eq!(target.webhook_secrets, ["whsec_abc"]);
        let refused = route(&["card"])
            .check(RouteKind::Card, &[Environment::Production], &env)
            .unwrap_err();
        assert!(refused.contains("holds a test key"), "{refused}");
        let live = env_with(LIVE_KEY, "whsec_abc");
        let refused = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &live)
            .unwrap_err();
        assert!(refused.contains("holds a live key"), "{refused}");
        assert!(!refused.contains(LIVE_KEY), "{refused}");
        let both = [Environment::Sandbox, Environment::Production];
        assert!(
            route(&["card"])
                .check(RouteKind::Card, &both, &live)
                .is_err()
        );
    }

    #[test]
    fn missing_or_malformed_secrets_are_refused_without_showing_them() {
        let none = |_: &str| None;
        let refused = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &none)
            .unwrap_err();
        assert!(
            refused.contains("KEY (stripe.secret_key_env) is not set"),
            "{refused}"
        );
        let publishable = env_with("pk_test_51AbCdEfGhIjKlMn", "whsec_abc");
        let refused = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &publishable)
            .unwrap_err();
        assert!(
            refused.contains("does not hold a Stripe secret key"),
            "{refused}"
        );
        assert!(!refused.contains("pk_test_51"), "{refused}");
        let bad_hook = env_with(TEST_KEY, "not-a-secret");
        let refused = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &bad_hook)
            .unwrap_err();
        assert!(refused.contains("whsec_"), "{refused}");
        assert!(!refused.contains("not-a-secret"), "{refused}");
        let rolled = env_with(TEST_KEY, "whsec_new, whsec_old");
        let target = route(&["card"])
            .check(RouteKind::Card, &[Environment::Sandbox], &rolled)
            .unwrap();
        assert_eq!(target.webhook_secrets, ["whsec_new", "whsec_old"]);
        let mut literal = route(&["card"]);
        literal.secret_key_env = TEST_KEY.into();
        assert!(
            literal
                .check(RouteKind::Card, &[Environment::Sandbox], &none)
                .unwrap_err()
                .contains("must name an environment variable")
        );
    }

    #[test]
    fn methods_are_known_and_fit_the_routes_kind() {
        let env = env_with(TEST_KEY, "whsec_abc");
        let sandbox = [Environment::Sandbox];
        let check = |kind, methods: &[&str]| route(methods).check(kind, &sandbox, &env);
        assert!(check(RouteKind::Card, &["card", "link"]).is_ok());
        assert!(check(RouteKind::Local, &["us_bank_account"]).is_ok());
        let unknown = check(RouteKind::Card, &["bitcoin"]).unwrap_err();
        assert!(unknown.contains("\"bitcoin\" is not a method"), "{unknown}");
        assert!(check(RouteKind::Card, &["us_bank_account"]).is_err());
        assert!(check(RouteKind::Local, &["card"]).is_err());
        assert!(check(RouteKind::Card, &[]).is_err());
        assert!(check(RouteKind::Card, &["card", "card"]).is_err());
        assert!(check(RouteKind::Wallet, &["card"]).is_err());
    }

    #[test]
    fn the_api_is_reached_over_https_or_on_this_machine() {
        let env = env_with(TEST_KEY, "whsec_abc");
        let sandbox = [Environment::Sandbox];
        let with_base = |base: &str| {
            let mut r = route(&["card"]);
            r.api_base = base.into();
            r.check(RouteKind::Card, &sandbox, &env)
        };
        assert_eq!(
            with_base("http://127.0.0.1:4010/").unwrap().api_base,
            "http://127.0.0.1:4010"
        );
        assert!(with_base("http://api.stripe.com").is_err());
        assert!(with_base("ftp://api.stripe.com").is_err());
        assert!(with_base("not a url").is_err());
    }
}
