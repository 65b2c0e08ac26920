//! Users: who they are, what they remember sending (for idempotent sends),
//! where they have read up to, and which conversations are theirs.
//!
//! Invariant: a `(user, client_id)` pair stores at most one message while
//! it is remembered (the last `window` sends of each user), and is a retry
//! only for the channel it first went to.

use app::model::{ClientId, DisplayName, Timestamp, UserId, UserInfo};
use std::collections::{HashMap, VecDeque};
use uuid::Uuid;

pub struct User {
    pub info: UserInfo,
    pub sends: RecentSends,
    /// Messages before this count as read everywhere (nobody is asked to
    /// catch up on what was said before they joined).
    pub joined_at: Timestamp,
    /// Read position per channel key.
    pub last_read: HashMap<String, u64>,
    /// How many private conversations this user started.
    pub started: usize,
    /// The keys of this user's private conversations, oldest first.
    pub conversations: Vec<String>,
}

impl User {
    /// A user who joined at `joined_at`, with nothing sent or read yet.
    pub fn new(id: Uuid, name: DisplayName, joined_at: Timestamp) -> Self {
        Self {
            info: UserInfo {
                user_id: UserId::from_uuid(id),
                display_name: name,
            },
            sends: RecentSends::default(),
            joined_at,
            last_read: HashMap::new(),
            started: 0,
            conversations: Vec::new(),
        }
    }

    /// Moves the read position in `key` forward to `seq`; whether it moved.
    pub fn read(&mut self, key: &str, seq: u64) -> bool {
        let at = self.last_read.entry(key.to_owned()).or_insert(0);
        if seq <= *at {
            return false;
        }
        *at = seq;
        true
    }
}

/// The last N `client_id`s of one user and what each got.
#[derive(Default)]
pub struct RecentSends {
    order: VecDeque<ClientId>,
    seqs: HashMap<ClientId, Sent>,
    pub next_position: u64,
}

/// A remembered send: where it went and the `seq` it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The channel it went to: a retry naming another channel is no retry.
    pub key: String,
    pub seq: u64,
}

impl RecentSends {
    pub fn get(&self, id: &ClientId) -> Option<&Sent> {
        self.seqs.get(id)
    }

    /// Remembers a send; returns its position (for the store).
    pub fn remember(&mut self, id: ClientId, sent: Sent, window: usize) -> u64 {
        let position = self.next_position;
        self.next_position += 1;
        self.order.push_back(id.clone());
        self.seqs.insert(id, sent);
        while self.order.len() > window.max(1) {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
            }
        }
        position
    }
}
