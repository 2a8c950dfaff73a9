//! A paid payment's receipt link: `/receipts/{payment id}?token=…`, where the token is an HMAC
//! of the payment id under the installation's shared receipts secret. It needs no storage, never
//! changes, works on every instance, and cannot be guessed from the payment id.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The token's length in bytes of HMAC (128 bits).
const TOKEN_BYTES: usize = 16;

fn mac(secret: &[u8], payment_id: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"receipt|");
    mac.update(payment_id.as_bytes());
    mac
}

/// The token of `payment_id`'s receipt link.
pub fn token(secret: &[u8], payment_id: &str) -> String {
    let tag = mac(secret, payment_id).finalize().into_bytes();
    URL_SAFE_NO_PAD.encode(&tag[..TOKEN_BYTES])
}

/// Whether `token` is `payment_id`'s (compared in constant time).
pub fn verify(secret: &[u8], payment_id: &str, token: &str) -> bool {
    let Ok(tag) = URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    tag.len() == TOKEN_BYTES && mac(secret, payment_id).verify_truncated_left(&tag).is_ok()
}

/// The receipt's path, token included: `/receipts/pay_…?token=…`, and `&lang=…` when the
/// language the buyer paid in is known, so the link opens in it whatever the browser asks for
/// (the e-mail that carries it speaks that language too).
pub fn path(secret: &[u8], payment_id: &str, language: Option<&str>) -> String {
    let token = token(secret, payment_id);
    match language {
        Some(code) => format!("/receipts/{payment_id}?token={token}&lang={code}"),
        None => format!("/receipts/{payment_id}?token={token}"),
    }
}

/// The name of a block explorer, for "View on …": the host of its transaction URL template
/// without `www.` (`basescan.org`).
pub fn explorer_name(tx_url_template: &str) -> String {
    url::Url::parse(&tx_url_template.replace("{tx}", "0"))
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_owned())
        })
        .unwrap_or_else(|| tx_url_template.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_for_its_payment_only() {
        let secret = b"secret";
        let t = token(secret, "pay_1");
        assert_eq!(t.len(), 22);
        assert!(verify(secret, "pay_1", &t));
        assert!(!verify(secret, "pay_2", &t));
        assert!(!verify(b"other", "pay_1", &t));
        assert!(!verify(secret, "pay_1", &t[..21]));
        assert!(!verify(secret, "pay_1", "not base64!"));
        assert!(!verify(secret, "pay_1", ""));
        assert_eq!(
            path(secret, "pay_1", None),
            format!("/receipts/pay_1?token={t}")
        );
        assert_eq!(
            path(secret, "pay_1", Some("pt-BR")),
            format!("/receipts/pay_1?token={t}&lang=pt-BR")
        );
    }

    #[test]
    fn an_explorer_is_named_by_its_host() {
        assert_eq!(
            explorer_name("https://basescan.org/tx/{tx}"),
            "basescan.org"
        );
        assert_eq!(
            explorer_name("https://www.etherscan.io/tx/{tx}"),
            "etherscan.io"
        );
    }
}
