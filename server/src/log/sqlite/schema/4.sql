ALTER TABLE users ADD COLUMN created_at TEXT;
CREATE TABLE reads (
    user_id TEXT NOT NULL,
    channel_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel_key)
) WITHOUT ROWID;
