//! An SMTP server named by a URL: `smtp://host:587` with STARTTLS required,
//! `smtps://host:465` with TLS from the first byte, or `smtp://host:25?tls=none` without TLS,
//! for a relay on this machine only (a loopback address). The user name comes in the URL; the
//! password in the URL or, kept out of files, in `OPENRAILS_SMTP_PASSWORD`.

use anyhow::bail;

/// How the connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// `smtps://`: TLS from the first byte.
    Tls,
    /// `smtp://`: STARTTLS, required.
    StartTls,
    /// `smtp://…?tls=none`: none, to a loopback address only.
    None,
}

/// An `smtp_url`, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpTarget {
    /// A name or an address.
    pub host: String,
    /// The URL's, else 465 (`smtps`), 587 (`smtp`) or 25 (`tls=none`).
    pub port: u16,
    /// How the connection is secured.
    pub security: Security,
    /// The user to sign in as, if any.
    pub user: Option<String>,
    /// Its password: never shown by `Debug` or in an error.
    pub password: Option<String>,
}

impl std::fmt::Debug for SmtpTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .finish()
    }
}

impl SmtpTarget {
    /// Parses `url`; `password_env` is `OPENRAILS_SMTP_PASSWORD`'s value, used when the URL
    /// names a user without a password. The error never repeats the password.
    pub fn parse(url: &str, password_env: Option<String>) -> anyhow::Result<SmtpTarget> {
        let parsed = url::Url::parse(url).map_err(|_| {
            anyhow::anyhow!("smtp_url is not a URL (smtp://user@host:587, smtps://user@host:465)")
        })?;
        let tls_param = parsed
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (parsed.scheme(), tls_param.as_deref()) {
            ("smtps", None) => (Security::Tls, 465),
            ("smtp", None | Some("required")) => (Security::StartTls, 587),
            ("smtp", Some("none")) => (Security::None, 25),
            ("smtp" | "smtps", Some(other)) => bail!(
                "smtp_url: tls={other} is not an option (tls=required, the default, or tls=none for a relay on this machine)"
            ),
            (other, _) => bail!("smtp_url must start with smtp:// or smtps://, not {other}://"),
        };
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            bail!("smtp_url names no host");
        };
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if security == Security::None && !is_loopback(&host) {
            bail!(
                "smtp_url: tls=none sends mail and passwords in the clear, so it is only for a relay on this machine (localhost, 127.0.0.1 or ::1), not {host}"
            );
        }
        let user = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .map(percent_decode);
        let password = parsed.password().map(percent_decode).or(password_env);
        if user.is_some() && password.is_none() {
            bail!("smtp_url names a user but no password: give it in OPENRAILS_SMTP_PASSWORD");
        }
        Ok(SmtpTarget {
            port: parsed.port().unwrap_or(default_port),
            host,
            security,
            user,
            password,
        })
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}

/// Whether `host` is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `from` is a sender such as `Shop <receipts@shop.example>`.
pub fn check_sender(from: &str) -> anyhow::Result<()> {
    if from.parse::<lettre::message::Mailbox>().is_err() {
        bail!("smtp_from {from:?} is not an address such as \"Shop <receipts@shop.example>\"");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_security_and_keep_the_password_out_of_messages() {
        let t = SmtpTarget::parse("smtp://shop%40mail.example:s3cret@mail.example", None).unwrap();
        assert_eq!(t.security, Security::StartTls);
        assert_eq!(t.port, 587);
        assert_eq!(t.user.as_deref(), Some("shop@mail.example"));
        assert_eq!(t.password.as_deref(), Some("s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        let t = SmtpTarget::parse("smtps://user@mail.example", Some("from-env".into())).unwrap();
        assert_eq!((t.security, t.port), (Security::Tls, 465));
        assert_eq!(t.password.as_deref(), Some("from-env"));
        let t = SmtpTarget::parse("smtp://127.0.0.1:2525?tls=none", None).unwrap();
        assert_eq!((t.security, t.port, t.user), (Security::None, 2525, None));
        assert!(SmtpTarget::parse("smtp://[::1]:25?tls=none", None).is_ok());
        assert!(SmtpTarget::parse("smtp://localhost?tls=none", None).is_ok());
    }

    #[test]
    fn bad_urls_are_refused_with_the_reason() {
        let refused = |url: &str| {
            SmtpTarget::parse(url, None)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert!(refused("mail.example:587").contains("smtp://"));
        assert!(refused("http://mail.example").contains("smtp:// or smtps://"));
        assert!(refused("smtp://mail.example?tls=maybe").contains("tls=maybe"));
        // No TLS to another machine: checked through the rule, no connection is made.
        let clear = refused("smtp://user:pw@10.0.0.5?tls=none");
        assert!(
            clear.contains("only for a relay on this machine"),
            "{clear}"
        );
        assert!(!clear.contains("pw"), "{clear}");
        assert!(refused("smtp://mail.example.com?tls=none").contains("mail.example.com"));
        assert!(refused("smtp://user@mail.example").contains("OPENRAILS_SMTP_PASSWORD"));
    }
}
