-- The language the buyer paid in (a catalog code such as `pt-BR`): the receipt and its
-- e-mails speak it. NULL for payments made before it was recorded (they use the merchant's
-- default language).
-- Twin of migrations/sqlite/0022_payment_language.sql: keep both in step.

ALTER TABLE payments ADD COLUMN language TEXT;
