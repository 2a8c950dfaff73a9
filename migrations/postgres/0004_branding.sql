-- Per-merchant branding of the checkout pages.
-- Twin of migrations/sqlite/0004_branding.sql: keep both in step.
ALTER TABLE merchants ADD COLUMN display_name TEXT;
ALTER TABLE merchants ADD COLUMN brand_color TEXT;
ALTER TABLE merchants ADD COLUMN button_shape TEXT;
ALTER TABLE merchants ADD COLUMN logo_type TEXT;
ALTER TABLE merchants ADD COLUMN logo_base64 TEXT;
ALTER TABLE merchants ADD COLUMN note TEXT;
ALTER TABLE merchants ADD COLUMN default_language TEXT;
ALTER TABLE merchants ADD COLUMN branding_updated_at BIGINT;
