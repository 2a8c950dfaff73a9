-- The sandbox provider's own record of what it decided, keyed by the idempotency key we send
-- with each hand-off: it stands for the books of a real provider, so that a hand-off cut short
-- by a crash or a database error can be driven again and answered the same, and polled.
-- Twin of migrations/sqlite/0005_sandbox_ledger.sql: keep both in step.
CREATE TABLE sandbox_ledger (
    idempotency_key TEXT COLLATE "C" PRIMARY KEY,
    provider_ref    TEXT NOT NULL,
    -- paid | failed | challenge | delayed | awaiting_transfer
    decision        TEXT NOT NULL,
    tx_hash         TEXT,
    failure_code    TEXT,
    failure_message TEXT,
    settle_at       BIGINT,
    provider_data   TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
