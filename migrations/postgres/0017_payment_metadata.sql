-- The session's metadata of each payment, one row per pair: finds the payments whose session
-- has `key` = `value` through an index, newest first (the dashboard's metadata filter), instead
-- of reading every session's metadata. Written with the payment, in its transaction.
-- Twin of migrations/sqlite/0017_payment_metadata.sql: keep both in step.

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

INSERT INTO payment_metadata (payment_id, merchant_id, environment, key, value)
SELECT p.id, p.merchant_id, p.environment, j.key, j.value
FROM payments p JOIN checkout_sessions s ON s.id = p.session_id,
    jsonb_each_text(s.metadata::jsonb) j
WHERE jsonb_typeof(s.metadata::jsonb -> j.key) = 'string';
