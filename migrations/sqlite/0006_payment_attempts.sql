-- A session may hold several payments, one attempt each: after a failed attempt the buyer may
-- pay again, as a new payment (with its own invoice) of the same session. A payment is unique
-- per (session, attempt) instead of per session, and an invoice per payment.
-- SQLite cannot drop a UNIQUE constraint, so both tables are rebuilt (nothing references them).
-- Twin of migrations/postgres/0006_payment_attempts.sql: keep both in step.

CREATE TABLE payments_new (
    id                  TEXT PRIMARY KEY,
    session_id          TEXT NOT NULL REFERENCES checkout_sessions (id),
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    environment         TEXT NOT NULL,
    customer_id         TEXT NOT NULL REFERENCES customers (id),
    -- 1 for the session's first payment, 2 for the one after it failed, …
    attempt             BIGINT NOT NULL DEFAULT 1,
    invoice_id          TEXT NOT NULL,
    route_id            TEXT NOT NULL,
    route_kind          TEXT NOT NULL,
    provider            TEXT NOT NULL,
    amount_cents        BIGINT NOT NULL,
    buyer_fee_cents     BIGINT NOT NULL,
    gateway_fee_cents   BIGINT NOT NULL,
    merchant_net_cents  BIGINT NOT NULL,
    total_cents         BIGINT NOT NULL,
    currency            TEXT NOT NULL,
    -- pending | paid | failed
    status              TEXT NOT NULL,
    -- pending | settled
    ledger_status       TEXT NOT NULL,
    -- awaiting_buyer | challenge | in_flight | done
    provider_state      TEXT NOT NULL,
    provider_ref        TEXT,
    provider_data       TEXT NOT NULL DEFAULT '{}',
    card_brand          TEXT,
    card_last4          TEXT,
    tx_hash             TEXT,
    failure_code        TEXT,
    failure_message     TEXT,
    -- when reconciliation gives up on the provider, and when it next asks it
    provider_deadline   BIGINT,
    next_poll_at        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL,
    UNIQUE (session_id, attempt)
);
INSERT INTO payments_new (id, session_id, merchant_id, environment, customer_id, invoice_id, route_id, route_kind, provider, amount_cents, buyer_fee_cents, gateway_fee_cents, merchant_net_cents, total_cents, currency, status, ledger_status, provider_state, provider_ref, provider_data, card_brand, card_last4, tx_hash, failure_code, failure_message, provider_deadline, next_poll_at, created_at, updated_at)
    SELECT id, session_id, merchant_id, environment, customer_id, invoice_id, route_id, route_kind, provider, amount_cents, buyer_fee_cents, gateway_fee_cents, merchant_net_cents, total_cents, currency, status, ledger_status, provider_state, provider_ref, provider_data, card_brand, card_last4, tx_hash, failure_code, failure_message, provider_deadline, next_poll_at, created_at, updated_at FROM payments;
DROP TABLE payments;
ALTER TABLE payments_new RENAME TO payments;
CREATE INDEX payments_list ON payments (merchant_id, environment, id);
CREATE INDEX payments_reconcile ON payments (provider_state, next_poll_at);

CREATE TABLE invoices_new (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES checkout_sessions (id),
    payment_id   TEXT NOT NULL UNIQUE,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    environment  TEXT NOT NULL,
    customer_id  TEXT NOT NULL REFERENCES customers (id),
    amount_cents BIGINT NOT NULL,
    currency     TEXT NOT NULL,
    -- open | paid | void
    status       TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
INSERT INTO invoices_new (id, session_id, payment_id, merchant_id, environment, customer_id, amount_cents, currency, status, metadata, created_at, updated_at)
    SELECT id, session_id, payment_id, merchant_id, environment, customer_id, amount_cents, currency, status, metadata, created_at, updated_at FROM invoices;
DROP TABLE invoices;
ALTER TABLE invoices_new RENAME TO invoices;
CREATE INDEX invoices_list ON invoices (merchant_id, environment, id);
CREATE INDEX invoices_session ON invoices (session_id);
