//! The on-chain vocabulary of the `onchain` integration: addresses, token amounts, the chains
//! it knows, the unique amount that tells one session's transfer from another's, and the
//! EIP-681 payment request a wallet reads from a QR code. Pure: no network, no clock.

use std::fmt;
use std::str::FromStr;

use alloy_primitives::{Address, U256, keccak256};

use super::text_enum::text_enum;
use super::{PaymentId, RefundId};

/// Base mainnet.
pub const BASE_MAINNET: u64 = 8453;
/// Base Sepolia, the test network.
pub const BASE_SEPOLIA: u64 = 84_532;
/// Native USDC on Base.
pub const USDC_BASE: &str = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";

/// `keccak256("Transfer(address,address,uint256)")`: the topic of an ERC-20 transfer log.
pub fn transfer_topic() -> String {
    keccak256(b"Transfer(address,address,uint256)").to_string()
}

/// A network's name, as the buyer reads it.
pub fn network_name(chain_id: u64) -> String {
    match chain_id {
        BASE_MAINNET => "Base".to_owned(),
        BASE_SEPOLIA => "Base Sepolia".to_owned(),
        other => format!("chain {other}"),
    }
}

/// An account or contract address on an EVM chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChainAddress(Address);

impl ChainAddress {
    /// Parses `0x` and 40 hex digits. A mixed-case address must carry a valid EIP-55 checksum
    /// (a typo in one would otherwise send money nowhere); an all-lower-case one has none to
    /// check.
    pub fn parse(s: &str) -> Result<ChainAddress, String> {
        let s = s.trim();
        let hex = s
            .strip_prefix("0x")
            .ok_or_else(|| format!("{s:?} is not an address: it must start with 0x"))?;
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("{s:?} is not an address: 0x and 40 hex digits"));
        }
        let lower = hex.bytes().all(|b| !b.is_ascii_uppercase());
        let parsed = if lower {
            Address::from_str(s).ok()
        } else {
            Address::parse_checksummed(s, None).ok()
        };
        parsed.map(ChainAddress).ok_or_else(|| {
            format!(
                "{s:?} has a wrong EIP-55 checksum: check it for a typo, or write it in lower case"
            )
        })
    }

    /// The address from a log topic: 32 bytes, the address in the last 20.
    pub fn from_topic(topic: &str) -> Option<ChainAddress> {
        let hex = topic.strip_prefix("0x")?;
        if hex.len() != 64 || !hex[..24].bytes().all(|b| b == b'0') {
            return None;
        }
        Address::from_str(&format!("0x{}", &hex[24..]))
            .ok()
            .map(ChainAddress)
    }

    /// The 32-byte topic that filters logs on this address.
    pub fn topic(self) -> String {
        format!("0x{:0>64}", self.lower()[2..].to_owned())
    }

    /// `0x` and 40 lower-case hex digits: how addresses are stored and compared.
    pub fn lower(self) -> String {
        format!("{:#x}", self.0)
    }

    /// Whether it is the zero address (where tokens are burnt).
    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The EIP-55 mixed-case form, for people.
    pub fn checksummed(self) -> String {
        self.0.to_checksum(None)
    }
}

impl From<Address> for ChainAddress {
    fn from(address: Address) -> ChainAddress {
        ChainAddress(address)
    }
}

impl fmt::Display for ChainAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.checksummed())
    }
}

/// An amount of a token in its smallest units (USDC has 6 decimals: 1 USDC is 1,000,000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct TokenUnits(U256);

impl TokenUnits {
    /// No units.
    pub const ZERO: TokenUnits = TokenUnits(U256::ZERO);

    /// `n` units.
    pub fn new(n: u64) -> TokenUnits {
        TokenUnits(U256::from(n))
    }

    /// The value of a log's data: a 32-byte big-endian number in hex.
    pub fn from_hex(hex: &str) -> Option<TokenUnits> {
        let digits = hex.strip_prefix("0x").unwrap_or(hex);
        if digits.is_empty() || digits.len() > 64 {
            return None;
        }
        U256::from_str_radix(digits, 16).ok().map(TokenUnits)
    }

    /// Units written in decimal, as stored.
    pub fn parse(decimal: &str) -> Option<TokenUnits> {
        U256::from_str_radix(decimal, 10).ok().map(TokenUnits)
    }

    /// The sum, saturating (no token has that many units).
    pub fn plus(self, other: TokenUnits) -> TokenUnits {
        TokenUnits(self.0.saturating_add(other.0))
    }

    /// `self − other`, or zero when `other` is larger.
    pub fn minus(self, other: TokenUnits) -> TokenUnits {
        TokenUnits(self.0.saturating_sub(other.0))
    }

    /// The amount in tokens with every decimal: `116.000123` for 116,000,123 units of a
    /// 6-decimal token.
    pub fn in_tokens(self, decimals: u8) -> String {
        let digits = self.0.to_string();
        let decimals = usize::from(decimals);
        if decimals == 0 {
            return digits;
        }
        let padded = format!("{digits:0>width$}", width = decimals + 1);
        let (whole, fraction) = padded.split_at(padded.len() - decimals);
        format!("{whole}.{fraction}")
    }
}

impl fmt::Display for TokenUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The units a buyer sends for `total_cents` in a token of `decimals` (at least 3), with
/// `tag` (1 to [`max_tag`]) in the digits below the cent: the unique amount that names one
/// session's transfer to a shared address ($116 with tag 123 is 116.000123 USDC).
pub fn unique_units(total_cents: i64, decimals: u8, tag: u64) -> Option<TokenUnits> {
    let below_cent = 10u64.checked_pow(u32::from(decimals.checked_sub(2)?))?;
    if tag == 0 || tag >= below_cent || total_cents <= 0 {
        return None;
    }
    let cents = U256::from(total_cents as u64);
    Some(TokenUnits(cents * U256::from(below_cent) + U256::from(tag)))
}

/// `total_cents` in the token's units, exactly (a token worth a dollar with `decimals` ≥ 2):
/// $116.00 is 116,000,000 units of USDC.
pub fn units_of_total(total_cents: i64, decimals: u8) -> Option<TokenUnits> {
    let below_cent = 10u64.checked_pow(u32::from(decimals.checked_sub(2)?))?;
    if total_cents <= 0 {
        return None;
    }
    Some(TokenUnits(
        U256::from(total_cents as u64) * U256::from(below_cent),
    ))
}

/// The largest tag for a token of `decimals`: 9,999 for USDC.
pub fn max_tag(decimals: u8) -> u64 {
    decimals
        .checked_sub(2)
        .and_then(|d| 10u64.checked_pow(u32::from(d)))
        .map_or(0, |n| n - 1)
}

/// The EIP-681 request to transfer `units` of `token` to `to` on `chain_id`, as a QR code
/// carries it: `ethereum:<token>@<chain>/transfer?address=<to>&uint256=<units>`.
pub fn payment_uri(
    token: ChainAddress,
    chain_id: u64,
    to: ChainAddress,
    units: TokenUnits,
) -> String {
    format!(
        "ethereum:{}@{chain_id}/transfer?address={}&uint256={units}",
        token.checksummed(),
        to.checksummed()
    )
}

text_enum! {
    /// Where a token transfer to one of our addresses stands on chain.
    TransferState {
        /// In a block of the canonical chain, without its confirmations yet.
        Seen = "seen",
        /// Buried under the confirmations its payment asks for.
        Confirmed = "confirmed",
        /// Its block left the canonical chain (a reorganisation); it may come back.
        Removed = "removed",
    }
}

/// What one payment waits for on chain: a transfer of `units` of `token` to `address`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The payment it pays.
    pub payment_id: PaymentId,
    /// The chain it is watched on.
    pub chain_id: u64,
    /// The token contract.
    pub token: ChainAddress,
    /// Where the buyer sends it.
    pub address: ChainAddress,
    /// What the buyer owes, in token units.
    pub units: TokenUnits,
    /// Only a transfer of exactly `units` counts (a unique amount to a shared address);
    /// otherwise every transfer to `address` adds up (an address of the payment's own).
    pub exact: bool,
    /// How many blocks a transfer needs (its own included) to count as paid.
    pub confirmations: u64,
    /// Only transfers in later blocks count: the chain's head when the watch began.
    pub from_block: u64,
    /// Until when transfers are matched to the payment (Unix milliseconds): the payment's
    /// window and the late-payment horizon after it.
    pub watch_until: i64,
    /// For an address derived from an extended public key: its pool (one per key) and its
    /// index there.
    pub derived: Option<(String, u32)>,
}

/// A token transfer to one of our addresses (or, for a refund, from one of them to a buyer), as
/// the chain told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The chain it happened on.
    pub chain_id: u64,
    /// Its transaction.
    pub tx_hash: String,
    /// Its place among the block's logs: with the transaction, it is counted once.
    pub log_index: u64,
    /// The token contract.
    pub token: ChainAddress,
    /// Who sent it.
    pub from: ChainAddress,
    /// Where it went.
    pub to: ChainAddress,
    /// How much.
    pub units: TokenUnits,
    /// The block it is in.
    pub block_number: u64,
    /// That block's hash: a different one later means the block was replaced.
    pub block_hash: String,
    /// The payment it pays, when one matched.
    pub payment_id: Option<PaymentId>,
    /// The refund it gives back, when it is a merchant's transfer to a buyer that one awaited.
    pub refund_id: Option<RefundId>,
    /// Where it stands.
    pub state: TransferState,
    /// How many confirmations it needs to be [`TransferState::Confirmed`].
    pub confirmations: u64,
}

impl Transfer {
    /// How many blocks hold it at `head`: its own and those after it.
    pub fn depth(&self, head: u64) -> u64 {
        (head + 1).saturating_sub(self.block_number)
    }
}

impl Watch {
    /// Whether a transfer to `to` of `units` in `block` pays this watch's payment.
    pub fn matches(&self, to: ChainAddress, units: TokenUnits, block: u64) -> bool {
        to == self.address && block > self.from_block && (!self.exact || units == self.units)
    }
}

/// Where a payment stands on chain, from its transfers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// What the buyer owes.
    pub expected: TokenUnits,
    /// What arrived in transfers still on the chain, confirmed or not.
    pub received: TokenUnits,
    /// What arrived in confirmed transfers.
    pub confirmed: TokenUnits,
    /// The earliest transfer still on the chain: (block, transaction), if any.
    pub first_seen: Option<(u64, String)>,
    /// The confirmed transfer that completed the amount, once it is complete.
    pub paid_by: Option<String>,
    /// Transfers that left the chain and have not come back.
    pub removed: usize,
}

impl Progress {
    /// The progress of a payment owing `expected`, from its transfers (any order).
    pub fn of(expected: TokenUnits, transfers: &[Transfer]) -> Progress {
        let mut sorted: Vec<&Transfer> = transfers.iter().collect();
        sorted.sort_by_key(|t| (t.block_number, t.log_index));
        let mut progress = Progress {
            expected,
            received: TokenUnits::ZERO,
            confirmed: TokenUnits::ZERO,
            first_seen: None,
            paid_by: None,
            removed: 0,
        };
        for t in sorted {
            match t.state {
                TransferState::Removed => progress.removed += 1,
                TransferState::Seen | TransferState::Confirmed => {
                    progress.received = progress.received.plus(t.units);
                    if progress.first_seen.is_none() {
                        progress.first_seen = Some((t.block_number, t.tx_hash.clone()));
                    }
                    if t.state == TransferState::Confirmed {
                        progress.confirmed = progress.confirmed.plus(t.units);
                        if progress.paid_by.is_none() && progress.confirmed >= expected {
                            progress.paid_by = Some(t.tx_hash.clone());
                        }
                    }
                }
            }
        }
        progress
    }

    /// What arrived beyond the amount owed.
    pub fn excess(&self) -> TokenUnits {
        self.received.minus(self.expected)
    }
}

/// A refund of a payment on chain: the server holds no key, so the merchant sends it from
/// their own wallet. It is `units` of `token` from the address that received the payment to
/// the buyer (the payment's sender); the scanner watches for it after `from_block`, and it
/// gives the money back once buried under `confirmations` blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundTransfer {
    /// The refund it gives back.
    pub refund_id: RefundId,
    /// The chain the payment was made on.
    pub chain_id: u64,
    /// The token contract.
    pub token: ChainAddress,
    /// The token's decimals.
    pub decimals: u8,
    /// The address that received the payment: the merchant sends the refund from it.
    pub from: ChainAddress,
    /// The buyer: the address that sent the payment.
    pub to: ChainAddress,
    /// Exactly what to send, in token units.
    pub units: TokenUnits,
    /// How many blocks the transfer needs (its own included) to count.
    pub confirmations: u64,
    /// Only transfers in later blocks count: the chain's head when the refund was made.
    pub from_block: u64,
}

impl RefundTransfer {
    /// Whether a transfer log from `from` to `to` of `units` in `block` is this refund.
    pub fn matches(
        &self,
        from: ChainAddress,
        to: ChainAddress,
        units: TokenUnits,
        block: u64,
    ) -> bool {
        from == self.from && to == self.to && units == self.units && block > self.from_block
    }

    /// The amount in tokens, every decimal shown (`10.500000`).
    pub fn amount(&self) -> String {
        self.units.in_tokens(self.decimals)
    }

    /// The EIP-681 request a wallet reads from a QR code to send it.
    pub fn uri(&self) -> String {
        payment_uri(self.token, self.chain_id, self.to, self.units)
    }
}

/// Who paid a payment on chain and where: the sender and recipient of its transfer `tx_hash`
/// (the one that completed it), or of its first confirmed transfer when that is not known.
pub fn payer_of(
    transfers: &[Transfer],
    tx_hash: Option<&str>,
) -> Option<(ChainAddress, ChainAddress)> {
    let live = |t: &&Transfer| t.state == TransferState::Confirmed;
    transfers
        .iter()
        .filter(live)
        .find(|t| Some(t.tx_hash.as_str()) == tx_hash)
        .or_else(|| transfers.iter().find(live))
        .map(|t| (t.from, t.to))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_keep_their_checksum_honest() {
        let usdc = ChainAddress::parse(USDC_BASE).expect("USDC");
        assert_eq!(usdc.checksummed(), USDC_BASE);
        assert_eq!(usdc.lower(), USDC_BASE.to_lowercase());
        let lower = ChainAddress::parse(&USDC_BASE.to_lowercase()).expect("lower case");
        assert_eq!(lower, usdc);
        let typo = USDC_BASE.replace("fCD6", "fcD6");
        assert!(ChainAddress::parse(&typo).unwrap_err().contains("checksum"));
        for bad in [
            "833589fcd6edb6e08f4c7c32d4f71b54bda02913",
            "0x1234",
            "0xzz3589fcd6edb6e08f4c7c32d4f71b54bda02913",
        ] {
            assert!(ChainAddress::parse(bad).is_err(), "{bad}");
        }
        let topic = usdc.topic();
        assert_eq!(topic.len(), 66);
        assert_eq!(ChainAddress::from_topic(&topic), Some(usdc));
        assert_eq!(
            ChainAddress::from_topic(&format!("0x1{}", &topic[3..])),
            None
        );
    }

    #[test]
    fn unique_amounts_sit_below_the_cent() {
        let units = unique_units(11_600, 6, 123).expect("units");
        assert_eq!(units, TokenUnits::new(116_000_123));
        assert_eq!(units.in_tokens(6), "116.000123");
        assert_eq!(max_tag(6), 9_999);
        assert_eq!(unique_units(11_600, 6, 10_000), None);
        assert_eq!(unique_units(11_600, 6, 0), None);
        assert_eq!(unique_units(11_600, 2, 1), None);
        assert_eq!(
            units_of_total(11_600, 6),
            Some(TokenUnits::new(116_000_000))
        );
        assert_eq!(units_of_total(11_600, 2), Some(TokenUnits::new(11_600)));
        assert_eq!(units_of_total(0, 6), None);
        assert_eq!(TokenUnits::new(5).in_tokens(6), "0.000005");
        assert_eq!(
            TokenUnits::from_hex("0x6ea057b"),
            Some(TokenUnits::new(116_000_123))
        );
        assert_eq!(
            TokenUnits::parse("116000123"),
            Some(TokenUnits::new(116_000_123))
        );
    }

    #[test]
    fn the_payment_request_is_eip_681() {
        let token = ChainAddress::parse(USDC_BASE).expect("token");
        let to = ChainAddress::parse("0x5a4d8c1f2e3b7a9c0d6e4f1a2b3c8d7e6f5a4b3c").expect("to");
        let uri = payment_uri(token, BASE_MAINNET, to, TokenUnits::new(116_000_123));
        assert_eq!(
            uri,
            format!(
                "ethereum:{USDC_BASE}@8453/transfer?address={}&uint256=116000123",
                to.checksummed()
            )
        );
        assert_eq!(
            transfer_topic(),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
        );
    }

    fn transfer(block: u64, units: u64, state: TransferState) -> Transfer {
        let address = ChainAddress::parse(USDC_BASE).expect("address");
        Transfer {
            chain_id: BASE_MAINNET,
            tx_hash: format!("0x{block:064x}"),
            log_index: 0,
            token: address,
            from: address,
            to: address,
            units: TokenUnits::new(units),
            block_number: block,
            block_hash: format!("0x{block:x}"),
            payment_id: None,
            refund_id: None,
            state,
            confirmations: 2,
        }
    }

    #[test]
    fn a_refund_is_sent_to_whoever_paid_from_where_it_was_paid() {
        let a = |n: u8| ChainAddress::parse(&format!("0x{:040x}", n)).expect("address");
        let mut first = transfer(5, 40, TransferState::Confirmed);
        (first.from, first.to) = (a(1), a(9));
        let mut completing = transfer(6, 60, TransferState::Confirmed);
        (completing.from, completing.to) = (a(2), a(9));
        let mut removed = transfer(7, 60, TransferState::Removed);
        (removed.from, removed.to) = (a(3), a(9));
        let all = [first.clone(), completing.clone(), removed.clone()];
        assert_eq!(
            payer_of(&all, Some(&completing.tx_hash)),
            Some((a(2), a(9)))
        );
        assert_eq!(payer_of(&all, None), Some((a(1), a(9))));
        assert_eq!(payer_of(&all, Some(&removed.tx_hash)), Some((a(1), a(9))));
        assert_eq!(payer_of(&[removed], None), None);

        let refund = RefundTransfer {
            refund_id: RefundId::from_trusted("re_1".into()),
            chain_id: BASE_MAINNET,
            token: ChainAddress::parse(USDC_BASE).expect("usdc"),
            decimals: 6,
            from: a(9),
            to: a(2),
            units: TokenUnits::new(10_500_000),
            confirmations: 2,
            from_block: 100,
        };
        assert_eq!(refund.amount(), "10.500000");
        assert!(refund.uri().ends_with(
            "/transfer?address=0x0000000000000000000000000000000000000002&uint256=10500000"
        ));
        assert!(refund.matches(a(9), a(2), TokenUnits::new(10_500_000), 101));
        assert!(
            !refund.matches(a(9), a(2), TokenUnits::new(10_500_000), 100),
            "a block before the refund"
        );
        assert!(
            !refund.matches(a(9), a(2), TokenUnits::new(10_500_001), 101),
            "another amount"
        );
        assert!(
            !refund.matches(a(1), a(2), TokenUnits::new(10_500_000), 101),
            "from elsewhere"
        );
        assert!(
            !refund.matches(a(9), a(1), TokenUnits::new(10_500_000), 101),
            "to someone else"
        );
    }

    #[test]
    fn progress_adds_up_what_is_still_on_the_chain() {
        use TransferState::{Confirmed, Removed, Seen};
        let expected = TokenUnits::new(100);
        let none = Progress::of(expected, &[]);
        assert_eq!(
            (none.received, none.first_seen, none.paid_by),
            (TokenUnits::ZERO, None, None)
        );

        // A removed transfer counts for nothing; a short one is seen, not paid.
        let short = Progress::of(
            expected,
            &[transfer(5, 100, Removed), transfer(7, 40, Confirmed)],
        );
        assert_eq!((short.received, short.removed), (TokenUnits::new(40), 1));
        assert_eq!(short.first_seen, Some((7, format!("0x{:064x}", 7))));
        assert_eq!(short.paid_by, None);

        // Paid by the confirmed transfer that completes the amount; the rest is excess.
        let paid = Progress::of(
            expected,
            &[
                transfer(9, 30, Seen),
                transfer(8, 60, Confirmed),
                transfer(7, 40, Confirmed),
            ],
        );
        assert_eq!(paid.confirmed, TokenUnits::new(100));
        assert_eq!(paid.paid_by, Some(format!("0x{:064x}", 8)));
        assert_eq!(paid.excess(), TokenUnits::new(30));
        assert_eq!(transfer(9, 1, Seen).depth(10), 2);
        assert_eq!(transfer(9, 1, Seen).depth(8), 0);
    }

    #[test]
    fn a_watch_matches_only_later_transfers_of_its_amount() {
        let address = ChainAddress::parse(USDC_BASE).expect("address");
        let watch = Watch {
            payment_id: PaymentId::generate(),
            chain_id: BASE_MAINNET,
            token: address,
            address,
            units: TokenUnits::new(116_000_123),
            exact: true,
            confirmations: 2,
            from_block: 10,
            watch_until: 0,
            derived: None,
        };
        assert!(watch.matches(address, TokenUnits::new(116_000_123), 11));
        assert!(
            !watch.matches(address, TokenUnits::new(116_000_123), 10),
            "from before the watch"
        );
        assert!(
            !watch.matches(address, TokenUnits::new(116_000_124), 11),
            "another amount"
        );
        let sum = Watch {
            exact: false,
            ..watch
        };
        assert!(
            sum.matches(address, TokenUnits::new(5), 11),
            "an address of its own adds up"
        );
    }
}
