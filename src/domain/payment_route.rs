//! Payment routes: how a buyer can pay (card, wallet, local), through which provider, and at
//! which fee rates. Configured in the config file; these are the sandbox defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::fees::{Fees, Rate};
use super::hd::ExtendedPublicKey;
use super::onchain::{self, ChainAddress};
use super::stripe::StripeRoute;
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
    /// The provider that carries the route: `sandbox` (the default), `sandbox_redirect`,
    /// `onchain` or `stripe`.
    #[serde(default = "default_integration")]
    pub integration: String,
    /// The asset the payment settles in, as in webhooks: `USDC` by default, `USD` on a
    /// `stripe` route (read it with [`PaymentRoute::asset`]).
    #[serde(default)]
    pub asset: Option<String>,
    /// The network it settles on, as in webhooks: `Base` by default, `Stripe` on a `stripe`
    /// route (read it with [`PaymentRoute::network`]).
    #[serde(default)]
    pub network: Option<String>,
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
    /// The `onchain` integration's settings (`onchain = { … }`), for its routes only.
    #[serde(default)]
    pub onchain: Option<OnchainRoute>,
    /// The `stripe` integration's settings (`stripe = { … }`), for its routes only.
    #[serde(default)]
    pub stripe: Option<StripeRoute>,
    /// A block explorer's page of a transaction, `{tx}` standing for its hash
    /// (`https://basescan.org/tx/{tx}`): receipts of payments settled on chain link to it.
    #[serde(default)]
    pub explorer_tx_url: Option<String>,
}

/// The sandbox provider's id: the integration of the default routes.
pub const SANDBOX_INTEGRATION: &str = "sandbox";

/// USDC watched on chain, with no provider in between: the integration of wallet routes that
/// take real money.
pub const ONCHAIN_INTEGRATION: &str = "onchain";

/// The sandbox's hosted variant: a card payment is paid on a page of the sandbox's own, as on
/// a provider that hosts its payment page (Stripe Checkout), with no key anywhere.
pub const SANDBOX_REDIRECT_INTEGRATION: &str = "sandbox_redirect";

/// Stripe Checkout, which hosts the payment page of card and bank-debit routes: the buyer is
/// sent there and comes back.
pub const STRIPE_INTEGRATION: &str = "stripe";

/// Whether `integration` hosts the payment page itself: the buyer is sent there (and pays
/// nothing on ours), as with Stripe Checkout.
pub fn provider_hosts_page(integration: &str) -> bool {
    integration == STRIPE_INTEGRATION || integration == SANDBOX_REDIRECT_INTEGRATION
}

/// The integrations this build carries: what a route's `integration` may name.
pub const INTEGRATIONS: &[&str] = &[
    SANDBOX_INTEGRATION,
    SANDBOX_REDIRECT_INTEGRATION,
    ONCHAIN_INTEGRATION,
    STRIPE_INTEGRATION,
];

/// How an `onchain` route tells one session's transfer from another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AddressMode {
    /// One settlement address; each session asks for a unique amount (116.000123 USDC).
    #[default]
    UniqueAmount,
    /// One address per session, derived from the merchant's extended public key.
    Xpub,
}

/// An `onchain` route's settings: which chain and token, where the money goes, how sure to be.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnchainRoute {
    /// The JSON-RPC endpoint of the chain (a paid one in production).
    pub rpc_url: RpcUrl,
    /// The chain: 8453 for Base, 84532 for Base Sepolia (sandbox).
    pub chain_id: u64,
    /// The token contract (native USDC on Base by default).
    #[serde(default = "default_token")]
    pub token_address: String,
    /// The token's decimals (6 for USDC).
    #[serde(default = "default_decimals")]
    pub token_decimals: u8,
    /// Where every payment goes in `unique_amount` mode.
    #[serde(default)]
    pub settlement_address: Option<String>,
    /// The merchant's extended public key, for `xpub` mode (the server never holds a key).
    #[serde(default)]
    pub xpub: Option<String>,
    /// How one session's transfer is told from another's.
    #[serde(default)]
    pub address_mode: AddressMode,
    /// How many blocks a transfer needs (its own included) before the payment is paid.
    #[serde(default = "default_confirmations")]
    pub confirmations: u64,
    /// How often the chain is asked for new blocks, in milliseconds.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// The most blocks one `eth_getLogs` call covers (providers cap it; catching up takes
    /// several calls).
    #[serde(default = "default_max_block_range")]
    pub max_block_range: u64,
}

/// A JSON-RPC endpoint's URL. Paid endpoints carry their API key in it, so it shows only its
/// scheme and host when printed.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct RpcUrl(String);

impl RpcUrl {
    /// The URL `url`.
    pub fn new(url: &str) -> RpcUrl {
        RpcUrl(url.to_owned())
    }

    /// The whole URL, key included: for the HTTP client only, never for a log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        let host = host.rsplit('@').next().unwrap_or_default();
        write!(f, "RpcUrl({scheme}://{host}/…)")
    }
}

/// Where an `onchain` route's payments go, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayTo {
    /// Every payment to one settlement address, told apart by a unique amount.
    UniqueAmount(ChainAddress),
    /// Each payment to an address of its own, derived from the merchant's extended public key.
    Xpub(ExtendedPublicKey),
}

/// An `onchain` route's settings, checked: what the provider and the scanner work with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnchainTarget {
    /// The chain's JSON-RPC endpoint.
    pub rpc_url: RpcUrl,
    /// The chain.
    pub chain_id: u64,
    /// The token contract.
    pub token: ChainAddress,
    /// The token's decimals.
    pub decimals: u8,
    /// Where payments go.
    pub pay_to: PayTo,
    /// How many blocks a transfer needs, its own included.
    pub confirmations: u64,
    /// How often the chain is asked for new blocks, in milliseconds.
    pub poll_interval_ms: u64,
    /// The most blocks one `eth_getLogs` call covers.
    pub max_block_range: u64,
}

/// The most confirmations a route may ask for: transfers are re-checked this deep after a
/// reorganisation.
pub const MAX_CONFIRMATIONS: u64 = 64;

impl OnchainRoute {
    /// Checks every key of an `onchain` route offered in `environments`; the error names the
    /// key and says what is wrong with it.
    pub fn check(&self, environments: &[Environment]) -> Result<OnchainTarget, String> {
        let url = self.rpc_url.expose().trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("onchain.rpc_url must be an http:// or https:// URL".into());
        }
        let production = environments.contains(&Environment::Production);
        if production && environments.contains(&Environment::Sandbox) {
            return Err(
                "an onchain route moves real money in production and test tokens in \
                 sandbox: give each environment a route of its own"
                    .into(),
            );
        }
        if production && self.chain_id != onchain::BASE_MAINNET {
            return Err(format!(
                "onchain.chain_id {} is not Base (8453): production routes take USDC on Base",
                self.chain_id
            ));
        }
        if !production && self.chain_id == onchain::BASE_MAINNET {
            return Err(
                "onchain.chain_id 8453 is Base mainnet, which moves real money: a sandbox route \
                 uses a test network such as Base Sepolia (84532)"
                    .into(),
            );
        }
        let token = ChainAddress::parse(&self.token_address)
            .map_err(|e| format!("onchain.token_address {e}"))?;
        if !(3..=36).contains(&self.token_decimals) {
            return Err("onchain.token_decimals must be between 3 and 36 (USDC has 6)".into());
        }
        if !(1..=MAX_CONFIRMATIONS).contains(&self.confirmations) {
            return Err(format!(
                "onchain.confirmations must be between 1 and {MAX_CONFIRMATIONS}"
            ));
        }
        if !(100..=60_000).contains(&self.poll_interval_ms) {
            return Err("onchain.poll_interval_ms must be between 100 and 60000".into());
        }
        if !(1..=100_000).contains(&self.max_block_range) {
            return Err("onchain.max_block_range must be between 1 and 100000".into());
        }
        let pay_to = match self.address_mode {
            AddressMode::UniqueAmount => {
                if self.xpub.is_some() {
                    return Err("onchain.xpub is for address_mode = \"xpub\"; \
                         address_mode \"unique_amount\" pays to settlement_address"
                        .into());
                }
                let text = self.settlement_address.as_deref().ok_or(
                    "onchain.settlement_address is required with address_mode \"unique_amount\"",
                )?;
                let address = ChainAddress::parse(text)
                    .map_err(|e| format!("onchain.settlement_address {e}"))?;
                if address.is_zero() || address == token {
                    return Err(
                        "onchain.settlement_address must be the merchant's own address, \
                         not the zero address or the token contract"
                            .into(),
                    );
                }
                PayTo::UniqueAmount(address)
            }
            AddressMode::Xpub => {
                if self.settlement_address.is_some() {
                    return Err("onchain.settlement_address is for address_mode \
                         \"unique_amount\"; address_mode \"xpub\" pays to addresses derived \
                         from onchain.xpub"
                        .into());
                }
                let text = self
                    .xpub
                    .as_deref()
                    .ok_or("onchain.xpub is required with address_mode \"xpub\"")?;
                let key =
                    ExtendedPublicKey::parse(text).map_err(|e| format!("onchain.xpub {e}"))?;
                PayTo::Xpub(key)
            }
        };
        Ok(OnchainTarget {
            rpc_url: RpcUrl::new(url),
            chain_id: self.chain_id,
            token,
            decimals: self.token_decimals,
            pay_to,
            confirmations: self.confirmations,
            poll_interval_ms: self.poll_interval_ms,
            max_block_range: self.max_block_range,
        })
    }
}

fn default_token() -> String {
    onchain::USDC_BASE.into()
}
fn default_decimals() -> u8 {
    6
}
fn default_confirmations() -> u64 {
    2
}
fn default_poll_interval_ms() -> u64 {
    2_000
}
fn default_max_block_range() -> u64 {
    1_000
}

fn default_integration() -> String {
    SANDBOX_INTEGRATION.into()
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

    /// The asset its payments settle in (`asset`, or the integration's: USD at Stripe, USDC
    /// otherwise).
    pub fn asset(&self) -> &str {
        match &self.asset {
            Some(asset) => asset,
            None if self.integration == STRIPE_INTEGRATION => "USD",
            None => "USDC",
        }
    }

    /// The network its payments settle on (`network`, or the integration's: Stripe, or Base).
    pub fn network(&self) -> &str {
        match &self.network {
            Some(network) => network,
            None if self.integration == STRIPE_INTEGRATION => "Stripe",
            None => "Base",
        }
    }

    /// Whether a payment on this route goes to its provider as soon as the buyer picks it
    /// (for a transfer's instructions, or to send the buyer to the provider's own page);
    /// otherwise it waits for the card the buyer types on our page.
    pub fn hands_off_at_once(&self) -> bool {
        self.kind != RouteKind::Card || provider_hosts_page(&self.integration)
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
            asset: None,
            network: None,
            buyer_fee_rate: buyer,
            gateway_fee_rate: gateway,
            eta: eta.into(),
            labels: BTreeMap::new(),
            etas: BTreeMap::new(),
            provider_timeout_seconds: None,
            environments: sandbox_only(),
            onchain: None,
            stripe: None,
            explorer_tx_url: None,
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
                ("fr", "Carte bancaire", "immédiat"),
                ("de", "Kreditkarte", "sofort"),
                ("it", "Carta di credito", "immediato"),
                ("nl", "Creditcard", "direct"),
                ("pl", "Karta kredytowa", "natychmiast"),
                ("ja", "クレジットカード", "即時"),
                ("zh-CN", "信用卡", "即时"),
                ("ko", "신용카드", "즉시"),
                ("ar", "بطاقة ائتمان", "فوري"),
            ],
        ),
        translated(
            wallet,
            &[
                ("es", "Billetera USDC", "alrededor de 1 minuto"),
                ("pt-BR", "Carteira USDC", "cerca de 1 minuto"),
                ("fr", "Portefeuille USDC", "environ 1 minute"),
                ("de", "USDC-Wallet", "etwa 1 Minute"),
                ("it", "Wallet USDC", "circa 1 minuto"),
                ("nl", "USDC-wallet", "ongeveer 1 minuut"),
                ("pl", "Portfel USDC", "około 1 minuty"),
                ("ja", "USDCウォレット", "約1分"),
                ("zh-CN", "USDC 钱包", "约 1 分钟"),
                ("ko", "USDC 지갑", "약 1분"),
                ("ar", "محفظة USDC", "حوالي دقيقة واحدة"),
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
                    ("fr", "Virement bancaire", "1 à 2 jours ouvrés"),
                    ("de", "Banküberweisung", "1–2 Werktage"),
                    ("it", "Bonifico bancario", "1–2 giorni lavorativi"),
                    ("nl", "Bankoverschrijving", "1–2 werkdagen"),
                    ("pl", "Przelew bankowy", "1–2 dni robocze"),
                    ("ja", "銀行振込", "1〜2営業日"),
                    ("zh-CN", "银行转账", "1–2 个工作日"),
                    ("ko", "계좌 이체", "영업일 기준 1~2일"),
                    ("ar", "تحويل بنكي", "1–2 يوم عمل"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_rpc_url_prints_without_its_key() {
        let url = RpcUrl::new("https://user:pw@base-mainnet.example.com/v2/SECRETKEY?k=SECRET");
        let shown = format!("{url:?}");
        assert_eq!(shown, "RpcUrl(https://base-mainnet.example.com/…)");
        assert!(url.expose().contains("SECRETKEY"));
    }
}
