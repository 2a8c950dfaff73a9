-- The session's metadata of each payment, one row per pair: finds the payments whose session
-- has `key` = `value` through an index, newest first (the dashboard's metadata filter), instead
-- of reading every session's metadata. Written with the payment, in its transaction.
-- Twin of migrations/postgres/0017_payment_metadata.sql: keep both in step.

CREATE TABLE payment_metadata (
    payment_id   TEXT NOT NULL REFERENCES payments (id),
    merchant_id  TEXT NOT NULL,
    environment  TEXT NOT NULL,
    key          TEXT NOT NULL,
    value        TEXT NOT NULL,
    PRIMARY KEY (payment_id, key)
);
CREATE INDEX payment_metadata_value
    ON payment_metadata (merchant_id, environment, key, value, payment_id);

-- SQLite cannot read JSON with PostgreSQL's functions: the backfill below uses json_each where
-- the twin uses jsonb_each_text; the rest is the same.
INSERT INTO payment_metadata (payment_id, merchant_id, environment, key, value)
SELECT p.id, p.merchant_id, p.environment, j.key, j.value
FROM payments p JOIN checkout_sessions s ON s.id = p.session_id, json_each(s.metadata) j
WHERE j.type = 'text';
