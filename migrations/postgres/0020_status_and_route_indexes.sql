-- The dashboard's home adds up the month's paid payments, and the payments list filters by
-- status and by route. Through the list index (merchant, environment, id) each of these reads
-- every payment of the range, or walks back until it has a page of a status or route that is
-- rare. These indexes lead with the value asked for, in id order; the first also carries the
-- total, so the month's sum reads the index only.
-- Twin of migrations/sqlite/0020_status_and_route_indexes.sql: keep both in step.

CREATE INDEX payments_status ON payments (merchant_id, environment, status, id, total_cents);
CREATE INDEX payments_route ON payments (merchant_id, environment, route_id, id);
