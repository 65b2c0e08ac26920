//! The hub: the chat as this server holds it, behind a cheap cloneable
//! handle. Its methods check a request against the `State` (through the
//! one door, `State::door`), build an `Entry` and propose it to the log;
//! the log hands committed entries back (`Sink::apply`, in `apply`), and
//! only then does the state change and do viewers hear of it.
//!
//! - `users`: registering, sessions, signing out, people;
//! - `channels`: channels and conversations, history, joining, reading;
//! - `messages`: sending, editing, deleting, reacting, typing, files;
//! - `online`: connections and presence;
//! - `apply`: what the log committed, applied, and its effects sent.
//!
//! Invariants:
//! - One `std::sync::Mutex` guards the state, live queues, presence and
//!   connections; it is never held across an `.await`, nor while
//!   proposing (the memory log applies in the proposer's thread) or
//!   touching attachments' bytes.
//! - Applying an entry and sending its event to live viewers happen under
//!   that lock, as does joining (reading the backlog and subscribing): a
//!   joiner sees every event exactly once, in the backlog or live.
//! - A message is serialized once, when it is stored; every viewer is
//!   sent the same shared bytes.

mod apply;
mod channels;
mod live;
mod messages;
mod online;
mod users;

#[cfg(test)]
mod tests;

pub use live::Live;
pub use messages::Draft;
pub use online::Online;

use crate::blobs::{Blobs, FileLimits};
use crate::chat::channel::LogLimits;
use crate::chat::presence::Presence;
use crate::chat::{Entry, HubError, Keep, Outcome, State, StateLimits, TokenHash};
use crate::log::{self, Log, Opened, Proposed, Settled, Ticket};
use app::model::{ChannelName, Timestamp};
use axum::extract::ws::Utf8Bytes;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;

/// Limits the hub keeps; each is a command-line setting (see `config`).
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Events buffered per channel for live viewers; a viewer that falls
    /// further behind catches up from the ring (or gets a reset).
    pub live_queue: usize,
    /// How many recent `client_id`s are remembered per user.
    pub idempotency_window: usize,
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

impl HubLimits {
    fn state(&self) -> StateLimits {
        StateLimits {
            session_idle: self.session_idle,
            log: LogLimits {
                events: self.event_log,
                bytes: self.event_log_bytes,
            },
        }
    }
}

/// A channel event as viewers are sent it: its frame, ready for the
/// socket. `seq` 0 marks a notice (typing) that is no event.
#[derive(Debug)]
pub struct Delivery {
    pub seq: u64,
    /// The message the event is about (its `seq`).
    pub id: u64,
    pub frame: Utf8Bytes,
}

/// What a viewer receives after `join`: optionally a reset, the backlog,
/// the head, and the live receiver that continues exactly after the
/// backlog.
pub struct Joined {
    pub channel: ChannelName,
    /// The `reset` to send first, if the backlog is the ring.
    pub reset: Option<app::protocol::frame::Reset>,
    pub backlog: Vec<Utf8Bytes>,
    pub head: u64,
    pub live: Live,
}

#[derive(Clone)]
pub struct Hub {
    core: Arc<Core>,
    log: Arc<dyn Log>,
}

/// What the log's sink and the handle share.
struct Core {
    server_id: String,
    inner: Mutex<Inner>,
    limits: HubLimits,
    /// Channel creations and presence changes, for every connection.
    lobby: broadcast::Sender<Utf8Bytes>,
    blobs: Arc<dyn Blobs>,
    /// How often the lock was taken (tests count it).
    #[cfg(test)]
    locks: std::sync::atomic::AtomicUsize,
}

/// Everything under the hub's lock.
struct Inner {
    state: State,
    /// Live queues of channels someone views (made on the first join).
    live: HashMap<String, broadcast::Sender<Arc<Delivery>>>,
    /// Who is here, and what of it was announced.
    presence: Presence,
    /// The connections open with each session, to close when it ends.
    connections: HashMap<TokenHash, Vec<(u64, CancellationToken)>>,
    next_connection: u64,
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

impl Hub {
    /// A hub holding everything in memory.
    pub fn new(limits: HubLimits) -> Self {
        let opened = log::memory::open(limits.files.clone());
        Self::start(limits, opened)
    }

    /// A hub starting from what `opened` read, then following its log.
    /// Blocking (it may read an attachments directory): call it before
    /// serving, off the runtime.
    pub fn start(limits: HubLimits, opened: Opened) -> Self {
        let Opened {
            server_id,
            snapshot,
            replay,
            blobs,
            start,
        } = opened;
        let at = now();
        let mut state = State::from_snapshot(snapshot, limits.state(), at);
        let replayed: Vec<Entry> = (replay.into_iter())
            .filter_map(|entry| state.apply(entry, || at, Keep::Accepted).accepted)
            .collect();
        blobs.restore(state.attached_files());
        let (lobby, _) = broadcast::channel(limits.live_queue.max(1));
        let core = Arc::new(Core {
            server_id,
            inner: Mutex::new(Inner {
                state,
                live: HashMap::new(),
                presence: Presence::new(limits.presence_interval),
                connections: HashMap::new(),
                next_connection: 0,
            }),
            limits,
            lobby,
            blobs,
            #[cfg(test)]
            locks: Default::default(),
        });
        let log = start.start(core.clone(), replayed);
        Self { core, log }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.core.lock()
    }

    fn propose(&self, entry: Entry) -> Result<Proposed, HubError> {
        self.log.propose(entry)
    }

    /// Waits until a proposal settled and says how.
    pub async fn settled(&self, proposed: Proposed) -> Settled {
        log::settled(self.log.as_ref(), proposed).await
    }

    /// The last settled ticket, live (`None`: proposals settle at once).
    pub fn settled_progress(&self) -> Option<watch::Receiver<u64>> {
        self.log.settled()
    }

    /// What became of a settled ticket (told once).
    pub fn take(&self, ticket: Ticket) -> Option<Settled> {
        self.log.take(ticket)
    }

    /// Why the store cannot take changes now, if it cannot (readiness).
    pub fn store_unavailable(&self) -> Option<String> {
        self.log.unavailable()
    }

    /// Waits until this server applied what every server had committed
    /// when called (a session registered elsewhere, a channel made
    /// elsewhere); false if it could not tell.
    pub async fn sync(&self) -> bool {
        self.log.sync().await
    }

    /// Stops taking changes and waits until the log finished the ones it
    /// took.
    pub async fn close(&self) {
        self.log.close().await;
    }

    /// This dataset's id (see `ServerFrame::Welcome`).
    pub fn server_id(&self) -> &str {
        &self.core.server_id
    }

    /// Channel creations and presence changes, live.
    pub fn subscribe_lobby(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.core.lobby.subscribe()
    }

    pub fn file_limits(&self) -> &FileLimits {
        self.core.blobs.limits()
    }
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        #[cfg(test)]
        self.locks
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Every change under the lock is applied whole or not begun (state
        // changes only in `State::apply`), so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A proposal that settled with nothing to wait for.
fn done() -> Proposed {
    Proposed::Now(Ok(Outcome::Done))
}
