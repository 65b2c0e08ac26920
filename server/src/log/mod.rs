//! `log`: the port every change goes through. A hub method checks a change
//! against its `State`, builds an `Entry` and proposes it here; the log
//! orders and keeps it, then hands it back to be applied (`Sink::apply`),
//! in the same order on every server and after every restart.
//!
//! - `memory`: commits at once (nothing survives the process);
//! - `sqlite`: a journal with group commit (`--data-dir`);
//! - `redis`: a stream several servers share (`--redis-url`);
//! - `settlements`: which proposals have settled, and how.
//!
//! Invariants:
//! - State changes only through the `Sink` (`apply`, and `reload` after a
//!   gap), never where a change is proposed.
//! - A proposal settles once its entry was applied (or refused), in the
//!   order proposals were made; what settled is as durable as its log
//!   makes anything.
//! - Nothing outside this module asks which log it is talking to.

pub mod memory;
pub mod redis;
pub mod settlements;
pub mod sqlite;

use crate::blobs::{Blobs, FileLimits};
use crate::chat::presence::Counts;
use crate::chat::{Entry, HubError, Keep, Outcome, Snapshot};
use app::model::DisplayName;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// What became of a proposal: applied (with what it decided), or refused.
pub type Settled = Result<Outcome, HubError>;

/// A proposal's place in its log's order, to wait for (`Log::settled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(pub u64);

/// What proposing did: settled at once (in memory), or a ticket.
#[derive(Debug)]
pub enum Proposed {
    Now(Settled),
    Later(Ticket),
}

/// One applied entry, as the sink reports it to the log.
#[derive(Debug)]
pub struct Committed {
    pub outcome: Settled,
    /// The entry as applied, when it changed anything (what a log that
    /// keeps the state's tables writes).
    pub accepted: Option<Entry>,
}

/// What servers tell each other that is never stored (with Redis; a
/// single server has nobody to tell).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Someone is typing in channel `key`.
    Typing { key: String, user: DisplayName },
    /// This server's connection counts: `full`, every user connected here
    /// (a heartbeat), else only the ones listed changed.
    Presence { full: bool, users: Vec<Counts> },
}

/// Where a log hands what it committed: the hub.
pub trait Sink: Send + Sync + 'static {
    /// Applies committed entries, in order; `keep` says whether the log
    /// wants each entry back as applied (`Committed::accepted`).
    fn apply(&self, entries: Vec<Entry>, keep: Keep) -> Vec<Committed>;
    /// Applies one committed entry (`apply` without a batch to allocate).
    fn apply_one(&self, entry: Entry, keep: Keep) -> Committed;
    /// Replaces everything with `snapshot` (a replica that found a gap).
    fn reload(&self, snapshot: Snapshot);
    /// Another server's notice.
    fn notice(&self, from: Uuid, notice: Notice);
    /// This server's connection counts, for its heartbeat.
    fn presence(&self) -> Vec<Counts>;
    /// Forgets the connections of servers not heard from since `before`.
    fn forget_servers(&self, before: Instant);
}

/// The port: where the hub proposes changes.
pub trait Log: Send + Sync + 'static {
    /// Proposes `entry`; `Err` when the log cannot take it now (busy,
    /// closed), and then nothing was recorded.
    fn propose(&self, entry: Entry) -> Result<Proposed, HubError>;

    /// The last settled ticket, live (`None`: every proposal settles at
    /// once).
    fn settled(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    /// What became of a settled ticket (told once: then it is forgotten).
    fn take(&self, _ticket: Ticket) -> Option<Settled> {
        None
    }

    /// Tells the other servers (none by default).
    fn notify(&self, _notice: Notice) {}

    /// Why changes cannot be stored now, if they cannot (readiness).
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// Waits until this server applied what every server had committed
    /// when called; false if it could not tell. At once by default.
    fn sync(&self) -> BoxFuture<'_, bool> {
        Box::pin(std::future::ready(true))
    }

    /// Stops taking proposals and finishes the ones taken.
    fn close(&self) -> BoxFuture<'_, ()>;
}

/// A log opened and read, not yet started: what the hub starts from.
pub struct Opened {
    /// Random per dataset: tells clients whether `seq`s they hold are ours.
    pub server_id: String,
    pub snapshot: Snapshot,
    /// Committed entries after the snapshot, to apply before starting.
    pub replay: Vec<Entry>,
    pub blobs: Arc<dyn Blobs>,
    pub start: Box<dyn Start>,
}

/// Starts a log once the hub holds its snapshot.
pub trait Start: Send {
    /// `replayed`: what applying `Opened::replay` accepted.
    fn start(self: Box<Self>, sink: Arc<dyn Sink>, replayed: Vec<Entry>) -> Arc<dyn Log>;
}

/// Where the chat is kept: the composition root picks one.
pub enum Storage {
    Memory(FileLimits),
    Sqlite(sqlite::Settings),
    Redis(redis::Settings),
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    Store(#[from] sqlite::StoreError),
    #[error(transparent)]
    Cluster(#[from] redis::ClusterError),
}

/// Opens and reads the chosen log. `failed` is cancelled if the log later
/// stops for good (the server then shuts down and exits 70).
pub async fn open(storage: Storage, failed: CancellationToken) -> Result<Opened, OpenError> {
    match storage {
        Storage::Memory(files) => Ok(memory::open(files)),
        Storage::Sqlite(settings) => {
            // Opening reads the whole database: off the runtime.
            let opening = tokio::task::spawn_blocking(move || sqlite::open(settings, failed));
            let opened = opening
                .await
                .map_err(|e| sqlite::StoreError::Thread(std::io::Error::other(e.to_string())))?;
            Ok(opened?)
        }
        Storage::Redis(settings) => Ok(redis::open(settings, failed).await?),
    }
}

/// Waits until `ticket` settled on `log` and says how.
pub async fn settled(log: &dyn Log, proposed: Proposed) -> Settled {
    let ticket = match proposed {
        Proposed::Now(settled) => return settled,
        Proposed::Later(ticket) => ticket,
    };
    if let Some(mut progress) = log.settled() {
        // An error means the log is gone (shutdown): nothing will settle.
        if progress.wait_for(|&at| at >= ticket.0).await.is_err() {
            return Err(HubError::Busy);
        }
    }
    log.take(ticket).unwrap_or(Err(HubError::Busy))
}
