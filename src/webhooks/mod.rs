//! Merchant webhooks: endpoints, signing, the delivery worker, and the rules for where they
//! may go.
//!
//! Receivers verify a delivery with [`verify`]: the header `x-gateway-signature` is
//! `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint secret>`, with a
//! second `v1=` while a rotated secret is still valid.

#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]

pub mod client;
pub mod endpoints;
pub mod schedule;
pub mod secrets;
pub mod worker;

use crate::crypto::signature;

pub use crate::crypto::signature::SignatureError;

/// Verifies a webhook delivery as a receiver should: `signature_header` is the value of
/// `x-gateway-signature`, `body` the raw request body, `now_seconds` the receiver's clock.
/// Refuses a timestamp more than 300 s away from `now_seconds` and compares in constant time.
///
/// ```
/// use openrails_checkout::webhooks::{sign_header, verify};
/// let body = br#"{"id":"evt_chk_1_paid","type":"payment.paid"}"#;
/// let header = sign_header(&["whsec_test"], 1_700_000_000, body);
/// assert!(verify("whsec_test", &header, body, 1_700_000_010).is_ok());
/// assert!(verify("whsec_test", &header, body, 1_700_000_400).is_err());
/// ```
pub fn verify(
    secret: &str,
    signature_header: &str,
    body: &[u8],
    now_seconds: i64,
) -> Result<(), SignatureError> {
    signature::verify(secret.as_bytes(), Some(signature_header), body, now_seconds)
}

/// The `x-gateway-signature` value for `body` at `timestamp`, one `v1=` per secret.
pub fn sign_header(secrets: &[&str], timestamp: i64, body: &[u8]) -> String {
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    signature::header(&secrets, timestamp, body)
}
