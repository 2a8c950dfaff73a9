-- The onchain integration: what each payment waits for on chain, every token transfer seen to
-- one of our addresses, and each chain scanner's cursor, lease and counters.
-- Twin of migrations/postgres/0007_onchain.sql: keep both in step.
-- Addresses are lower-case 0x hex; token amounts TEXT in decimal units (they may pass BIGINT).

-- One row per payment. A unique amount to a shared address is taken by one payment at a time:
-- its row is reused only after watch_until (the payment's window and the late-payment horizon).
CREATE TABLE onchain_watches (
    payment_id     TEXT PRIMARY KEY,
    chain_id       BIGINT NOT NULL,
    token          TEXT NOT NULL,
    address        TEXT NOT NULL,
    units          TEXT NOT NULL,
    exact          BIGINT NOT NULL,
    confirmations  BIGINT NOT NULL,
    from_block     BIGINT NOT NULL,
    watch_until    BIGINT NOT NULL,
    created_at     BIGINT NOT NULL,
    UNIQUE (chain_id, token, address, units)
);
CREATE INDEX onchain_watches_scan ON onchain_watches (chain_id, token, watch_until);

-- Each transfer log counted once: (chain, transaction, log index).
CREATE TABLE onchain_transfers (
    chain_id       BIGINT NOT NULL,
    tx_hash        TEXT NOT NULL,
    log_index      BIGINT NOT NULL,
    token          TEXT NOT NULL,
    from_address   TEXT NOT NULL,
    to_address     TEXT NOT NULL,
    units          TEXT NOT NULL,
    block_number   BIGINT NOT NULL,
    block_hash     TEXT NOT NULL,
    payment_id     TEXT,
    state          TEXT NOT NULL,
    confirmations  BIGINT NOT NULL,
    seen_at        BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (chain_id, tx_hash, log_index)
);
CREATE INDEX onchain_transfers_payment ON onchain_transfers (payment_id);
CREATE INDEX onchain_transfers_open ON onchain_transfers (chain_id, token, state, block_number);

-- One scanner per chain and token ("8453:0x8335…"): the last block scanned and its hash, the
-- head last seen, which instance holds the lease, and what it counted.
CREATE TABLE onchain_scanners (
    scanner            TEXT PRIMARY KEY,
    block_number       BIGINT,
    block_hash         TEXT,
    head               BIGINT,
    lease_owner        TEXT,
    lease_until        BIGINT NOT NULL DEFAULT 0,
    reorgs             BIGINT NOT NULL DEFAULT 0,
    reorgs_after_paid  BIGINT NOT NULL DEFAULT 0,
    updated_at         BIGINT NOT NULL
);
