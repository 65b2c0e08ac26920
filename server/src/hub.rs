//! The hub: the one owner of all chat state (users, sessions, channels and
//! their recent messages), behind a cheap cloneable handle.
//!
//! Invariants:
//! - Only the hub mutates chat state, under one `std::sync::Mutex` that is
//!   never held across an `.await` (the only async method, `durable`, takes
//!   no lock).
//! - Per channel, every change (message, edit, delete, reaction) is an
//!   event with a `seq`, strictly increasing and never reused. The ring holds
//!   the `HISTORY_LEN` most recent messages as they are now (a deleted one
//!   leaves it); the event log holds the events a resuming viewer may need,
//!   back to `log_floor`, and never an event about a deleted message except
//!   the deletion itself.
//! - Only a message's author edits or deletes it; a user has at most one
//!   reaction of each emoji on a message.
//! - A message is serialized once, when it is stored; every viewer is sent
//!   the same shared bytes.
//! - Subscribing to a channel and reading its backlog happen under the same
//!   lock as publishing, so a joiner sees every event exactly once: in the
//!   backlog or live, never both, never neither.
//! - Nobody sees what is not durable. With a data dir, a change is recorded
//!   in the store's journal; viewers, history and acks see it only once it
//!   is committed (`committed` per channel, `durable(ticket)`). Without one,
//!   every change is "committed" at once.
//! - With Redis (`cluster`), the hub is a replica: its methods check and
//!   propose; state changes only when Redis' log brings them back
//!   (`apply_replicated`), in the same order on every server.
//! - A `(user, client_id)` pair stores at most one message while the pair is
//!   remembered (the last `idempotency_window` per user, across restarts
//!   with a data dir).

use app::model::{
    Attachment, AttachmentId, Channel, ChannelHistory, ChannelName, ClientId, Conversation,
    DisplayName, Emoji, Message, MessageBody, Person, PresenceStatus, Reaction, Timestamp, Unread,
    UserId, UserInfo, HISTORY_LEN,
};
use app::protocol::{frame, ServerFrame};
use axum::body::Bytes;
use axum::extract::ws::Utf8Bytes;
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::chat::access::{self, Room};
use crate::chat::names;
use crate::chat::presence::{self, Connections, Presence};
use crate::chat::sessions::Sessions;
use crate::chat::TokenHash;
use crate::cluster;
use crate::files::{Content, FileError, FileLimits, Files};
use crate::identity::SessionToken;
use crate::markup::{self, Rendered};
use crate::store::{self, Entry, Snapshot, StoreError};
use tokio_util::sync::CancellationToken;

/// Limits the hub keeps; each is a command-line setting (see `config`).
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Events buffered per channel for live viewers; a viewer that falls
    /// further behind catches up from the ring (or gets a reset).
    pub live_queue: usize,
    /// How many recent `client_id`s are remembered per user.
    pub idempotency_window: usize,
    /// Changes waiting for the journal (with a data dir) before new ones are
    /// refused as "busy".
    pub journal_queue: usize,
    /// Events kept per channel for resuming viewers (edits and reactions
    /// add events without adding messages); an older resume point gets a
    /// reset.
    pub event_log: usize,
    /// The same events' frames, in bytes: what a channel's log may hold
    /// however long its messages are.
    pub event_log_bytes: usize,
    /// Most private conversations one user may start.
    pub max_conversations: usize,
    /// Most public channels the server keeps.
    pub max_channels: usize,
    /// At most one presence announcement per user per this long (and
    /// one for the state it ends in); zero announces every change.
    pub presence_interval: Duration,
    /// A session unused this long ends; zero keeps sessions until ended.
    pub session_idle: Duration,
    pub files: FileLimits,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            live_queue: 1024,
            idempotency_window: 1000,
            journal_queue: 65_536,
            event_log: 1000,
            event_log_bytes: 1024 * 1024,
            max_conversations: 1000,
            max_channels: 10_000,
            presence_interval: Duration::ZERO,
            session_idle: Duration::ZERO,
            files: FileLimits::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("the display name \"{0}\" is taken; choose another")]
    NameTaken(String),
    #[error("a channel named \"{0}\" already exists")]
    ChannelExists(String),
    #[error("there is no channel named \"{0}\"")]
    UnknownChannel(String),
    #[error("your session is no longer valid; sign in again")]
    UnknownUser,
    #[error("the server is busy storing earlier changes; try again in a moment")]
    Busy,
    /// Redis did not answer. The change may still have been made there: a
    /// link can fail after the request left.
    #[error("the shared store (Redis) is unreachable; try again in a moment")]
    StoreDown,
    #[error("message {0} is not in this channel's recent history")]
    UnknownMessage(u64),
    #[error("only its author can {0} a message")]
    NotAuthor(&'static str),
    #[error(transparent)]
    Attachment(#[from] FileError),
    #[error("there is no user named \"{0}\"")]
    NoSuchUser(String),
    #[error("channel names starting with \"dm:\" are kept for private conversations")]
    Reserved,
    #[error("client_id {0} was already used for a message in another channel")]
    ClientIdReused(String),
    #[error(transparent)]
    Invalid(#[from] app::model::InputError),
    #[error("you have started {0} private conversations, the most one person may")]
    TooManyConversations(usize),
    #[error("this server holds {0} channels, the most it keeps; use one of them")]
    TooManyChannels(usize),
}

/// The channel `name` as `viewer` (`None`: nobody signed in) may see it,
/// with its key: the one door to a channel's contents. Whether the viewer
/// may is decided on the normalized key (`access::Room`), so no spelling
/// of a name gets past it; someone else's conversation reads as a channel
/// that does not exist.
fn door<'c>(
    channels: &'c HashMap<String, ChannelState>,
    viewer: Option<UserId>,
    name: &ChannelName,
) -> Result<(String, &'c ChannelState), HubError> {
    let key = name.key();
    match channels.get(&key) {
        Some(room) if Room::of_key(&key).may_see(viewer) => Ok((key, room)),
        _ => Err(HubError::UnknownChannel(name.to_string())),
    }
}

/// `door`, for a change to the channel.
fn door_mut<'c>(
    channels: &'c mut HashMap<String, ChannelState>,
    viewer: Option<UserId>,
    name: &ChannelName,
) -> Result<(String, &'c mut ChannelState), HubError> {
    let key = name.key();
    match channels.get_mut(&key) {
        Some(room) if Room::of_key(&key).may_see(viewer) => Ok((key, room)),
        _ => Err(HubError::UnknownChannel(name.to_string())),
    }
}

/// A channel event, with its frame serialized once. `seq` 0 marks an
/// ephemeral notice (typing) that is sent to viewers but is no event.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    /// The message the event is about (its `seq`).
    pub id: u64,
    pub frame: Utf8Bytes,
}

/// A change to a channel, applied to its state once committed.
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
    },
    Reacted {
        id: u64,
        emoji: Emoji,
        user: DisplayName,
        add: bool,
    },
}

impl Change {
    fn id(&self) -> u64 {
        match self {
            Self::Posted(message) => message.seq,
            Self::Edited { id, .. } | Self::Deleted { id } | Self::Reacted { id, .. } => *id,
        }
    }
}

/// What a viewer receives after `join`: optionally a reset, the backlog, the
/// head, and the live receiver that continues exactly after the backlog.
pub struct Joined {
    pub channel: ChannelName,
    pub reset: bool,
    pub backlog: Vec<Arc<Event>>,
    pub head: u64,
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// A change's place in the journal; `Hub::durable` waits for it. Zero means
/// nothing to wait for (in memory, or already durable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Ticket(u64);

impl Ticket {
    /// Whether this change is durable once the journal reached `committed`.
    pub fn is_durable_at(self, committed: u64) -> bool {
        self.0 <= committed
    }
}

/// A message in the ring, with the frame that shows it as it is now.
struct Held {
    message: Message,
    current: Arc<Event>,
}

impl Held {
    fn new(message: Message) -> Self {
        let current = Arc::new(Event {
            seq: message.seq,
            id: message.seq,
            frame: ServerFrame::Message(message.clone()).to_json().into(),
        });
        Self { message, current }
    }
}

/// The result of a send: the message's `seq`, whether this call stored it
/// (false for a retry of a remembered `client_id`), and when it is durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    pub seq: u64,
    pub stored: bool,
    pub ticket: Ticket,
}

#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

/// The hub as the cluster's follower sees it (weak: the hub owns the
/// cluster link, not the other way round).
struct Replica(Weak<Shared>);

impl cluster::Replica for Replica {
    fn apply(&self, entries: Vec<Entry>) {
        if let Some(shared) = self.0.upgrade() {
            Hub { shared }.apply_replicated(entries);
        }
    }

    fn reload(&self, snapshot: cluster::Snapshot) {
        if let Some(shared) = self.0.upgrade() {
            Hub { shared }.reload(snapshot);
        }
    }

    fn notice(&self, notice: cluster::Notice) {
        if let Some(shared) = self.0.upgrade() {
            Hub { shared }.notice(notice);
        }
    }

    fn presence(&self) -> Vec<(Uuid, u32, u32)> {
        let Some(shared) = self.0.upgrade() else {
            return Vec::new();
        };
        let hub = Hub { shared };
        let counts = hub.state().presence.counts_here();
        counts
    }

    fn forget_servers(&self, before: Instant) {
        if let Some(shared) = self.0.upgrade() {
            let hub = Hub { shared };
            let mut state = hub.state();
            let (gone, heard) = state.presence.forget_servers(before, Instant::now());
            for node in gone {
                tracing::info!(%node, "a server stopped sending its presence; forgetting its connections");
            }
            hub.announce_presence(&state, heard);
        }
    }
}

struct Shared {
    /// Random per process: tells clients whether seqs they hold are ours.
    server_id: String,
    state: Mutex<State>,
    limits: HubLimits,
    /// Channel creations, for every connection.
    lobby: broadcast::Sender<Utf8Bytes>,
    /// The journal's progress (with a data dir).
    durable: OnceLock<watch::Receiver<u64>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Attachments; a message's files go when it does.
    files: Files,
    /// With `--redis-url`: this hub is a replica, changes go to Redis.
    cluster: OnceLock<cluster::Link>,
    /// How often the state lock was taken (tests count it).
    #[cfg(test)]
    locks: std::sync::atomic::AtomicUsize,
}

#[derive(Default)]
struct State {
    users: HashMap<Uuid, User>,
    names: HashMap<String, Uuid>,
    sessions: Sessions,
    /// The connections open with each session, to close when it ends.
    live: HashMap<TokenHash, Vec<(u64, CancellationToken)>>,
    next_live: u64,
    channels: HashMap<String, ChannelState>,
    /// Channel keys in creation order.
    order: Vec<String>,
    /// Public channels' keys in creation order (what everyone lists).
    public: Vec<String>,
    /// Where changes go to become durable (with a data dir).
    journal: Option<SyncSender<(u64, Entry)>>,
    /// Set when a configured journal was closed (shutdown): changes are
    /// refused rather than acknowledged without being stored.
    journal_closed: bool,
    last_ticket: u64,
    /// Who is here, and what of it was announced.
    presence: Presence,
    /// The channel key of every file attached to a message in a ring.
    file_channels: HashMap<AttachmentId, String>,
    /// Users by the skeletons of their names (`names::skeletons`).
    name_skeletons: HashMap<String, Uuid>,
    /// Public channels' keys by the skeletons of their names.
    channel_skeletons: HashMap<String, String>,
}

impl State {
    /// Ends sessions: they prove nothing from now on, and every connection
    /// opened with one of them closes.
    fn end_sessions(&mut self, hashes: &[TokenHash]) {
        for hash in hashes {
            self.sessions.remove(hash);
            for (_, connection) in self.live.remove(hash).unwrap_or_default() {
                connection.cancel();
            }
        }
    }

    /// Takes note of user `id`'s name, under its key and its skeletons.
    fn index_user(&mut self, id: Uuid, name: &DisplayName) {
        self.names.insert(name.key(), id);
        for skeleton in names::skeletons(name.as_str()) {
            self.name_skeletons.entry(skeleton).or_insert(id);
        }
    }

    /// The user whose name is `name` or looks like it.
    fn user_named_like(&self, name: &DisplayName) -> Option<Uuid> {
        let like = || {
            names::skeletons(name.as_str())
                .iter()
                .find_map(|skeleton| self.name_skeletons.get(skeleton).copied())
        };
        self.names.get(&name.key()).copied().or_else(like)
    }

    /// Adds a channel (made now, or read back) under `key`.
    fn add_channel(&mut self, key: String, channel: Channel, live_queue: usize) {
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
                    if let Some(user) = self.users.get_mut(&id.as_uuid()) {
                        if !user.conversations.contains(&key) {
                            user.conversations.push(key.clone());
                        }
                    }
                }
                let starter = [a, b].into_iter().find(|id| {
                    self.users
                        .get(&id.as_uuid())
                        .is_some_and(|user| user.info.display_name == channel.created_by)
                });
                if let Some(starter) = starter.and_then(|id| self.users.get_mut(&id.as_uuid())) {
                    starter.started += 1;
                }
            }
            Room::Reserved => {}
        }
        self.order.push(key.clone());
        self.channels
            .insert(key, ChannelState::new(channel, live_queue));
    }

    /// Takes back the channel just added under `key` (its change was refused).
    fn remove_newest_channel(&mut self, key: &str) {
        self.channels.remove(key);
        self.order.pop();
        self.channel_skeletons.retain(|_, of| of != key);
        if self.public.last().is_some_and(|last| last == key) {
            self.public.pop();
        }
        for user in self.users.values_mut() {
            if user.conversations.last().is_some_and(|last| last == key) {
                user.conversations.pop();
            }
        }
    }

    /// The channel named `name` or like it.
    fn channel_named_like(&self, name: &ChannelName) -> Option<&ChannelState> {
        let like = || {
            names::skeletons(name.as_str())
                .iter()
                .find_map(|skeleton| self.channel_skeletons.get(skeleton))
                .and_then(|key| self.channels.get(key))
        };
        self.channels.get(&name.key()).or_else(like)
    }
}

/// A connection's share of its user's presence: counted while it lives,
/// uncounted when dropped, so presence settles as soon as a tab closes.
pub struct Online {
    hub: Hub,
    user: Uuid,
    name: DisplayName,
    away: bool,
    session: TokenHash,
    /// Its place among its session's connections.
    live: u64,
}

impl Online {
    /// This connection's tab is hidden (`true`) or in view (`false`).
    pub fn set_away(&mut self, away: bool) {
        if away != self.away {
            self.away = away;
            self.hub.update_presence(self.user, &self.name, |c| {
                if away {
                    c.away += 1;
                } else {
                    c.away = c.away.saturating_sub(1);
                }
            });
        }
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        {
            let mut state = self.hub.state();
            if let Some(open) = state.live.get_mut(&self.session) {
                open.retain(|(live, _)| *live != self.live);
                if open.is_empty() {
                    state.live.remove(&self.session);
                }
            }
        }
        let away = self.away;
        self.hub.update_presence(self.user, &self.name, |c| {
            c.open = c.open.saturating_sub(1);
            if away {
                c.away = c.away.saturating_sub(1);
            }
        });
    }
}

struct User {
    info: UserInfo,
    sends: RecentSends,
    /// Messages before this count as read everywhere (nobody is asked to
    /// catch up on what was said before they joined).
    joined_at: Timestamp,
    /// Read position per channel key.
    last_read: HashMap<String, u64>,
    /// How many private conversations this user started.
    started: usize,
    /// The keys of this user's private conversations, oldest first.
    conversations: Vec<String>,
}

impl User {
    /// A user who joined at `joined_at`, with nothing sent or read yet.
    fn new(id: Uuid, name: DisplayName, joined_at: Timestamp) -> Self {
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
}

/// The last N `client_id`s of one user and what each got.
#[derive(Default)]
struct RecentSends {
    order: VecDeque<ClientId>,
    seqs: HashMap<ClientId, Sent>,
    next_position: u64,
}

#[derive(Clone)]
struct Sent {
    /// The channel it went to: a retry naming another channel is no retry.
    key: String,
    seq: u64,
    ticket: Ticket,
}

impl RecentSends {
    fn get(&self, id: &ClientId) -> Option<&Sent> {
        self.seqs.get(id)
    }

    /// Remembers a send; returns its position (for the store).
    fn remember(&mut self, id: ClientId, sent: Sent, window: usize) -> u64 {
        let position = self.next_position;
        self.next_position += 1;
        self.order.push_back(id.clone());
        self.seqs.insert(id, sent);
        while self.order.len() > window {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
            }
        }
        position
    }
}

struct ChannelState {
    info: Channel,
    /// The most recent messages as they are now, committed only.
    ring: VecDeque<Held>,
    /// Recent committed events, oldest first, for resuming viewers.
    log: VecDeque<Arc<Event>>,
    /// The bytes of the log's frames (bounded by `event_log_bytes`).
    log_bytes: usize,
    /// A resume point older than this is no longer covered by the log.
    log_floor: u64,
    /// The latest `seq` handed out.
    head: u64,
    /// The latest `seq` that is durable and published; what readers see.
    committed: u64,
    /// The queue live viewers read, made for the first viewer (most
    /// channels a user can make cheaply, conversations above all, are
    /// rarely viewed).
    live: Option<broadcast::Sender<Arc<Event>>>,
    live_queue: usize,
}

impl ChannelState {
    /// An empty channel: its ring, log and live queue grow when used, so
    /// a channel nobody writes in or views costs a few hundred bytes.
    fn new(info: Channel, live_queue: usize) -> Self {
        Self {
            info,
            ring: VecDeque::new(),
            log: VecDeque::new(),
            log_bytes: 0,
            log_floor: 0,
            head: 0,
            committed: 0,
            live: None,
            live_queue: live_queue.max(1),
        }
    }

    /// Tells live viewers, if there are any.
    fn broadcast(&self, event: Arc<Event>) {
        if let Some(live) = &self.live {
            // No receivers is fine: nobody is viewing now.
            let _ = live.send(event);
        }
    }

    /// A receiver of what is broadcast from now on.
    fn subscribe(&mut self) -> broadcast::Receiver<Arc<Event>> {
        let queue = self.live_queue;
        self.live
            .get_or_insert_with(|| broadcast::channel(queue).0)
            .subscribe()
    }

    fn history(&self) -> ChannelHistory {
        ChannelHistory {
            channel: self.info.clone(),
            head: self.committed,
            messages: self.ring.iter().map(|h| h.message.clone()).collect(),
        }
    }

    fn current(&self) -> Vec<Arc<Event>> {
        self.ring.iter().map(|h| h.current.clone()).collect()
    }

    fn held(&self, id: u64) -> Option<&Held> {
        self.ring.iter().find(|h| h.message.seq == id)
    }

    /// The events after `after`, or `None` when some of them are no longer
    /// held (or `after` is from the future, e.g. another server run).
    fn events_after(&self, after: u64) -> Option<Vec<Arc<Event>>> {
        if after > self.committed || after < self.log_floor {
            return None;
        }
        Some(self.log.iter().filter(|e| e.seq > after).cloned().collect())
    }

    /// Applies a committed change; returns its event, or `None` when the
    /// change no longer applies (its message went while it waited). The
    /// files of a message that leaves the ring are deleted.
    fn apply(
        &mut self,
        seq: u64,
        change: Change,
        log_limits: (usize, usize),
        files: &mut Attached<'_>,
    ) -> Option<Arc<Event>> {
        let channel = self.info.name.clone();
        let id = change.id();
        let event = |frame: ServerFrame| {
            Arc::new(Event {
                seq,
                id,
                frame: frame.to_json().into(),
            })
        };
        let event = match change {
            Change::Posted(message) => {
                files.add(&self.info.name, &message);
                let held = Held::new(message);
                let event = held.current.clone();
                self.ring.push_back(held);
                while self.ring.len() > HISTORY_LEN {
                    if let Some(gone) = self.ring.pop_front() {
                        // Its events are of no use to anyone resuming now.
                        self.log_floor = self.log_floor.max(gone.message.seq);
                        files.remove(&gone.message);
                    }
                }
                event
            }
            Change::Edited {
                id,
                body,
                rendered: Rendered { html, mentions },
                at,
            } => {
                let held = self.ring.iter_mut().find(|h| h.message.seq == id)?;
                held.message
                    .apply_edit(body.clone(), html.clone(), mentions.clone(), at);
                *held = Held::new(held.message.clone());
                event(ServerFrame::Edited(frame::Edited {
                    channel,
                    seq,
                    id,
                    body,
                    html,
                    mentions,
                    edited_at: at,
                }))
            }
            Change::Deleted { id } => {
                let at = self.ring.iter().position(|h| h.message.seq == id)?;
                if let Some(gone) = self.ring.remove(at) {
                    files.remove(&gone.message);
                }
                // Nobody resuming is sent what was deleted, only that it was.
                let log_bytes = &mut self.log_bytes;
                self.log.retain(|e| {
                    let keep = e.id != id;
                    if !keep {
                        *log_bytes -= e.frame.len();
                    }
                    keep
                });
                event(ServerFrame::Deleted(frame::Deleted { channel, seq, id }))
            }
            Change::Reacted {
                id,
                emoji,
                user,
                add,
            } => {
                let held = self.ring.iter_mut().find(|h| h.message.seq == id)?;
                if !react(&mut held.message.reactions, emoji, user, add) {
                    return None;
                }
                let reactions = held.message.reactions.clone();
                *held = Held::new(held.message.clone());
                event(ServerFrame::Reactions(frame::Reactions {
                    channel,
                    seq,
                    id,
                    reactions,
                }))
            }
        };
        self.log_bytes += event.frame.len();
        self.log.push_back(event.clone());
        let (max_events, max_bytes) = log_limits;
        while self.log.len() > max_events.max(1) || self.log_bytes > max_bytes {
            let Some(old) = self.log.pop_front() else {
                break;
            };
            self.log_bytes -= old.frame.len();
            self.log_floor = self.log_floor.max(old.seq);
        }
        while self.log.front().is_some_and(|e| e.seq <= self.log_floor) {
            if let Some(old) = self.log.pop_front() {
                self.log_bytes -= old.frame.len();
            }
        }
        Some(event)
    }
}

/// The files of the messages in the rings: their bytes, and the channel
/// each file's message is in (what the door judges a download by).
struct Attached<'a> {
    files: &'a Files,
    channels: &'a mut HashMap<AttachmentId, String>,
}

impl Attached<'_> {
    /// `message` entered the ring of channel `name`.
    fn add(&mut self, name: &ChannelName, message: &Message) {
        if message.attachments.is_empty() {
            return;
        }
        let key = name.key();
        for file in &message.attachments {
            self.channels.insert(file.id.clone(), key.clone());
        }
    }

    /// `message` left its ring: its files go.
    fn remove(&mut self, message: &Message) {
        for file in &message.attachments {
            self.channels.remove(&file.id);
        }
        self.files
            .remove(message.attachments.iter().map(|file| &file.id));
    }
}

/// Adds or removes `user`'s `emoji`; returns whether anything changed.
/// Emojis stay in the order first used, users in the order they reacted.
fn react(reactions: &mut Vec<Reaction>, emoji: Emoji, user: DisplayName, add: bool) -> bool {
    let at = reactions.iter().position(|r| r.emoji == emoji);
    match (at, add) {
        (Some(i), true) if reactions[i].users.contains(&user) => false,
        (Some(i), true) => {
            reactions[i].users.push(user);
            true
        }
        (None, true) => {
            reactions.push(Reaction {
                emoji,
                users: vec![user],
            });
            true
        }
        (Some(i), false) => {
            let before = reactions[i].users.len();
            reactions[i].users.retain(|u| u != &user);
            if reactions[i].users.is_empty() {
                reactions.remove(i);
                return true;
            }
            reactions[i].users.len() != before
        }
        (None, false) => false,
    }
}

/// Finds a user by a name as typed (ignoring case and normalization) and
/// answers with the name as the user spells it: what `markup` needs to
/// recognize `@mentions` (when messages are read back at start).
fn user_named<'s>(
    names: &'s HashMap<String, Uuid>,
    users: &'s HashMap<Uuid, User>,
) -> impl Fn(&str) -> Option<DisplayName> + 's {
    move |typed| {
        let name = DisplayName::parse(typed).ok()?;
        let id = names.get(&name.key())?;
        users.get(id).map(|u| u.info.display_name.clone())
    }
}

/// The hub's key for a user (their id as a plain UUID).
fn uid(user: &UserInfo) -> Uuid {
    user.user_id.as_uuid()
}

/// A typing notice for `room`'s viewers: `seq` 0, never stored.
fn typing_event(room: &ChannelState, user: DisplayName) -> Arc<Event> {
    let frame = ServerFrame::Typing(frame::Typing {
        channel: room.info.name.clone(),
        user,
    });
    Arc::new(Event {
        seq: 0,
        id: 0,
        frame: frame.to_json().into(),
    })
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

impl Hub {
    /// A hub holding everything in memory.
    pub fn new(limits: HubLimits) -> Self {
        let files = Files::in_memory(limits.files.clone());
        Self::with_files(limits, files)
    }

    fn with_files(limits: HubLimits, files: Files) -> Self {
        Self::with_id(limits, files, Uuid::new_v4().to_string())
    }

    fn with_id(limits: HubLimits, files: Files, server_id: String) -> Self {
        let (lobby, _) = broadcast::channel(limits.live_queue.max(1));
        Self {
            shared: Arc::new(Shared {
                server_id,
                state: Mutex::new(State {
                    presence: Presence::new(limits.presence_interval),
                    sessions: Sessions::new(limits.session_idle),
                    ..State::default()
                }),
                limits,
                lobby,
                durable: OnceLock::new(),
                writer: Mutex::new(None),
                files,
                cluster: OnceLock::new(),
                #[cfg(test)]
                locks: Default::default(),
            }),
        }
    }

    /// A hub that keeps its state in `data_dir` (when given), starting from
    /// what is stored there.
    pub fn open(limits: HubLimits, data_dir: Option<&Path>) -> Result<Self, StoreError> {
        let Some(dir) = data_dir else {
            return Ok(Self::new(limits));
        };
        let files_dir = dir.join(store::FILES_DIR);
        let files =
            Files::open(limits.files.clone(), Some(&files_dir)).map_err(|e| StoreError::Files {
                path: files_dir.clone(),
                detail: e.to_string(),
            })?;
        let hub = Self::with_files(limits, files);
        let (snapshot, conn) = store::open(dir)?;
        hub.restore(snapshot);
        let weak: Weak<Shared> = Arc::downgrade(&hub.shared);
        let journal = store::start_journal(
            conn,
            hub.shared.limits.journal_queue,
            dir.join(store::DATABASE_FILE),
            move |entries| {
                if let Some(shared) = weak.upgrade() {
                    Hub { shared }.publish(entries);
                }
            },
        );
        hub.state().journal = Some(journal.entries);
        let _ = hub.shared.durable.set(journal.durable);
        *hub.shared.writer.lock().unwrap_or_else(|e| e.into_inner()) = Some(journal.writer);
        Ok(hub)
    }

    /// A hub that replicates the chat kept in Redis (`--redis-url`) and
    /// proposes its users' changes there.
    pub async fn open_cluster(
        limits: HubLimits,
        settings: cluster::Settings,
    ) -> Result<Self, cluster::ClusterError> {
        let (conn, snapshot) = cluster::connect(&settings).await?;
        let files = Files::in_memory(limits.files.clone());
        let hub = Self::with_id(limits, files, snapshot.dataset.clone());
        let (lsn, dataset) = (snapshot.lsn, snapshot.dataset.clone());
        hub.reload(snapshot);
        let replica = Arc::new(Replica(Arc::downgrade(&hub.shared)));
        let link = cluster::start(settings, conn, lsn, dataset, replica);
        let _ = hub.shared.durable.set(link.settlements.settled());
        let _ = hub.shared.cluster.set(link);
        Ok(hub)
    }

    /// Whether this hub is a replica (changes are applied when Redis' log
    /// brings them, not when made).
    fn replicated(&self) -> bool {
        self.shared.cluster.get().is_some()
    }

    /// Takes in what the log says happened, in order.
    fn apply_replicated(&self, entries: Vec<Entry>) {
        let mut guard = self.state();
        let state = &mut *guard;
        for entry in &entries {
            self.adopt(state, entry);
        }
        self.publish_locked(state, entries);
    }

    /// The part of a replicated entry that the hub's own methods do at
    /// once in the other modes: users, sessions, channels, read positions,
    /// heads and remembered `client_id`s.
    fn adopt(&self, state: &mut State, entry: &Entry) {
        match entry {
            Entry::User {
                id,
                name,
                session,
                created_at,
                replaces,
                ..
            } => {
                state.index_user(*id, name);
                state.sessions.insert(*session, *id, *created_at);
                state.end_sessions(replaces.as_slice());
                state
                    .users
                    .entry(*id)
                    .or_insert_with(|| User::new(*id, name.clone(), *created_at));
            }
            // A touch: of a session still known (one that ended first
            // stays ended). A snapshot's sessions are added by `reload`.
            Entry::Session {
                hash,
                user,
                seen,
                replaces,
            } => {
                if state.sessions.owner(hash) == Some(*user) {
                    state
                        .sessions
                        .insert(*hash, *user, seen.unwrap_or_else(now));
                }
                state.end_sessions(replaces.as_slice());
            }
            Entry::SessionsEnded { hashes } => state.end_sessions(hashes),
            Entry::Channel { key, channel, .. } => {
                if !state.channels.contains_key(key) {
                    let live_queue = self.shared.limits.live_queue;
                    state.add_channel(key.clone(), channel.clone(), live_queue);
                }
            }
            Entry::Read { user, key, seq } => {
                if let Some(reader) = state.users.get_mut(user) {
                    let at = reader.last_read.entry(key.clone()).or_insert(0);
                    *at = (*at).max(*seq);
                }
            }
            Entry::Event {
                key,
                seq,
                change,
                send,
            } => {
                if let Some(room) = state.channels.get_mut(key) {
                    room.head = room.head.max(*seq);
                }
                if let (Some(send), Change::Posted(message)) = (send, change) {
                    let sender = state.users.get_mut(&send.user);
                    if let (Some(sender), Some(client_id)) = (sender, &message.client_id) {
                        let sent = Sent {
                            key: key.clone(),
                            seq: *seq,
                            ticket: Ticket(0),
                        };
                        sender.sends.remember(client_id.clone(), sent, send.window);
                    }
                }
            }
        }
    }

    /// Replaces all chat state with `snapshot` (at start, or after a gap
    /// in the log). Viewers' live queues close, so they join again and
    /// get what they missed, or a reset.
    fn reload(&self, snapshot: cluster::Snapshot) {
        let mut guard = self.state();
        let state = &mut *guard;
        state.users.clear();
        state.names.clear();
        state.sessions.clear();
        state.channels.clear();
        state.order.clear();
        state.public.clear();
        state.file_channels.clear();
        state.name_skeletons.clear();
        state.channel_skeletons.clear();
        for entry in snapshot.entries.iter().chain(&snapshot.reads) {
            match entry {
                // What Redis holds of a session is the session itself.
                Entry::Session {
                    hash, user, seen, ..
                } => state
                    .sessions
                    .insert(*hash, *user, seen.unwrap_or_else(now)),
                entry => self.adopt(state, entry),
            }
        }
        // Sessions that ended while this server was away close here too.
        let at = now();
        let gone: Vec<TokenHash> = (state.live.keys())
            .filter(|hash| state.sessions.user(hash, at).is_none())
            .copied()
            .collect();
        state.end_sessions(&gone);
        let log_limits = self.log_limits();
        for channel in snapshot.channels {
            let Some(room) = state.channels.get_mut(&channel.key) else {
                continue;
            };
            let first = match channel.events.first() {
                Some(Entry::Event { seq, .. }) => *seq,
                _ => channel.head + 1,
            };
            // Resuming from before the retained events means a reset.
            room.log_floor = first - 1;
            room.committed = first - 1;
            let mut files = Attached {
                files: &self.shared.files,
                channels: &mut state.file_channels,
            };
            for entry in channel.events {
                if let Entry::Event { seq, change, .. } = entry {
                    room.committed = seq;
                    room.apply(seq, change, log_limits, &mut files);
                }
            }
            room.head = room.committed.max(channel.head);
            room.committed = room.head;
        }
    }

    fn restore(&self, snapshot: Snapshot) {
        let live_queue = self.shared.limits.live_queue;
        let window = self.shared.limits.idempotency_window;
        let mut guard = self.state();
        let state = &mut *guard;
        for (id, name, created_at) in snapshot.users {
            state.index_user(id, &name);
            let joined_at = created_at
                .unwrap_or_else(|| Timestamp::from_datetime(chrono::DateTime::UNIX_EPOCH));
            state.users.insert(id, User::new(id, name, joined_at));
        }
        for (user, key, seq) in snapshot.reads {
            if let Some(user) = state.users.get_mut(&user) {
                user.last_read.insert(key, seq);
            }
        }
        for (hash, user, seen) in snapshot.sessions {
            // From before sessions went idle: a full idle period from now.
            state.sessions.insert(hash, user, seen.unwrap_or_else(now));
        }
        for (channel, head, messages) in snapshot.channels {
            let key = channel.name.key();
            state.add_channel(key.clone(), channel, live_queue);
            let State {
                channels,
                names,
                users,
                file_channels,
                ..
            } = state;
            let Some(room) = channels.get_mut(&key) else {
                continue;
            };
            room.head = head;
            room.committed = head;
            room.log_floor = head;
            let lookup = user_named(names, users);
            let mut files = Attached {
                files: &self.shared.files,
                channels: file_channels,
            };
            room.ring.extend(messages.into_iter().map(|mut message| {
                let Rendered { html, mentions } = markup::render(message.body.as_str(), &lookup);
                (message.html, message.mentions) = (html, mentions);
                files.add(&room.info.name, &message);
                Held::new(message)
            }));
            self.shared.files.restore(room.ring.iter().flat_map(|held| {
                let owner = names.get(&held.message.author.key()).copied();
                held.message
                    .attachments
                    .iter()
                    .map(move |a| (owner, a.clone()))
            }));
        }
        for (user, client_id, key, seq, position) in snapshot.sends {
            if let Some(user) = state.users.get_mut(&user) {
                user.sends.next_position = position;
                user.sends.remember(
                    client_id,
                    Sent {
                        key,
                        seq,
                        ticket: Ticket(0),
                    },
                    window,
                );
            }
        }
    }

    /// How much each channel's event log holds: events, and their bytes.
    fn log_limits(&self) -> (usize, usize) {
        let limits = &self.shared.limits;
        (limits.event_log, limits.event_log_bytes)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        #[cfg(test)]
        self.shared
            .locks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // A panic while holding the lock cannot leave state half-written in a
        // way later readers would trip over (every mutation is a few inserts),
        // so a poisoned lock is still usable.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a change: into the journal (published once committed) or,
    /// in memory, published at once. Call before mutating state, so a
    /// refusal (`Busy`) leaves nothing half-done.
    fn record(&self, state: &mut State, entry: Entry) -> Result<Ticket, HubError> {
        if state.journal_closed {
            // Shutting down with a data dir: nothing more can be made durable.
            return Err(HubError::Busy);
        }
        if let Some(link) = self.shared.cluster.get() {
            let ticket = state.last_ticket + 1;
            let proposal = cluster::Proposal::Change {
                ticket,
                entry: Box::new(entry),
            };
            return match link.proposals.try_send(proposal) {
                Ok(()) => {
                    state.last_ticket = ticket;
                    Ok(Ticket(ticket))
                }
                Err(_) => Err(HubError::Busy),
            };
        }
        let Some(journal) = &state.journal else {
            self.publish_locked(state, vec![entry]);
            return Ok(Ticket(0));
        };
        let ticket = state.last_ticket + 1;
        match journal.try_send((ticket, entry)) {
            Ok(()) => {
                state.last_ticket = ticket;
                Ok(Ticket(ticket))
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(HubError::Busy),
        }
    }

    /// Makes committed changes visible: live viewers and the lobby hear of them.
    fn publish(&self, entries: Vec<Entry>) {
        let mut state = self.state();
        self.publish_locked(&mut state, entries);
    }

    fn publish_locked(&self, state: &mut State, entries: Vec<Entry>) {
        for entry in entries {
            match entry {
                Entry::Event {
                    key, seq, change, ..
                } => {
                    let log_limits = self.log_limits();
                    if let Some(room) = state.channels.get_mut(&key) {
                        room.committed = room.committed.max(seq);
                        let mut files = Attached {
                            files: &self.shared.files,
                            channels: &mut state.file_channels,
                        };
                        if let Some(event) = room.apply(seq, change, log_limits, &mut files) {
                            room.broadcast(event);
                        }
                    }
                }
                // Only channels are announced; conversations are private.
                Entry::Channel { key, channel, .. } if Room::of_key(&key) == Room::Public => {
                    let frame = ServerFrame::ChannelCreated(frame::ChannelCreated { channel });
                    let _ = self.shared.lobby.send(frame.to_json().into());
                }
                Entry::Channel { .. } => {}
                Entry::User { .. }
                | Entry::Session { .. }
                | Entry::SessionsEnded { .. }
                | Entry::Read { .. } => {}
            }
        }
    }

    /// Waits until the change with `ticket` is durable (at once in memory).
    pub async fn durable(&self, ticket: Ticket) {
        if ticket.0 == 0 {
            return;
        }
        if let Some(durable) = self.shared.durable.get() {
            let mut durable = durable.clone();
            // An error means the journal is gone (shutdown); nothing to wait for.
            let _ = durable.wait_for(|&done| done >= ticket.0).await;
        }
    }

    /// How far the journal has committed, live (`None` in memory, where
    /// every ticket is 0 and durable at once).
    pub fn durable_progress(&self) -> Option<watch::Receiver<u64>> {
        self.shared.durable.get().cloned()
    }

    /// Why the store cannot take changes now, if it cannot (readiness).
    pub fn store_unavailable(&self) -> Option<String> {
        if self.state().journal_closed {
            return Some("the store is closed".to_owned());
        }
        self.shared.cluster.get()?.health.down()
    }

    /// What became of a change once durable: the `seq` Redis gave it, or
    /// why Redis refused it (`None`: decided when it was made, as in the
    /// other modes).
    pub async fn settled(&self, ticket: Ticket) -> Result<Option<u64>, HubError> {
        self.durable(ticket).await;
        self.settle(ticket).unwrap_or(Ok(None))
    }

    /// `settled` for a ticket already durable.
    pub fn settle(&self, ticket: Ticket) -> Option<Result<Option<u64>, HubError>> {
        if ticket.0 == 0 {
            return None;
        }
        self.shared.cluster.get()?.settlements.take(ticket.0)
    }

    /// With Redis: waits until this server has applied what other servers
    /// had answered by now (a session registered there, a channel made
    /// there); false if it could not. At once otherwise.
    pub async fn sync(&self) -> bool {
        match self.shared.cluster.get() {
            Some(link) => link.sync().await,
            None => true,
        }
    }

    /// The user of a session, looking past replication lag: a session
    /// made on another server a moment ago is found here too.
    pub async fn user_by_session_synced(&self, hash: &TokenHash) -> Option<UserInfo> {
        if let Some(user) = self.user_by_session(hash) {
            return Some(user);
        }
        if !self.replicated() {
            return None;
        }
        self.sync().await;
        self.user_by_session(hash)
    }

    /// Stops following Redis (after the last change was proposed).
    pub async fn close_cluster(&self) {
        if let Some(link) = self.shared.cluster.get() {
            self.state().journal_closed = true;
            link.close().await;
        }
    }

    /// Stops taking changes, writes what is queued and waits for the journal.
    pub fn close(&self) {
        {
            let mut state = self.state();
            if state.journal.take().is_some() {
                state.journal_closed = true;
            }
        }
        let writer = self
            .shared
            .writer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("the journal thread panicked");
            }
        }
    }

    /// Creates a user with a fresh session. Names are unique ignoring case
    /// and normalization. When `current` already belongs to a user of that
    /// very name, that user is returned with a fresh session instead.
    /// Creates a user with a fresh session. Names are unique ignoring case,
    /// normalization and look-alikes (`names`). When `current` is already a
    /// session of that very user, that user is returned with no new
    /// session (`None`): the caller's cookie already proves who they are.
    /// A new user's session replaces the caller's `current` one, which ends.
    pub fn register(
        &self,
        name: DisplayName,
        current: Option<&TokenHash>,
    ) -> Result<(UserInfo, Option<SessionToken>, Ticket), HubError> {
        let mut state = self.state();
        let joined_at = now();
        let caller = current.filter(|hash| state.sessions.user(hash, joined_at).is_some());
        // A name that is, or looks like, someone's is theirs.
        if let Some(existing) = state.user_named_like(&name) {
            let own = caller.and_then(|hash| state.sessions.user(hash, joined_at));
            if own != Some(existing) {
                return Err(HubError::NameTaken(name.to_string()));
            }
            let info = state.users[&existing].info.clone();
            return Ok((info, None, Ticket(0)));
        }
        names::admit(name.as_str(), "display name").map_err(HubError::Invalid)?;
        let id = Uuid::new_v4();
        let token = SessionToken::generate();
        let replaces = caller.copied();
        let entry = Entry::User {
            id,
            name: name.clone(),
            key: name.key(),
            session: token.hash(),
            created_at: joined_at,
            replaces,
        };
        let ticket = self.record(&mut state, entry)?;
        let user = User::new(id, name.clone(), joined_at);
        let info = user.info.clone();
        if self.replicated() {
            // Redis decides whether the name is still free; the log adds the user.
            return Ok((info, Some(token), ticket));
        }
        state.index_user(id, &name);
        state.sessions.insert(token.hash(), id, joined_at);
        state.end_sessions(replaces.as_slice());
        state.users.insert(id, user);
        Ok((info, Some(token), ticket))
    }

    /// The user of a live session. A use now is recorded (coarsely, see
    /// `sessions`), so a session in use never goes idle.
    pub fn user_by_session(&self, hash: &TokenHash) -> Option<UserInfo> {
        let at = now();
        let mut state = self.state();
        // An open socket is use: its session is live while it is open.
        let id = (state.sessions.user(hash, at)).or_else(|| {
            state
                .live
                .contains_key(hash)
                .then(|| state.sessions.owner(hash))?
        })?;
        self.touch(&mut state, hash, at);
        state.users.get(&id).map(|u| u.info.clone())
    }

    /// Ends the session `hash` (signing out this browser); its connections
    /// close.
    pub fn sign_out(&self, hash: &TokenHash) -> Result<Ticket, HubError> {
        self.end_sessions(vec![*hash])
    }

    /// Ends every session of `user` (signing out everywhere).
    pub fn sign_out_everywhere(&self, user: &UserInfo) -> Result<Ticket, HubError> {
        let hashes = self.state().sessions.of_user(uid(user));
        self.end_sessions(hashes)
    }

    /// Keeps the sessions with a connection open here fresh (an open
    /// socket is use; touching them here tells every server so), then
    /// ends those idle past `--session-idle-secs`. Returns how many ended.
    pub fn expire_sessions(&self) -> usize {
        let at = now();
        let mut state = self.state();
        let live: Vec<TokenHash> = state.live.keys().copied().collect();
        for hash in live {
            self.touch(&mut state, &hash, at);
        }
        let idle: Vec<TokenHash> = (state.sessions.expired(at).into_iter())
            .filter(|hash| !state.live.contains_key(hash))
            .collect();
        if idle.is_empty() {
            return 0;
        }
        let entry = Entry::SessionsEnded {
            hashes: idle.clone(),
        };
        if self.record(&mut state, entry).is_err() {
            return 0; // busy: the next sweep tries again
        }
        if !self.replicated() {
            state.end_sessions(&idle);
        }
        idle.len()
    }

    /// Records a use of session `hash` now, if its last recorded one is
    /// old enough (`sessions`); a touch that cannot be recorded now (busy)
    /// is tried at the next use.
    fn touch(&self, state: &mut State, hash: &TokenHash, at: Timestamp) {
        let Some(user) = state.sessions.owner(hash) else {
            return;
        };
        if !state.sessions.needs_touch(hash, at) {
            return;
        }
        let touch = Entry::Session {
            hash: *hash,
            user,
            seen: Some(at),
            replaces: None,
        };
        if self.record(state, touch).is_ok() && !self.replicated() {
            state.sessions.insert(*hash, user, at);
        }
    }

    fn end_sessions(&self, hashes: Vec<TokenHash>) -> Result<Ticket, HubError> {
        if hashes.is_empty() {
            return Ok(Ticket(0));
        }
        let mut state = self.state();
        let entry = Entry::SessionsEnded {
            hashes: hashes.clone(),
        };
        let ticket = self.record(&mut state, entry)?;
        if !self.replicated() {
            state.end_sessions(&hashes);
        }
        Ok(ticket)
    }

    pub fn create_channel(
        &self,
        by: &UserInfo,
        name: ChannelName,
    ) -> Result<(Channel, Ticket), HubError> {
        if Room::of_key(&name.key()) != Room::Public {
            return Err(HubError::Reserved);
        }
        self.add_channel(by, name)
    }

    /// The private conversation of `user` with the user named `with`,
    /// started if it was not.
    pub fn open_conversation(
        &self,
        user: &UserInfo,
        with: &DisplayName,
    ) -> Result<(Channel, Ticket), HubError> {
        let me = uid(user);
        let other = self
            .state()
            .names
            .get(&with.key())
            .copied()
            .ok_or_else(|| HubError::NoSuchUser(with.to_string()))?;
        let name = ChannelName::parse(&access::conversation_key(me, other))
            .map_err(|_| HubError::UnknownUser)?;
        {
            let state = self.state();
            if let Some(room) = state.channels.get(&name.key()) {
                return Ok((room.info.clone(), Ticket(0)));
            }
            let most = self.shared.limits.max_conversations;
            if state.users.get(&me).is_some_and(|u| u.started >= most) {
                return Err(HubError::TooManyConversations(most));
            }
        }
        match self.add_channel(user, name.clone()) {
            // Both opened it at once: the other call made it.
            Err(HubError::ChannelExists(_)) => {
                let state = self.state();
                let room = state
                    .channels
                    .get(&name.key())
                    .ok_or_else(|| HubError::UnknownChannel(name.to_string()))?;
                Ok((room.info.clone(), Ticket(0)))
            }
            other => other,
        }
    }

    /// `user`'s conversation with the user named `with`, if started.
    pub fn find_conversation(
        &self,
        user: &UserInfo,
        with: &DisplayName,
    ) -> Result<Option<Channel>, HubError> {
        let state = self.state();
        let other = state
            .names
            .get(&with.key())
            .ok_or_else(|| HubError::NoSuchUser(with.to_string()))?;
        let key = access::conversation_key(uid(user), *other);
        Ok(state.channels.get(&key).map(|room| room.info.clone()))
    }

    /// `user`'s private conversations, oldest first.
    pub fn conversations(&self, user: &UserInfo) -> Vec<Conversation> {
        let state = self.state();
        let Some(mine) = state.users.get(&uid(user)) else {
            return Vec::new();
        };
        mine.conversations
            .iter()
            .filter_map(|key| {
                let other = Room::of_key(key).other_than(user.user_id)?;
                let room = state.channels.get(key)?;
                let with = state.users.get(&other.as_uuid())?.info.display_name.clone();
                Some(Conversation {
                    channel: room.info.name.clone(),
                    with,
                })
            })
            .collect()
    }

    fn add_channel(&self, by: &UserInfo, name: ChannelName) -> Result<(Channel, Ticket), HubError> {
        let mut state = self.state();
        let key = name.key();
        if let Some(existing) = state.channel_named_like(&name) {
            return Err(HubError::ChannelExists(existing.info.name.to_string()));
        }
        if Room::of_key(&key) == Room::Public {
            names::admit(name.as_str(), "channel name").map_err(HubError::Invalid)?;
            let most = self.shared.limits.max_channels;
            if state.public.len() >= most {
                return Err(HubError::TooManyChannels(most));
            }
        }
        let channel = Channel {
            name,
            created_by: by.display_name.clone(),
            created_at: now(),
        };
        if self.replicated() {
            // Redis decides whether the name is still free; the log adds it.
            let entry = Entry::Channel {
                key,
                channel: channel.clone(),
                position: 0,
            };
            return Ok((channel, self.record(&mut state, entry)?));
        }
        // Added first so that, in memory, publishing finds it.
        let live_queue = self.shared.limits.live_queue;
        state.add_channel(key.clone(), channel.clone(), live_queue);
        let entry = Entry::Channel {
            key: key.clone(),
            channel: channel.clone(),
            position: state.order.len() as u64,
        };
        self.record(&mut state, entry)
            .map(|ticket| (channel, ticket))
            .inspect_err(|_| state.remove_newest_channel(&key))
    }

    pub fn channels(&self) -> Vec<Channel> {
        let state = self.state();
        state
            .public
            .iter()
            .filter_map(|key| state.channels.get(key))
            .map(|c| c.info.clone())
            .collect()
    }

    /// Every user's display name, sorted ignoring case.
    pub fn users(&self) -> Vec<DisplayName> {
        self.people().into_iter().map(|p| p.name).collect()
    }

    /// `name`'s recent history, as `viewer` (`None`: nobody signed in) may
    /// see it.
    pub fn history(
        &self,
        viewer: Option<&UserInfo>,
        name: &ChannelName,
    ) -> Result<ChannelHistory, HubError> {
        let state = self.state();
        let (_, room) = door(&state.channels, viewer.map(|v| v.user_id), name)?;
        Ok(room.history())
    }

    /// Stores a message from `user` (idempotent per `client_id`); viewers
    /// receive it once it is committed.
    pub fn post(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        client_id: ClientId,
        body: MessageBody,
        attachments: Vec<AttachmentId>,
        checked: Option<Vec<Attachment>>,
    ) -> Result<Posted, HubError> {
        let user_id = uid(user);
        let window = self.shared.limits.idempotency_window;
        let Rendered { html, mentions } = self.render(body.as_str());
        let mut guard = self.state();
        let state = &mut *guard;
        let sender = state.users.get(&user_id).ok_or(HubError::UnknownUser)?;
        let remembered = sender.sends.get(&client_id).cloned();
        let author = sender.info.display_name.clone();
        let send_position = sender.sends.next_position;
        let replicated = self.replicated();
        // Through the door first: a retry is answered only for a channel
        // its sender may see, and only for the channel it went to.
        let (key, room) = door_mut(&mut state.channels, Some(user.user_id), channel)?;
        if let Some(sent) = remembered {
            if sent.key != key {
                return Err(HubError::ClientIdReused(client_id.to_string()));
            }
            return Ok(Posted {
                seq: sent.seq,
                stored: false,
                ticket: sent.ticket,
            });
        }
        // A replica learns the seq from Redis (`settled`).
        let seq = if replicated { 0 } else { room.head + 1 };
        // With Redis, `attachments_for` found them there (and Redis claims
        // them with the message); otherwise the hub's files hand them over.
        let local = checked.is_none();
        let attachments = match checked {
            Some(found) => found,
            None => self.shared.files.claim(user_id, &attachments)?,
        };
        let claimed: Vec<AttachmentId> = attachments.iter().map(|a| a.id.clone()).collect();
        let message = Message {
            channel: room.info.name.clone(),
            seq,
            author,
            body,
            sent_at: now(),
            client_id: Some(client_id.clone()),
            html,
            edited_at: None,
            reactions: Vec::new(),
            mentions,
            attachments,
        };
        let entry = Entry::Event {
            key: key.clone(),
            seq,
            change: Change::Posted(message),
            send: Some(store::SendRecord {
                user: user_id,
                position: send_position,
                window,
            }),
        };
        // `record` may publish at once (in memory), which reads `head`.
        if !replicated {
            room.head = seq;
        }
        let ticket = match self.record(state, entry) {
            Ok(ticket) => ticket,
            Err(e) => {
                if let Some(room) = state.channels.get_mut(&key).filter(|_| !replicated) {
                    room.head = seq - 1;
                }
                if local {
                    self.shared.files.unclaim(user_id, &claimed);
                }
                return Err(e);
            }
        };
        if replicated {
            // Remembered when the log brings it back (`adopt`).
            return Ok(Posted {
                seq,
                stored: true,
                ticket,
            });
        }
        if let Some(sender) = state.users.get_mut(&user_id) {
            sender
                .sends
                .remember(client_id, Sent { key, seq, ticket }, window);
        }
        Ok(Posted {
            seq,
            stored: true,
            ticket,
        })
    }

    /// `body` rendered (`markup`) outside the hub's lock: Markdown and the
    /// sanitizer are the costliest part of a send or an edit. Its
    /// `@mentions` are resolved with one look at the users: a first pass
    /// notes every name the renderer would ask about (without answers it
    /// asks about at least as many), the lock is taken once to look them
    /// all up, and a second pass renders with the answers. A body with
    /// nothing to ask about (most are plain text) renders once.
    fn render(&self, body: &str) -> Rendered {
        let asked = std::cell::RefCell::new(Vec::new());
        let first = markup::render(body, &|typed| {
            asked.borrow_mut().push(typed.to_owned());
            None
        });
        let asked = asked.into_inner();
        if asked.is_empty() {
            return first;
        }
        let keyed: Vec<(String, String)> = asked
            .into_iter()
            .filter_map(|typed| {
                let key = DisplayName::parse(&typed).ok()?.key();
                Some((typed, key))
            })
            .collect();
        let found: HashMap<String, DisplayName> = {
            let state = self.state();
            keyed
                .into_iter()
                .filter_map(|(typed, key)| {
                    let id = state.names.get(&key)?;
                    Some((typed, state.users.get(id)?.info.display_name.clone()))
                })
                .collect()
        };
        markup::render(body, &|typed| found.get(typed).cloned())
    }

    /// Replaces the body of `user`'s own message `id`.
    pub fn edit(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
        body: MessageBody,
    ) -> Result<Ticket, HubError> {
        let rendered = self.render(body.as_str());
        self.change(user.user_id, channel, id, |held| {
            if held.message.author != user.display_name {
                return Err(HubError::NotAuthor("edit"));
            }
            Ok(Some(Change::Edited {
                id,
                body,
                rendered,
                at: now(),
            }))
        })
    }

    /// Deletes `user`'s own message `id`.
    pub fn delete(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
    ) -> Result<Ticket, HubError> {
        self.change(user.user_id, channel, id, |held| {
            if held.message.author != user.display_name {
                return Err(HubError::NotAuthor("delete"));
            }
            Ok(Some(Change::Deleted { id }))
        })
    }

    /// Adds or removes `user`'s reaction `emoji` on message `id`; doing what
    /// is already done changes nothing.
    pub fn react(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
        emoji: Emoji,
        add: bool,
    ) -> Result<Ticket, HubError> {
        self.change(user.user_id, channel, id, |held| {
            let has = held
                .message
                .reactions
                .iter()
                .any(|r| r.emoji == emoji && r.users.contains(&user.display_name));
            Ok((has != add).then(|| Change::Reacted {
                id,
                emoji,
                user: user.display_name.clone(),
                add,
            }))
        })
    }

    /// Records a change to message `id` of `channel` if `decide` (shown the
    /// message as committed) allows it and finds something to change.
    fn change(
        &self,
        user: UserId,
        channel: &ChannelName,
        id: u64,
        decide: impl FnOnce(&Held) -> Result<Option<Change>, HubError>,
    ) -> Result<Ticket, HubError> {
        let mut guard = self.state();
        let state = &mut *guard;
        let (key, room) = door(&state.channels, Some(user), channel)?;
        let held = room.held(id).ok_or(HubError::UnknownMessage(id))?;
        let Some(change) = decide(held)? else {
            return Ok(Ticket(0));
        };
        let room = state
            .channels
            .get_mut(&key)
            .ok_or_else(|| HubError::UnknownChannel(channel.to_string()))?;
        if self.replicated() {
            let entry = Entry::Event {
                key,
                seq: 0,
                change,
                send: None,
            };
            return self.record(state, entry);
        }
        let seq = room.head + 1;
        room.head = seq;
        let entry = Entry::Event {
            key: key.clone(),
            seq,
            change,
            send: None,
        };
        self.record(state, entry).inspect_err(|_| {
            if let Some(room) = state.channels.get_mut(&key) {
                room.head = seq - 1;
            }
        })
    }

    /// Keeps an upload of `user`'s until a message of theirs claims it.
    pub async fn upload(
        &self,
        user: &UserInfo,
        name: &str,
        bytes: Bytes,
    ) -> Result<Attachment, HubError> {
        let user_id = uid(user);
        let Some(link) = self.shared.cluster.get() else {
            return Ok(self.shared.files.store(user_id, name, bytes)?);
        };
        // With Redis the bytes live there: any server can serve them.
        let files = &self.shared.files;
        let meta = files.describe(name, &bytes)?;
        link.put_file(user_id, &meta, &bytes, files.limits())
            .await?;
        Ok(meta)
    }

    /// With Redis: `user`'s unsent uploads `ids`, for `post` (`None` in
    /// the other modes, where `post` claims them from the hub's files).
    pub async fn attachments_for(
        &self,
        user: &UserInfo,
        ids: &[AttachmentId],
    ) -> Result<Option<Vec<Attachment>>, HubError> {
        let Some(link) = self.shared.cluster.get() else {
            return Ok(None);
        };
        self.shared.files.check_claim(ids)?;
        Ok(Some(link.pending_files(uid(user), ids).await?))
    }

    /// An attached file, to serve to `viewer` (`None`: nobody signed in)
    /// if they may see the channel its message is in; `None` for a file
    /// that is no message's (yet, or any more) as for one they may not see.
    pub async fn file(
        &self,
        viewer: Option<&UserInfo>,
        id: &AttachmentId,
    ) -> Option<(Attachment, Content)> {
        let allowed = {
            let state = self.state();
            let key = state.file_channels.get(id)?;
            Room::of_key(key).may_see(viewer.map(|v| v.user_id))
        };
        if !allowed {
            return None;
        }
        match self.shared.cluster.get() {
            None => self.shared.files.get(id),
            Some(link) => {
                let (meta, bytes) = link.file(id).await.ok()??;
                Some((meta, Content::InMemory(Bytes::from(bytes))))
            }
        }
    }

    pub fn file_limits(&self) -> &FileLimits {
        self.shared.files.limits()
    }

    /// Starts viewing a channel: the events after `after` (all held ones
    /// when `None`, or a reset plus all held ones when `after` is no longer
    /// held) and a live receiver continuing exactly after them.
    pub fn join(
        &self,
        viewer: &UserInfo,
        channel: &ChannelName,
        after: Option<u64>,
    ) -> Result<Joined, HubError> {
        let mut state = self.state();
        let (_, room) = door_mut(&mut state.channels, Some(viewer.user_id), channel)?;
        let (reset, backlog) = match after.map(|a| room.events_after(a)) {
            Some(Some(events)) => (false, events),
            Some(None) => (true, room.current()),
            None => (false, room.current()),
        };
        Ok(Joined {
            channel: room.info.name.clone(),
            reset,
            backlog,
            head: room.committed,
            live: room.subscribe(),
        })
    }

    /// This server run's id (see `ServerFrame::Welcome`).
    pub fn server_id(&self) -> &str {
        &self.shared.server_id
    }

    /// Channel creations and presence changes, live.
    pub fn subscribe_lobby(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.shared.lobby.subscribe()
    }

    /// Counts a connection of `user`, opened with `session`, until the
    /// returned guard is dropped; `ended` is cancelled if that session
    /// ends first (signed out, or idle past the limit).
    pub fn connect(&self, user: &UserInfo, session: TokenHash, ended: CancellationToken) -> Online {
        let id = uid(user);
        let live = {
            let mut state = self.state();
            state.next_live += 1;
            let live = state.next_live;
            if state.sessions.user(&session, now()).is_none() {
                ended.cancel(); // ended between the handshake and now
            }
            state.live.entry(session).or_default().push((live, ended));
            live
        };
        self.update_presence(id, &user.display_name, |c| c.open += 1);
        Online {
            hub: self.clone(),
            user: id,
            name: user.display_name.clone(),
            away: false,
            session,
            live,
        }
    }

    /// Changes `user`'s connection counts and tells everyone when that
    /// changes their status.
    fn update_presence(
        &self,
        user: Uuid,
        name: &DisplayName,
        change: impl FnOnce(&mut Connections),
    ) {
        let mut state = self.state();
        let (here, announce) = state.presence.change_here(user, Instant::now(), change);
        if let Some(status) = announce {
            self.announce(name.clone(), status);
        }
        if let Some(link) = self
            .shared
            .cluster
            .get()
            .filter(|_| !state.presence.batched())
        {
            link.notify(cluster::Notice::Presence {
                node: link.node,
                full: false,
                users: vec![(user, here.open, here.away)],
            });
        }
    }

    /// Announces the presence changes that waited (at most one per user
    /// per `--presence-interval-ms`) and, with Redis, tells the other
    /// servers this one's changed counts in one notice. Called every
    /// interval.
    pub fn flush_presence(&self) {
        let mut state = self.state();
        let (heard, tell) = state.presence.flush(Instant::now());
        self.announce_presence(&state, heard);
        if let Some(link) = self.shared.cluster.get().filter(|_| !tell.is_empty()) {
            link.notify(cluster::Notice::Presence {
                node: link.node,
                full: false,
                users: tell,
            });
        }
    }

    /// Announces each `(user, status)` by the user's name.
    fn announce_presence(&self, state: &State, heard: Vec<(Uuid, PresenceStatus)>) {
        for (user, status) in heard {
            if let Some(known) = state.users.get(&user) {
                self.announce(known.info.display_name.clone(), status);
            }
        }
    }

    fn announce(&self, user: DisplayName, status: PresenceStatus) {
        let frame = ServerFrame::Presence(frame::Presence { user, status });
        // Nobody listening is fine.
        let _ = self.shared.lobby.send(frame.to_json().into());
    }

    /// Another server's notice: typing in a channel, or its connection counts.
    fn notice(&self, notice: cluster::Notice) {
        match notice {
            cluster::Notice::Typing { key, user, .. } => {
                let state = self.state();
                if let Some(room) = state.channels.get(&key) {
                    room.broadcast(typing_event(room, user));
                }
            }
            cluster::Notice::Presence { node, full, users } => {
                let mut state = self.state();
                let notice = presence::Notice { full, users };
                let heard = state.presence.change_remote(node, Instant::now(), notice);
                self.announce_presence(&state, heard);
            }
        }
    }

    /// Moves `user`'s read position in `channel` forward to `seq` (at most
    /// the channel's committed head).
    pub fn mark_read(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        seq: u64,
    ) -> Result<(), HubError> {
        let id = uid(user);
        let mut guard = self.state();
        let state = &mut *guard;
        let (key, room) = door(&state.channels, Some(user.user_id), channel)?;
        let head = room.committed;
        let seq = seq.min(head);
        let reader = state.users.get(&id).ok_or(HubError::UnknownUser)?;
        if reader.last_read.get(&key).is_some_and(|&at| at >= seq) {
            return Ok(());
        }
        self.record(
            state,
            Entry::Read {
                user: id,
                key: key.clone(),
                seq,
            },
        )?;
        if self.replicated() {
            return Ok(());
        }
        if let Some(reader) = state.users.get_mut(&id) {
            reader.last_read.insert(key, seq);
        }
        Ok(())
    }

    /// What `user` has not read: per channel with anything unread, the
    /// messages by others after their read position (and since they
    /// joined), and how many mention them.
    pub fn unread(&self, user: &UserInfo) -> Vec<Unread> {
        let id = uid(user);
        let state = self.state();
        let Some(reader) = state.users.get(&id) else {
            return Vec::new();
        };
        let me = &reader.info.display_name;
        // What this user may see: the public channels and their own
        // conversations (not a walk over everyone's).
        (state.public.iter())
            .chain(&reader.conversations)
            .filter(|key| Room::of_key(key).may_see(Some(user.user_id)))
            .filter_map(|key| {
                let room = state.channels.get(key)?;
                let last_read = reader.last_read.get(key).copied().unwrap_or(0);
                let (mut unread, mut mentions) = (0, 0);
                for held in &room.ring {
                    let m = &held.message;
                    if m.seq > last_read && &m.author != me && m.sent_at > reader.joined_at {
                        unread += 1;
                        if m.mentions.contains(me) {
                            mentions += 1;
                        }
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

    /// Everyone, sorted by name ignoring case, with their status.
    pub fn people(&self) -> Vec<Person> {
        let state = self.state();
        let mut keyed: Vec<(&String, &Uuid)> = state.names.iter().collect();
        keyed.sort();
        keyed
            .into_iter()
            .filter_map(|(_, id)| {
                let user = state.users.get(id)?;
                let status = state.presence.status(*id);
                Some(Person {
                    name: user.info.display_name.clone(),
                    status,
                })
            })
            .collect()
    }

    /// Tells `channel`'s viewers that `user` is typing. Not an event: no
    /// `seq`, not stored, not replayed (`seq` 0 marks it for sessions).
    pub fn typing(&self, user: &UserInfo, channel: &ChannelName) -> Result<(), HubError> {
        let state = self.state();
        let (_, room) = door(&state.channels, Some(user.user_id), channel)?;
        room.broadcast(typing_event(room, user.display_name.clone()));
        if let Some(link) = self.shared.cluster.get() {
            link.notify(cluster::Notice::Typing {
                node: link.node,
                key: channel.key(),
                user: user.display_name.clone(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hub_with(channel: &str) -> (Hub, UserInfo, ChannelName) {
        let hub = Hub::new(HubLimits::default());
        let (user, _, _) = hub
            .register(DisplayName::parse("alice").unwrap(), None)
            .unwrap();
        let name = ChannelName::parse(channel).unwrap();
        hub.create_channel(&user, name.clone()).unwrap();
        (hub, user, name)
    }

    fn post(hub: &Hub, user: &UserInfo, channel: &ChannelName, id: &str) -> Posted {
        hub.post(
            user,
            channel,
            ClientId::parse(id).unwrap(),
            MessageBody::parse(&format!("body {id}")).unwrap(),
            Vec::new(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn display_names_are_unique_ignoring_case() {
        let hub = Hub::new(HubLimits::default());
        hub.register(DisplayName::parse("Alice").unwrap(), None)
            .unwrap();
        let err = hub
            .register(DisplayName::parse("aLICE").unwrap(), None)
            .unwrap_err();
        assert_eq!(err, HubError::NameTaken("aLICE".into()));
    }

    #[test]
    fn registering_your_own_name_again_keeps_your_user_and_session() {
        let hub = Hub::new(HubLimits::default());
        let (first, token, _) = hub
            .register(DisplayName::parse("alice").unwrap(), None)
            .unwrap();
        let session = token.unwrap().hash();
        let (again, token, _) = hub
            .register(DisplayName::parse("Alice").unwrap(), Some(&session))
            .unwrap();
        assert_eq!(first.user_id, again.user_id);
        assert!(
            token.is_none(),
            "the cookie the caller has proves it already"
        );
        assert_eq!(hub.user_by_session(&session), Some(first));
    }

    /// A browser that takes a new name gets a new cookie: the session its
    /// old cookie held is nobody's to use any more, so it ends.
    #[test]
    fn a_new_user_replaces_the_callers_session_and_sign_out_ends_sessions() {
        let hub = Hub::new(HubLimits::default());
        let name = |n: &str| DisplayName::parse(n).unwrap();
        let (dave, token, _) = hub.register(name("dave"), None).unwrap();
        let old = token.unwrap().hash();
        let (erin, token, _) = hub.register(name("erin"), Some(&old)).unwrap();
        let new = token.unwrap().hash();
        assert_eq!(hub.user_by_session(&old), None, "replaced");
        assert_eq!(hub.user_by_session(&new), Some(erin.clone()));
        let (_, other, _) = hub.register(name("frank"), None).unwrap();
        let ended = CancellationToken::new();
        let _online = hub.connect(&erin, new, ended.clone());
        hub.sign_out(&new).unwrap();
        assert_eq!(hub.user_by_session(&new), None);
        assert!(ended.is_cancelled(), "its connections close");
        let frank = other.unwrap().hash();
        assert!(
            hub.user_by_session(&frank).is_some(),
            "others' sessions stay"
        );
        hub.sign_out_everywhere(&dave).unwrap();
    }

    #[test]
    fn signing_out_everywhere_ends_every_session_of_that_user_only() {
        let hub = Hub::new(HubLimits::default());
        let name = |n: &str| DisplayName::parse(n).unwrap();
        let (alice, token, _) = hub.register(name("alice"), None).unwrap();
        let first = token.unwrap().hash();
        let (bob, token, _) = hub.register(name("bob"), None).unwrap();
        let bobs = token.unwrap().hash();
        let (tab1, tab2) = (CancellationToken::new(), CancellationToken::new());
        let _a = hub.connect(&alice, first, tab1.clone());
        let _b = hub.connect(&bob, bobs, tab2.clone());
        hub.sign_out_everywhere(&alice).unwrap();
        assert_eq!(hub.user_by_session(&first), None);
        assert!(tab1.is_cancelled() && !tab2.is_cancelled());
        assert_eq!(hub.user_by_session(&bobs), Some(bob));
    }

    #[test]
    fn channel_names_are_unique_ignoring_case() {
        let (hub, user, _) = hub_with("General");
        let err = hub
            .create_channel(&user, ChannelName::parse("general").unwrap())
            .unwrap_err();
        assert_eq!(err, HubError::ChannelExists("General".into()));
        assert_eq!(hub.channels().len(), 1);
    }

    #[test]
    fn a_retried_client_id_stores_one_message_with_one_seq() {
        let (hub, user, channel) = hub_with("general");
        let first = post(&hub, &user, &channel, "c1");
        let retry = post(&hub, &user, &channel, "c1");
        assert_eq!((first.seq, first.stored), (1, true));
        assert_eq!((retry.seq, retry.stored), (1, false));
        assert_eq!(hub.history(None, &channel).unwrap().messages.len(), 1);
    }

    #[test]
    fn after_150_messages_the_channel_holds_the_last_100() {
        let (hub, user, channel) = hub_with("general");
        for i in 0..150 {
            post(&hub, &user, &channel, &format!("c{i}"));
        }
        let history = hub.history(None, &channel).unwrap();
        assert_eq!(history.head, 150);
        let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (51..=150).collect::<Vec<_>>());
    }

    #[test]
    fn joining_after_a_point_no_longer_held_resets() {
        let (hub, user, channel) = hub_with("general");
        for i in 0..150 {
            post(&hub, &user, &channel, &format!("c{i}"));
        }
        let joined = hub.join(&user, &channel, Some(10)).unwrap();
        assert!(joined.reset);
        assert_eq!(joined.backlog.len(), 100);
        let joined = hub.join(&user, &channel, Some(50)).unwrap();
        assert!(!joined.reset);
        assert_eq!(joined.backlog.len(), 100);
        let joined = hub.join(&user, &channel, Some(999)).unwrap();
        assert!(joined.reset, "a point from the future is not trusted");
    }

    #[test]
    fn the_live_receiver_continues_exactly_after_the_backlog() {
        let (hub, user, channel) = hub_with("general");
        post(&hub, &user, &channel, "a");
        let mut joined = hub.join(&user, &channel, Some(0)).unwrap();
        post(&hub, &user, &channel, "b");
        assert_eq!(
            joined.backlog.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(joined.live.try_recv().unwrap().seq, 2);
        assert!(joined.live.try_recv().is_err());
    }

    #[test]
    fn posting_to_an_unknown_channel_is_refused() {
        let (hub, user, _) = hub_with("general");
        let err = hub
            .post(
                &user,
                &ChannelName::parse("nope").unwrap(),
                ClientId::parse("x").unwrap(),
                MessageBody::parse("hi").unwrap(),
                Vec::new(),
                None,
            )
            .unwrap_err();
        assert_eq!(err, HubError::UnknownChannel("nope".into()));
    }

    #[test]
    fn only_the_author_edits_or_deletes_and_everyone_reacts_once() {
        let (hub, alice, channel) = hub_with("general");
        let (bob, _, _) = hub
            .register(DisplayName::parse("bob").unwrap(), None)
            .unwrap();
        let id = post(&hub, &alice, &channel, "a").seq;
        let body = || MessageBody::parse("**changed**").unwrap();
        assert_eq!(
            hub.edit(&bob, &channel, id, body()),
            Err(HubError::NotAuthor("edit"))
        );
        assert_eq!(
            hub.delete(&bob, &channel, id),
            Err(HubError::NotAuthor("delete"))
        );
        assert_eq!(
            hub.edit(&alice, &channel, 99, body()),
            Err(HubError::UnknownMessage(99))
        );
        hub.edit(&alice, &channel, id, body()).unwrap();
        let thumbs = || Emoji::parse("👍").unwrap();
        hub.react(&bob, &channel, id, thumbs(), true).unwrap();
        hub.react(&bob, &channel, id, thumbs(), true).unwrap();
        hub.react(&alice, &channel, id, thumbs(), true).unwrap();
        let history = hub.history(None, &channel).unwrap();
        let message = &history.messages[0];
        assert_eq!(message.body.as_str(), "**changed**");
        assert_eq!(message.html, "<p><strong>changed</strong></p>\n");
        assert!(message.edited_at.is_some());
        assert_eq!(message.reactions.len(), 1);
        assert_eq!(
            message.reactions[0].users.len(),
            2,
            "bob's second add changed nothing"
        );
        assert_eq!(
            history.head, 4,
            "post, edit, two reactions: the repeated add is no event"
        );
        hub.delete(&alice, &channel, id).unwrap();
        assert!(hub.history(None, &channel).unwrap().messages.is_empty());
        assert_eq!(
            hub.react(&bob, &channel, id, thumbs(), false),
            Err(HubError::UnknownMessage(id))
        );
    }

    #[test]
    fn mentions_are_looked_up_with_one_lock_however_many_candidates() {
        let (hub, alice, channel) = hub_with("general");
        hub.register(DisplayName::parse("Bob").unwrap(), None)
            .unwrap();
        let body = format!("hi @bob, {}", "@nobody @x,y,z @a.b ".repeat(300));
        let locks = || hub.shared.locks.load(std::sync::atomic::Ordering::Relaxed);
        let before = locks();
        let rendered = hub.render(&body);
        assert_eq!(locks() - before, 1, "one look at the users");
        assert_eq!(rendered.mentions, [DisplayName::parse("Bob").unwrap()]);
        assert!(rendered
            .html
            .contains(r#"<span class="mention">@bob</span>"#));
        // An edit renders before it locks, and its mentions are right too.
        let id = post(&hub, &alice, &channel, "m").seq;
        let body = MessageBody::parse("now @BOB").unwrap();
        hub.edit(&alice, &channel, id, body).unwrap();
        let history = hub.history(None, &channel).unwrap();
        assert_eq!(history.messages[0].mentions, rendered.mentions);
    }

    /// A channel costs little until used: many are made cheaply (a
    /// conversation per pair of users), and few are ever viewed.
    #[test]
    fn a_new_channel_allocates_its_ring_and_live_queue_only_when_used() {
        let (hub, alice, channel) = hub_with("general");
        {
            let state = hub.state();
            let room = &state.channels["general"];
            assert_eq!(room.ring.capacity(), 0);
            assert!(room.live.is_none());
        }
        let _viewer = hub.join(&alice, &channel, None).unwrap();
        post(&hub, &alice, &channel, "m");
        let state = hub.state();
        let room = &state.channels["general"];
        assert!(room.live.is_some());
        assert_eq!(room.ring.len(), 1);
    }

    /// One user editing one long message full of mentions over and over
    /// pinned ~28 MB per channel in a log bounded only by count.
    #[test]
    fn the_event_log_is_bounded_by_bytes_as_well_as_by_count() {
        let (hub, alice, channel) = hub_with("general");
        let long = "y".repeat(3990);
        let id = post(&hub, &alice, &channel, "m").seq;
        for i in 0..600 {
            let body = MessageBody::parse(&format!("{i} {long}")).unwrap();
            hub.edit(&alice, &channel, id, body).unwrap();
        }
        let (log_events, log_bytes) = {
            let state = hub.state();
            let room = &state.channels["general"];
            let counted: usize = room.log.iter().map(|e| e.frame.len()).sum();
            assert_eq!(counted, room.log_bytes, "the count is kept exactly");
            (room.log.len(), room.log_bytes)
        };
        let limit = HubLimits::default().event_log_bytes;
        assert!(log_bytes <= limit, "{log_bytes} bytes held");
        assert!(log_events < 600, "{log_events} events held");
        // A viewer resuming from before what is held starts over.
        let joined = hub.join(&alice, &channel, Some(1)).unwrap();
        assert!(joined.reset);
        assert_eq!(joined.backlog.len(), 1, "the message as it is now");
        let recent = hub.join(&alice, &channel, Some(joined.head - 1)).unwrap();
        assert!(!recent.reset);
        assert_eq!(recent.backlog.len(), 1);
    }

    #[test]
    fn a_resume_never_resends_a_deleted_message() {
        let (hub, user, channel) = hub_with("general");
        let id = post(&hub, &user, &channel, "secret").seq;
        hub.edit(
            &user,
            &channel,
            id,
            MessageBody::parse("still secret").unwrap(),
        )
        .unwrap();
        hub.delete(&user, &channel, id).unwrap();
        let joined = hub.join(&user, &channel, Some(0)).unwrap();
        assert!(!joined.reset);
        let frames: Vec<&str> = joined.backlog.iter().map(|e| e.frame.as_str()).collect();
        assert_eq!(frames.len(), 1, "{frames:?}");
        assert!(frames[0].contains(r#""type":"deleted""#), "{frames:?}");
        assert!(!frames[0].contains("secret"));
    }

    /// The reference for the property below: which messages the server
    /// should hold, and the newest one that left by trimming.
    #[derive(Default)]
    struct Expected {
        held: VecDeque<u64>,
        newest_trimmed: u64,
    }

    proptest! {
        /// Any sequence of sends, edits, deletions, reactions and resumes:
        /// a viewer that joined once and resumed from its last `seq` ends
        /// with the same messages, bodies and reactions as a fresh join,
        /// and applies events in strictly increasing `seq`.
        #[test]
        fn resuming_yields_the_same_view_as_a_fresh_join(
            ops in proptest::collection::vec((0u8..8, any::<prop::sample::Index>()), 1..400)
        ) {
            let (hub, user, channel) = hub_with("general");
            let mut expected = Expected::default();
            let mut view: Vec<Message> = Vec::new();
            let mut last = 0u64;
            let resume = |view: &mut Vec<Message>, last: &mut u64| -> Result<(), TestCaseError> {
                let joined = hub.join(&user, &channel, Some(*last)).unwrap();
                if joined.reset { view.clear(); }
                let mut previous = if joined.reset { 0 } else { *last };
                for e in &joined.backlog {
                    if !joined.reset {
                        prop_assert!(e.seq > previous, "events in order");
                        previous = e.seq;
                    }
                    match ServerFrame::from_json(e.frame.as_str()).unwrap() {
                        ServerFrame::Message(m) => {
                            prop_assert!(!view.iter().any(|v| v.seq == m.seq), "never twice");
                            view.push(m);
                        }
                        ServerFrame::Edited(frame::Edited {
                            id, body, html, mentions, edited_at, ..
                        }) => {
                            if let Some(m) = view.iter_mut().find(|m| m.seq == id) {
                                m.apply_edit(body, html, mentions, edited_at);
                            }
                        }
                        ServerFrame::Deleted(frame::Deleted { id, .. }) => {
                            view.retain(|m| m.seq != id)
                        }
                        ServerFrame::Reactions(frame::Reactions { id, reactions, .. }) => {
                            if let Some(m) = view.iter_mut().find(|m| m.seq == id) {
                                m.reactions = reactions;
                            }
                        }
                        other => prop_assert!(false, "unexpected frame {other:?}"),
                    }
                }
                *last = joined.head;
                Ok(())
            };
            for (i, (op, pick)) in ops.iter().enumerate() {
                let target = (!expected.held.is_empty())
                    .then(|| expected.held[pick.index(expected.held.len())]);
                match (op, target) {
                    (0, _) => resume(&mut view, &mut last)?,
                    (5, Some(id)) => {
                        hub.edit(&user, &channel, id, MessageBody::parse(&format!("edit {i}")).unwrap()).unwrap();
                    }
                    (6, Some(id)) => {
                        hub.delete(&user, &channel, id).unwrap();
                        expected.held.retain(|&h| h != id);
                    }
                    (7, Some(id)) => {
                        let emoji = Emoji::parse(app::model::REACTIONS[i % 3]).unwrap();
                        hub.react(&user, &channel, id, emoji, i % 2 == 0).unwrap();
                    }
                    _ => {
                        let seq = post(&hub, &user, &channel, &format!("c{i}")).seq;
                        expected.held.push_back(seq);
                        if expected.held.len() > HISTORY_LEN {
                            expected.newest_trimmed = expected.held.pop_front().unwrap();
                        }
                    }
                }
            }
            resume(&mut view, &mut last)?;
            let fresh = hub.history(None, &channel).unwrap().messages;
            prop_assert_eq!(fresh.iter().map(|m| m.seq).collect::<Vec<_>>(), Vec::from(expected.held.clone()));
            let recent: Vec<Message> = view.into_iter().filter(|m| m.seq > expected.newest_trimmed).collect();
            prop_assert_eq!(recent, fresh);
        }
    }
}
