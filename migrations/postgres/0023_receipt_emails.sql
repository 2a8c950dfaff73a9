-- Receipt e-mails: an outbox, as webhook deliveries are. An e-mail is written in the
-- transaction that records the event it tells of (payment.paid, refund.succeeded): one to the
-- buyer and, when the installation names one, a copy to the merchant. UNIQUE (event_id, kind)
-- makes one event at most one e-mail of each kind, however often its step runs. The e-mail
-- worker sends what is due, retrying with backoff; without an SMTP server it keeps them.
-- Twin of migrations/sqlite/0023_receipt_emails.sql: keep both in step.

-- 'buyer': receipt e-mails go to the buyer; 'off': none (send_receipts = false in the
-- config, or the session was created with sendReceipt: false).
ALTER TABLE checkout_sessions ADD COLUMN receipts TEXT NOT NULL DEFAULT 'buyer';
-- Where a copy of each receipt e-mail goes (receipt_copy_to when the session was created).
ALTER TABLE checkout_sessions ADD COLUMN receipt_copy_to TEXT;

CREATE TABLE emails (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    environment     TEXT NOT NULL,
    event_id        TEXT NOT NULL REFERENCES events (id),
    payment_id      TEXT NOT NULL,
    -- the refund a refund e-mail tells of
    refund_id       TEXT,
    -- receipt | refund (to the buyer); receipt_copy | refund_copy (to the merchant)
    kind            TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    -- the catalog code the e-mail speaks (the language the buyer paid in)
    language        TEXT NOT NULL,
    -- pending | sent | kept (no SMTP server: shown, never sent) | failed (gave up)
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- the lease: a worker owns the e-mail until then
    locked_until    BIGINT,
    locked_by       TEXT,
    last_error      TEXT,
    sent_at         BIGINT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (event_id, kind)
);
CREATE INDEX emails_due ON emails (status, next_attempt_at);
CREATE INDEX emails_payment ON emails (payment_id, created_at);

CREATE TABLE email_attempts (
    id          TEXT PRIMARY KEY,
    email_id    TEXT NOT NULL REFERENCES emails (id),
    attempt     BIGINT NOT NULL,
    started_at  BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    -- the SMTP server's reply code to the message, when it gave one
    reply_code  BIGINT,
    -- what went wrong, in words; NULL when the server took the message
    error       TEXT
);
CREATE INDEX email_attempts_email ON email_attempts (email_id, attempt);
