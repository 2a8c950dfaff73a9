-- A session may hold several payments, one attempt each: after a failed attempt the buyer may
-- pay again, as a new payment (with its own invoice) of the same session. A payment is unique
-- per (session, attempt) instead of per session, and an invoice per payment.
-- Twin of migrations/sqlite/0006_payment_attempts.sql: keep both in step.

ALTER TABLE payments ADD COLUMN attempt BIGINT NOT NULL DEFAULT 1;
ALTER TABLE payments DROP CONSTRAINT payments_session_id_key;
ALTER TABLE payments ADD CONSTRAINT payments_session_attempt_key UNIQUE (session_id, attempt);

ALTER TABLE invoices DROP CONSTRAINT invoices_session_id_key;
ALTER TABLE invoices ADD CONSTRAINT invoices_payment_id_key UNIQUE (payment_id);
CREATE INDEX invoices_session ON invoices (session_id);
