//! Absolute http(s) URLs given by merchants: where buyers return to, and (later) where webhooks
//! go. A small, strict parser: we only need the scheme and host to decide what is allowed, and
//! refusing odd forms (user info, spaces, raw control characters) is a feature.

use super::Environment;

/// The placeholder a merchant may put in `redirectUrl`; replaced by the session id.
pub const SESSION_ID_PLACEHOLDER: &str = "{CHECKOUT_SESSION_ID}";
/// The longest URL accepted, in characters.
pub const MAX_URL_LEN: usize = 2048;

/// The parts of an absolute http(s) URL we reason about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Whether the scheme is `https` (else `http`).
    pub https: bool,
    /// Lower-cased host; IPv6 literals keep their brackets.
    pub host: String,
    /// The port, when the URL names one.
    pub port: Option<u16>,
}

impl HttpUrl {
    /// Reads the scheme, host and port of `s`, refusing what is not a plain absolute http(s)
    /// URL; the error says what is wrong, for the field's message.
    pub fn parse(s: &str) -> Result<HttpUrl, &'static str> {
        if s.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must not contain spaces or control characters");
        }
        let lower = s.to_ascii_lowercase();
        let (https, rest) = if let Some(rest) = lower.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = lower.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err("must be an absolute http or https URL");
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if authority.contains('@') {
            return Err("must not contain a user name or password");
        }
        let (host, port) = if let Some(stripped) = authority.strip_prefix('[') {
            let Some(close) = stripped.find(']') else {
                return Err("has a malformed host");
            };
            let host = &authority[..close + 2];
            let after = &stripped[close + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err("has a malformed host"),
            };
            (host, port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("must include a host");
        }
        // A bracketed host is an IPv6 address (RFC 3986's IP-literal; no IPvFuture).
        let host_ok = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .map(|inner| inner.parse::<std::net::Ipv6Addr>().is_ok())
            .unwrap_or(false)
            || !host.starts_with('[')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if !host_ok {
            return Err("has a malformed host");
        }
        let port = match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().map_err(|_| "has a malformed port")?),
        };
        if rest[authority_end..].contains(['<', '>', '"', '`', '\\', '{', '}', '|', '^']) {
            return Err("contains characters that must be percent-encoded");
        }
        Ok(HttpUrl {
            https,
            host: host.to_owned(),
            port,
        })
    }

    /// `localhost`, `*.localhost`, 127.0.0.0/8 or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        let h = self.host.as_str();
        h == "localhost"
            || h.ends_with(".localhost")
            || h == "[::1]"
            || h.parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// Where the buyer is sent once the payment completes or fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUrl(String);

impl RedirectUrl {
    /// Sandbox accepts any http(s) URL, loopback included, so merchants can develop locally;
    /// production requires https to a public host.
    pub fn parse(raw: &str, environment: Environment) -> Result<RedirectUrl, &'static str> {
        if raw.chars().count() > MAX_URL_LEN {
            return Err("must be at most 2048 characters");
        }
        let probe = raw.replace(SESSION_ID_PLACEHOLDER, "chk_placeholder");
        let url = HttpUrl::parse(&probe)?;
        if environment == Environment::Production {
            if !url.https {
                return Err("must use https in production");
            }
            if url.is_loopback() {
                return Err("must not point to a loopback host in production");
            }
        }
        Ok(RedirectUrl(raw.to_owned()))
    }

    /// Wraps a value read back from our own database.
    pub fn from_trusted(s: String) -> RedirectUrl {
        RedirectUrl(s)
    }

    /// The URL as the merchant gave it, placeholder included.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where the buyer goes back to: the merchant's `redirectUrl` with `{CHECKOUT_SESSION_ID}`
/// replaced and `checkout_session_id` and `status` added to its query (its own query and
/// fragment kept).
pub fn return_url(redirect_url: &str, session_id: &str, status: &str) -> String {
    let url = redirect_url.replace(SESSION_ID_PLACEHOLDER, session_id);
    let (base, fragment) = match url.split_once('#') {
        Some((b, f)) => (b.to_owned(), Some(f.to_owned())),
        None => (url, None),
    };
    let added =
        serde_urlencoded::to_string([("checkout_session_id", session_id), ("status", status)])
            .unwrap_or_default();
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with('?') || base.ends_with('&') {
        ""
    } else {
        "&"
    };
    match fragment {
        Some(f) => format!("{base}{separator}{added}#{f}"),
        None => format!("{base}{separator}{added}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_url_keeps_the_merchants_query_and_adds_ours() {
        assert_eq!(
            return_url("https://m.example/success?order=ord_284", "chk_1", "paid"),
            "https://m.example/success?order=ord_284&checkout_session_id=chk_1&status=paid"
        );
        assert_eq!(
            return_url(
                "https://m.example/r/{CHECKOUT_SESSION_ID}#top",
                "chk_1",
                "failed"
            ),
            "https://m.example/r/chk_1?checkout_session_id=chk_1&status=failed#top"
        );
        assert_eq!(
            return_url("https://m.example/?", "chk_1", "expired"),
            "https://m.example/?checkout_session_id=chk_1&status=expired"
        );
    }

    #[test]
    fn accepts_ordinary_return_urls() {
        for ok in [
            "https://merchant.example/success?order=ord_284",
            "https://merchant.example:8443/done#top",
            "https://merchant.example/r?id={CHECKOUT_SESSION_ID}",
            "HTTPS://Merchant.Example",
        ] {
            assert!(
                RedirectUrl::parse(ok, Environment::Production).is_ok(),
                "{ok}"
            );
        }
        assert!(RedirectUrl::parse("http://localhost:3000/back", Environment::Sandbox).is_ok());
        assert!(RedirectUrl::parse("http://[::1]:3000/back", Environment::Sandbox).is_ok());
        assert!(RedirectUrl::parse("https://[2001:db8::7]/back", Environment::Production).is_ok());
    }

    #[test]
    fn a_bracketed_host_must_be_an_ipv6_address() {
        for bad in [
            "https://[abc]/",
            "https://[]/",
            "https://[1:::2]/",
            "https://[Ûþ=Ä]/",
        ] {
            assert!(
                RedirectUrl::parse(bad, Environment::Sandbox).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_relative_scripted_and_odd_urls() {
        for bad in [
            "/success",
            "merchant.example/success",
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "data:text/html,hi",
            "ftp://merchant.example",
            "https://",
            "https://user:pw@merchant.example",
            "https://merchant.example/a b",
            "https://merchant.example:99999",
            "https://merchant.example/<script>",
            "https://exa mple.com",
        ] {
            assert!(
                RedirectUrl::parse(bad, Environment::Sandbox).is_err(),
                "{bad}"
            );
        }
        let long = format!("https://merchant.example/{}", "a".repeat(2048));
        assert!(RedirectUrl::parse(&long, Environment::Sandbox).is_err());
    }

    #[test]
    fn production_requires_https_to_a_public_host() {
        assert!(RedirectUrl::parse("http://merchant.example", Environment::Production).is_err());
        assert!(RedirectUrl::parse("https://localhost/x", Environment::Production).is_err());
        assert!(RedirectUrl::parse("https://127.0.0.1/x", Environment::Production).is_err());
        assert!(RedirectUrl::parse("http://merchant.example", Environment::Sandbox).is_ok());
    }
}
