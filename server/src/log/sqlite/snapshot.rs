//! Reading the database back at start: the tables as a `Snapshot`, and
//! the journal's entries after the position the tables hold.

use super::StoreError;
use crate::chat::state::{ChannelContent, ChannelSnapshot, RememberedSend};
use crate::chat::{Entry, Snapshot, TokenHash};
use app::model::{
    Attachment, Channel, ChannelName, ClientId, DisplayName, Emoji, Message, MessageBody, Reaction,
    Replies, ReplyTo, Timestamp,
};
use rusqlite::{params, Connection};
use std::path::Path;
use uuid::Uuid;

/// `(seq, author, body, sent_at, client_id, edited_at, attachments)` of a
/// stored message.
/// `reply_to`, `also_in_channel`, `reply_count`, `last_reply_at`.
type ThreadRow = (Option<i64>, bool, i64, Option<String>);
type MessageRow = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Reads rows, each error naming the database.
struct Reader<'c> {
    conn: &'c Connection,
    path: &'c Path,
}

impl Reader<'_> {
    fn sql(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.to_owned(),
            source,
        }
    }

    fn corrupt(&self, detail: impl std::fmt::Display) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_owned(),
            detail: detail.to_string(),
        }
    }

    /// Every row of `query` (no parameters).
    fn rows<T>(
        &self,
        query: &str,
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(query).map_err(|e| self.sql(e))?;
        let rows = stmt.query_map([], row).map_err(|e| self.sql(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.sql(e))
    }

    fn uuid(&self, raw: &str) -> Result<Uuid, StoreError> {
        Uuid::parse_str(raw).map_err(|e| self.corrupt(format!("user id {raw:?}: {e}")))
    }

    fn timestamp(&self, raw: String) -> Result<Timestamp, StoreError> {
        serde_json::from_value(serde_json::Value::String(raw)).map_err(|e| self.corrupt(e))
    }

    fn name(&self, raw: &str) -> Result<DisplayName, StoreError> {
        DisplayName::parse(raw).map_err(|e| self.corrupt(e))
    }
}

/// The tables, as a snapshot of the state at the `applied` position.
pub fn read_snapshot(conn: &Connection, path: &Path) -> Result<Snapshot, StoreError> {
    let db = Reader { conn, path };
    Ok(Snapshot {
        users: users(&db)?,
        sessions: sessions(&db)?,
        reads: reads(&db)?,
        channels: channels(&db)?,
        sends: sends(&db)?,
    })
}

fn users(db: &Reader<'_>) -> Result<Vec<(Uuid, DisplayName, Timestamp)>, StoreError> {
    let rows: Vec<(String, String, Option<String>)> = db
        .rows("SELECT id, display_name, created_at FROM users", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut users = Vec::with_capacity(rows.len());
    for (id, name, created_at) in rows {
        // Users from before schema 4 joined at the beginning of time.
        let joined = match created_at {
            Some(raw) => db.timestamp(raw)?,
            None => Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH),
        };
        users.push((db.uuid(&id)?, db.name(&name)?, joined));
    }
    Ok(users)
}

fn sessions(db: &Reader<'_>) -> Result<Vec<(TokenHash, Uuid, Option<Timestamp>)>, StoreError> {
    let rows: Vec<(Vec<u8>, String, Option<String>)> = db
        .rows("SELECT token_hash, user_id, seen_at FROM sessions", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let mut sessions = Vec::with_capacity(rows.len());
    for (hash, user, seen) in rows {
        let hash = TokenHash::from_bytes(&hash).ok_or_else(|| db.corrupt("session hash"))?;
        let seen = seen.map(|raw| db.timestamp(raw)).transpose()?;
        sessions.push((hash, db.uuid(&user)?, seen));
    }
    Ok(sessions)
}

fn reads(db: &Reader<'_>) -> Result<Vec<(Uuid, String, u64)>, StoreError> {
    let rows: Vec<(String, String, i64)> = db
        .rows("SELECT user_id, channel_key, seq FROM reads", |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    (rows.into_iter())
        .map(|(user, key, seq)| Ok((db.uuid(&user)?, key, seq as u64)))
        .collect()
}

fn sends(db: &Reader<'_>) -> Result<Vec<RememberedSend>, StoreError> {
    let rows: Vec<(String, String, String, i64, i64)> = db.rows(
        "SELECT user_id, client_id, channel_key, seq, position FROM recent_sends
         ORDER BY user_id, position",
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    (rows.into_iter())
        .map(|(user, client_id, key, seq, position)| {
            let client_id = ClientId::parse(&client_id).map_err(|e| db.corrupt(e))?;
            Ok(RememberedSend {
                user: db.uuid(&user)?,
                client_id,
                key,
                seq: seq as u64,
                position: position as u64,
            })
        })
        .collect()
}

fn channels(db: &Reader<'_>) -> Result<Vec<ChannelSnapshot>, StoreError> {
    type Row = (String, String, String, String, i64, Option<String>);
    let rows: Vec<Row> = db.rows(
        "SELECT name_key, name, created_by, created_at, head, topic FROM channels
         ORDER BY position",
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        },
    )?;
    let mut channels = Vec::with_capacity(rows.len());
    for (key, name, created_by, created_at, head, topic) in rows {
        let channel = Channel {
            name: ChannelName::parse(&name).map_err(|e| db.corrupt(e))?,
            created_by: db.name(&created_by)?,
            created_at: db.timestamp(created_at)?,
            topic: (topic.map(|json| serde_json::from_str(&json)).transpose())
                .map_err(|e| db.corrupt(e))?,
        };
        let messages = messages(db, &key, &channel.name)?;
        channels.push(ChannelSnapshot {
            key,
            channel,
            head: head as u64,
            content: ChannelContent::Messages(messages),
        });
    }
    Ok(channels)
}

/// A channel's messages as kept (its last `HISTORY_LEN`, and the replies
/// of their threads), oldest first (bodies not yet rendered:
/// `State::from_snapshot` does that).
fn messages(db: &Reader<'_>, key: &str, name: &ChannelName) -> Result<Vec<Message>, StoreError> {
    let mut stmt = (db.conn)
        .prepare_cached(
            "SELECT seq, author, body, sent_at, client_id, edited_at, attachments,
                    reply_to, also_in_channel, reply_count, last_reply_at
             FROM messages WHERE channel_key = ?1 ORDER BY seq",
        )
        .map_err(|e| db.sql(e))?;
    let rows: Vec<(MessageRow, ThreadRow)> = stmt
        .query_map(params![key], |r| {
            Ok((
                (
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ),
                (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?),
            ))
        })
        .map_err(|e| db.sql(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| db.sql(e))?;
    let mut list = Vec::with_capacity(rows.len());
    for (row, (reply_to, also_in_channel, reply_count, last_reply_at)) in rows {
        let (seq, author, body, sent_at, client_id, edited_at, attachments) = row;
        let attachments: Vec<Attachment> = match attachments {
            Some(json) => serde_json::from_str(&json).map_err(|e| db.corrupt(e))?,
            None => Vec::new(),
        };
        list.push(Message {
            channel: name.clone(),
            seq: seq as u64,
            author: db.name(&author)?,
            body: MessageBody::parse(&body).map_err(|e| db.corrupt(e))?,
            sent_at: db.timestamp(sent_at)?,
            client_id: (client_id.map(|id| ClientId::parse(&id)).transpose())
                .map_err(|e| db.corrupt(e))?,
            html: String::new(),
            edited_at: edited_at.map(|raw| db.timestamp(raw)).transpose()?,
            reactions: reactions(db, key, seq)?,
            mentions: Vec::new(),
            attachments,
            reply_to: reply_to.map(|root: i64| ReplyTo {
                root: root as u64,
                also_in_channel,
            }),
            replies: (reply_count > 0)
                .then(|| {
                    let last_at = last_reply_at.map(|at| db.timestamp(at)).transpose()?;
                    Ok(Replies {
                        count: reply_count as u32,
                        last_at,
                    })
                })
                .transpose()?,
        });
    }
    Ok(list)
}

/// A message's reactions, each emoji's users in the order they reacted.
fn reactions(db: &Reader<'_>, key: &str, seq: i64) -> Result<Vec<Reaction>, StoreError> {
    let mut stmt = (db.conn)
        .prepare_cached(
            "SELECT emoji, user_name FROM reactions WHERE channel_key = ?1 AND seq = ?2
             ORDER BY position",
        )
        .map_err(|e| db.sql(e))?;
    let rows: Vec<(String, String)> = stmt
        .query_map(params![key, seq], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| db.sql(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| db.sql(e))?;
    let mut reactions: Vec<Reaction> = Vec::new();
    for (emoji, user) in rows {
        let emoji = Emoji::parse(&emoji).map_err(|e| db.corrupt(e))?;
        let user = db.name(&user)?;
        match reactions.iter_mut().find(|r| r.emoji == emoji) {
            Some(r) => r.users.push(user),
            None => reactions.push(Reaction {
                emoji,
                users: vec![user],
            }),
        }
    }
    Ok(reactions)
}

/// The position the tables hold, and the journal's entries after it, in
/// order, with their positions.
pub fn read_journal(
    conn: &Connection,
    path: &Path,
) -> Result<(u64, Vec<(u64, Entry)>), StoreError> {
    let db = Reader { conn, path };
    let applied: i64 = conn
        .query_row("SELECT lsn FROM applied WHERE id = 1", [], |r| r.get(0))
        .map_err(|e| db.sql(e))?;
    let mut stmt = conn
        .prepare("SELECT lsn, entry FROM journal WHERE lsn > ?1 ORDER BY lsn")
        .map_err(|e| db.sql(e))?;
    let rows: Vec<(i64, String)> = stmt
        .query_map(params![applied], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(|e| db.sql(e))?
        .collect::<Result<_, _>>()
        .map_err(|e| db.sql(e))?;
    let mut entries = Vec::with_capacity(rows.len());
    for (lsn, json) in rows {
        let entry = serde_json::from_str(&json)
            .map_err(|e| db.corrupt(format!("journal entry {lsn}: {e}")))?;
        entries.push((lsn as u64, entry));
    }
    Ok((applied as u64, entries))
}
