-- Declined cards by the client address they came from, for the card-testing limit
-- (card_attempts_per_address_per_hour): counted in the database so that every instance sees
-- the same count. Rows older than two hours are removed by the expiry sweeper.
-- Twin of migrations/sqlite/0021_card_declines.sql: keep both in step.

CREATE TABLE card_declines (
    payment_id   TEXT PRIMARY KEY REFERENCES payments (id),
    address      TEXT NOT NULL,
    declined_at  BIGINT NOT NULL
);
CREATE INDEX card_declines_address ON card_declines (address, declined_at);
CREATE INDEX card_declines_age ON card_declines (declined_at);
