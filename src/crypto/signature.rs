//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`: the signature scheme of our
//! webhooks and of the sandbox provider's callbacks. Verification accepts any of several
//! `v1=` entries (secret rotation), refuses stale timestamps and compares in constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How old a signed timestamp may be.
pub const TOLERANCE_SECONDS: i64 = 300;

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    const_hex::encode(mac.finalize().into_bytes())
}

/// The header value for one or more secrets.
pub fn header(secrets: &[&[u8]], timestamp: i64, body: &[u8]) -> String {
    let mut value = format!("t={timestamp}");
    for secret in secrets {
        value.push_str(",v1=");
        value.push_str(&sign(secret, timestamp, body));
    }
    value
}

/// Why a signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Missing,
    Malformed,
    Stale,
    Mismatch,
}

impl std::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SignatureError::Missing => "the signature header is missing",
            SignatureError::Malformed => "the signature header is malformed",
            SignatureError::Stale => "the signature's timestamp is too old or in the future",
            SignatureError::Mismatch => "the signature does not match",
        })
    }
}

/// Checks `header` against `secret` at `now_seconds`.
pub fn verify(
    secret: &[u8],
    header: Option<&str>,
    body: &[u8],
    now_seconds: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => candidates.push(v),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if now_seconds.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    for candidate in candidates {
        let Some(bytes) = decode_hex(candidate) else {
            continue;
        };
        // verify_slice compares in constant time.
        if mac.clone().verify_slice(&bytes).is_ok() {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let h = header(&[b"secret"], 1_000, b"{\"a\":1}");
        assert_eq!(verify(b"secret", Some(&h), b"{\"a\":1}", 1_010), Ok(()));
        assert_eq!(
            verify(b"secret", Some(&h), b"{\"a\":2}", 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some(&h), b"{\"a\":1}", 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"secret", Some(&h), b"{\"a\":1}", 1_301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"secret", None, b"", 1_000),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(b"secret", Some("v1=zz"), b"", 1_000),
            Err(SignatureError::Malformed)
        );
    }

    #[test]
    fn either_of_two_rotated_secrets_verifies() {
        let h = header(&[b"old", b"new"], 5, b"x");
        assert_eq!(verify(b"new", Some(&h), b"x", 5), Ok(()));
        assert_eq!(verify(b"old", Some(&h), b"x", 5), Ok(()));
    }

    #[test]
    fn matches_an_independent_computation() {
        // HMAC-SHA256("key", "1.body"), computed with Python's hmac module.
        assert_eq!(
            sign(b"key", 1, b"body"),
            "91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }
}
