//! Writing applied entries to the tables, so they hold the state as of
//! the `applied` position.
//!
//! Invariant: the tables keep exactly what the state keeps: the last
//! `HISTORY_LEN` messages per channel and the last `window` client ids
//! per user; older rows go in the same transaction.

use crate::chat::{Change, Entry, SendRecord};
use app::model::{ClientId, HISTORY_LEN};
use rusqlite::{params, OptionalExtension, Params, Transaction};

/// Runs one statement, prepared once per connection (the same few run
/// for every message).
fn run(tx: &Transaction<'_>, sql: &str, params: impl Params) -> rusqlite::Result<usize> {
    tx.prepare_cached(sql)?.execute(params)
}

/// Writes one entry as applied (its `seq` and positions filled in).
pub fn write(tx: &Transaction<'_>, entry: &Entry) -> rusqlite::Result<()> {
    match entry {
        Entry::User {
            id,
            name,
            key,
            session,
            created_at,
            replaces,
        } => {
            end_sessions(tx, replaces.iter())?;
            run(tx,
                "INSERT INTO users (id, display_name, name_key, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![id.to_string(), name.as_str(), key, created_at.to_rfc3339()],
            )?;
            run(
                tx,
                "INSERT INTO sessions (token_hash, user_id, seen_at) VALUES (?1, ?2, ?3)",
                params![
                    session.as_bytes().as_slice(),
                    id.to_string(),
                    created_at.to_rfc3339()
                ],
            )?;
        }
        Entry::Read { user, key, seq } => {
            run(
                tx,
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
            run(tx,
                "INSERT OR REPLACE INTO sessions (token_hash, user_id, seen_at) VALUES (?1, ?2, ?3)",
                params![hash.as_bytes().as_slice(), user.to_string(), seen.map(|at| at.to_rfc3339())],
            )?;
            end_sessions(tx, replaces.iter())?;
        }
        Entry::SessionsEnded { hashes } => end_sessions(tx, hashes.iter())?,
        Entry::Channel {
            key,
            channel,
            position,
        } => {
            run(
                tx,
                "INSERT INTO channels (name_key, name, created_by, created_at, position)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
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
            run(
                tx,
                "UPDATE channels SET head = ?2 WHERE name_key = ?1",
                params![key, *seq as i64],
            )?;
            write_change(tx, key, change)?;
            if let (Some(send), Some(client_id)) = (send, change.client_id()) {
                remember(tx, key, *seq, send, client_id)?;
            }
        }
    }
    Ok(())
}

fn end_sessions<'h>(
    tx: &Transaction<'_>,
    hashes: impl Iterator<Item = &'h crate::chat::TokenHash>,
) -> rusqlite::Result<()> {
    for hash in hashes {
        run(
            tx,
            "DELETE FROM sessions WHERE token_hash = ?1",
            params![hash.as_bytes().as_slice()],
        )?;
    }
    Ok(())
}

/// Remembers a sent `client_id`, forgetting the sender's oldest past the
/// window.
fn remember(
    tx: &Transaction<'_>,
    key: &str,
    seq: u64,
    send: &SendRecord,
    client_id: &ClientId,
) -> rusqlite::Result<()> {
    let user = send.user.to_string();
    run(
        tx,
        "INSERT OR REPLACE INTO recent_sends (user_id, client_id, channel_key, seq, position)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            user,
            client_id.as_str(),
            key,
            seq as i64,
            send.position as i64
        ],
    )?;
    run(
        tx,
        "DELETE FROM recent_sends WHERE user_id = ?1 AND position <= ?2",
        params![user, send.position as i64 - send.window as i64],
    )?;
    Ok(())
}

/// Writes one change to a channel's messages; reactions go with their
/// message.
fn write_change(tx: &Transaction<'_>, key: &str, change: &Change) -> rusqlite::Result<()> {
    match change {
        Change::Posted(m) => {
            // Serializing a list of plain structs cannot fail.
            let attachments = (!m.attachments.is_empty())
                .then(|| serde_json::to_string(&m.attachments).unwrap_or_default());
            run(tx,
                "INSERT INTO messages (channel_key, seq, author, body, sent_at, client_id, attachments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    key,
                    m.seq as i64,
                    m.author.as_str(),
                    m.body.as_str(),
                    m.sent_at.to_rfc3339(),
                    m.client_id.as_ref().map(ClientId::as_str),
                    attachments
                ],
            )?;
            trim(tx, key)?;
        }
        Change::Edited { id, body, at, .. } => {
            run(
                tx,
                "UPDATE messages SET body = ?3, edited_at = ?4 WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64, body.as_str(), at.to_rfc3339()],
            )?;
        }
        Change::Deleted { id } => {
            for table in ["messages", "reactions"] {
                run(
                    tx,
                    &format!("DELETE FROM {table} WHERE channel_key = ?1 AND seq = ?2"),
                    params![key, *id as i64],
                )?;
            }
        }
        Change::Reacted {
            id,
            emoji,
            user,
            add: true,
        } => {
            // Reactions are read back in the order they were added.
            run(
                tx,
                "INSERT OR IGNORE INTO reactions (channel_key, seq, emoji, user_name, position)
                 SELECT ?1, ?2, ?3, ?4,
                   (SELECT COALESCE(MAX(position), 0) + 1 FROM reactions
                    WHERE channel_key = ?1 AND seq = ?2)
                 WHERE EXISTS (SELECT 1 FROM messages WHERE channel_key = ?1 AND seq = ?2)",
                params![key, *id as i64, emoji.as_str(), user.as_str()],
            )?;
        }
        Change::Reacted {
            id,
            emoji,
            user,
            add: false,
        } => {
            run(
                tx,
                "DELETE FROM reactions
                 WHERE channel_key = ?1 AND seq = ?2 AND emoji = ?3 AND user_name = ?4",
                params![key, *id as i64, emoji.as_str(), user.as_str()],
            )?;
        }
        Change::Topic { topic, .. } => {
            // Serializing a plain struct cannot fail.
            let topic = topic
                .as_ref()
                .map(|t| serde_json::to_string(t).unwrap_or_default());
            run(
                tx,
                "UPDATE channels SET topic = ?2 WHERE name_key = ?1",
                params![key, topic],
            )?;
        }
    }
    Ok(())
}

/// Keeps the channel's `HISTORY_LEN` most recent messages.
fn trim(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<()> {
    let oldest_kept: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM messages WHERE channel_key = ?1 ORDER BY seq DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![key, HISTORY_LEN as i64 - 1], |r| r.get(0))
        .optional()?;
    if let Some(oldest) = oldest_kept {
        for table in ["messages", "reactions"] {
            run(
                tx,
                &format!("DELETE FROM {table} WHERE channel_key = ?1 AND seq < ?2"),
                params![key, oldest],
            )?;
        }
    }
    Ok(())
}
