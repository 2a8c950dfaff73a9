-- Merchants, API keys, customers and checkout sessions.
-- Twin of migrations/sqlite/0001_merchant_api.sql: keep both in step.
-- Ids are TEXT in the "C" collation (byte order, so cursors page the same as on SQLite),
-- money BIGINT cents, times BIGINT Unix milliseconds.

CREATE TABLE merchants (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    environment  TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    key_hash     TEXT NOT NULL UNIQUE,
    key_hint     TEXT NOT NULL,
    label        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_merchant ON api_keys (merchant_id, id);

CREATE TABLE customers (
    id                TEXT COLLATE "C" PRIMARY KEY,
    merchant_id       TEXT NOT NULL REFERENCES merchants (id),
    environment       TEXT NOT NULL,
    email             TEXT NOT NULL,
    email_normalized  TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'active',
    created_at        BIGINT NOT NULL,
    UNIQUE (merchant_id, environment, email_normalized)
);
CREATE INDEX customers_list ON customers (merchant_id, environment, id);

CREATE TABLE checkout_sessions (
    id                   TEXT COLLATE "C" PRIMARY KEY,
    merchant_id          TEXT NOT NULL REFERENCES merchants (id),
    environment          TEXT NOT NULL,
    customer_id          TEXT NOT NULL REFERENCES customers (id),
    customer_email       TEXT NOT NULL,
    product              TEXT NOT NULL,
    amount_cents         BIGINT NOT NULL CHECK (amount_cents > 0),
    currency             TEXT NOT NULL,
    status               TEXT NOT NULL,
    preferred_route      TEXT,
    route_id             TEXT,
    redirect_url         TEXT,
    metadata             TEXT NOT NULL,
    client_reference_id  TEXT,
    idempotency_key      TEXT,
    request_hash         TEXT,
    payment_id           TEXT,
    expires_at           BIGINT NOT NULL,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (merchant_id, environment, idempotency_key)
);
CREATE INDEX checkout_sessions_expiry ON checkout_sessions (status, expires_at);
CREATE INDEX checkout_sessions_list ON checkout_sessions (merchant_id, environment, id);

-- One-off facts about this installation, e.g. that the first merchant was created.
CREATE TABLE app_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
