-- A payment's provider callbacks, for its timeline on the dashboard.
-- Twin of migrations/postgres/0018_callbacks_by_payment.sql: keep both in step.

CREATE INDEX provider_callbacks_payment ON provider_callbacks (payment_id, received_at);
