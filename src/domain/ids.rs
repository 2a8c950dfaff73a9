//! Prefixed, typed identifiers (`chk_…`, `cus_…`). New ids wrap a UUIDv7 written in lowercase
//! Crockford base32, so they sort by creation time: list cursors (`startingAfter`) rely on that.

use std::fmt;

use uuid::Uuid;

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// 26 base32 characters for the 128 bits of a UUID, most significant first.
fn encode_u128(mut value: u128) -> String {
    let mut out = [0u8; 26];
    for slot in out.iter_mut().rev() {
        *slot = CROCKFORD[(value & 0x1f) as usize];
        value >>= 5;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A fresh time-ordered suffix for a new id.
pub fn new_suffix() -> String {
    encode_u128(Uuid::now_v7().as_u128())
}

/// The smallest suffix an id made at `ms` (Unix milliseconds) can have: ids made at or after
/// `ms` sort at or after it, so a range of ids is a range of time.
pub fn suffix_at(ms: i64) -> String {
    encode_u128(u128::from(u64::try_from(ms).unwrap_or(0) & 0xffff_ffff_ffff) << 80)
}

/// `len` random characters of the Crockford alphabet, from the operating system's generator.
pub fn random_token(len: usize) -> anyhow::Result<String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("random generator failed: {e}"))?;
    Ok(bytes
        .iter()
        .map(|b| CROCKFORD[(b & 0x1f) as usize] as char)
        .collect())
}

/// Whether `s` could be an id with this prefix: the prefix, then 1–100 characters of
/// `[A-Za-z0-9_]`. Seed-style ids such as `chk_demo_1779900000000` pass; they simply are not found.
fn is_well_formed(s: &str, prefix: &str) -> bool {
    match s.strip_prefix(prefix) {
        Some(rest) => {
            !rest.is_empty()
                && rest.len() <= 100
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    }
}

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// What every id of this kind starts with.
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, new_suffix()))
            }

            /// Accepts any well-formed id with this prefix; `None` otherwise.
            pub fn parse(s: &str) -> Option<Self> {
                is_well_formed(s, $prefix).then(|| Self(s.to_owned()))
            }

            /// Wraps a value read back from our own database.
            pub fn from_trusted(s: String) -> Self {
                Self(s)
            }

            /// The id as text, prefix included.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id as an owned string, prefix included.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        /// As its text.
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }
    };
}

prefixed_id!(
    /// A checkout session.
    SessionId, "chk_"
);
prefixed_id!(
    /// A buyer, per merchant and environment.
    CustomerId, "cus_"
);
prefixed_id!(
    /// A merchant account.
    MerchantId, "mer_"
);
prefixed_id!(
    /// An API key's public identifier (never the secret).
    ApiKeyId, "key_"
);
prefixed_id!(
    /// A payment: the buyer's attempt to pay a session through one route.
    PaymentId, "pay_"
);
prefixed_id!(
    /// A refund of (part of) a paid payment.
    RefundId, "re_"
);
prefixed_id!(
    /// The billing record of a session.
    InvoiceId, "inv_"
);
prefixed_id!(
    /// A merchant's webhook endpoint.
    WebhookEndpointId, "we_"
);
prefixed_id!(
    /// An event: `evt_{session id}_{step}`, derived from what it reports (see
    /// `EventKind::event_id`), so that a step can never produce two.
    EventId, "evt_"
);
prefixed_id!(
    /// One event's delivery to one endpoint.
    DeliveryId, "dlv_"
);
prefixed_id!(
    /// One attempt to send a delivery.
    AttemptId, "att_"
);
prefixed_id!(
    /// A person who signs in to the dashboard.
    UserId, "usr_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_bounds_the_ids_made_from_it_on() {
        let before = suffix_at(crate::domain::time::now_ms());
        let made = new_suffix();
        let after = suffix_at(crate::domain::time::now_ms() + 1);
        assert!(before <= made && made < after, "{before} {made} {after}");
        assert_eq!(suffix_at(0), "0".repeat(26));
    }

    #[test]
    fn generated_ids_carry_their_prefix_and_sort_by_creation() {
        let a = SessionId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = SessionId::generate();
        assert!(a.as_str().starts_with("chk_"));
        assert_eq!(a.as_str().len(), 4 + 26);
        assert!(a < b, "{a} should sort before {b}");
    }

    #[test]
    fn parse_accepts_seed_style_ids_and_refuses_other_prefixes() {
        assert!(SessionId::parse("chk_demo_1779900000000").is_some());
        assert!(SessionId::parse("cus_7G42M9").is_none());
        assert!(SessionId::parse("chk_").is_none());
        assert!(SessionId::parse("chk_a/b").is_none());
        assert!(CustomerId::parse("cus_7G42M9").is_some());
    }

    #[test]
    fn random_tokens_have_the_requested_length() {
        let t = random_token(32).expect("random");
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| CROCKFORD.contains(&b)));
    }
}
