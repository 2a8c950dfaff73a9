-- The dashboard's sweep deletes spent form tokens and ended sign-ins by expires_at: through
-- an index, so that it stays a range read however many there are.
-- Twin of migrations/sqlite/0024_sweep_indexes.sql: keep both in step.

CREATE INDEX dashboard_form_uses_expiry ON dashboard_form_uses (expires_at);
CREATE INDEX dashboard_sessions_expiry ON dashboard_sessions (expires_at);
