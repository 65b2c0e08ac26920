//! The Redis log (`--redis-url`): several Flack servers sharing one chat.
//!
//! Redis is the source of truth and the sequencer; each server's hub is a
//! replica of it. A proposal goes to one Lua script (`propose.lua`) that
//! checks what must be unique across servers (display names, channel
//! names, `client_id`s), assigns the channel's `seq`, stores the change
//! and appends it to the log, a stream every server reads in order and
//! applies to its hub (`follower`). A proposal settles once this server
//! applied it. Attachments' bytes live in Redis too (`blobs`), so any
//! server serves any file; a post claims its uploads in the same script
//! that stores it.
//!
//! - `writer`: proposals to Redis, pipelined, in ticket order;
//! - `follower`: the log, applied in order (a gap reloads the snapshot);
//! - `snapshot`: everything at one log position;
//! - `blobs`: attachments in Redis.
//!
//! Invariants:
//! - Every server applies the same log in the same order. Each entry
//!   carries its position `n` (the stream id is `n-0`); a server that
//!   finds a gap (the log was trimmed while it was away) reloads
//!   everything rather than skip.
//! - A channel's events are kept in its own stream, trimmed exactly where
//!   its oldest ring message starts (`MINID`), so replaying that stream
//!   rebuilds the ring as every server holds it.
//! - Nothing is acknowledged that Redis refused or did not answer.

pub mod blobs;
mod follower;
mod snapshot;
mod writer;

use super::settlements::Settlements;
use super::{Log, Notice, Opened, Proposed, Settled, Sink, Start, Ticket};
use crate::blobs::FileLimits;
use crate::chat::{Entry, HubError};
use futures::future::BoxFuture;
use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, RedisError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Every key Flack writes starts with this.
const PREFIX: &str = "flack:";
/// How long one Redis call may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach Redis at {url}: {source}")]
    Connect { url: String, source: RedisError },
    #[error("Redis holds something this server cannot read: {0}")]
    Corrupt(String),
}

pub struct Settings {
    pub url: String,
    /// Log entries Redis keeps (approximately) for servers catching up.
    pub log_len: usize,
    pub ring_len: usize,
    /// Proposals waiting for Redis before more are refused as busy.
    pub queue: usize,
    pub errors: Counter,
    /// A server not heard from for this long is taken to be gone with its
    /// connections; each sends its counts three times as often.
    pub presence_timeout: Duration,
    pub files: FileLimits,
}

/// Whether the link to Redis works, for readiness and the log.
#[derive(Default)]
pub struct Health {
    down: Mutex<Option<String>>,
}

impl Health {
    fn failed(&self, what: &str, err: &RedisError, errors: &Counter) {
        errors.inc();
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        if down.is_none() {
            tracing::error!("Redis is unreachable ({what}): {err}");
        }
        *down = Some(format!("Redis is unreachable: {err}"));
    }

    fn ok(&self) {
        let mut down = self.down.lock().unwrap_or_else(|e| e.into_inner());
        if down.take().is_some() {
            tracing::info!("Redis is reachable again");
        }
    }

    fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A connection to Redis and what its failures count toward.
#[derive(Clone)]
pub struct Link {
    conn: ConnectionManager,
    health: Arc<Health>,
    errors: Counter,
}

impl Link {
    /// Notes a failed call; the hub tells the caller the store is down.
    fn failed(&self, what: &str, err: &RedisError) -> HubError {
        self.health.failed(what, err, &self.errors);
        HubError::StoreDown
    }
}

/// What goes to Redis: a change with its ticket, or a notice.
enum Proposal {
    Change { ticket: u64, entry: Box<Entry> },
    Notice(Notice),
}

/// A notice as the log carries it: with the server it comes from, which
/// skips its own.
#[derive(serde::Serialize, serde::Deserialize)]
struct Noted {
    node: Uuid,
    #[serde(flatten)]
    notice: Notice,
}

/// Connects and reads the shared state. `failed` is cancelled if this
/// server must stop (Redis lost Flack's data, or holds what it cannot
/// read).
pub async fn open(settings: Settings, failed: CancellationToken) -> Result<Opened, ClusterError> {
    let link = connect(&settings).await?;
    let mut conn = link.conn.clone();
    let snapshot = snapshot::fetch(&mut conn).await.map_err(|e| match e {
        snapshot::Fetch::Redis(source) => ClusterError::Connect {
            url: settings.url.clone(),
            source,
        },
        snapshot::Fetch::Corrupt(what) => ClusterError::Corrupt(what),
    })?;
    let blobs = blobs::RedisBlobs::new(link.clone(), settings.files.clone());
    Ok(Opened {
        server_id: snapshot.dataset.clone(),
        replay: Vec::new(),
        blobs: Arc::new(blobs),
        start: Box::new(Starter {
            settings,
            link,
            from: snapshot.lsn,
            dataset: snapshot.dataset,
            failed,
        }),
        snapshot: snapshot.state,
    })
}

async fn connect(settings: &Settings) -> Result<Link, ClusterError> {
    let unreachable = |source| ClusterError::Connect {
        url: settings.url.clone(),
        source,
    };
    let client = Client::open(settings.url.as_str()).map_err(unreachable)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2);
    let conn = (client.get_connection_manager_with_config(config).await).map_err(unreachable)?;
    Ok(Link {
        conn,
        health: Arc::default(),
        errors: settings.errors.clone(),
    })
}

struct Starter {
    settings: Settings,
    link: Link,
    /// The snapshot's log position and dataset id.
    from: u64,
    dataset: String,
    failed: CancellationToken,
}

impl Start for Starter {
    fn start(self: Box<Self>, sink: Arc<dyn Sink>, _replayed: Vec<Entry>) -> Arc<dyn Log> {
        let Starter {
            settings,
            link,
            from,
            dataset,
            failed,
        } = *self;
        let (proposals, rx) = mpsc::channel(settings.queue.max(1));
        let settlements = Arc::new(Settlements::new(from));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let node = Uuid::new_v4();
        let writer = writer::Writer {
            link: link.clone(),
            proposals: rx,
            settlements: settlements.clone(),
            shutdown: shutdown.clone(),
            lens: (settings.log_len, settings.ring_len),
            node,
        };
        tracker.spawn(writer.run());
        tracker.spawn(heartbeat(
            settings.presence_timeout,
            proposals.clone(),
            sink.clone(),
            shutdown.clone(),
        ));
        let follower = follower::Follower {
            url: settings.url.clone(),
            link: link.clone(),
            last: from,
            dataset,
            node,
            sink,
            settlements: settlements.clone(),
            shutdown: shutdown.clone(),
            failed,
        };
        tracker.spawn(follower.run());
        tracker.close();
        Arc::new(Redis {
            link,
            queue: Mutex::new(Queue { last: 0, proposals }),
            settlements,
            shutdown,
            tracker,
        })
    }
}

/// Sends this server's presence counts three times per `timeout` and
/// forgets servers that stopped sending theirs for `timeout` (killed, or
/// cut off).
async fn heartbeat(
    timeout: Duration,
    proposals: mpsc::Sender<Proposal>,
    sink: Arc<dyn Sink>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(timeout / 3);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let users = sink.presence();
        let notice = Notice::Presence { full: true, users };
        let _ = proposals.try_send(Proposal::Notice(notice));
        if let Some(before) = std::time::Instant::now().checked_sub(timeout) {
            sink.forget_servers(before);
        }
    }
}

/// Proposals waiting for the writer, and the last ticket given.
struct Queue {
    last: u64,
    proposals: mpsc::Sender<Proposal>,
}

pub struct Redis {
    link: Link,
    queue: Mutex<Queue>,
    settlements: Arc<Settlements>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

impl Log for Redis {
    fn propose(&self, entry: Entry) -> Result<Proposed, HubError> {
        if self.shutdown.is_cancelled() {
            return Err(HubError::Busy);
        }
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let ticket = queue.last + 1;
        let proposal = Proposal::Change {
            ticket,
            entry: Box::new(entry),
        };
        match queue.proposals.try_send(proposal) {
            Ok(()) => {
                queue.last = ticket;
                Ok(Proposed::Later(Ticket(ticket)))
            }
            Err(_) => Err(HubError::Busy),
        }
    }

    fn settled(&self) -> Option<watch::Receiver<u64>> {
        Some(self.settlements.settled())
    }

    fn take(&self, ticket: Ticket) -> Option<Settled> {
        self.settlements.take(ticket)
    }

    /// Sent if the queue has room (a lost notice is harmless: typing is
    /// repeated, presence counts are resent every few seconds).
    fn notify(&self, notice: Notice) {
        let queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let _ = queue.proposals.try_send(Proposal::Notice(notice));
    }

    fn unavailable(&self) -> Option<String> {
        if self.shutdown.is_cancelled() {
            return Some("the store is closed".to_owned());
        }
        self.link.health.down()
    }

    /// Waits until this server has applied everything Redis held when
    /// called: what another server answered is then visible here too.
    /// False when that could not be done (Redis unreachable, or this
    /// server still behind after `RESPONSE_TIMEOUT`).
    fn sync(&self) -> BoxFuture<'_, bool> {
        Box::pin(async move {
            let mut conn = self.link.conn.clone();
            let lsn: Result<Option<u64>, _> = redis::cmd("GET")
                .arg(format!("{PREFIX}lsn"))
                .query_async(&mut conn)
                .await;
            match lsn {
                Ok(None) => true, // nothing was ever written
                Ok(Some(lsn)) => {
                    let mut applied = self.settlements.applied_progress();
                    let wait = async { applied.wait_for(|&done| done >= lsn).await.is_ok() };
                    (tokio::time::timeout(RESPONSE_TIMEOUT, wait).await).unwrap_or(false)
                }
                Err(err) => {
                    self.link.failed("sync", &err);
                    false
                }
            }
        })
    }

    /// Stops following, once the writer sent what was proposed.
    fn close(&self) -> BoxFuture<'_, ()> {
        self.shutdown.cancel();
        Box::pin(self.tracker.wait())
    }
}
