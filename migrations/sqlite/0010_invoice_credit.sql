-- An invoice shows the credit its payment's refunds gave back (refunds that succeeded).
-- Twin of migrations/postgres/0010_invoice_credit.sql: keep both in step.

ALTER TABLE invoices ADD COLUMN credited_cents BIGINT NOT NULL DEFAULT 0;
