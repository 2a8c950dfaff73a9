-- When the buyer first opened the checkout page: the top of the dashboard's conversion funnel.
-- Written once per session (only while it is still NULL), never on later views.
-- Twin of migrations/postgres/0015_session_opened.sql: keep both in step.

ALTER TABLE checkout_sessions ADD COLUMN opened_at BIGINT;
