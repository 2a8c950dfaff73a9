//! The HTTP clients that deliver webhooks, and where they may not go.
//!
//! Production endpoints must use https and must not reach loopback, private, link-local
//! (cloud metadata), shared or other non-public addresses. That is checked when an endpoint is
//! registered and again at every delivery, where the production client's resolver drops such
//! addresses, so a DNS answer that changes after registration cannot smuggle a request inside.
//! Sandbox endpoints may target anything, `http://localhost` included, for development.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::Context;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::Environment;
use crate::domain::url::HttpUrl;

/// Makes rustls use `ring`; harmless when already done.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Addresses a production webhook must never reach.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => forbidden_v4(v4),
            None => forbidden_v6(v6),
        },
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (carrier NAT)
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00 // unique local
        || (first & 0xffc0) == 0xfe80 // link local
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation
        || (first == 0x0064 && ip.segments()[1] == 0xff9b) // NAT64 to anything
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

/// Whether `url` may receive `environment`'s webhooks; the reason when not. Resolves the host.
pub async fn check_endpoint_url(url: &str, environment: Environment) -> Result<(), String> {
    if url.chars().count() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let parsed = HttpUrl::parse(url).map_err(str::to_owned)?;
    if environment == Environment::Sandbox {
        return Ok(());
    }
    if !parsed.https {
        return Err("must use https in production".into());
    }
    let host = parsed.host.trim_start_matches('[').trim_end_matches(']');
    if let Some(ip) = literal_ip(url).or_else(|| host.parse::<IpAddr>().ok()) {
        return if is_forbidden_ip(ip) {
            Err("must not point to a loopback, private, link-local or reserved address in production".into())
        } else {
            Ok(())
        };
    }
    if parsed.is_loopback() {
        return Err("must not point to a loopback host in production".into());
    }
    let addrs: Vec<SocketAddr> =
        match tokio::net::lookup_host((host, parsed.port.unwrap_or(443))).await {
            Ok(addrs) => addrs.collect(),
            Err(_) => return Err(format!("the host {host} could not be resolved")),
        };
    if addrs.is_empty() || addrs.iter().any(|a| is_forbidden_ip(a.ip())) {
        return Err(
            "must not resolve to a loopback, private, link-local or reserved address in production"
                .into(),
        );
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
/// refuses non-public addresses.
#[derive(Clone)]
pub struct WebhookClients {
    sandbox: reqwest::Client,
    production: reqwest::Client,
}

impl WebhookClients {
    pub fn new(timeout: Duration) -> anyhow::Result<WebhookClients> {
        install_crypto_provider();
        let base = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(timeout)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("OpenRails-Webhooks/", env!("CARGO_PKG_VERSION")))
                .pool_max_idle_per_host(32)
        };
        Ok(WebhookClients {
            sandbox: base().build().context("building the webhook client")?,
            production: base()
                .https_only(true)
                .dns_resolver(PublicOnlyResolver)
                .build()
                .context("building the production webhook client")?,
        })
    }

    pub fn for_environment(&self, environment: &str) -> &reqwest::Client {
        if environment == "production" {
            &self.production
        } else {
            &self.sandbox
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_forbidden() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_forbidden_ip(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(!is_forbidden_ip(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn production_endpoints_need_https_to_a_public_address() {
        let prod = Environment::Production;
        assert!(
            check_endpoint_url("http://93.184.216.34/hook", prod)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://127.0.0.1/hook", prod)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://localhost/hook", prod)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://[::1]/hook", prod)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://169.254.169.254/latest", prod)
                .await
                .is_err()
        );
        assert!(
            check_endpoint_url("https://93.184.216.34/hook", prod)
                .await
                .is_ok()
        );
        assert!(
            check_endpoint_url("http://localhost:3000/hook", Environment::Sandbox)
                .await
                .is_ok()
        );
        assert!(
            check_endpoint_url("javascript:alert(1)", Environment::Sandbox)
                .await
                .is_err()
        );
    }
}
