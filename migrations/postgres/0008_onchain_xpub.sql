-- Addresses derived from a merchant's extended public key (address_mode "xpub"): a watch may
-- hold the index of its address in its pool (one pool per extended public key), and each pool
-- counts the indexes it gave out. An address whose payment received nothing is given again
-- once its watch is over, so that a wallet restored from the seed finds every payment within
-- its gap limit.
-- Twin of migrations/sqlite/0008_onchain_xpub.sql: keep both in step.

ALTER TABLE onchain_watches ADD COLUMN pool TEXT;
ALTER TABLE onchain_watches ADD COLUMN address_index BIGINT;
CREATE INDEX onchain_watches_pool ON onchain_watches (pool, watch_until);
CREATE INDEX onchain_transfers_to ON onchain_transfers (chain_id, to_address);

CREATE TABLE onchain_pools (
    pool        TEXT PRIMARY KEY,
    next_index  BIGINT NOT NULL
);
