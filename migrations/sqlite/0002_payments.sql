-- Payments, invoices, the event outbox and provider callbacks seen.
-- Twin of migrations/postgres/0002_payments.sql: keep both in step.

-- One payment per session (UNIQUE): double clicks and concurrent posts cannot make two.
CREATE TABLE payments (
    id                  TEXT PRIMARY KEY,
    session_id          TEXT NOT NULL UNIQUE REFERENCES checkout_sessions (id),
    merchant_id         TEXT NOT NULL REFERENCES merchants (id),
    environment         TEXT NOT NULL,
    customer_id         TEXT NOT NULL REFERENCES customers (id),
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
    updated_at          BIGINT NOT NULL
);
CREATE INDEX payments_list ON payments (merchant_id, environment, id);
CREATE INDEX payments_reconcile ON payments (provider_state, next_poll_at);

CREATE TABLE invoices (
    id           TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL UNIQUE REFERENCES checkout_sessions (id),
    payment_id   TEXT NOT NULL,
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
CREATE INDEX invoices_list ON invoices (merchant_id, environment, id);

-- The outbox: written in the transaction of the state change it reports.
CREATE TABLE events (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    environment  TEXT NOT NULL,
    session_id   TEXT NOT NULL,
    type         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX events_list ON events (merchant_id, environment, id);
CREATE INDEX events_created ON events (created_at);

-- Provider callbacks already applied, so a replay is refused.
CREATE TABLE provider_callbacks (
    provider     TEXT NOT NULL,
    callback_id  TEXT NOT NULL,
    payment_id   TEXT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (provider, callback_id)
);
