-- Refunds: a paid payment's money given back, in full or in parts. A payment counts what its
-- refunds take up of its product amount, pending and succeeded (refund_reserved_cents: one
-- compare-and-set decides a new refund, so concurrent refunds can never overshoot), and what
-- went back to the buyer (refunded_cents, from refunds that succeeded).
-- Twin of migrations/sqlite/0009_refunds.sql: keep both in step.

ALTER TABLE payments ADD COLUMN refund_reserved_cents BIGINT NOT NULL DEFAULT 0;
ALTER TABLE payments ADD COLUMN refunded_cents BIGINT NOT NULL DEFAULT 0;

CREATE TABLE refunds (
    id               TEXT PRIMARY KEY,
    merchant_id      TEXT NOT NULL REFERENCES merchants (id),
    environment      TEXT NOT NULL,
    payment_id       TEXT NOT NULL REFERENCES payments (id),
    session_id       TEXT NOT NULL,
    provider         TEXT NOT NULL,
    -- given back to the buyer, and the part of the payment's product amount it takes up
    amount_cents     BIGINT NOT NULL,
    covers_cents     BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    -- pending | succeeded | failed | action_required
    status           TEXT NOT NULL,
    reason           TEXT,
    note             TEXT,
    metadata         TEXT NOT NULL,
    idempotency_key  TEXT,
    request_hash     TEXT,
    provider_ref     TEXT,
    failure_code     TEXT,
    failure_message  TEXT,
    next_poll_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX refunds_idempotency ON refunds (merchant_id, environment, idempotency_key);
CREATE INDEX refunds_payment ON refunds (payment_id, id);
CREATE INDEX refunds_list ON refunds (merchant_id, environment, id);
CREATE INDEX refunds_poll ON refunds (status, next_poll_at);
