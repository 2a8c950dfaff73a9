-- The dashboard: the merchant's people, their sign-ins, and what they did.
-- Twin of migrations/sqlite/0012_dashboard.sql: keep both in step.

-- A person who signs in, with a role (owner | developer | viewer). The password is an
-- Argon2id PHC string; an address is one person across merchants.
CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    merchant_id    TEXT NOT NULL REFERENCES merchants (id),
    email          TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    role           TEXT NOT NULL,
    totp_secret    TEXT,
    disabled_at    BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);
CREATE INDEX users_merchant ON users (merchant_id, id);

-- A signed-in browser: the SHA-256 of its cookie's token (the token itself is never stored),
-- the environment its switch shows, and the secret its forms' tokens are signed with.
CREATE TABLE dashboard_sessions (
    token_hash    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    environment   TEXT NOT NULL,
    form_secret   TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX dashboard_sessions_user ON dashboard_sessions (user_id);

-- Each form token once: a second post with it is refused.
CREATE TABLE dashboard_form_uses (
    token_hash  TEXT PRIMARY KEY,
    expires_at  BIGINT NOT NULL
);

-- Failed sign-ins in the current window, per account and per client address.
CREATE TABLE login_failures (
    throttle_key  TEXT PRIMARY KEY,
    window_start  BIGINT NOT NULL,
    failures      BIGINT NOT NULL
);

-- One-time links that create an account (the owner's, printed on first start).
CREATE TABLE setup_links (
    token_hash   TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL REFERENCES merchants (id),
    role         TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

-- Every action taken in the dashboard or the CLI: who (a user's address, or "cli"), what,
-- on what, when.
CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    merchant_id  TEXT NOT NULL,
    environment  TEXT,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    target       TEXT,
    detail       TEXT,
    created_at   BIGINT NOT NULL
);
CREATE INDEX audit_log_merchant ON audit_log (merchant_id, id);
