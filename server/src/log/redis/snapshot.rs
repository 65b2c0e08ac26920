//! Everything Redis holds, read atomically (`snapshot.lua`), as the state
//! at one log position.

use super::follower::log_position;
use crate::chat::state::{ChannelContent, ChannelSnapshot};
use crate::chat::{Change, Entry, Snapshot};
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};
use uuid::Uuid;

pub enum Fetch {
    Redis(RedisError),
    Corrupt(String),
}

/// The shared state, the log position it is at, and the dataset's id.
pub struct Fetched {
    /// Random per Redis dataset: every server reports it as its
    /// `server_id`, so a client's `seq`s stay valid on any of them.
    pub dataset: String,
    pub lsn: u64,
    pub state: Snapshot,
}

type RawChannel = (
    String,
    String,
    u64,
    Vec<(String, Vec<String>)>,
    Option<String>,
);
type RawSnapshot = (
    u64,
    String,
    Vec<String>,
    Vec<String>,
    Vec<RawChannel>,
    Vec<(String, Vec<String>)>,
);

fn parse(json: &str) -> Result<Entry, Fetch> {
    serde_json::from_str(json).map_err(|e| Fetch::Corrupt(format!("{e}: {json}")))
}

pub async fn fetch(conn: &mut ConnectionManager) -> Result<Fetched, Fetch> {
    let proposed_id = Uuid::new_v4().to_string();
    let (lsn, dataset, users, sessions, channels, reads): RawSnapshot =
        Script::new(include_str!("snapshot.lua"))
            .arg(proposed_id)
            .invoke_async(conn)
            .await
            .map_err(Fetch::Redis)?;
    let mut state = Snapshot::default();
    for json in &users {
        if let Entry::User {
            id,
            name,
            created_at,
            ..
        } = parse(json)?
        {
            state.users.push((id, name, created_at));
        }
    }
    for json in &sessions {
        // What Redis holds of a session is the entry that made or touched it.
        match parse(json)? {
            Entry::User {
                id,
                session,
                created_at,
                ..
            } => state.sessions.push((session, id, Some(created_at))),
            Entry::Session {
                hash, user, seen, ..
            } => state.sessions.push((hash, user, seen)),
            _ => {}
        }
    }
    for raw in channels {
        state.channels.extend(channel(raw)?);
    }
    for (user, flat) in reads {
        let user: Uuid = (user.parse()).map_err(|_| Fetch::Corrupt(format!("user id {user}")))?;
        for pair in flat.chunks(2) {
            if let [key, seq] = pair {
                let seq =
                    (seq.parse()).map_err(|_| Fetch::Corrupt(format!("read position {seq}")))?;
                state.reads.push((user, key.clone(), seq));
            }
        }
    }
    Ok(Fetched {
        dataset,
        lsn,
        state,
    })
}

/// One channel and its retained events, oldest first.
fn channel((key, json, head, events, topic): RawChannel) -> Result<Option<ChannelSnapshot>, Fetch> {
    let Entry::Channel { mut channel, .. } = parse(&json)? else {
        return Ok(None);
    };
    // The latest topic, kept apart from the events (which are trimmed).
    if let Some(json) = topic {
        if let Entry::Event {
            change: Change::Topic { topic, .. },
            ..
        } = parse(&json)?
        {
            channel.topic = topic;
        }
    }
    let mut decoded = Vec::with_capacity(events.len());
    for (id, fields) in events {
        let seq = log_position(&id).ok_or_else(|| Fetch::Corrupt(format!("event id {id}")))?;
        let json = (fields.chunks(2))
            .find(|pair| pair[0] == "e")
            .and_then(|pair| pair.get(1))
            .ok_or_else(|| Fetch::Corrupt(format!("event {id} has no entry")))?;
        if let Entry::Event { change, send, .. } = with_seq(parse(json)?, seq) {
            decoded.push((seq, change, send));
        }
    }
    Ok(Some(ChannelSnapshot {
        key,
        channel,
        head,
        content: ChannelContent::Events(decoded),
    }))
}

/// An event as Redis numbered it (the proposer did not know its `seq`).
pub fn with_seq(entry: Entry, seq: u64) -> Entry {
    match entry {
        Entry::Event {
            key, change, send, ..
        } => {
            let change = match change {
                Change::Posted(mut message) => {
                    message.seq = seq;
                    Change::Posted(message)
                }
                other => other,
            };
            Entry::Event {
                key,
                seq,
                change,
                send,
            }
        }
        other => other,
    }
}
