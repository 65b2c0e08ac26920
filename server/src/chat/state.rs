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
    DisplayName, Message, Timestamp, Unread, UserId, UserInfo,
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
    pub effects: Vec<Effect>,
}

impl Applied {
    fn refused(err: HubError) -> Self {
        Self {
            outcome: Err(err),
            accepted: None,
            effects: Vec::new(),
        }
    }

    fn unchanged(outcome: Outcome) -> Self {
        Self {
            outcome: Ok(outcome),
            accepted: None,
            effects: Vec::new(),
        }
    }
}

/// Everything a store holds, read back, for `State::from_snapshot`.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<(Uuid, DisplayName, Timestamp)>,
    /// With when each was last used (absent: from before they were timed).
    pub sessions: Vec<(TokenHash, Uuid, Option<Timestamp>)>,
    /// `(user, channel key, seq)`.
    pub reads: Vec<(Uuid, String, u64)>,
    /// In creation order.
    pub channels: Vec<ChannelSnapshot>,
    /// Per user, oldest first.
    pub sends: Vec<RememberedSend>,
}

/// A user's message remembered by its `client_id`, so a retry is
/// acknowledged with the `seq` it got, not stored twice.
#[derive(Debug)]
pub struct RememberedSend {
    pub user: Uuid,
    pub client_id: ClientId,
    pub key: String,
    pub seq: u64,
    /// Its place in the user's sends, which are forgotten oldest first.
    pub position: u64,
}

/// One channel read back: its messages as they are, or the events that
/// rebuild them.
#[derive(Debug)]
pub struct ChannelSnapshot {
    pub key: String,
    pub channel: Channel,
    pub head: u64,
    pub content: ChannelContent,
}

#[derive(Debug)]
pub enum ChannelContent {
    /// The ring as stored (bodies not yet rendered).
    Messages(Vec<Message>),
    /// Its retained events, from its oldest message on, with their sends.
    Events(Vec<(u64, Change, Option<SendRecord>)>),
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
            .flat_map(|room| room.ring.iter())
            .flat_map(|held| {
                let owner = self.names.get(&held.message.author.key()).copied();
                held.message
                    .attachments
                    .iter()
                    .map(move |a| (owner, a.clone()))
            })
            .collect()
    }

    // ----- messages -----

    /// The proposer's check of a new message from `user` to `name` with
    /// `client_id`: through the door, then the sender's remembered sends.
    pub fn check_post(
        &self,
        user: UserId,
        name: &ChannelName,
        client_id: &ClientId,
    ) -> Result<PostCheck, HubError> {
        let sender = self
            .users
            .get(&user.as_uuid())
            .ok_or(HubError::UnknownUser)?;
        let (key, room) = self.door(Some(user), name)?;
        match sender.sends.get(client_id) {
            Some(sent) if sent.key == key => Ok(PostCheck::Remembered(sent.seq)),
            Some(_) => Err(HubError::ClientIdReused(client_id.to_string())),
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

// ----- applying entries -----

impl State {
    /// Applies one committed entry (see the module's invariants). `now` is
    /// only for sessions from before they were timed.
    pub fn apply(&mut self, entry: Entry, now: Timestamp, keep: Keep) -> Applied {
        match entry {
            Entry::User {
                id,
                name,
                key,
                session,
                created_at,
                replaces,
            } => self.apply_user(id, name, key, session, created_at, replaces),
            Entry::Read { user, key, seq } => {
                let moved = self.users.get_mut(&user).is_some_and(|u| u.read(&key, seq));
                let accepted = moved.then_some(Entry::Read { user, key, seq });
                Applied {
                    outcome: Ok(Outcome::Done),
                    accepted,
                    effects: Vec::new(),
                }
            }
            Entry::Session {
                hash,
                user,
                seen,
                replaces,
            } => {
                // A touch of a session still known: one that ended first
                // stays ended.
                if self.sessions.owner(&hash) != Some(user) {
                    return Applied::unchanged(Outcome::Done);
                }
                let seen = seen.unwrap_or(now);
                self.sessions.insert(hash, user, seen);
                let mut applied = self.end_sessions(replaces.into_iter().collect());
                applied.accepted = Some(Entry::Session {
                    hash,
                    user,
                    seen: Some(seen),
                    replaces,
                });
                applied
            }
            Entry::SessionsEnded { hashes } => self.end_sessions(hashes),
            Entry::Channel { key, channel, .. } => self.apply_channel(key, channel),
            Entry::Event {
                key,
                seq,
                change,
                send,
            } => self.apply_event(key, seq, change, send, keep),
        }
    }

    fn apply_user(
        &mut self,
        id: Uuid,
        name: DisplayName,
        key: String,
        session: TokenHash,
        created_at: Timestamp,
        replaces: Option<TokenHash>,
    ) -> Applied {
        if self.users.contains_key(&id) {
            return Applied::unchanged(Outcome::Done);
        }
        if self.user_named_like(&name).is_some() {
            return Applied::refused(HubError::NameTaken(name.to_string()));
        }
        self.index_user(id, &name);
        self.sessions.insert(session, id, created_at);
        let user = User::new(id, name.clone(), created_at);
        let info = user.info.clone();
        self.users.insert(id, user);
        let mut applied = self.end_sessions(replaces.into_iter().collect());
        applied.outcome = Ok(Outcome::User(info));
        applied.accepted = Some(Entry::User {
            id,
            name,
            key,
            session,
            created_at,
            replaces,
        });
        applied
    }

    /// Ends sessions: they prove nothing from now on.
    fn end_sessions(&mut self, hashes: Vec<TokenHash>) -> Applied {
        if hashes.is_empty() {
            return Applied::unchanged(Outcome::Done);
        }
        for hash in &hashes {
            self.sessions.remove(hash);
        }
        Applied {
            outcome: Ok(Outcome::Done),
            accepted: Some(Entry::SessionsEnded {
                hashes: hashes.clone(),
            }),
            effects: vec![Effect::SessionsEnded(hashes)],
        }
    }

    fn apply_channel(&mut self, key: String, channel: Channel) -> Applied {
        let room = Room::of_key(&key);
        if let Some(existing) = self.channels.get(&key) {
            // Both opened the same conversation at once: it is the one.
            if matches!(room, Room::Conversation(..)) {
                return Applied::unchanged(Outcome::Channel(existing.info.clone()));
            }
            return Applied::refused(HubError::ChannelExists(existing.info.name.to_string()));
        }
        if room == Room::Public {
            if let Some(existing) = self.channel_named_like(&channel.name) {
                return Applied::refused(HubError::ChannelExists(existing.name.to_string()));
            }
        }
        self.add_channel(key.clone(), channel.clone());
        let effects = match room {
            Room::Public => vec![Effect::ChannelCreated(channel.clone())],
            _ => Vec::new(),
        };
        Applied {
            outcome: Ok(Outcome::Channel(channel.clone())),
            accepted: Some(Entry::Channel {
                key,
                channel,
                position: self.order.len() as u64,
            }),
            effects,
        }
    }

    /// Adds a channel (made now, or read back) under `key`.
    fn add_channel(&mut self, key: String, channel: Channel) {
        match Room::of_key(&key) {
            Room::Public => {
                for skeleton in names::skeletons(channel.name.as_str()) {
                    self.channel_skeletons
                        .entry(skeleton)
                        .or_insert(key.clone());
                }
                self.public.push(key.clone());
            }
            Room::Conversation(a, b) => {
                for id in [a, b] {
                    let Some(user) = self.users.get_mut(&id.as_uuid()) else {
                        continue;
                    };
                    if !user.conversations.contains(&key) {
                        user.conversations.push(key.clone());
                    }
                    if user.info.display_name == channel.created_by {
                        user.started += 1;
                    }
                }
            }
            Room::Reserved => {}
        }
        self.order.push(key.clone());
        self.channels.insert(key, ChannelState::new(channel));
    }

    fn apply_event(
        &mut self,
        key: String,
        seq: u64,
        change: Change,
        send: Option<SendRecord>,
        keep: Keep,
    ) -> Applied {
        let log = self.log_limits();
        let Some(room) = self.channels.get_mut(&key) else {
            return Applied::refused(HubError::UnknownChannel(key));
        };
        let sender = send.and_then(|s| {
            let client_id = change.client_id()?.clone();
            Some((s, client_id))
        });
        if let Some((send, client_id)) = &sender {
            let known = self
                .users
                .get(&send.user)
                .and_then(|u| u.sends.get(client_id));
            match known {
                Some(sent) if sent.key == key => {
                    return Applied::unchanged(Outcome::Duplicate { seq: sent.seq })
                }
                Some(_) => {
                    return Applied::refused(HubError::ClientIdReused(client_id.to_string()))
                }
                None => {}
            }
        }
        let seq = if seq > 0 { seq } else { room.head + 1 };
        if let Change::Posted(message) = &change {
            for file in &message.attachments {
                self.file_channels.insert(file.id.clone(), key.clone());
            }
        }
        let kept = (keep == Keep::Accepted).then(|| change.clone());
        let changed = room.apply(seq, change, log);
        let mut effects = Vec::new();
        let gone: Vec<AttachmentId> = (changed.gone.iter())
            .flat_map(|m| m.attachments.iter().map(|a| a.id.clone()))
            .collect();
        for id in &gone {
            self.file_channels.remove(id);
        }
        if !gone.is_empty() {
            effects.push(Effect::FilesGone(gone));
        }
        let send = sender.map(|(mut send, client_id)| {
            if let Some(user) = self.users.get_mut(&send.user) {
                let sent = Sent {
                    key: key.clone(),
                    seq,
                };
                send.position = user.sends.remember(client_id, sent, send.window);
            }
            send
        });
        let accepted = kept.map(|change| Entry::Event {
            key: key.clone(),
            seq,
            change: match change {
                Change::Posted(mut message) => {
                    message.seq = seq;
                    Change::Posted(message)
                }
                other => other,
            },
            send,
        });
        if let Some(event) = changed.event {
            effects.push(Effect::Event { key, event });
        }
        Applied {
            outcome: Ok(Outcome::Stored { seq }),
            accepted,
            effects,
        }
    }
}

// ----- starting from a snapshot -----

impl State {
    /// The state a store read back (at start, or a replica after a gap in
    /// its log). Stored bodies are rendered again (`markup`), as they were
    /// when sent.
    pub fn from_snapshot(snapshot: Snapshot, limits: StateLimits, now: Timestamp) -> Self {
        let mut state = Self::new(limits);
        for (id, name, created_at) in snapshot.users {
            state.index_user(id, &name);
            state.users.insert(id, User::new(id, name, created_at));
        }
        for (hash, user, seen) in snapshot.sessions {
            // From before sessions went idle: a full idle period from now.
            state.sessions.insert(hash, user, seen.unwrap_or(now));
        }
        for (user, key, seq) in snapshot.reads {
            if let Some(user) = state.users.get_mut(&user) {
                user.read(&key, seq);
            }
        }
        for channel in snapshot.channels {
            state.restore_channel(channel);
        }
        for send in snapshot.sends {
            if let Some(user) = state.users.get_mut(&send.user) {
                user.sends.next_position = send.position;
                let sent = Sent {
                    key: send.key,
                    seq: send.seq,
                };
                user.sends.remember(send.client_id, sent, usize::MAX);
            }
        }
        state
    }

    fn restore_channel(&mut self, snapshot: ChannelSnapshot) {
        let ChannelSnapshot {
            key,
            channel,
            head,
            content,
        } = snapshot;
        self.add_channel(key.clone(), channel.clone());
        let log = self.log_limits();
        let room = match content {
            ChannelContent::Messages(messages) => {
                let rendered = messages
                    .into_iter()
                    .map(|mut message| {
                        let lookup = |typed: &str| {
                            let name = DisplayName::parse(typed).ok()?;
                            self.user_named(&name).map(|(_, u)| u.display_name.clone())
                        };
                        let markup::Rendered { html, mentions } =
                            markup::render(message.body.as_str(), &lookup);
                        (message.html, message.mentions) = (html, mentions);
                        message
                    })
                    .collect();
                ChannelState::restored(channel, head, rendered)
            }
            ChannelContent::Events(events) => {
                for (seq, change, send) in &events {
                    if let (Some(send), Some(client_id)) = (send, change.client_id()) {
                        if let Some(user) = self.users.get_mut(&send.user) {
                            let sent = Sent {
                                key: key.clone(),
                                seq: *seq,
                            };
                            user.sends.remember(client_id.clone(), sent, send.window);
                        }
                    }
                }
                let events = events.into_iter().map(|(seq, c, _)| (seq, c)).collect();
                ChannelState::replayed(channel, head, events, log)
            }
        };
        for id in room.attachments() {
            self.file_channels.insert(id.clone(), key.clone());
        }
        self.channels.insert(key, room);
    }
}
