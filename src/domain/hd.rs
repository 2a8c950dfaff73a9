//! Addresses derived from a merchant's extended public key (BIP32): each payment gets an
//! address of its own, and the server never holds a private key. Only public, non-hardened
//! derivation is possible from an `xpub`, which is all this needs: the payment with index `i`
//! pays to `<xpub>/0/i`, the `i`-th receiving address of the account the xpub belongs to (for
//! the account key `m/44'/60'/0'` that wallets export, the addresses a wallet restored from the
//! same seed shows as its accounts). Pure: no network, no clock.

use std::fmt;

use alloy_primitives::{Address, keccak256};
use hmac::{Hmac, Mac};
use k256::elliptic_curve::PrimeField;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::{ProjectivePoint, PublicKey, Scalar};
use sha2::Sha512;

use super::onchain::ChainAddress;

/// `xpub…`: the version of a main-network extended public key.
const XPUB_VERSION: [u8; 4] = [0x04, 0x88, 0xb2, 0x1e];
/// `tpub…`: the version of a test-network one.
const TPUB_VERSION: [u8; 4] = [0x04, 0x35, 0x87, 0xcf];
/// The first hardened index: nothing at or above it can be derived from a public key.
const HARDENED: u32 = 0x8000_0000;

/// An extended public key: a public key and the chain code its children are derived with.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtendedPublicKey {
    key: PublicKey,
    chain_code: [u8; 32],
}

impl fmt::Debug for ExtendedPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not secret, but it lets anyone link every payment of the merchant: kept out of logs.
        f.write_str("ExtendedPublicKey(…)")
    }
}

impl ExtendedPublicKey {
    /// Parses a Base58Check `xpub…` (or `tpub…`). A private key (`xprv…`) is refused: the
    /// server must never hold one.
    pub fn parse(text: &str) -> Result<ExtendedPublicKey, String> {
        let text = text.trim();
        if text.starts_with("xprv") || text.starts_with("tprv") {
            return Err(
                "is an extended private key: give the extended public key (xpub…) instead, and keep the private one off this server"
                    .into(),
            );
        }
        let bytes = bs58::decode(text)
            .with_check(None)
            .into_vec()
            .map_err(|_| "is not an extended public key: its Base58Check encoding or checksum is wrong (a typo?)".to_owned())?;
        if bytes.len() != 78 {
            return Err("is not an extended public key: it must decode to 78 bytes".into());
        }
        if bytes[..4] != XPUB_VERSION && bytes[..4] != TPUB_VERSION {
            return Err("is not an extended public key: it must start with xpub or tpub".into());
        }
        let mut chain_code = [0u8; 32];
        chain_code.copy_from_slice(&bytes[13..45]);
        let key = PublicKey::from_sec1_bytes(&bytes[45..78])
            .map_err(|_| "holds no valid public key".to_owned())?;
        Ok(ExtendedPublicKey { key, chain_code })
    }

    /// The child at non-hardened `index`; `None` for a hardened index and for the rare index
    /// whose child is invalid (BIP32 says: skip it).
    pub fn child(&self, index: u32) -> Option<ExtendedPublicKey> {
        if index >= HARDENED {
            return None;
        }
        let mut mac =
            Hmac::<Sha512>::new_from_slice(&self.chain_code).expect("HMAC takes keys of any size");
        mac.update(self.key.to_encoded_point(true).as_bytes());
        mac.update(&index.to_be_bytes());
        let out = mac.finalize().into_bytes();
        let (left, right) = out.split_at(32);
        let tweak: Scalar = Option::from(Scalar::from_repr(*k256::FieldBytes::from_slice(left)))?;
        let point = ProjectivePoint::GENERATOR * tweak + self.key.to_projective();
        let key = PublicKey::from_affine(point.to_affine()).ok()?;
        let mut chain_code = [0u8; 32];
        chain_code.copy_from_slice(right);
        Some(ExtendedPublicKey { key, chain_code })
    }

    /// The Ethereum address of this key: the last 20 bytes of the keccak-256 of its
    /// uncompressed point.
    pub fn address(&self) -> ChainAddress {
        let point = self.key.to_encoded_point(false);
        let hash = keccak256(&point.as_bytes()[1..]);
        ChainAddress::from(Address::from_slice(&hash[12..]))
    }

    /// The `index`-th receiving address, `<xpub>/0/index`; `None` when that index (or the
    /// receiving chain) has no valid key.
    pub fn receiving_address(&self, index: u32) -> Option<ChainAddress> {
        Some(self.child(0)?.child(index)?.address())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_derivation_follows_bip32_test_vector_1() {
        // BIP32 test vector 1: m/0H is given as an xpub; its non-hardened child 1 (m/0H/1)
        // must come out as the vector's xpub for m/0H/1.
        let m_0h = ExtendedPublicKey::parse(
            "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
        )
        .expect("xpub");
        let expected = ExtendedPublicKey::parse(
            "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
        )
        .expect("xpub");
        assert_eq!(m_0h.child(1), Some(expected));
        assert_eq!(m_0h.child(HARDENED), None);
    }

    #[test]
    fn the_address_is_the_keccak_of_the_point() {
        // The private key 1's public key is the generator; its address is well known.
        let key = ExtendedPublicKey {
            key: PublicKey::from_affine(ProjectivePoint::GENERATOR.to_affine()).expect("G"),
            chain_code: [0; 32],
        };
        assert_eq!(
            key.address().checksummed(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }

    #[test]
    fn keys_that_are_not_extended_public_keys_are_refused() {
        let xprv = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi";
        assert!(
            ExtendedPublicKey::parse(xprv)
                .unwrap_err()
                .contains("private")
        );
        let typo = "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnx";
        assert!(
            ExtendedPublicKey::parse(typo)
                .unwrap_err()
                .contains("checksum")
        );
        assert!(ExtendedPublicKey::parse("xpub").is_err());
    }

    /// The account key `m/44'/60'/0'` of the mnemonic every local EVM node funds its accounts
    /// from ("test test test test test test test test test test test junk").
    pub const TEST_ACCOUNT_XPUB: &str = "xpub6Ce9NcJvTk36xtLSrJLZqE7wtgA5deCeYs7rSQtreh4cj6ByPtrg9sD7V2FNFLPnf8heNP3FGkeV9qwfzvZNSd54JoNXVsXFYSYwHsnJxqP";

    #[test]
    fn receiving_addresses_are_the_accounts_a_wallet_derives_from_the_seed() {
        let account = ExtendedPublicKey::parse(TEST_ACCOUNT_XPUB).expect("xpub");
        let addresses: Vec<String> = (0..3)
            .map(|i| account.receiving_address(i).expect("address").checksummed())
            .collect();
        assert_eq!(
            addresses,
            [
                "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
                "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
            ]
        );
    }
}
