-- A customer's payments, newest first (the dashboard's customer page, the API's filter).
-- Twin of migrations/postgres/0014_customer_payments.sql: keep both in step.

CREATE INDEX payments_customer ON payments (customer_id, id);
