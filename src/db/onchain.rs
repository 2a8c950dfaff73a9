//! The `onchain` integration's records: what each payment waits for (`onchain_watches`), every
//! token transfer seen to one of our addresses, counted once by (chain, transaction, log index)
//! (`onchain_transfers`), and each chain scanner's cursor, lease and counters
//! (`onchain_scanners`). The scanner's cursor moves in the transaction that records what it
//! found, and only while the instance holds the lease.

use anyhow::Context;
use sqlx::any::AnyRow;
use sqlx::{Any, Executor, FromRow, Row};

use crate::domain::onchain::{ChainAddress, RefundTransfer, TokenUnits, Transfer, Watch};
use crate::domain::{PaymentId, RefundId};

/// A column read as text and parsed into a domain value.
fn parsed<T>(row: &AnyRow, column: &str, parse: impl Fn(&str) -> Option<T>) -> sqlx::Result<T> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{text:?} is not a valid {column}").into(),
    })
}

/// A BIGINT column that holds a count or a block number.
fn unsigned(row: &AnyRow, column: &str) -> sqlx::Result<u64> {
    let n: i64 = row.try_get(column)?;
    u64::try_from(n).map_err(|_| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("{n} is negative").into(),
    })
}

fn address(s: &str) -> Option<ChainAddress> {
    ChainAddress::parse(s).ok()
}

/// A block number or count as the `Any` driver binds it.
fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl<'r> FromRow<'r, AnyRow> for Watch {
    fn from_row(row: &'r AnyRow) -> Result<Watch, sqlx::Error> {
        Ok(Watch {
            payment_id: row.try_get("payment_id")?,
            chain_id: unsigned(row, "chain_id")?,
            token: parsed(row, "token", address)?,
            address: parsed(row, "address", address)?,
            units: parsed(row, "units", TokenUnits::parse)?,
            exact: row.try_get::<i64, _>("exact")? != 0,
            confirmations: unsigned(row, "confirmations")?,
            from_block: unsigned(row, "from_block")?,
            watch_until: row.try_get("watch_until")?,
            derived: {
                let pool: Option<String> = row.try_get("pool")?;
                let index: Option<i64> = row.try_get("address_index")?;
                pool.zip(index.and_then(|i| u32::try_from(i).ok()))
            },
        })
    }
}

impl<'r> FromRow<'r, AnyRow> for Transfer {
    fn from_row(row: &'r AnyRow) -> Result<Transfer, sqlx::Error> {
        Ok(Transfer {
            chain_id: unsigned(row, "chain_id")?,
            tx_hash: row.try_get("tx_hash")?,
            log_index: unsigned(row, "log_index")?,
            token: parsed(row, "token", address)?,
            from: parsed(row, "from_address", address)?,
            to: parsed(row, "to_address", address)?,
            units: parsed(row, "units", TokenUnits::parse)?,
            block_number: unsigned(row, "block_number")?,
            block_hash: row.try_get("block_hash")?,
            payment_id: row.try_get("payment_id")?,
            refund_id: row.try_get("refund_id")?,
            state: row.try_get("state")?,
            confirmations: unsigned(row, "confirmations")?,
        })
    }
}

const WATCH_COLUMNS: &str = "payment_id, chain_id, token, address, units, exact, confirmations, \
    from_block, watch_until, pool, address_index";

const TRANSFER_COLUMNS: &str = "chain_id, tx_hash, log_index, token, from_address, to_address, \
    units, block_number, block_hash, payment_id, state, confirmations, refund_id";

/// Takes `watch`'s amount at its address for its payment, unless a payment still watched
/// holds it: a unique amount is reused only after the last payment that asked for it stopped
/// being watched. `false` when it is taken.
pub async fn reserve_watch<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    watch: &Watch,
    now: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO onchain_watches (payment_id, chain_id, token, address, units, exact,
             confirmations, from_block, watch_until, created_at, pool, address_index)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
         ON CONFLICT (chain_id, token, address, units) DO UPDATE SET
             payment_id = excluded.payment_id, exact = excluded.exact,
             confirmations = excluded.confirmations, from_block = excluded.from_block,
             watch_until = excluded.watch_until, created_at = excluded.created_at,
             pool = excluded.pool, address_index = excluded.address_index
         WHERE onchain_watches.watch_until < $10",
    )
    .bind(&watch.payment_id)
    .bind(signed(watch.chain_id))
    .bind(watch.token.lower())
    .bind(watch.address.lower())
    .bind(watch.units.to_string())
    .bind(i64::from(watch.exact))
    .bind(signed(watch.confirmations))
    .bind(signed(watch.from_block))
    .bind(watch.watch_until)
    .bind(now)
    .bind(watch.derived.as_ref().map(|(pool, _)| pool.as_str()))
    .bind(watch.derived.as_ref().map(|(_, index)| i64::from(*index)))
    .execute(executor)
    .await
    .context("reserving an amount to watch on chain")?;
    Ok(done.rows_affected() == 1)
}

/// Gives `watch`'s payment an address of `pool` again: one whose watch is over and to which
/// nothing was ever sent (a wallet restored from the seed looks only a few unused addresses
/// ahead). The watch as reserved, or `None` when no address is free.
pub async fn reuse_pool_address(
    db: &super::Db,
    watch: &Watch,
    pool: &str,
    now: i64,
) -> anyhow::Result<Option<Watch>> {
    let free: Option<(String, String, i64)> = sqlx::query_as(
        "SELECT payment_id, address, address_index FROM onchain_watches w
         WHERE pool = $1 AND watch_until < $2 AND chain_id = $3 AND token = $4
           AND NOT EXISTS (SELECT 1 FROM onchain_transfers t
                           WHERE t.chain_id = w.chain_id AND t.to_address = w.address)
         ORDER BY address_index LIMIT 1",
    )
    .bind(pool)
    .bind(now)
    .bind(signed(watch.chain_id))
    .bind(watch.token.lower())
    .fetch_optional(&db.write)
    .await
    .context("finding an unused address to give again")?;
    let Some((previous, address, index)) = free else {
        return Ok(None);
    };
    let taken = sqlx::query(
        "UPDATE onchain_watches SET payment_id = $1, units = $2, exact = $3, confirmations = $4,
             from_block = $5, watch_until = $6, created_at = $7
         WHERE payment_id = $8 AND watch_until < $7",
    )
    .bind(&watch.payment_id)
    .bind(watch.units.to_string())
    .bind(i64::from(watch.exact))
    .bind(signed(watch.confirmations))
    .bind(signed(watch.from_block))
    .bind(watch.watch_until)
    .bind(now)
    .bind(&previous)
    .execute(&db.write)
    .await
    .context("giving an unused address again")?;
    if taken.rows_affected() != 1 {
        return Ok(None);
    }
    Ok(Some(Watch {
        address: ChainAddress::parse(&address).map_err(|e| anyhow::anyhow!("{e}"))?,
        derived: Some((pool.to_owned(), u32::try_from(index).unwrap_or(u32::MAX))),
        ..watch.clone()
    }))
}

/// The next unused index of `pool`, counted from 0.
pub async fn next_pool_index(db: &super::Db, pool: &str) -> anyhow::Result<u32> {
    sqlx::query(
        "INSERT INTO onchain_pools (pool, next_index) VALUES ($1, 0) ON CONFLICT (pool) DO NOTHING",
    )
    .bind(pool)
    .execute(&db.write)
    .await
    .context("creating an address pool")?;
    let index: i64 = sqlx::query_scalar(
        "UPDATE onchain_pools SET next_index = next_index + 1 WHERE pool = $1
         RETURNING next_index - 1",
    )
    .bind(pool)
    .fetch_one(&db.write)
    .await
    .context("taking an address index")?;
    u32::try_from(index).context("an address pool ran out of indexes")
}

/// What `payment_id` waits for on chain, if it is watched.
pub async fn get_watch<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<Option<Watch>> {
    sqlx::query_as(&format!(
        "SELECT {WATCH_COLUMNS} FROM onchain_watches WHERE payment_id = $1"
    ))
    .bind(payment_id)
    .fetch_optional(executor)
    .await
    .context("reading an on-chain watch")
}

/// The watches of one chain and token still matched at `now`.
pub async fn active_watches<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    token: ChainAddress,
    now: i64,
) -> anyhow::Result<Vec<Watch>> {
    sqlx::query_as(&format!(
        "SELECT {WATCH_COLUMNS} FROM onchain_watches
         WHERE chain_id = $1 AND token = $2 AND watch_until >= $3"
    ))
    .bind(signed(chain_id))
    .bind(token.lower())
    .bind(now)
    .fetch_all(executor)
    .await
    .context("reading the on-chain watches")
}

/// The watches still matched at `now` whose payment is not paid and has transfers: the
/// payments the scanner settles.
pub async fn watches_to_settle<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    token: ChainAddress,
    now: i64,
) -> anyhow::Result<Vec<Watch>> {
    sqlx::query_as(&format!(
        "SELECT {WATCH_COLUMNS} FROM onchain_watches w
         WHERE w.chain_id = $1 AND w.token = $2 AND w.watch_until >= $3
           AND EXISTS (SELECT 1 FROM payments p WHERE p.id = w.payment_id AND p.status <> 'paid')
           AND EXISTS (SELECT 1 FROM onchain_transfers t WHERE t.payment_id = w.payment_id)"
    ))
    .bind(signed(chain_id))
    .bind(token.lower())
    .bind(now)
    .fetch_all(executor)
    .await
    .context("reading the on-chain payments to settle")
}

/// Records a transfer log the scanner found. One seen before is left alone, unless its block
/// changed or it had left the chain: then it is recorded again in its new block. `true` when
/// something was written.
pub async fn record_transfer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    t: &Transfer,
    now: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO onchain_transfers (chain_id, tx_hash, log_index, token, from_address,
             to_address, units, block_number, block_hash, payment_id, state, confirmations,
             seen_at, updated_at, refund_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)
         ON CONFLICT (chain_id, tx_hash, log_index) DO UPDATE SET
             block_number = excluded.block_number, block_hash = excluded.block_hash,
             state = excluded.state, updated_at = excluded.updated_at
         WHERE onchain_transfers.block_hash <> excluded.block_hash
            OR onchain_transfers.state = 'removed'",
    )
    .bind(signed(t.chain_id))
    .bind(&t.tx_hash)
    .bind(signed(t.log_index))
    .bind(t.token.lower())
    .bind(t.from.lower())
    .bind(t.to.lower())
    .bind(t.units.to_string())
    .bind(signed(t.block_number))
    .bind(&t.block_hash)
    .bind(&t.payment_id)
    .bind(t.state)
    .bind(signed(t.confirmations))
    .bind(now)
    .bind(&t.refund_id)
    .execute(executor)
    .await
    .context("recording a token transfer")?;
    Ok(done.rows_affected() == 1)
}

/// Moves a transfer to `state` in `block` (its block changes when a reorganisation mined it
/// again elsewhere).
pub async fn update_transfer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    t: &Transfer,
    now: i64,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE onchain_transfers SET state = $1, block_number = $2, block_hash = $3,
             updated_at = $4
         WHERE chain_id = $5 AND tx_hash = $6 AND log_index = $7",
    )
    .bind(t.state)
    .bind(signed(t.block_number))
    .bind(&t.block_hash)
    .bind(now)
    .bind(signed(t.chain_id))
    .bind(&t.tx_hash)
    .bind(signed(t.log_index))
    .execute(executor)
    .await
    .context("updating a token transfer")?;
    Ok(())
}

/// The transfers of one chain and token still to be checked: every one not yet confirmed,
/// and (after a reorganisation) the confirmed ones from `confirmed_from` on.
pub async fn open_transfers<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    token: ChainAddress,
    confirmed_from: Option<u64>,
) -> anyhow::Result<Vec<Transfer>> {
    sqlx::query_as(&format!(
        "SELECT {TRANSFER_COLUMNS} FROM onchain_transfers
         WHERE chain_id = $1 AND token = $2
           AND (state = 'seen' OR (state = 'confirmed' AND block_number >= $3))
         ORDER BY block_number, log_index"
    ))
    .bind(signed(chain_id))
    .bind(token.lower())
    .bind(confirmed_from.map_or(i64::MAX, signed))
    .fetch_all(executor)
    .await
    .context("reading the open token transfers")
}

/// Every transfer matched to `payment_id`, oldest first.
pub async fn transfers_of<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    payment_id: &PaymentId,
) -> anyhow::Result<Vec<Transfer>> {
    sqlx::query_as(&format!(
        "SELECT {TRANSFER_COLUMNS} FROM onchain_transfers WHERE payment_id = $1
         ORDER BY block_number, log_index"
    ))
    .bind(payment_id)
    .fetch_all(executor)
    .await
    .context("reading a payment's token transfers")
}

impl<'r> FromRow<'r, AnyRow> for RefundTransfer {
    fn from_row(row: &'r AnyRow) -> Result<RefundTransfer, sqlx::Error> {
        Ok(RefundTransfer {
            refund_id: row.try_get("refund_id")?,
            chain_id: unsigned(row, "chain_id")?,
            token: parsed(row, "token", address)?,
            decimals: u8::try_from(unsigned(row, "decimals")?).map_err(|_| {
                sqlx::Error::ColumnDecode {
                    index: "decimals".into(),
                    source: "more than 255 decimals".into(),
                }
            })?,
            from: parsed(row, "from_address", address)?,
            to: parsed(row, "to_address", address)?,
            units: parsed(row, "units", TokenUnits::parse)?,
            confirmations: unsigned(row, "confirmations")?,
            from_block: unsigned(row, "from_block")?,
        })
    }
}

const REFUND_COLUMNS: &str = "o.refund_id, o.chain_id, o.token, o.decimals, o.from_address, \
    o.to_address, o.units, o.confirmations, o.from_block";

/// Records what an on-chain refund awaits, with the refund it belongs to.
pub async fn insert_refund_transfer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    r: &RefundTransfer,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO onchain_refunds (refund_id, chain_id, token, decimals, from_address,
             to_address, units, confirmations, from_block)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.refund_id)
    .bind(signed(r.chain_id))
    .bind(r.token.lower())
    .bind(i64::from(r.decimals))
    .bind(r.from.lower())
    .bind(r.to.lower())
    .bind(r.units.to_string())
    .bind(signed(r.confirmations))
    .bind(signed(r.from_block))
    .execute(executor)
    .await
    .context("recording what an on-chain refund awaits")?;
    Ok(())
}

/// What the refunds `ids` await on chain (refunds of other providers have nothing).
pub async fn refund_transfers<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    ids: &[&RefundId],
) -> anyhow::Result<Vec<RefundTransfer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {REFUND_COLUMNS} FROM onchain_refunds o WHERE o.refund_id IN ({})",
        (1..=ids.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query_as(&sql);
    for id in ids {
        query = query.bind(*id);
    }
    query
        .fetch_all(executor)
        .await
        .context("reading what on-chain refunds await")
}

/// The refunds of `chain_id` and `token` that still await their transfer, oldest first, each
/// with whether a transfer still on the chain (not yet deep enough) was matched to it.
pub async fn awaiting_refunds<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    token: ChainAddress,
) -> anyhow::Result<Vec<(RefundTransfer, bool)>> {
    let rows: Vec<AnyRow> = sqlx::query(&format!(
        "SELECT {REFUND_COLUMNS},
             EXISTS (SELECT 1 FROM onchain_transfers t
                     WHERE t.refund_id = o.refund_id AND t.state <> 'removed') AS matched
         FROM refunds r JOIN onchain_refunds o ON o.refund_id = r.id
         WHERE r.status = 'action_required' AND o.chain_id = $1 AND o.token = $2
         ORDER BY r.id"
    ))
    .bind(signed(chain_id))
    .bind(token.lower())
    .fetch_all(executor)
    .await
    .context("reading the refunds awaiting a transfer")?;
    rows.iter()
        .map(|row| {
            let matched = match row.try_get::<bool, _>("matched") {
                Ok(b) => b,
                Err(_) => row.try_get::<i64, _>("matched")? != 0,
            };
            Ok((RefundTransfer::from_row(row)?, matched))
        })
        .collect::<sqlx::Result<_>>()
        .context("reading the refunds awaiting a transfer")
}

/// The refunds of `chain_id` and `token` awaiting their transfer whose transfer is confirmed:
/// (refund, transaction).
pub async fn refunds_to_settle<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    token: ChainAddress,
) -> anyhow::Result<Vec<(RefundId, String)>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.id, t.tx_hash
         FROM refunds r
         JOIN onchain_refunds o ON o.refund_id = r.id
         JOIN onchain_transfers t ON t.refund_id = r.id
         WHERE r.status = 'action_required' AND o.chain_id = $1 AND o.token = $2
           AND t.state = 'confirmed'
         ORDER BY r.id",
    )
    .bind(signed(chain_id))
    .bind(token.lower())
    .fetch_all(executor)
    .await
    .context("reading the on-chain refunds to settle")?;
    Ok(rows
        .into_iter()
        .map(|(id, tx)| (RefundId::from_trusted(id), tx))
        .collect())
}

/// The transfer recorded as `(chain_id, tx_hash, log_index)`, if any.
pub async fn get_transfer<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    chain_id: u64,
    tx_hash: &str,
    log_index: u64,
) -> anyhow::Result<Option<Transfer>> {
    sqlx::query_as(&format!(
        "SELECT {TRANSFER_COLUMNS} FROM onchain_transfers
         WHERE chain_id = $1 AND tx_hash = $2 AND log_index = $3"
    ))
    .bind(signed(chain_id))
    .bind(tx_hash)
    .bind(signed(log_index))
    .fetch_optional(executor)
    .await
    .context("reading a token transfer")
}

/// Names `refund_id` as what a recorded transfer that pays nothing gives back, and marks it
/// confirmed; `false` when it pays a payment or gives back another refund.
pub async fn assign_transfer_to_refund<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    t: &Transfer,
    refund_id: &RefundId,
    now: i64,
) -> anyhow::Result<bool> {
    let done = sqlx::query(
        "UPDATE onchain_transfers SET refund_id = $1, state = 'confirmed', updated_at = $2
         WHERE chain_id = $3 AND tx_hash = $4 AND log_index = $5 AND payment_id IS NULL
           AND (refund_id IS NULL OR refund_id = $1)",
    )
    .bind(refund_id)
    .bind(now)
    .bind(signed(t.chain_id))
    .bind(&t.tx_hash)
    .bind(signed(t.log_index))
    .execute(executor)
    .await
    .context("naming a transfer's refund")?;
    Ok(done.rows_affected() == 1)
}

/// A scanner's cursor and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannerRow {
    /// `{chain id}:{token}`.
    pub scanner: String,
    /// The last block scanned and its hash; none before the first scan.
    pub cursor: Option<(u64, String)>,
    /// The chain's head when it last looked.
    pub head: Option<u64>,
    /// Reorganisations it found.
    pub reorgs: u64,
    /// Transfers of paid payments that a reorganisation removed.
    pub reorgs_after_paid: u64,
}

impl<'r> FromRow<'r, AnyRow> for ScannerRow {
    fn from_row(row: &'r AnyRow) -> Result<ScannerRow, sqlx::Error> {
        let number: Option<i64> = row.try_get("block_number")?;
        let hash: Option<String> = row.try_get("block_hash")?;
        let head: Option<i64> = row.try_get("head")?;
        Ok(ScannerRow {
            scanner: row.try_get("scanner")?,
            cursor: number.zip(hash).map(|(n, h)| (n.max(0) as u64, h)),
            head: head.map(|h| h.max(0) as u64),
            reorgs: unsigned(row, "reorgs")?,
            reorgs_after_paid: unsigned(row, "reorgs_after_paid")?,
        })
    }
}

const SCANNER_COLUMNS: &str = "scanner, block_number, block_hash, head, reorgs, reorgs_after_paid";

/// Takes (or renews) the scanner's lease for `owner` until `until`, when no other instance
/// holds it or its holder let it lapse; returns the scanner's row, or `None` when another
/// instance holds it.
pub async fn claim_scanner(
    db: &super::Db,
    scanner: &str,
    owner: &str,
    now: i64,
    until: i64,
) -> anyhow::Result<Option<ScannerRow>> {
    sqlx::query(
        "INSERT INTO onchain_scanners (scanner, updated_at) VALUES ($1, $2)
         ON CONFLICT (scanner) DO NOTHING",
    )
    .bind(scanner)
    .bind(now)
    .execute(&db.write)
    .await
    .context("creating a chain scanner")?;
    sqlx::query_as(&format!(
        "UPDATE onchain_scanners SET lease_owner = $1, lease_until = $2
         WHERE scanner = $3 AND (lease_owner IS NULL OR lease_owner = $1 OR lease_until < $4)
         RETURNING {SCANNER_COLUMNS}"
    ))
    .bind(owner)
    .bind(until)
    .bind(scanner)
    .bind(now)
    .fetch_optional(&db.write)
    .await
    .context("claiming a chain scanner's lease")
}

/// Lets the lease go (an instance shutting down), so another takes over at once.
pub async fn release_scanner<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    scanner: &str,
    owner: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE onchain_scanners SET lease_owner = NULL, lease_until = 0
         WHERE scanner = $1 AND lease_owner = $2",
    )
    .bind(scanner)
    .bind(owner)
    .execute(executor)
    .await
    .context("releasing a chain scanner's lease")?;
    Ok(())
}

/// What one step of a scanner moves: its cursor, the head it saw, what it counted.
#[derive(Debug, Clone, Default)]
pub struct ScannerStep {
    /// The new cursor: the last block scanned and its hash.
    pub cursor: Option<(u64, String)>,
    /// The chain's head.
    pub head: u64,
    /// Reorganisations found in this step.
    pub reorgs: u64,
    /// Paid payments' transfers removed in this step.
    pub reorgs_after_paid: u64,
}

/// Moves the scanner's cursor and counters, in the transaction that records what it found,
/// if `owner` still holds the lease: `false` when it lost it (roll back: the new holder scans
/// the same blocks).
pub async fn advance_scanner<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    scanner: &str,
    owner: &str,
    step: &ScannerStep,
    now: i64,
) -> anyhow::Result<bool> {
    let (number, hash) = match &step.cursor {
        Some((n, h)) => (Some(signed(*n)), Some(h.as_str())),
        None => (None, None),
    };
    let done = sqlx::query(
        "UPDATE onchain_scanners SET
             block_number = COALESCE($1, block_number), block_hash = COALESCE($2, block_hash),
             head = $3, reorgs = reorgs + $4, reorgs_after_paid = reorgs_after_paid + $5,
             updated_at = $6
         WHERE scanner = $7 AND lease_owner = $8 AND lease_until >= $6",
    )
    .bind(number)
    .bind(hash)
    .bind(signed(step.head))
    .bind(signed(step.reorgs))
    .bind(signed(step.reorgs_after_paid))
    .bind(now)
    .bind(scanner)
    .bind(owner)
    .execute(executor)
    .await
    .context("advancing a chain scanner")?;
    Ok(done.rows_affected() == 1)
}

/// Every scanner, for `/metrics`.
pub async fn list_scanners<'e, E: Executor<'e, Database = Any>>(
    executor: E,
) -> anyhow::Result<Vec<ScannerRow>> {
    sqlx::query_as(&format!(
        "SELECT {SCANNER_COLUMNS} FROM onchain_scanners ORDER BY scanner"
    ))
    .fetch_all(executor)
    .await
    .context("reading the chain scanners")
}

/// The scanner's row, if it ran.
pub async fn get_scanner<'e, E: Executor<'e, Database = Any>>(
    executor: E,
    scanner: &str,
) -> anyhow::Result<Option<ScannerRow>> {
    sqlx::query_as(&format!(
        "SELECT {SCANNER_COLUMNS} FROM onchain_scanners WHERE scanner = $1"
    ))
    .bind(scanner)
    .fetch_optional(executor)
    .await
    .context("reading a chain scanner")
}
