//! `State`: everything the chat holds (users, sessions, channels and their
//! rings, read positions, remembered sends), and `State::apply`, the one
//! function that changes it, entry by entry in the log's order.
//!
//! Invariants:
//! - `apply` is deterministic: the same entries in the same order give the
//!   same state, so every server, and a server replaying its journal,
//!   holds the same. It decides what the proposer's checks could not know
//!   for sure (a name taken meanwhile, a `client_id` sent twice): those
//!   entries are refused and change nothing.
//! - Only `apply` and `from_snapshot` change a `State`; everything else
//!   here reads it. `check_*` methods are the proposer's checks: the same
//!   rules, decided before proposing, so a refusal costs no log entry.

use crate::chat::access::Room;
use crate::chat::channel::{ChannelState, Event, LogLimits};
use crate::chat::entry::{Change, Entry, SendRecord};
use crate::chat::error::HubError;
use crate::chat::markup;
use crate::chat::names;
use crate::chat::sessions::Sessions;
use crate::chat::users::{Sent, User};
use crate::chat::TokenHash;
use app::model::{
    Attachment, AttachmentId, Channel, ChannelHistory, ChannelName, ClientId, Conversation,
    DisplayName, Message, ReplyTo, Timestamp, Unread, UserId, UserInfo,
};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// What applying an entry decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Applied; nothing to tell the proposer.
    Done,
    User(UserInfo),
    Channel(Channel),
    /// A new message, or a change, with its `seq`.
    Stored {
        seq: u64,
    },
    /// A retry of a remembered `client_id`: stored before, as `seq`.
    Duplicate {
        seq: u64,
    },
}

/// What the hub must do once an entry is applied.
#[derive(Debug)]
pub enum Effect {
    /// Tell the channel's live viewers.
    Event { key: String, event: Arc<Event> },
    /// Announce a new public channel to everyone.
    ChannelCreated(Channel),
    /// Close every connection opened with these sessions.
    SessionsEnded(Vec<TokenHash>),
    /// Delete these files: their messages are gone.
    FilesGone(Vec<AttachmentId>),
    /// Give these files back to their uploader: the message that claimed
    /// them was not stored (a retry of one that was, or refused).
    FilesReturned { owner: Uuid, ids: Vec<AttachmentId> },
}

/// Whether `apply` hands back the entry as applied: a log that keeps the
/// state (SQLite's tables) needs it; the others would pay for a copy of
/// every message for nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Accepted,
    OutcomeOnly,
}

/// The result of `apply`.
#[derive(Debug)]
pub struct Applied {
    pub outcome: Result<Outcome, HubError>,
    /// The entry as applied (its `seq` and positions filled in), when it
    /// changed anything: what a store that keeps the state writes.
    pub accepted: Option<Entry>,
    pub effects: Effects,
}

/// An entry's effects. Nearly every entry has one (its channel event),
/// held inline: applying a message allocates nothing for it.
#[derive(Debug, Default)]
pub struct Effects {
    first: Option<Effect>,
    rest: Vec<Effect>,
}

impl Effects {
    pub fn push(&mut self, effect: Effect) {
        match self.first {
            None => self.first = Some(effect),
            Some(_) => self.rest.push(effect),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.first.is_none()
    }
}

impl From<Effect> for Effects {
    fn from(effect: Effect) -> Self {
        Self {
            first: Some(effect),
            rest: Vec::new(),
        }
    }
}

impl Extend<Effect> for Effects {
    fn extend<I: IntoIterator<Item = Effect>>(&mut self, effects: I) {
        effects.into_iter().for_each(|effect| self.push(effect));
    }
}

impl IntoIterator for Effects {
    type Item = Effect;
    type IntoIter = std::iter::Chain<std::option::IntoIter<Effect>, std::vec::IntoIter<Effect>>;

    fn into_iter(self) -> Self::IntoIter {
        self.first.into_iter().chain(self.rest)
    }
}

impl Applied {
    fn refused(err: HubError) -> Self {
        Self {
            outcome: Err(err),
            accepted: None,
            effects: Effects::default(),
        }
    }

    fn unchanged(outcome: Outcome) -> Self {
        Self {
            outcome: Ok(outcome),
            accepted: None,
            effects: Effects::default(),
        }
    }
}

/// What the proposer of a new message may propose (`check_post`).
pub enum PostCheck {
    /// A retry of a remembered `client_id`: answer with its `seq`.
    Remembered(u64),
    /// Go on: the channel's key and canonical name, and the author.
    Propose {
        key: String,
        channel: ChannelName,
        author: DisplayName,
    },
}

#[derive(Default)]
pub struct State {
    users: HashMap<Uuid, User>,
    names: HashMap<String, Uuid>,
    /// Users by the skeletons of their names (`names::skeletons`).
    name_skeletons: HashMap<String, Uuid>,
    pub sessions: Sessions,
    channels: HashMap<String, ChannelState>,
    /// Channel keys in creation order.
    order: Vec<String>,
    /// Public channels' keys in creation order (what everyone lists).
    public: Vec<String>,
    /// Public channels' keys by the skeletons of their names.
    channel_skeletons: HashMap<String, String>,
    /// The channel key of every file attached to a message in a ring.
    file_channels: HashMap<AttachmentId, String>,
    log_limits: Option<LogLimits>,
}

/// `State`'s settings that shape what it keeps (the same on every server
/// is not needed: they bound each server's resume buffer).
pub struct StateLimits {
    pub session_idle: Duration,
    pub log: LogLimits,
}

fn door_refusal(name: &ChannelName) -> HubError {
    HubError::UnknownChannel(name.to_string())
}

impl State {
    pub fn new(limits: StateLimits) -> Self {
        Self {
            sessions: Sessions::new(limits.session_idle),
            log_limits: Some(limits.log),
            ..Self::default()
        }
    }

    fn log_limits(&self) -> LogLimits {
        self.log_limits.unwrap_or(LogLimits {
            events: 1000,
            bytes: 1 << 20,
        })
    }

    // ----- the one way in: `door` -----

    /// The channel `name` as `viewer` (`None`: nobody signed in) may see it,
    /// with its key: the one door to a channel's contents. Whether the
    /// viewer may is decided on the normalized key (`access::Room`), so no
    /// spelling of a name gets past it; someone else's conversation reads
    /// as a channel that does not exist.
    pub fn door(
        &self,
        viewer: Option<UserId>,
        name: &ChannelName,
    ) -> Result<(String, &ChannelState), HubError> {
        let key = name.key();
        match self.channels.get(&key) {
            Some(room) if Room::of_key(&key).may_see(viewer) => Ok((key, room)),
            _ => Err(door_refusal(name)),
        }
    }

    pub fn history(
        &self,
        viewer: Option<UserId>,
        name: &ChannelName,
    ) -> Result<ChannelHistory, HubError> {
        Ok(self.door(viewer, name)?.1.history())
    }

    // ----- users and names -----

    pub fn user(&self, id: Uuid) -> Option<&UserInfo> {
        self.users.get(&id).map(|u| &u.info)
    }

    /// The user whose name is `name` or looks like it.
    pub fn user_named_like(&self, name: &DisplayName) -> Option<Uuid> {
        let like = || {
            names::skeletons(name.as_str())
                .iter()
                .find_map(|skeleton| self.name_skeletons.get(skeleton).copied())
        };
        self.names.get(&name.key()).copied().or_else(like)
    }

    /// The user named `name` (by key), as they spell it.
    pub fn user_named(&self, name: &DisplayName) -> Option<(Uuid, &UserInfo)> {
        let id = self.names.get(&name.key())?;
        self.users.get(id).map(|u| (*id, &u.info))
    }

    /// Every user's name and id, sorted by key (ignoring case).
    pub fn users_by_name(&self) -> Vec<(Uuid, DisplayName)> {
        let mut keyed: Vec<(&String, &Uuid)> = self.names.iter().collect();
        keyed.sort();
        keyed
            .into_iter()
            .filter_map(|(_, id)| Some((*id, self.users.get(id)?.info.display_name.clone())))
            .collect()
    }

    /// The names `typed` after `@` that are users, as they spell them:
    /// what `markup` marks as mentions.
    pub fn mentionable(&self, typed: Vec<(String, String)>) -> HashMap<String, DisplayName> {
        typed
            .into_iter()
            .filter_map(|(typed, key)| {
                let id = self.names.get(&key)?;
                Some((typed, self.users.get(id)?.info.display_name.clone()))
            })
            .collect()
    }

    fn index_user(&mut self, id: Uuid, name: &DisplayName) {
        self.names.insert(name.key(), id);
        for skeleton in names::skeletons(name.as_str()) {
            self.name_skeletons.entry(skeleton).or_insert(id);
        }
    }

    /// The proposer's check of a registration of `name` by a caller whose
    /// live session is `caller`'s: `Ok(Some(user))` when it is the caller's
    /// own name (nothing to propose), `Ok(None)` to propose a new user.
    pub fn check_register(
        &self,
        name: &DisplayName,
        caller: Option<Uuid>,
    ) -> Result<Option<UserInfo>, HubError> {
        match self.user_named_like(name) {
            Some(existing) if Some(existing) == caller => Ok(self.user(existing).cloned()),
            Some(_) => Err(HubError::NameTaken(name.to_string())),
            None => {
                names::admit(name.as_str(), "display name")?;
                Ok(None)
            }
        }
    }

    // ----- channels -----

    /// The channel named `name` or like it.
    pub fn channel_named_like(&self, name: &ChannelName) -> Option<&Channel> {
        let like = || {
            names::skeletons(name.as_str())
                .iter()
                .find_map(|skeleton| self.channel_skeletons.get(skeleton))
                .and_then(|key| self.channels.get(key))
        };
        (self.channels.get(&name.key()).or_else(like)).map(|room| &room.info)
    }

    /// The proposer's check of a new public channel named `name`.
    pub fn check_channel(&self, name: &ChannelName, most: usize) -> Result<(), HubError> {
        if Room::of_key(&name.key()) != Room::Public {
            return Err(HubError::Reserved);
        }
        if let Some(existing) = self.channel_named_like(name) {
            return Err(HubError::ChannelExists(existing.name.to_string()));
        }
        names::admit(name.as_str(), "channel name")?;
        if self.public.len() >= most {
            return Err(HubError::TooManyChannels(most));
        }
        Ok(())
    }

    pub fn channel(&self, key: &str) -> Option<&ChannelState> {
        self.channels.get(key)
    }

    /// Public channels, oldest first.
    pub fn channels(&self) -> Vec<Channel> {
        (self.public.iter())
            .filter_map(|key| self.channels.get(key))
            .map(|room| room.info.clone())
            .collect()
    }

    /// How many private conversations `user` started.
    pub fn started(&self, user: Uuid) -> usize {
        self.users.get(&user).map_or(0, |u| u.started)
    }

    /// `user`'s private conversations, oldest first.
    pub fn conversations(&self, user: UserId) -> Vec<Conversation> {
        let Some(mine) = self.users.get(&user.as_uuid()) else {
            return Vec::new();
        };
        (mine.conversations.iter())
            .filter_map(|key| {
                let other = Room::of_key(key).other_than(user)?;
                let room = self.channels.get(key)?;
                let with = self.users.get(&other.as_uuid())?.info.display_name.clone();
                Some(Conversation {
                    channel: room.info.name.clone(),
                    with,
                })
            })
            .collect()
    }

    /// Whether `viewer` may see file `id`: it is attached to a message in
    /// a ring, in a channel they may see (the door, for files).
    pub fn may_see_file(&self, viewer: Option<UserId>, id: &AttachmentId) -> bool {
        (self.file_channels.get(id)).is_some_and(|key| Room::of_key(key).may_see(viewer))
    }

    /// Every attached file with its uploader (by the author's name).
    pub fn attached_files(&self) -> Vec<(Option<Uuid>, Attachment)> {
        (self.channels.values())
            .flat_map(|room| room.messages())
            .flat_map(|message| {
                let owner = self.names.get(&message.author.key()).copied();
                message.attachments.iter().map(move |a| (owner, a.clone()))
            })
            .collect()
    }

    // ----- messages -----

    /// The proposer's check of a new message from `user` to `name` with
    /// `client_id`: through the door, then the sender's remembered sends,
    /// then (a reply) that its thread can take it.
    pub fn check_post(
        &self,
        user: UserId,
        name: &ChannelName,
        client_id: &ClientId,
        reply_to: Option<ReplyTo>,
    ) -> Result<PostCheck, HubError> {
        let sender = self
            .users
            .get(&user.as_uuid())
            .ok_or(HubError::UnknownUser)?;
        let (key, room) = self.door(Some(user), name)?;
        match sender.sends.get(client_id) {
            Some(sent) if sent.key == key => Ok(PostCheck::Remembered(sent.seq)),
            Some(_) => Err(HubError::ClientIdReused(client_id.to_string())),
            // A retry is answered above even if its thread is gone since.
            None if reply_to.is_some_and(|to| !room.may_reply_to(to.root)) => {
                Err(HubError::UnknownMessage(reply_to.map_or(0, |to| to.root)))
            }
            None => Ok(PostCheck::Propose {
                key,
                channel: room.info.name.clone(),
                author: sender.info.display_name.clone(),
            }),
        }
    }

    /// What `user` has not read: per channel with anything unread, the
    /// messages by others after their read position (and since they
    /// joined), and how many mention them.
    pub fn unread(&self, user: UserId) -> Vec<Unread> {
        let Some(reader) = self.users.get(&user.as_uuid()) else {
            return Vec::new();
        };
        let me = &reader.info.display_name;
        // Public channels and this user's conversations, not everyone's.
        (self.public.iter())
            .chain(&reader.conversations)
            .filter(|key| Room::of_key(key).may_see(Some(user)))
            .filter_map(|key| {
                let room = self.channels.get(key)?;
                let last_read = reader.last_read.get(key).copied().unwrap_or(0);
                let (mut unread, mut mentions) = (0, 0);
                for held in &room.ring {
                    let m = &held.message;
                    if m.seq > last_read && &m.author != me && m.sent_at > reader.joined_at {
                        unread += 1;
                        mentions += u32::from(m.mentions.contains(me));
                    }
                }
                (unread > 0).then(|| Unread {
                    channel: room.info.name.clone(),
                    unread,
                    mentions,
                    last_read,
                })
            })
            .collect()
    }

    pub fn last_read(&self, user: Uuid, key: &str) -> Option<u64> {
        self.users.get(&user)?.last_read.get(key).copied()
    }
}

mod apply;
mod search;
mod snapshot;

pub use snapshot::{ChannelContent, ChannelSnapshot, RememberedSend, Snapshot};
