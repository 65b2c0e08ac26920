ALTER TABLE messages ADD COLUMN edited_at TEXT;
CREATE TABLE reactions (
    channel_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    emoji TEXT NOT NULL,
    user_name TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (channel_key, seq, emoji, user_name)
) WITHOUT ROWID;
