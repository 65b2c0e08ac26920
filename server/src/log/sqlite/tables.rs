//! Writing applied entries to the tables, so they hold the state as of
//! the `applied` position.
//!
//! Invariant: the tables keep exactly what the state keeps: the last
//! `HISTORY_LEN` messages per channel and the last `window` client ids
//! per user; older rows go in the same transaction.

use crate::chat::{Change, Entry, SendRecord};
use app::model::{ClientId, Message, HISTORY_LEN, THREAD_LEN};
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
        Change::Posted(m) => post(tx, key, m)?,
        Change::Edited { id, body, at, .. } => {
            run(
                tx,
                "UPDATE messages SET body = ?3, edited_at = ?4 WHERE channel_key = ?1 AND seq = ?2",
                params![key, *id as i64, body.as_str(), at.to_rfc3339()],
            )?;
        }
        Change::Deleted { id, .. } => delete(tx, key, *id as i64)?,
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

/// A new message, or a reply (only while its thread's first message is
/// kept, as the state does), then the trim that keeps what the state keeps.
fn post(tx: &Transaction<'_>, key: &str, m: &Message) -> rusqlite::Result<()> {
    // Serializing a list of plain structs cannot fail.
    let attachments = (!m.attachments.is_empty())
        .then(|| serde_json::to_string(&m.attachments).unwrap_or_default());
    let root = m.reply_to.map(|to| to.root as i64);
    let also_in_channel = m.reply_to.is_some_and(|to| to.also_in_channel);
    let added = run(tx,
        "INSERT INTO messages
           (channel_key, seq, author, body, sent_at, client_id, attachments, reply_to, also_in_channel)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
         WHERE ?8 IS NULL OR EXISTS
           (SELECT 1 FROM messages WHERE channel_key = ?1 AND seq = ?8 AND reply_to IS NULL)",
        params![
            key,
            m.seq as i64,
            m.author.as_str(),
            m.body.as_str(),
            m.sent_at.to_rfc3339(),
            m.client_id.as_ref().map(ClientId::as_str),
            attachments,
            root,
            also_in_channel
        ],
    )?;
    match root {
        Some(root) if added > 0 => {
            run(
                tx,
                "UPDATE messages SET reply_count = reply_count + 1, last_reply_at = ?3
                 WHERE channel_key = ?1 AND seq = ?2",
                params![key, root, m.sent_at.to_rfc3339()],
            )?;
            if also_in_channel {
                trim(tx, key)
            } else {
                trim_thread(tx, key, root)
            }
        }
        Some(_) => Ok(()),
        None => trim(tx, key),
    }
}

/// Deletes message `id`: a reply leaves its thread's count, a thread's
/// first message takes the replies kept only in its thread.
fn delete(tx: &Transaction<'_>, key: &str, id: i64) -> rusqlite::Result<()> {
    run(
        tx,
        "UPDATE messages SET reply_count = MAX(reply_count - 1, 0),
           last_reply_at = (SELECT sent_at FROM messages AS r
                            WHERE r.channel_key = ?1 AND r.reply_to = messages.seq AND r.seq != ?2
                            ORDER BY r.seq DESC LIMIT 1)
         WHERE channel_key = ?1
           AND seq = (SELECT reply_to FROM messages WHERE channel_key = ?1 AND seq = ?2)",
        params![key, id],
    )?;
    remove(tx, key, "also_in_channel = 0 AND reply_to = ?2", id)?;
    remove(tx, key, "seq = ?2", id)
}

/// Keeps the channel's `HISTORY_LEN` most recent messages, and only the
/// threads of those.
fn trim(tx: &Transaction<'_>, key: &str) -> rusqlite::Result<()> {
    let oldest_kept: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM messages
             WHERE channel_key = ?1 AND (reply_to IS NULL OR also_in_channel = 1)
             ORDER BY seq DESC LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![key, HISTORY_LEN as i64 - 1], |r| r.get(0))
        .optional()?;
    if let Some(oldest) = oldest_kept {
        // A reply is newer than its thread's first message: everything
        // older than the oldest kept goes, and the threads of what went.
        remove(tx, key, "also_in_channel = 0 AND reply_to < ?2", oldest)?;
        remove(tx, key, "seq < ?2", oldest)?;
    }
    Ok(())
}

/// Keeps the `THREAD_LEN` most recent replies kept only in thread `root`.
fn trim_thread(tx: &Transaction<'_>, key: &str, root: i64) -> rusqlite::Result<()> {
    let oldest_kept: Option<i64> = tx
        .prepare_cached(
            "SELECT seq FROM messages
             WHERE channel_key = ?1 AND reply_to = ?2 AND also_in_channel = 0
             ORDER BY seq DESC LIMIT 1 OFFSET ?3",
        )?
        .query_row(params![key, root, THREAD_LEN as i64 - 1], |r| r.get(0))
        .optional()?;
    if let Some(oldest) = oldest_kept {
        let which = "also_in_channel = 0 AND reply_to = ?3 AND seq < ?2";
        let sql = |table| {
            format!("DELETE FROM {table} WHERE channel_key = ?1 AND seq IN (SELECT seq FROM messages WHERE channel_key = ?1 AND {which})")
        };
        run(tx, &sql("reactions"), params![key, oldest, root])?;
        run(
            tx,
            &format!("DELETE FROM messages WHERE channel_key = ?1 AND {which}"),
            params![key, oldest, root],
        )?;
    }
    Ok(())
}

/// Deletes the channel's messages matching `which` (with `?2` bound to
/// `value`), and their reactions.
fn remove(tx: &Transaction<'_>, key: &str, which: &str, value: i64) -> rusqlite::Result<()> {
    run(
        tx,
        &format!(
            "DELETE FROM reactions WHERE channel_key = ?1 AND seq IN
                  (SELECT seq FROM messages WHERE channel_key = ?1 AND {which})"
        ),
        params![key, value],
    )?;
    run(
        tx,
        &format!("DELETE FROM messages WHERE channel_key = ?1 AND {which}"),
        params![key, value],
    )?;
    Ok(())
}
