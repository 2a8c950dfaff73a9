//! Time-based one-time passwords (RFC 6238 over RFC 4226): the six digits an authenticator app
//! shows, from a shared secret and the time. SHA-1, 30-second steps, six digits: what every
//! authenticator app reads from an `otpauth://` QR code.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Seconds per code.
pub const STEP_SECONDS: i64 = 30;

const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32, upper case, without padding: how the secret is shown and stored.
pub fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The bytes of a base32 secret (any case, spaces and padding ignored); `None` when it holds
/// another character.
pub fn from_base32(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for c in text.chars().filter(|c| !c.is_whitespace() && *c != '=') {
        let value = ALPHABET
            .iter()
            .position(|&a| a as char == c.to_ascii_uppercase())? as u32;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// The code of `secret` for the step `counter` (RFC 4226 HOTP), six digits.
pub fn hotp(secret: &[u8], counter: u64) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[19] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    format!("{:06}", binary % 1_000_000)
}

/// The code at `unix_seconds`.
pub fn code_at(secret: &[u8], unix_seconds: i64) -> String {
    hotp(secret, (unix_seconds.max(0) / STEP_SECONDS) as u64)
}

/// Whether `code` is the code of `secret` now, a step before or a step after (clocks drift).
pub fn verify(secret: &[u8], code: &str, unix_seconds: i64) -> bool {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    [-STEP_SECONDS, 0, STEP_SECONDS]
        .iter()
        .any(|delta| code_at(secret, unix_seconds + delta) == code)
}

/// The `otpauth://` address an authenticator app reads from a QR code.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'@' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_rfc_6238s_test_vectors() {
        // RFC 6238, appendix B (SHA-1 seed), the last six digits of each eight.
        let seed = b"12345678901234567890";
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(code_at(seed, time), code, "{time}");
        }
        assert!(verify(seed, "287082", 59));
        assert!(
            verify(seed, "287 082", 59 + 30),
            "a step late, spaces allowed"
        );
        assert!(!verify(seed, "287082", 59 + 90));
        assert!(!verify(seed, "28708", 59));
        assert!(!verify(seed, "abcdef", 59));
    }

    #[test]
    fn secrets_travel_as_base32() {
        assert_eq!(
            base32(b"12345678901234567890"),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(
            from_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            b"12345678901234567890"
        );
        assert_eq!(from_base32("GE1"), None);
        assert_eq!(base32(b"f"), "MY");
        assert_eq!(from_base32("MY======").unwrap(), b"f");
        assert_eq!(
            otpauth_uri("Open Rails", "a@b.example", "MY"),
            "otpauth://totp/Open%20Rails:a@b.example?secret=MY&issuer=Open%20Rails&algorithm=SHA1&digits=6&period=30"
        );
    }
}
