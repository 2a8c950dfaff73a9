-- Where the buyer was sent, for the payment's timeline: first to the provider's own page and
-- first back from it (per payment), first back to the merchant's redirectUrl (per session).
-- Each is written once, while still NULL; later visits write nothing.
-- Twin of migrations/sqlite/0019_redirects.sql: keep both in step.

ALTER TABLE payments ADD COLUMN sent_to_provider_at BIGINT;
ALTER TABLE payments ADD COLUMN back_from_provider_at BIGINT;
ALTER TABLE checkout_sessions ADD COLUMN sent_back_at BIGINT;
