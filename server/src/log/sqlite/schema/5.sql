ALTER TABLE sessions ADD COLUMN seen_at TEXT;
