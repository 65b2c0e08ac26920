//! Durable storage for `--data-dir`: an embedded SQLite database (WAL,
//! `synchronous=FULL`) written by one journal thread with group commit.
//!
//! The hub stays the owner of state; the store only records what the hub
//! decided, in the order it decided it, and tells the hub when each change is
//! durable. Invariants:
//! - Entries are committed in the order the hub issued their tickets, in
//!   batches: whatever queued up while one commit was syncing goes into the
//!   next transaction, so throughput does not collapse to one fsync per
//!   message.
//! - `durable` only moves forward, and only after a commit returned: an
//!   ack that waited for it survives `kill -9`.
//! - The database keeps exactly what the hub keeps: the last `HISTORY_LEN`
//!   messages per channel and the last `idempotency_window` client ids per
//!   user; older rows are deleted in the same transaction.
//! - The schema version is SQLite's `user_version`; a database from a newer
//!   Flack is refused rather than misread.

use crate::chat::TokenHash;
use crate::hub::Change;
use app::model::{
    Attachment, Channel, ChannelName, ClientId, DisplayName, Emoji, Message, MessageBody, Reaction,
    Timestamp, HISTORY_LEN,
};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Name of the database file inside the data dir.
pub const DATABASE_FILE: &str = "flack.sqlite3";
/// The directory (in the data dir) holding attachments, one file per id.
pub const FILES_DIR: &str = "files";
/// Most entries committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Attempts at a failing commit before the server stops (fail-stop: nothing
/// unacknowledged is claimed, and a restart resumes from the last commit).
const COMMIT_ATTEMPTS: u32 = 5;

/// The schema version this build writes (SQLite's `user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Schema migrations; entry `i` takes `user_version` from `i` to `i + 1`:
/// 1, the first schema; 2, edits (`edited_at`) and reactions; 3,
/// attachments (JSON, the files themselves in `FILES_DIR`); 4, read
/// positions and when each user signed up; 5, when each session was last
/// used.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    r#"
    ALTER TABLE messages ADD COLUMN edited_at TEXT;
    CREATE TABLE reactions (
        channel_key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        emoji TEXT NOT NULL,
        user_name TEXT NOT NULL,
        position INTEGER NOT NULL,
        PRIMARY KEY (channel_key, seq, emoji, user_name)
    ) WITHOUT ROWID;
"#,
    r#"
    ALTER TABLE messages ADD COLUMN attachments TEXT;
"#,
    r#"
    ALTER TABLE users ADD COLUMN created_at TEXT;
    CREATE TABLE reads (
        user_id TEXT NOT NULL,
        channel_key TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (user_id, channel_key)
    ) WITHOUT ROWID;
"#,
    r#"
    ALTER TABLE sessions ADD COLUMN seen_at TEXT;
"#,
];

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data dir {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error in {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer Flack (schema {found}; this build knows up to {supported}); \
         refusing to touch it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("the database {path} holds an invalid row: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot use the attachments directory {path}: {detail}")]
    Files { path: PathBuf, detail: String },
}

/// One change the hub made, to be recorded (as JSON in Redis' log with
/// `--redis-url`).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A new user with their first session, in one entry so a refusal
    /// can never leave a user without a way in.
    User {
        id: Uuid,
        name: DisplayName,
        key: String,
        session: TokenHash,
        created_at: Timestamp,
        /// The caller's previous session (of another user), which ends:
        /// its cookie is replaced by this one's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<TokenHash>,
    },
    /// A user's read position in a channel.
    Read { user: Uuid, key: String, seq: u64 },
    /// A session of `user`, new or touched: `seen` is when it was last
    /// used (absent in entries from before sessions could go idle).
    Session {
        hash: TokenHash,
        user: Uuid,
        #[serde(default)]
        seen: Option<Timestamp>,
        /// The session this one replaces (its user registered again), which
        /// ends with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<TokenHash>,
    },
    /// Sessions that end: signed out, or idle past the limit.
    SessionsEnded { hashes: Vec<TokenHash> },
    Channel {
        key: String,
        channel: Channel,
        position: u64,
    },
    /// A change to a channel's messages, with (for a new message) the
    /// sender's idempotency record.
    Event {
        key: String,
        seq: u64,
        change: Change,
        send: Option<SendRecord>,
    },
}

/// Where a sent message goes in its sender's remembered `client_id`s.
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SendRecord {
    pub user: Uuid,
    pub position: u64,
    pub window: usize,
}

/// `(seq, author, body, sent_at, client_id, edited_at, attachments)` of a
/// stored message.
type MessageRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Everything the database holds, for the hub to start from.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// With when they signed up (absent for users from before schema 4).
    pub users: Vec<(Uuid, DisplayName, Option<Timestamp>)>,
    /// `(user, channel key, seq)`: read positions.
    pub reads: Vec<(Uuid, String, u64)>,
    /// With when each was last used (absent for sessions from before
    /// schema 5).
    pub sessions: Vec<(TokenHash, Uuid, Option<Timestamp>)>,
    /// In creation order, each with its head and last messages (oldest first).
    pub channels: Vec<(Channel, u64, Vec<Message>)>,
    /// Per user, oldest first: `(user, client_id, channel key, seq, position)`.
    pub sends: Vec<(Uuid, ClientId, String, u64, u64)>,
}

/// Opens (creating or migrating) the database in `dir` and reads it whole.
pub fn open(dir: &Path) -> Result<(Snapshot, Connection), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let path = dir.join(DATABASE_FILE);
    let sql = |source| StoreError::Sqlite {
        path: path.clone(),
        source,
    };
    let mut conn = Connection::open(&path).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(sql)?;
    migrate(&mut conn, &path)?;
    let snapshot = read_snapshot(&conn, &path)?;
    Ok((snapshot, conn))
}

fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    let supported = SCHEMA_VERSION;
    if version > supported {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            supported,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

fn read_snapshot(conn: &Connection, path: &Path) -> Result<Snapshot, StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let corrupt = |detail: String| StoreError::Corrupt {
        path: path.to_owned(),
        detail,
    };
    let uuid =
        |raw: String| Uuid::parse_str(&raw).map_err(|e| corrupt(format!("user id {raw:?}: {e}")));
    let mut snapshot = Snapshot::default();

    let mut stmt = conn
        .prepare("SELECT id, display_name, created_at FROM users")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (id, name, created_at) = row.map_err(sql)?;
        let name = DisplayName::parse(&name).map_err(|e| corrupt(e.to_string()))?;
        let created_at = created_at
            .map(|raw| {
                serde_json::from_value(serde_json::Value::String(raw))
                    .map_err(|e| corrupt(e.to_string()))
            })
            .transpose()?;
        snapshot.users.push((uuid(id)?, name, created_at));
    }

    let mut stmt = conn
        .prepare("SELECT user_id, channel_key, seq FROM reads")
        .map_err(sql)?;
    let rows: Vec<(String, String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    for (user, key, seq) in rows {
        snapshot.reads.push((uuid(user)?, key, seq as u64));
    }

    let mut stmt = conn
        .prepare("SELECT token_hash, user_id, seen_at FROM sessions")
        .map_err(sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, Vec<u8>>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(sql)?;
    for row in rows {
        let (hash, user, seen) = row.map_err(sql)?;
        let hash = TokenHash::from_bytes(&hash).ok_or_else(|| corrupt("session hash".into()))?;
        let seen = seen
            .map(|raw| {
                serde_json::from_value(serde_json::Value::String(raw))
                    .map_err(|e| corrupt(e.to_string()))
            })
            .transpose()?;
        snapshot.sessions.push((hash, uuid(user)?, seen));
    }

    let mut stmt = conn
        .prepare(
            "SELECT name_key, name, created_by, created_at, head FROM channels ORDER BY position",
        )
        .map_err(sql)?;
    let channels: Vec<(String, String, String, String, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    let mut messages = conn
        .prepare(
            "SELECT seq, author, body, sent_at, client_id, edited_at, attachments FROM messages
             WHERE channel_key = ?1 ORDER BY seq DESC LIMIT ?2",
        )
        .map_err(sql)?;
    let mut reacted = conn
        .prepare(
            "SELECT emoji, user_name FROM reactions WHERE channel_key = ?1 AND seq = ?2 ORDER BY position",
        )
        .map_err(sql)?;
    for (key, name, created_by, created_at, head) in channels {
        let name = ChannelName::parse(&name).map_err(|e| corrupt(e.to_string()))?;
        let channel = Channel {
            name: name.clone(),
            created_by: DisplayName::parse(&created_by).map_err(|e| corrupt(e.to_string()))?,
            created_at: serde_json::from_value(serde_json::Value::String(created_at))
                .map_err(|e| corrupt(e.to_string()))?,
        };
        let rows: Vec<MessageRow> = messages
            .query_map(params![key, HISTORY_LEN as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?;
        let mut list = Vec::with_capacity(rows.len());
        let timestamp = |raw: String| {
            serde_json::from_value(serde_json::Value::String(raw))
                .map_err(|e| corrupt(e.to_string()))
        };
        for (seq, author, body, sent_at, client_id, edited_at, attachments) in
            rows.into_iter().rev()
        {
            let attachments: Vec<Attachment> = match attachments {
                Some(json) => serde_json::from_str(&json).map_err(|e| corrupt(e.to_string()))?,
                None => Vec::new(),
            };
            let mut reactions: Vec<Reaction> = Vec::new();
            let emojis: Vec<(String, String)> = reacted
                .query_map(params![key, seq], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql)?
                .collect::<Result<_, _>>()
                .map_err(sql)?;
            for (emoji, user) in emojis {
                let emoji = Emoji::parse(&emoji).map_err(|e| corrupt(e.to_string()))?;
                let user = DisplayName::parse(&user).map_err(|e| corrupt(e.to_string()))?;
                match reactions.iter_mut().find(|r| r.emoji == emoji) {
                    Some(r) => r.users.push(user),
                    None => reactions.push(Reaction {
                        emoji,
                        users: vec![user],
                    }),
                }
            }
            list.push(Message {
                channel: name.clone(),
                seq: seq as u64,
                author: DisplayName::parse(&author).map_err(|e| corrupt(e.to_string()))?,
                body: MessageBody::parse(&body).map_err(|e| corrupt(e.to_string()))?,
                sent_at: serde_json::from_value(serde_json::Value::String(sent_at))
                    .map_err(|e| corrupt(e.to_string()))?,
                client_id: client_id
                    .map(|id| ClientId::parse(&id))
                    .transpose()
                    .map_err(|e| corrupt(e.to_string()))?,
                html: String::new(),
                edited_at: edited_at.map(timestamp).transpose()?,
                reactions,
                mentions: Vec::new(),
                attachments,
            });
        }
        snapshot.channels.push((channel, head as u64, list));
    }

    let mut stmt = conn
        .prepare("SELECT user_id, client_id, channel_key, seq, position FROM recent_sends ORDER BY user_id, position")
        .map_err(sql)?;
    let rows: Vec<(String, String, String, i64, i64)> = stmt
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .map_err(sql)?
        .collect::<Result<_, _>>()
        .map_err(sql)?;
    for (user, client_id, key, seq, position) in rows {
        let client_id = ClientId::parse(&client_id).map_err(|e| corrupt(e.to_string()))?;
        snapshot
            .sends
            .push((uuid(user)?, client_id, key, seq as u64, position as u64));
    }
    Ok(snapshot)
}

/// The hub's side of the journal: where entries go, and how far they are durable.
pub struct Journal {
    pub entries: SyncSender<(u64, Entry)>,
    pub durable: watch::Receiver<u64>,
    pub writer: JoinHandle<()>,
}

/// Starts the journal thread. `publish` is called after every commit with
/// the batch, in order; then `durable` moves to the batch's last ticket.
pub fn start_journal(
    conn: Connection,
    queue: usize,
    path: PathBuf,
    publish: impl Fn(Vec<Entry>) + Send + 'static,
) -> Journal {
    let (entries, rx) = std::sync::mpsc::sync_channel(queue.max(1));
    let (durable_tx, durable) = watch::channel(0u64);
    let writer = std::thread::Builder::new()
        .name("flack-journal".into())
        .spawn(move || run_journal(conn, rx, durable_tx, path, publish))
        .unwrap_or_else(|e| {
            tracing::error!("cannot start the journal thread: {e}");
            std::process::exit(70);
        });
    Journal {
        entries,
        durable,
        writer,
    }
}

fn run_journal(
    mut conn: Connection,
    rx: Receiver<(u64, Entry)>,
    durable: watch::Sender<u64>,
    path: PathBuf,
    publish: impl Fn(Vec<Entry>),
) {
    // Ends when every sender is gone (shutdown), after the last batch.
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        let last_ticket = batch.last().map_or(0, |(ticket, _)| *ticket);
        let entries: Vec<Entry> = batch.into_iter().map(|(_, entry)| entry).collect();
        let mut attempt = 1;
        loop {
            match commit(&mut conn, &entries) {
                Ok(()) => break,
                Err(e) if attempt < COMMIT_ATTEMPTS => {
                    tracing::warn!(
                        attempt,
                        "commit to {} failed, retrying: {e}",
                        path.display()
                    );
                    std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(e) => {
                    // Fail-stop: nothing in this batch was acknowledged, and a
                    // restart resumes from the last good commit.
                    tracing::error!("cannot write to {}: {e}; stopping", path.display());
                    std::process::exit(70);
                }
            }
        }
        publish(entries);
        durable.send_replace(last_ticket);
    }
}

fn commit(conn: &mut Connection, entries: &[Entry]) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for entry in entries {
        match entry {
            Entry::User {
                id,
                name,
                key,
                session,
                created_at,
                replaces,
            } => {
                if let Some(old) = replaces {
                    tx.execute(
                        "DELETE FROM sessions WHERE token_hash = ?1",
                        params![old.as_bytes().as_slice()],
                    )?;
                }
                tx.execute(
                    "INSERT INTO users (id, display_name, name_key, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![id.to_string(), name.as_str(), key, created_at.to_rfc3339()],
                )?;
                tx.execute(
                    "INSERT INTO sessions (token_hash, user_id, seen_at) VALUES (?1, ?2, ?3)",
                    params![
                        session.as_bytes().as_slice(),
                        id.to_string(),
                        created_at.to_rfc3339()
                    ],
                )?;
            }
            Entry::Read { user, key, seq } => {
                tx.execute(
                    "INSERT OR REPLACE INTO reads (user_id, channel_key, seq) VALUES (?1, ?2, ?3)",
                    params![user.to_string(), key, *seq as i64],
                )?;
            }
            Entry::Session {
                hash,
                user,
                seen,
                replaces,
            } => {
                tx.execute(
                    "INSERT OR REPLACE INTO sessions (token_hash, user_id, seen_at) VALUES (?1, ?2, ?3)",
                    params![
                        hash.as_bytes().as_slice(),
                        user.to_string(),
                        seen.map(|at| at.to_rfc3339())
                    ],
                )?;
                if let Some(old) = replaces {
                    tx.execute(
                        "DELETE FROM sessions WHERE token_hash = ?1",
                        params![old.as_bytes().as_slice()],
                    )?;
                }
            }
            Entry::SessionsEnded { hashes } => {
                for hash in hashes {
                    tx.execute(
                        "DELETE FROM sessions WHERE token_hash = ?1",
                        params![hash.as_bytes().as_slice()],
                    )?;
                }
            }
            Entry::Channel {
                key,
                channel,
                position,
            } => {
                tx.execute(
                    "INSERT INTO channels (name_key, name, created_by, created_at, position) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![
                        key,
                        channel.name.as_str(),
                        channel.created_by.as_str(),
                        channel.created_at.to_rfc3339(),
                        *position as i64
                    ],
                )?;
            }
            Entry::Event {
                key,
                seq,
                change,
                send,
            } => {
                let seq = *seq as i64;
                tx.execute(
                    "UPDATE channels SET head = ?2 WHERE name_key = ?1",
                    params![key, seq],
                )?;
                commit_change(&tx, key, change)?;
                if let (Some(send), Change::Posted(m)) = (send, change) {
                    if let Some(client_id) = &m.client_id {
                        let user = send.user.to_string();
                        tx.execute(
                            "INSERT OR REPLACE INTO recent_sends (user_id, client_id, channel_key, seq, position) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![user, client_id.as_str(), key, seq, send.position as i64],
                        )?;
                        tx.execute(
                            "DELETE FROM recent_sends WHERE user_id = ?1 AND position <= ?2",
                            params![user, send.position as i64 - send.window as i64],
                        )?;
                    }
                }
            }
        }
    }
    tx.commit()
}

/// Writes one change to a channel's messages; the messages table keeps the
/// `HISTORY_LEN` most recent, and reactions go with their message.
fn commit_change(
    tx: &rusqlite::Transaction<'_>,
    key: &str,
    change: &Change,
) -> rusqlite::Result<()> {
    match change {
        Change::Posted(m) => {
            // Serializing a list of plain structs cannot fail.
            let attachments = (!m.attachments.is_empty())
                .then(|| serde_json::to_string(&m.attachments).unwrap_or_default());
            tx.execute(
                "INSERT INTO messages (channel_key, seq, author, body, sent_at, client_id, attachments) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![key, m.seq as i64, m.author.as_str(), m.body.as_str(), m.sent_at.to_rfc3339(), m.client_id.as_ref().map(ClientId::as_str), attachments],
            )?;
            let oldest_kept: Option<i64> = tx
                .query_row(
                    "SELECT seq FROM messages WHERE channel_key = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
                    params![key, HISTORY_LEN as i64 - 1],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(oldest) = oldest_kept {
                tx.execute(
                    "DELETE FROM messages WHERE channel_key = ?1 AND seq < ?2",
                    params![key, oldest],
                )?;
                tx.execute(
                    "DELETE FROM reactions WHERE channel_key = ?1 AND seq < ?2",
                    params![key, oldest],
                )?;
            }
        }
        Change::Edited { id, body, at, .. } => {
            tx.execute(
                "UPDATE messages SET body = ?3, edited_at = ?4 WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64, body.as_str(), at.to_rfc3339()],
            )?;
        }
        Change::Deleted { id } => {
            tx.execute(
                "DELETE FROM messages WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64],
            )?;
            tx.execute(
                "DELETE FROM reactions WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64],
            )?;
        }
        Change::Reacted {
            id,
            emoji,
            user,
            add: true,
        } => {
            // Reactions are read back in the order they were added.
            let position: i64 = tx.query_row(
                "SELECT COALESCE(MAX(position), 0) + 1 FROM reactions WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64],
                |r| r.get(0),
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO reactions (channel_key, seq, emoji, user_name, position)
                 SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS
                   (SELECT 1 FROM messages WHERE channel_key = ?1 AND seq = ?2)",
                params![key, *id as i64, emoji.as_str(), user.as_str(), position],
            )?;
        }
        Change::Reacted {
            id,
            emoji,
            user,
            add: false,
        } => {
            tx.execute(
                "DELETE FROM reactions WHERE channel_key = ?1 AND seq = ?2 AND emoji = ?3 AND user_name = ?4",
                params![key, *id as i64, emoji.as_str(), user.as_str()],
            )?;
        }
    }
    Ok(())
}

/// Reads the schema version of a database file (for tests and diagnostics).
pub fn schema_version(path: &Path) -> rusqlite::Result<Option<i64>> {
    let conn = Connection::open(path)?;
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_from_before_they_were_timed_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let hash = crate::identity::SessionToken::generate().hash();
        let user = Uuid::new_v4();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO users (id, display_name, name_key) VALUES (?1, 'alice', 'alice')",
                params![user.to_string()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id) VALUES (?1, ?2)",
                params![hash.as_bytes().as_slice(), user.to_string()],
            )
            .unwrap();
        }
        let (snapshot, _) = open(dir.path()).unwrap();
        assert_eq!(snapshot.sessions, vec![(hash, user, None)]);
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO channels VALUES ('general', 'general', 'alice', '2026-11-25T12:00:00.000Z', 1, 1);
                 INSERT INTO messages VALUES ('general', 1, 'alice', 'kept', '2026-11-25T12:00:01.000Z', 'c1');",
            )
            .unwrap();
        }
        let (snapshot, _) = open(dir.path()).unwrap();
        let (_, head, messages) = &snapshot.channels[0];
        assert_eq!(*head, 1);
        assert_eq!(messages[0].body.as_str(), "kept");
        assert_eq!(messages[0].edited_at, None);
        assert!(messages[0].reactions.is_empty());
        assert_eq!(
            schema_version(&dir.path().join(DATABASE_FILE)).unwrap(),
            Some(SCHEMA_VERSION)
        );
    }
}
