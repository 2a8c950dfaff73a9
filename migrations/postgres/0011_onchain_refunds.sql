-- Refunds of payments on chain. The server holds no key: the merchant sends the refund from
-- the address that received the payment to the buyer (the payment's sender), exactly `units`
-- of the token, and the scanner watches for that transfer after `from_block`. A transfer found
-- (or confirmed by hand with its hash) is recorded among the others, naming its refund.
-- Twin of migrations/sqlite/0011_onchain_refunds.sql: keep both in step.

CREATE TABLE onchain_refunds (
    refund_id      TEXT PRIMARY KEY REFERENCES refunds (id),
    chain_id       BIGINT NOT NULL,
    token          TEXT NOT NULL,
    decimals       BIGINT NOT NULL,
    from_address   TEXT NOT NULL,
    to_address     TEXT NOT NULL,
    units          TEXT NOT NULL,
    confirmations  BIGINT NOT NULL,
    from_block     BIGINT NOT NULL
);

ALTER TABLE onchain_transfers ADD COLUMN refund_id TEXT;
CREATE INDEX onchain_transfers_refund ON onchain_transfers (refund_id);
