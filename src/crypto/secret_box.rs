//! Secrets at rest (webhook endpoints' signing secrets): sealed with ChaCha20-Poly1305 under a
//! key from the environment.
//!
//! `OPENRAILS_ENCRYPTION_KEY` (32 random bytes, base64) seals; `OPENRAILS_ENCRYPTION_KEY_PREVIOUS`
//! (a comma-separated list) still opens what older keys sealed. A stored value reads
//! `enc:v1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`; the key id (8 hex digits of a hash
//! of the key) says which key to open it with, and the endpoint's id is the associated data, so
//! a value copied to another endpoint does not open. A value without the prefix is a secret
//! stored in plain text, from before encryption or from a server that has no key.
//!
//! At start, `webhooks::secrets::reseal_all` checks that every stored secret opens (a missing
//! or wrong key is a start-up error, never a wrong signature) and seals with the current key
//! whatever is plain or sealed with an older key. Keys never reach a log or a `Debug` output.

use anyhow::bail;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use sha2::{Digest, Sha256};

const PREFIX: &str = "enc:v1:";
const NONCE_BYTES: usize = 12;

/// One 256-bit key and its public id.
#[derive(Clone, PartialEq, Eq)]
struct Key {
    id: String,
    bytes: [u8; 32],
}

impl Key {
    fn parse(name: &str, text: &str) -> anyhow::Result<Key> {
        let text = text.trim();
        let decoded = [&STANDARD, &URL_SAFE, &URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(text).ok())
            .filter(|bytes| bytes.len() == 32);
        // The value itself is never part of the message.
        let Some(decoded) = decoded else {
            bail!(
                "{name} must be 32 random bytes in base64, e.g. the output of `openssl rand -base64 32`"
            );
        };
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&decoded);
        let digest = Sha256::new()
            .chain_update(b"openrails-checkout encryption key id\0")
            .chain_update(bytes)
            .finalize();
        let id = const_hex::encode(&digest[..4]);
        Ok(Key { id, bytes })
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new((&self.bytes).into())
    }
}

/// The keys that seal and open webhook secrets; none by default (plain text).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct EncryptionKeys {
    current: Option<Key>,
    previous: Vec<Key>,
}

impl std::fmt::Debug for EncryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptionKeys")
            .field("current", &self.current.as_ref().map(|k| &k.id))
            .field(
                "previous",
                &self.previous.iter().map(|k| &k.id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Why a stored secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("the secret is encrypted, but OPENRAILS_ENCRYPTION_KEY is not set")]
    NoKey,
    #[error(
        "the secret was encrypted with key {0}, which is neither OPENRAILS_ENCRYPTION_KEY nor in OPENRAILS_ENCRYPTION_KEY_PREVIOUS"
    )]
    UnknownKey(String),
    #[error("the secret does not decrypt with key {0} (a wrong key, or an altered value)")]
    Undecryptable(String),
    #[error("the stored secret is not a valid encrypted value")]
    Malformed,
}

impl EncryptionKeys {
    /// `current` is `OPENRAILS_ENCRYPTION_KEY`, `previous` `OPENRAILS_ENCRYPTION_KEY_PREVIOUS`
    /// (comma-separated); empty values count as unset.
    pub fn parse(current: Option<&str>, previous: Option<&str>) -> anyhow::Result<EncryptionKeys> {
        let current = current.map(str::trim).filter(|s| !s.is_empty());
        let previous: Vec<Key> = previous
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|k| Key::parse("each key of OPENRAILS_ENCRYPTION_KEY_PREVIOUS", k))
            .collect::<anyhow::Result<_>>()?;
        let Some(current) = current else {
            if !previous.is_empty() {
                bail!(
                    "OPENRAILS_ENCRYPTION_KEY_PREVIOUS is set but OPENRAILS_ENCRYPTION_KEY is not"
                );
            }
            return Ok(EncryptionKeys::default());
        };
        Ok(EncryptionKeys {
            current: Some(Key::parse("OPENRAILS_ENCRYPTION_KEY", current)?),
            previous,
        })
    }

    /// Whether secrets are sealed (a current key is set).
    pub fn is_configured(&self) -> bool {
        self.current.is_some()
    }

    /// The id of the key that seals, e.g. for a log line.
    pub fn current_id(&self) -> Option<&str> {
        self.current.as_ref().map(|k| k.id.as_str())
    }

    /// The stored form of `secret` for endpoint `endpoint_id`: sealed with the current key, or
    /// the secret itself when there is none.
    pub fn seal(&self, endpoint_id: &str, secret: &str) -> anyhow::Result<String> {
        let Some(key) = &self.current else {
            return Ok(secret.to_owned());
        };
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("drawing a nonce: {e}"))?;
        let sealed = key
            .cipher()
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: endpoint_id.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("encrypting a webhook secret failed"))?;
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            key.id,
            URL_SAFE_NO_PAD.encode(blob)
        ))
    }

    /// The secret a stored value holds (a plain value is returned as it is).
    pub fn open(&self, endpoint_id: &str, stored: &str) -> Result<String, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            if stored.starts_with("enc:") {
                return Err(SecretError::Malformed);
            }
            return Ok(stored.to_owned());
        };
        let (key_id, data) = rest.split_once(':').ok_or(SecretError::Malformed)?;
        if self.current.is_none() {
            return Err(SecretError::NoKey);
        }
        let key = self
            .current
            .iter()
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SecretError::UnknownKey(key_id.to_owned()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(data)
            .map_err(|_| SecretError::Malformed)?;
        if blob.len() < NONCE_BYTES {
            return Err(SecretError::Malformed);
        }
        let (nonce, sealed) = blob.split_at(NONCE_BYTES);
        let plain = key
            .cipher()
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: endpoint_id.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Undecryptable(key.id.clone()))?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable(key.id.clone()))
    }

    /// Whether `stored` is already in the form [`seal`](Self::seal) would give it now.
    pub fn is_current(&self, stored: &str) -> bool {
        match &self.current {
            None => !stored.starts_with("enc:"),
            Some(key) => stored
                .strip_prefix(PREFIX)
                .is_some_and(|rest| rest.starts_with(&format!("{}:", key.id))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_endpoint() {
        let keys = EncryptionKeys::parse(Some(&key(1)), None).expect("key");
        let sealed = keys.seal("we_A", "whsec_abc").expect("sealed");
        assert!(sealed.starts_with("enc:v1:"), "{sealed}");
        assert!(!sealed.contains("whsec_abc"));
        assert_ne!(sealed, keys.seal("we_A", "whsec_abc").expect("sealed"));
        assert_eq!(keys.open("we_A", &sealed), Ok("whsec_abc".into()));
        assert!(matches!(
            keys.open("we_B", &sealed),
            Err(SecretError::Undecryptable(_))
        ));
        let other = EncryptionKeys::parse(Some(&key(2)), None).expect("key");
        assert!(matches!(
            other.open("we_A", &sealed),
            Err(SecretError::UnknownKey(_))
        ));
        assert_eq!(
            EncryptionKeys::default().open("we_A", &sealed),
            Err(SecretError::NoKey)
        );
        let mut altered = sealed.clone();
        altered.replace_range(sealed.len() - 3.., "AAA");
        assert!(keys.open("we_A", &altered).is_err());
    }

    #[test]
    fn a_previous_key_still_opens_and_plain_values_pass_through() {
        let old = EncryptionKeys::parse(Some(&key(1)), None).expect("key");
        let sealed = old.seal("we_A", "whsec_abc").expect("sealed");
        let rotated =
            EncryptionKeys::parse(Some(&key(2)), Some(&format!(" {} ,", key(1)))).expect("keys");
        assert_eq!(rotated.open("we_A", &sealed), Ok("whsec_abc".into()));
        assert!(!rotated.is_current(&sealed));
        assert!(rotated.is_current(&rotated.seal("we_A", "x").expect("sealed")));
        assert_eq!(
            rotated.open("we_A", "whsec_plain"),
            Ok("whsec_plain".into())
        );
        assert_eq!(
            EncryptionKeys::default()
                .seal("we_A", "whsec_plain")
                .expect("plain"),
            "whsec_plain"
        );
    }

    #[test]
    fn bad_keys_are_refused_without_showing_them() {
        for bad in ["short", "bm90IDMyIGJ5dGVz", &STANDARD.encode([7u8; 31])] {
            let error = EncryptionKeys::parse(Some(bad), None).expect_err(bad);
            assert!(!format!("{error:#}").contains(bad), "{error:#}");
        }
        assert!(EncryptionKeys::parse(None, Some(&key(1))).is_err());
        assert!(EncryptionKeys::parse(Some(&key(1)), Some("nope")).is_err());
        assert!(
            !EncryptionKeys::parse(Some(""), None)
                .expect("unset")
                .is_configured()
        );
        let keys = EncryptionKeys::parse(Some(&key(9)), None).expect("key");
        assert!(!format!("{keys:?}").contains(&key(9)));
    }
}
