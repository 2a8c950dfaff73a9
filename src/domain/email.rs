//! Buyer e-mail addresses. Deliberately pragmatic: one `@`, a plausible local part and a
//! dotted domain of letters, digits and hyphens. Customers are matched case-insensitively.

/// A syntactically plausible e-mail address, as the merchant sent it (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    original: String,
    normalized: String,
}

const MAX_LEN: usize = 254;

impl Email {
    /// Trims `raw` and accepts it when it looks like an address; the error says what is wrong,
    /// for the field's message.
    pub fn parse(raw: &str) -> Result<Email, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("must not be empty");
        }
        if s.chars().count() > MAX_LEN {
            return Err("must be at most 254 characters");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("must be an e-mail address such as buyer@example.com");
        };
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.chars().all(char::is_alphabetic) && tld.len() >= 2);
        if !local_ok || !domain_ok {
            return Err("must be an e-mail address such as buyer@example.com");
        }
        Ok(Email {
            original: s.to_owned(),
            normalized: s.to_lowercase(),
        })
    }

    /// The address as the merchant wrote it.
    pub fn as_str(&self) -> &str {
        &self.original
    }

    /// The lower-cased form customers are matched on.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_addresses_and_keeps_their_case() {
        let e = Email::parse("  Buyer.One+tag@Example.COM ").expect("valid");
        assert_eq!(e.as_str(), "Buyer.One+tag@Example.COM");
        assert_eq!(e.normalized(), "buyer.one+tag@example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for bad in [
            "",
            "buyer",
            "buyer@",
            "@example.com",
            "buyer@example",
            "buyer@@example.com",
            "buy er@example.com",
            "<script>@example.com",
            "buyer@exa_mple.com",
            "buyer@example.c0m",
            ".buyer@example.com",
            "buyer@-example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }
}
