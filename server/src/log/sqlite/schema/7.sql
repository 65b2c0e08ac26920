-- A channel's topic (JSON: text, html, set_by, set_at), NULL when none.
ALTER TABLE channels ADD COLUMN topic TEXT;
