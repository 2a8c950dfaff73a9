-- Webhook endpoints, deliveries (one per event and endpoint) and delivery attempts.
-- Twin of migrations/postgres/0003_webhooks.sql: keep both in step.

CREATE TABLE webhook_endpoints (
    id                        TEXT PRIMARY KEY,
    merchant_id               TEXT NOT NULL REFERENCES merchants (id),
    environment               TEXT NOT NULL,
    url                       TEXT NOT NULL,
    -- JSON array of event types, e.g. ["payment.paid","payment.failed"]
    events                    TEXT NOT NULL,
    -- active | disabled
    status                    TEXT NOT NULL,
    disabled_reason           TEXT,
    secret                    TEXT NOT NULL,
    -- after a rotation, the old secret keeps signing until previous_secret_expires_at
    previous_secret           TEXT,
    previous_secret_expires_at BIGINT,
    -- when the current run of failed attempts began (NULL while deliveries succeed)
    failing_since             BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, environment, id);

-- Written in the transaction of the event (the outbox), one row per subscribed endpoint.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    event_id         TEXT NOT NULL REFERENCES events (id),
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id),
    merchant_id      TEXT NOT NULL,
    environment      TEXT NOT NULL,
    -- pending | succeeded | failed
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    -- the lease: a worker owns the delivery until then
    locked_until     BIGINT,
    locked_by        TEXT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    UNIQUE (event_id, endpoint_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id             TEXT PRIMARY KEY,
    delivery_id    TEXT NOT NULL REFERENCES webhook_deliveries (id),
    event_id       TEXT NOT NULL,
    endpoint_id    TEXT NOT NULL,
    attempt        BIGINT NOT NULL,
    started_at     BIGINT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    status_code    BIGINT,
    -- the first 2 KiB of the answer
    response_body  TEXT,
    error          TEXT
);
CREATE INDEX webhook_attempts_event ON webhook_attempts (event_id, started_at);
