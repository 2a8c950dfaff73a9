//! Payment routes: how a buyer can pay (card, wallet, local), through which provider, and at
//! which fee rates. Configured in the config file; these are the sandbox defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::fees::{Fees, Rate};
use super::{Environment, RouteKind};

/// A route as configured. Rates are fractions (`0.032` is 3.2 %).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentRoute {
    /// Its stable id (`card-bridge-a`), stored on payments and sent in webhooks.
    pub id: String,
    /// How the buyer pays on it.
    pub kind: RouteKind,
    /// What buyers read for the route (`Credit card`), unless `labels` has their language.
    pub label: String,
    /// The provider's display name, as in webhooks (`route.provider`).
    pub provider: String,
    /// The provider that carries the route: `sandbox` in this build.
    #[serde(default = "default_integration")]
    pub integration: String,
    /// The asset the payment settles in, as in webhooks (`USDC`).
    #[serde(default = "default_asset")]
    pub asset: String,
    /// The network it settles on, as in webhooks (`Base`).
    #[serde(default = "default_network")]
    pub network: String,
    /// The buyer's fee, as a fraction of the price, added to it.
    pub buyer_fee_rate: f64,
    /// The gateway's fee, as a fraction of the price, taken from it.
    pub gateway_fee_rate: f64,
    /// How long paying is expected to take (`instant`), unless `etas` has the buyer's language;
    /// may be empty.
    #[serde(default)]
    pub eta: String,
    /// The label in other languages, by language code (`es`, `pt-BR`); `label` otherwise.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The expected time in other languages, by language code; `eta` otherwise.
    #[serde(default)]
    pub etas: BTreeMap<String, String>,
    /// How long a payment may stay pending at the provider on this route; the global
    /// `provider_timeout_seconds` when not given. A bank transfer takes days, a card seconds.
    #[serde(default)]
    pub provider_timeout_seconds: Option<i64>,
    /// Environments this route is offered in.
    #[serde(default = "sandbox_only")]
    pub environments: Vec<Environment>,
}

/// The sandbox provider's id: the integration of the default routes.
pub const SANDBOX_INTEGRATION: &str = "sandbox";

/// The integrations this build carries: what a route's `integration` may name.
pub const INTEGRATIONS: &[&str] = &[SANDBOX_INTEGRATION];

fn default_integration() -> String {
    SANDBOX_INTEGRATION.into()
}
fn default_asset() -> String {
    "USDC".into()
}
fn default_network() -> String {
    "Base".into()
}
fn sandbox_only() -> Vec<Environment> {
    vec![Environment::Sandbox]
}

impl PaymentRoute {
    /// What paying `amount_cents` through this route costs and yields.
    pub fn fees(&self, amount_cents: i64) -> Fees {
        Fees::compute(
            amount_cents,
            Rate::from_fraction(self.buyer_fee_rate),
            Rate::from_fraction(self.gateway_fee_rate),
        )
    }

    /// The label buyers read in `language`.
    pub fn label_in(&self, language: &str) -> &str {
        self.labels.get(language).unwrap_or(&self.label)
    }

    /// The expected time buyers read in `language`.
    pub fn eta_in(&self, language: &str) -> &str {
        self.etas.get(language).unwrap_or(&self.eta)
    }

    /// Whether buyers of `environment`'s sessions are offered this route.
    pub fn offered_in(&self, environment: Environment) -> bool {
        self.environments.contains(&environment)
    }
}

/// (language, label, eta) for the default routes' other languages.
fn translated(mut route: PaymentRoute, texts: &[(&str, &str, &str)]) -> PaymentRoute {
    for (language, label, eta) in texts {
        route.labels.insert((*language).into(), (*label).into());
        route.etas.insert((*language).into(), (*eta).into());
    }
    route
}

/// One sandbox route of each kind.
pub fn default_routes() -> Vec<PaymentRoute> {
    let route =
        |id: &str, kind, label: &str, provider: &str, buyer, gateway, eta: &str| PaymentRoute {
            id: id.into(),
            kind,
            label: label.into(),
            provider: provider.into(),
            integration: default_integration(),
            asset: default_asset(),
            network: default_network(),
            buyer_fee_rate: buyer,
            gateway_fee_rate: gateway,
            eta: eta.into(),
            labels: BTreeMap::new(),
            etas: BTreeMap::new(),
            provider_timeout_seconds: None,
            environments: sandbox_only(),
        };
    let card = route(
        "card-bridge-a",
        RouteKind::Card,
        "Credit card",
        "Sandbox Card",
        0.032,
        0.03,
        "instant",
    );
    let wallet = route(
        "wallet-usdc-base",
        RouteKind::Wallet,
        "USDC wallet",
        "Sandbox Wallet",
        0.005,
        0.01,
        "about 1 minute",
    );
    let bank = route(
        "local-bank-transfer",
        RouteKind::Local,
        "Bank transfer",
        "Sandbox Bank",
        0.0,
        0.01,
        "1–2 business days",
    );
    vec![
        translated(
            card,
            &[
                ("es", "Tarjeta de crédito", "al instante"),
                ("pt-BR", "Cartão de crédito", "na hora"),
            ],
        ),
        translated(
            wallet,
            &[
                ("es", "Billetera USDC", "alrededor de 1 minuto"),
                ("pt-BR", "Carteira USDC", "cerca de 1 minuto"),
            ],
        ),
        PaymentRoute {
            // A bank transfer takes days, not minutes.
            provider_timeout_seconds: Some(3 * 86_400),
            ..translated(
                bank,
                &[
                    ("es", "Transferencia bancaria", "1–2 días hábiles"),
                    ("pt-BR", "Transferência bancária", "1–2 dias úteis"),
                ],
            )
        },
    ]
}

/// The first route of `kind` offered in `environment`.
pub fn pick(
    routes: &[PaymentRoute],
    kind: RouteKind,
    environment: Environment,
) -> Option<&PaymentRoute> {
    routes
        .iter()
        .find(|r| r.kind == kind && r.offered_in(environment))
}
