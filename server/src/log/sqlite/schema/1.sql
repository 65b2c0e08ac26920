CREATE TABLE users (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE
);
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id)
);
CREATE TABLE channels (
    name_key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    position INTEGER NOT NULL,
    head INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE messages (
    channel_key TEXT NOT NULL REFERENCES channels(name_key),
    seq INTEGER NOT NULL,
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    client_id TEXT,
    PRIMARY KEY (channel_key, seq)
) WITHOUT ROWID;
CREATE TABLE recent_sends (
    user_id TEXT NOT NULL REFERENCES users(id),
    client_id TEXT NOT NULL,
    channel_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;
CREATE INDEX recent_sends_by_position ON recent_sends (user_id, position);
