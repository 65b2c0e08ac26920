//! `Entry`: one change to the chat, as proposed to the log and as every
//! log (memory, SQLite, Redis) hands it back once committed. The state
//! changes only by applying entries (`State::apply`), in the log's order.
//!
//! Invariant: the JSON shape is stable (Redis and the SQLite journal keep
//! entries): fields are only ever added, with defaults.

use crate::chat::markup::Rendered;
use crate::chat::TokenHash;
use app::model::{Channel, ClientId, DisplayName, Emoji, Message, MessageBody, Timestamp, Topic};
use uuid::Uuid;

/// One change to the chat.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// A new user with their first session, in one entry so a refusal can
    /// never leave a user without a way in.
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
    /// A session used: `seen` is when (absent in entries from before
    /// sessions could go idle). Applies only to a session that exists.
    Session {
        hash: TokenHash,
        user: Uuid,
        #[serde(default)]
        seen: Option<Timestamp>,
        /// A session this one replaces, which ends with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<TokenHash>,
    },
    /// Sessions that end: signed out, or idle past the limit.
    SessionsEnded { hashes: Vec<TokenHash> },
    /// A new channel or private conversation (`position`: its place in
    /// creation order, filled in when applied).
    Channel {
        key: String,
        channel: Channel,
        position: u64,
    },
    /// A change to a channel's messages. `seq` is 0 when proposed: applying
    /// gives it the channel's next one (Redis gives it the same, in order).
    /// A new message carries its sender's idempotency record.
    Event {
        key: String,
        seq: u64,
        change: Change,
        send: Option<SendRecord>,
    },
}

/// Where a sent message goes in its sender's remembered `client_id`s
/// (`position` is filled in when applied).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct SendRecord {
    pub user: Uuid,
    pub position: u64,
    pub window: usize,
}

/// A change to a channel's messages.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    Posted(Message),
    Edited {
        id: u64,
        body: MessageBody,
        /// The body rendered (`markup`), when the edit was made.
        rendered: Rendered,
        at: Timestamp,
    },
    Deleted {
        id: u64,
        /// A reply's thread (its first message's `seq`), for the logs
        /// that keep threads apart (Redis).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        thread: Option<u64>,
    },
    Reacted {
        id: u64,
        emoji: Emoji,
        user: DisplayName,
        add: bool,
    },
    /// The channel's topic is set (`None`: cleared) by `by`.
    Topic {
        topic: Option<Topic>,
        by: DisplayName,
    },
}

impl Change {
    /// The message the change is about (its `seq`; 0 for a change to the
    /// channel itself).
    pub fn id(&self) -> u64 {
        match self {
            Self::Posted(message) => message.seq,
            Self::Edited { id, .. } | Self::Deleted { id, .. } | Self::Reacted { id, .. } => *id,
            Self::Topic { .. } => 0,
        }
    }

    /// The `client_id` of a new message.
    pub fn client_id(&self) -> Option<&ClientId> {
        match self {
            Self::Posted(message) => message.client_id.as_ref(),
            _ => None,
        }
    }
}
