-- Lookups that stay fast however many checkouts there are (measured with 1,000,000 sessions).
-- Each index leads with the looked-up value and carries the merchant and environment, so it
-- wins over the list indexes, which would read a merchant's rows newest first until they match.
-- Twin of migrations/sqlite/0016_lookup_indexes.sql: keep both in step.

-- A customer's payments (the customer's page, the e-mail filter).
DROP INDEX payments_customer;
CREATE INDEX payments_customer ON payments (customer_id, merchant_id, environment, id);
-- A session's events (a payment's timeline, the API's sessionId filter).
CREATE INDEX events_session ON events (session_id, merchant_id, environment, id);
-- Sessions by the merchant's own reference (the payments filter).
CREATE INDEX checkout_sessions_reference
    ON checkout_sessions (client_reference_id, merchant_id, environment);
