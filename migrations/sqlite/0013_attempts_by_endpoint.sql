-- The dashboard's delivery log lists an endpoint's attempts, newest first.
-- Twin of migrations/postgres/0013_attempts_by_endpoint.sql: keep both in step.

CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
