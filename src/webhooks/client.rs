//! The HTTP clients that deliver webhooks, and where they may not go.
//!
//! Production endpoints must use https and must not reach loopback, private, link-local
//! (cloud metadata), shared or other non-public addresses. That is checked when an endpoint is
//! registered and again at every delivery, where the client's resolver drops such addresses
//! and the worker refuses such a literal address, so a DNS answer that changes after
//! registration cannot smuggle a request inside.
//!
//! On a server in production mode the same address rule binds sandbox endpoints (any sandbox
//! key may register one, and the first 2 KiB of each answer is readable through the events
//! API, so a private address would be a window into the operator's network); they may still
//! use plain http. The operator can lift that with `webhook_allow_private_sandbox_endpoints`.
//! In development mode sandbox endpoints may target anything, `http://localhost` included.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::config::{Mode, Settings};
use crate::domain::Environment;
use crate::domain::url::HttpUrl;

/// Which endpoints must keep to public addresses: production's always, sandbox's on a server
/// in production mode unless the operator allows private ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointRules {
    sandbox_public_only: bool,
}

impl EndpointRules {
    /// The rules the configuration asks for: sandbox endpoints are held to public addresses on a
    /// server in production mode, unless `webhook_allow_private_sandbox_endpoints` is set.
    pub fn from_settings(settings: &Settings) -> EndpointRules {
        EndpointRules {
            sandbox_public_only: settings.mode == Mode::Production
                && !settings.webhook_allow_private_sandbox_endpoints,
        }
    }

    /// Sandbox endpoints may reach anything (a development server, or the operator's own
    /// `webhooks test`); production endpoints still only public addresses.
    pub fn sandbox_anywhere() -> EndpointRules {
        EndpointRules {
            sandbox_public_only: false,
        }
    }

    /// Whether `environment`'s endpoints may reach only public addresses.
    pub fn public_only(self, environment: Environment) -> bool {
        environment == Environment::Production || self.sandbox_public_only
    }
}

/// Addresses a production webhook must never reach: everything the IANA special-purpose
/// registries do not mark as globally reachable, and every IPv6 encoding that can lead to such
/// an IPv4 address (mapped, compatible, 6to4, Teredo, NAT64). A public IPv4 address mapped
/// into IPv6 (`::ffff:a.b.c.d`) is judged as that IPv4 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

/// IPv4 blocks that are not globally reachable (IANA IPv4 Special-Purpose Address Registry),
/// as (first address, prefix length).
const FORBIDDEN_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network"
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // shared address space (carrier-grade NAT)
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link local, cloud metadata
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments (DS-Lite, NAT64 discovery, …)
    ([192, 0, 2, 0], 24),    // documentation (TEST-NET-1)
    ([192, 88, 99, 0], 24),  // deprecated 6to4 relay anycast
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation (TEST-NET-2)
    ([203, 0, 113, 0], 24),  // documentation (TEST-NET-3)
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the limited broadcast 255.255.255.255
];

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    FORBIDDEN_V4.iter().any(|&(network, prefix)| {
        let mask = u32::MAX << (32 - u32::from(prefix));
        ip & mask == u32::from(Ipv4Addr::from(network))
    })
}

/// Only global unicast (`2000::/3`) may be reached, minus its special blocks. Outside it lie
/// `::/8` (unspecified, loopback, IPv4-compatible `::a.b.c.d`, IPv4-translated, NAT64
/// `64:ff9b::/96` and its local-use `64:ff9b:1::/48`), the discard prefix `100::/64`, SRv6
/// `5f00::/16`, unique local `fc00::/7`, link local `fe80::/10`, the old site local
/// `fec0::/10`, multicast `ff00::/8` and the unassigned rest.
fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    (s[0] & 0xe000) != 0x2000
        // IETF protocol assignments: Teredo 2001::/32 (tunnels to any IPv4 address),
        // benchmarking, ORCHID, ORCHIDv2 and the rest of 2001::/23
        || (s[0] == 0x2001 && s[1] < 0x0200)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0] == 0x2002 // 6to4: reaches whatever IPv4 address it embeds
        || (s[0] == 0x3fff && s[1] < 0x1000) // documentation (3fff::/20)
}

/// The address a URL names literally, as the HTTP client will read it: the URL standard also
/// turns spellings such as `2130706433`, `0x7f.1` or `127.1` into 127.0.0.1.
pub fn literal_ip(url: &str) -> Option<IpAddr> {
    match reqwest::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(_) => None,
    }
}

/// Whether `url` may receive `environment`'s webhooks under `rules`; the reason when not.
/// Resolves the host when the address rule applies.
pub async fn check_endpoint_url(
    url: &str,
    environment: Environment,
    rules: EndpointRules,
) -> Result<(), String> {
    if url.chars().count() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let parsed = HttpUrl::parse(url).map_err(str::to_owned)?;
    if !rules.public_only(environment) {
        return Ok(());
    }
    let production = environment == Environment::Production;
    let context = if production {
        "in production"
    } else {
        "on this server (production mode)"
    };
    if production && !parsed.https {
        return Err("must use https in production".into());
    }
    let host = parsed.host.trim_start_matches('[').trim_end_matches(']');
    if let Some(ip) = literal_ip(url).or_else(|| host.parse::<IpAddr>().ok()) {
        return if is_forbidden_ip(ip) {
            Err(format!(
                "must not point to a loopback, private, link-local or reserved address {context}"
            ))
        } else {
            Ok(())
        };
    }
    if parsed.is_loopback() {
        return Err(format!("must not point to a loopback host {context}"));
    }
    let default_port = if parsed.https { 443 } else { 80 };
    let addrs: Vec<SocketAddr> =
        match tokio::net::lookup_host((host, parsed.port.unwrap_or(default_port))).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => return Err(format!("the host {host} could not be resolved")),
        };
    if addrs.is_empty() || addrs.iter().any(|a| is_forbidden_ip(a.ip())) {
        return Err(format!(
            "must not resolve to a loopback, private, link-local or reserved address {context}"
        ));
    }
    Ok(())
}

/// Resolves names like the system does, then drops every address a production webhook must
/// not reach; a name left with none fails to resolve.
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|a| !is_forbidden_ip(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(
                    format!("{host} resolves only to addresses webhooks may not reach").into(),
                );
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// One client per environment: same time-out, no redirects followed; production's resolver
/// refuses non-public addresses, and sandbox's too when the rules say so.
#[derive(Clone)]
pub struct WebhookClients {
    sandbox: reqwest::Client,
    production: reqwest::Client,
    rules: EndpointRules,
}

impl WebhookClients {
    /// Both clients, giving up on an endpoint after `timeout` (to connect, and for the whole
    /// request); production's may only use https.
    pub fn new(timeout: Duration, rules: EndpointRules) -> anyhow::Result<WebhookClients> {
        crate::crypto::install_crypto_provider();
        let base = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("OpenRails-Webhooks/", env!("CARGO_PKG_VERSION")))
                .pool_max_idle_per_host(32)
        };
        let sandbox = if rules.public_only(Environment::Sandbox) {
            base().dns_resolver(PublicOnlyResolver)
        } else {
            base()
        };
        Ok(WebhookClients {
            sandbox: sandbox.build().context("building the webhook client")?,
            production: base()
                .https_only(true)
                .dns_resolver(PublicOnlyResolver)
                .build()
                .context("building the production webhook client")?,
            rules,
        })
    }

    /// The client that delivers to `environment`'s endpoints.
    pub fn for_environment(&self, environment: Environment) -> &reqwest::Client {
        match environment {
            Environment::Production => &self.production,
            Environment::Sandbox => &self.sandbox,
        }
    }

    /// Whether deliveries to `environment`'s endpoints must keep to public addresses. The
    /// resolver covers names; the worker checks a literal address in the URL with this.
    pub fn public_only(&self, environment: Environment) -> bool {
        self.rules.public_only(environment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refused block with an example inside it, and addresses that must stay allowed.
    /// Only parsed and judged: nothing here is ever connected to.
    const ADDRESSES: &[(&str, &str, bool)] = &[
        // (address, block, forbidden)
        ("0.1.2.3", "0.0.0.0/8 this network", true),
        ("0.0.0.0", "0.0.0.0/32 unspecified", true),
        ("10.1.2.3", "10.0.0.0/8 private", true),
        ("100.64.0.1", "100.64.0.0/10 shared (CGN)", true),
        ("100.127.255.254", "100.64.0.0/10 shared (CGN), last", true),
        ("127.0.0.1", "127.0.0.0/8 loopback", true),
        ("127.255.255.254", "127.0.0.0/8 loopback, last", true),
        (
            "169.254.169.254",
            "169.254.0.0/16 link local (cloud metadata)",
            true,
        ),
        ("172.16.0.1", "172.16.0.0/12 private", true),
        ("172.31.255.254", "172.16.0.0/12 private, last", true),
        ("192.0.0.8", "192.0.0.0/24 IETF protocol assignments", true),
        ("192.0.2.10", "192.0.2.0/24 TEST-NET-1", true),
        ("192.88.99.1", "192.88.99.0/24 6to4 relay anycast", true),
        ("192.168.1.1", "192.168.0.0/16 private", true),
        ("198.18.0.1", "198.18.0.0/15 benchmarking", true),
        ("198.19.255.254", "198.18.0.0/15 benchmarking, last", true),
        ("198.51.100.7", "198.51.100.0/24 TEST-NET-2", true),
        ("203.0.113.9", "203.0.113.0/24 TEST-NET-3", true),
        ("224.0.0.251", "224.0.0.0/4 multicast", true),
        ("239.255.255.250", "224.0.0.0/4 multicast, last block", true),
        ("240.0.0.1", "240.0.0.0/4 reserved", true),
        ("255.255.255.255", "limited broadcast", true),
        ("::", "::/128 unspecified", true),
        ("::1", "::1/128 loopback", true),
        ("::127.0.0.1", "::/96 IPv4-compatible (loopback)", true),
        (
            "::8.8.8.8",
            "::/96 IPv4-compatible (deprecated, even public)",
            true,
        ),
        (
            "::ffff:127.0.0.1",
            "::ffff:0:0/96 IPv4-mapped loopback",
            true,
        ),
        ("::ffff:10.0.0.1", "::ffff:0:0/96 IPv4-mapped private", true),
        (
            "::ffff:169.254.169.254",
            "::ffff:0:0/96 IPv4-mapped link local",
            true,
        ),
        ("::ffff:0:10.0.0.1", "::ffff:0:0:0/96 IPv4-translated", true),
        ("64:ff9b::a00:1", "64:ff9b::/96 NAT64 to 10.0.0.1", true),
        (
            "64:ff9b::808:808",
            "64:ff9b::/96 NAT64, even to a public address",
            true,
        ),
        ("64:ff9b:1::1", "64:ff9b:1::/48 local-use NAT64", true),
        ("100::1", "100::/64 discard only", true),
        ("100:0:0:1::1", "100:0:0:1::/64 dummy prefix", true),
        ("2001::1", "2001::/32 Teredo", true),
        (
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "2001::/32 Teredo (embedded IPv4)",
            true,
        ),
        ("2001:2::1", "2001:2::/48 benchmarking", true),
        ("2001:10::1", "2001:10::/28 ORCHID", true),
        ("2001:20::1", "2001:20::/28 ORCHIDv2", true),
        (
            "2001:1ff::1",
            "2001::/23 IETF protocol assignments, last",
            true,
        ),
        ("2001:db8::1", "2001:db8::/32 documentation", true),
        ("2002:7f00:1::1", "2002::/16 6to4 of 127.0.0.1", true),
        ("2002:a00:1::1", "2002::/16 6to4 of 10.0.0.1", true),
        (
            "2002:808:808::1",
            "2002::/16 6to4, even of a public address",
            true,
        ),
        ("3fff::1", "3fff::/20 documentation", true),
        ("5f00::1", "5f00::/16 SRv6 SIDs", true),
        ("fc00::1", "fc00::/7 unique local", true),
        ("fd12:3456::1", "fc00::/7 unique local", true),
        ("fe80::1", "fe80::/10 link local", true),
        ("febf::1", "fe80::/10 link local, last", true),
        ("fec0::1", "fec0::/10 site local (deprecated)", true),
        ("ff02::1", "ff00::/8 multicast", true),
        ("4000::1", "outside 2000::/3: unassigned", true),
        // allowed
        ("93.184.216.34", "public IPv4", false),
        ("1.1.1.1", "public IPv4", false),
        (
            "100.63.255.255",
            "public IPv4 just below the shared block",
            false,
        ),
        (
            "100.128.0.1",
            "public IPv4 just above the shared block",
            false,
        ),
        ("172.32.0.1", "public IPv4 just above 172.16.0.0/12", false),
        ("192.0.1.1", "public IPv4 beside 192.0.0.0/24", false),
        ("198.20.0.1", "public IPv4 just above benchmarking", false),
        ("223.255.255.254", "public IPv4 just below multicast", false),
        ("::ffff:93.184.216.34", "IPv4-mapped public IPv4", false),
        ("2606:4700:4700::1111", "public IPv6", false),
        ("2a00:1450:4001:82a::200e", "public IPv6", false),
        ("2001:200::1", "public IPv6 just above 2001::/23", false),
        ("3ffe:1000::1", "public IPv6 below 3fff::/20", false),
        ("3fff:1000::1", "public IPv6 just above 3fff::/20", false),
    ];

    #[test]
    fn every_special_purpose_block_is_forbidden_and_public_addresses_are_not() {
        for &(address, block, forbidden) in ADDRESSES {
            let ip: IpAddr = address.parse().expect(address);
            assert_eq!(
                is_forbidden_ip(ip),
                forbidden,
                "{address} ({block}) should be {}",
                if forbidden { "forbidden" } else { "allowed" }
            );
        }
    }

    #[tokio::test]
    async fn production_endpoints_need_https_to_a_public_address() {
        let prod = Environment::Production;
        let rules = EndpointRules::sandbox_anywhere();
        assert!(
            check_endpoint_url("http://93.184.216.34/hook", prod, rules)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://127.0.0.1/hook", prod, rules)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://localhost/hook", prod, rules)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://[::1]/hook", prod, rules)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://169.254.169.254/latest", prod, rules)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://93.184.216.34/hook", prod, rules)
                .await
                .is_ok()
        );
        assert!(
            check_endpoint_url("http://localhost:3000/hook", Environment::Sandbox, rules)
                .await
                .is_ok()
        );
        assert!(
            check_endpoint_url("javascript:alert(1)", Environment::Sandbox, rules)
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn in_production_mode_sandbox_endpoints_keep_to_public_addresses() {
        let settings = Settings {
            mode: Mode::Production,
            ..Settings::default()
        };
        let rules = EndpointRules::from_settings(&settings);
        let sandbox = Environment::Sandbox;
        for url in [
            "http://127.0.0.1:4000/hook",
            "http://localhost:3000/hook",
            "http://10.0.0.8/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::127.0.0.1]/hook",
            "http://2130706433/hook",
        ] {
            assert!(
                check_endpoint_url(url, sandbox, rules).await.is_err(),
                "{url}"
            );
        }
        // Plain http to a public address is fine for sandbox endpoints.
        assert!(
            check_endpoint_url("http://93.184.216.34/hook", sandbox, rules)
                .await
                .is_ok()
        );
        let allowed = EndpointRules::from_settings(&Settings {
            webhook_allow_private_sandbox_endpoints: true,
            ..settings.clone()
        });
        assert!(
            check_endpoint_url("http://127.0.0.1:4000/hook", sandbox, allowed)
                .await
                .is_ok()
        );
        let development = EndpointRules::from_settings(&Settings::default());
        assert!(
            check_endpoint_url("http://localhost:3000/hook", sandbox, development)
                .await
                .is_ok()
        );
        for rules in [rules, allowed, development] {
            assert!(
                check_endpoint_url("https://10.0.0.8/hook", Environment::Production, rules)
                    .await
                    .is_err()
            );
        }
    }
}
