//! The product's own cryptography, pure and free of the rest of the crate: the
//! `t=…,v1=…` HMAC signature of webhooks and sandbox callbacks, and the sealing of secrets at
//! rest.

pub mod password;
pub mod secret_box;
pub mod signature;

/// Makes rustls use `ring` for every TLS client of the process (webhooks, JSON-RPC); harmless
/// when already done.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
