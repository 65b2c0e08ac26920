//! `cluster`: several Flack servers sharing one chat through Redis
//! (`--redis-url`).
//!
//! Redis is the source of truth and the sequencer; each server's hub is a
//! replica of it. A change a server's users make is *proposed*: one Lua
//! script (`PROPOSE`) checks what must be unique across servers (display
//! names, channel names, `client_id`s), assigns the channel's `seq`
//! (`INCR`), stores the change and appends it to the log, a stream every
//! server reads in order and applies to its hub (`follow`). The proposing
//! server answers (ack, cookie, created channel) only once its own hub has
//! applied the change.
//!
//! Attachments' bytes live in Redis too (`FILE_PUT`), so any server
//! serves any file; a post claims its uploads in the same script that
//! stores it.
//!
//! Invariants:
//! - Every server applies the same log in the same order. Each entry
//!   carries its position `n` (the stream id is `n-0`); a server that finds
//!   a gap (the log was trimmed while it was away) reloads everything from
//!   Redis rather than skip.
//! - A channel's events are kept in its own stream, trimmed exactly where
//!   its oldest ring message starts (`MINID`), so replaying that stream
//!   rebuilds the ring as every server holds it.
//! - Proposals settle in ticket order; nothing is acknowledged that Redis
//!   refused or did not answer.

use crate::chat::access::Room;
use crate::chat::names;
use crate::chat::TokenHash;
use crate::files::{FileError, FileLimits, PENDING_TTL};
use crate::hub::{Change, HubError};
use crate::store::Entry;
use app::model::{Attachment, AttachmentId, DisplayName};
use prometheus_client::metrics::counter::Counter;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::streams::StreamReadReply;
use redis::{AsyncConnectionConfig, Client, RedisError, Script};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use uuid::Uuid;

/// Every key Flack writes starts with this.
const PREFIX: &str = "flack:";
/// How long one Redis call may take before it counts as failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// How long the follower's blocking read waits before asking again.
const BLOCK_MS: u64 = 1_000;
/// Log entries read per call.
const READ_BATCH: usize = 1_024;
/// Outcomes nobody claimed (a post whose connection closed before its
/// ack) are forgotten this many tickets later.
const UNCLAIMED: u64 = 65_536;

/// Appends one change. ARGV: op, entry JSON, log length, ring length,
/// then op-specific arguments. Returns `{status, n, seq}`: status `ok`
/// (n: its log position, 0 when nothing changed), `dup` (a remembered
/// `client_id`; seq: its message), or the reason it was refused.
const PROPOSE: &str = r#"
local P = 'flack:'
local op, json, log_len, ring_len = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
-- Deletes the files of message `seq` of channel `key` (it is gone).
local function drop_files(key, seq)
  local list = P .. 'msgfiles:' .. key .. ':' .. seq
  for _, id in ipairs(redis.call('LRANGE', list, 0, -1)) do
    local file = P .. 'file:' .. id
    local size = tonumber(redis.call('HGET', file, 'size') or '0')
    local owner = redis.call('HGET', file, 'owner')
    redis.call('DEL', file)
    redis.call('DECRBY', P .. 'files_bytes', size)
    if owner and redis.call('DECRBY', P .. 'files_bytes:' .. owner, size) <= 0 then
      redis.call('DEL', P .. 'files_bytes:' .. owner)
    end
  end
  redis.call('DEL', list)
end
local function append(seq)
  local n = redis.call('INCR', P .. 'lsn')
  redis.call('XADD', P .. 'log', 'MAXLEN', '~', log_len, n .. '-0', 'e', json, 's', seq)
  return n
end
if op == 'notice' then
  local n = redis.call('INCR', P .. 'lsn')
  redis.call('XADD', P .. 'log', 'MAXLEN', '~', log_len, n .. '-0', 'n', json)
  return {'ok', n, 0}
elseif op == 'user' then
  -- ARGV[8]: the caller's session this one replaces ('' for none);
  -- ARGV[9]...: the name's skeletons; a name that looks like one is taken.
  local key, id, session, replaces = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
  for i = 9, #ARGV do
    if redis.call('HEXISTS', P .. 'name_skeletons', ARGV[i]) == 1 then return {'name_taken', 0, 0} end
  end
  if redis.call('HSETNX', P .. 'names', key, id) == 0 then return {'name_taken', 0, 0} end
  for i = 9, #ARGV do redis.call('HSET', P .. 'name_skeletons', ARGV[i], id) end
  redis.call('HSET', P .. 'users', id, json)
  redis.call('HSET', P .. 'sessions', session, json)
  if replaces ~= '' then redis.call('HDEL', P .. 'sessions', replaces) end
  return {'ok', append(0), 0}
elseif op == 'session' then
  -- A touch (a session used): only of a session that still exists, so a
  -- touch that crosses a sign-out cannot bring the session back.
  -- ARGV[6]: the session this one replaces ('' for none).
  if redis.call('HEXISTS', P .. 'sessions', ARGV[5]) == 0 then return {'ok', 0, 0} end
  redis.call('HSET', P .. 'sessions', ARGV[5], json)
  if ARGV[6] ~= '' then redis.call('HDEL', P .. 'sessions', ARGV[6]) end
  return {'ok', append(0), 0}
elseif op == 'end_sessions' then
  for i = 5, #ARGV do redis.call('HDEL', P .. 'sessions', ARGV[i]) end
  return {'ok', append(0), 0}
elseif op == 'channel' then
  -- ARGV[6]...: a public channel's skeletons (none for a conversation).
  local key = ARGV[5]
  for i = 6, #ARGV do
    if redis.call('HEXISTS', P .. 'channel_skeletons', ARGV[i]) == 1 then return {'channel_exists', 0, 0} end
  end
  if redis.call('HSETNX', P .. 'channels', key, json) == 0 then return {'channel_exists', 0, 0} end
  for i = 6, #ARGV do redis.call('HSET', P .. 'channel_skeletons', ARGV[i], key) end
  redis.call('RPUSH', P .. 'order', key)
  return {'ok', append(0), 0}
elseif op == 'read' then
  local reads, key, seq = P .. 'reads:' .. ARGV[5], ARGV[6], tonumber(ARGV[7])
  local at = tonumber(redis.call('HGET', reads, key) or '0')
  if seq <= at then return {'ok', 0, 0} end
  redis.call('HSET', reads, key, seq)
  return {'ok', append(0), 0}
else
  -- an event: 'post', 'delete' or 'change'
  local key, user, client_id, window = ARGV[5], ARGV[6], ARGV[7], tonumber(ARGV[8])
  if redis.call('HEXISTS', P .. 'channels', key) == 0 then return {'unknown_channel', 0, 0} end
  local sent, sentq = P .. 'sent:' .. user, P .. 'sentq:' .. user
  if client_id ~= '' then
    -- '<seq> <channel key>'; a bare seq was written before channels were kept.
    local seen = redis.call('HGET', sent, client_id)
    if seen then
      local seq, where = string.match(seen, '^(%d+) (.*)$')
      if not seq then return {'dup', 0, tonumber(seen)} end
      if where ~= key then return {'client_id_reused', 0, 0} end
      return {'dup', 0, tonumber(seq)}
    end
  end
  -- A post's attachments (ARGV[9]...) must all be this user's unsent uploads.
  if op == 'post' then
    for i = 9, #ARGV do
      local id = ARGV[i]
      if not redis.call('ZSCORE', P .. 'pending', id)
        or redis.call('HGET', P .. 'file:' .. id, 'owner') ~= user then
        return {'not_yours:' .. id, 0, 0}
      end
    end
  end
  local seq = redis.call('INCR', P .. 'head:' .. key)
  local events, posts = P .. 'events:' .. key, P .. 'posts:' .. key
  redis.call('XADD', events, seq .. '-0', 'e', json)
  if op == 'post' then
    for i = 9, #ARGV do
      redis.call('ZREM', P .. 'pending', ARGV[i])
      redis.call('RPUSH', P .. 'msgfiles:' .. key .. ':' .. seq, ARGV[i])
    end
    redis.call('RPUSH', posts, seq)
    if redis.call('LLEN', posts) > ring_len then
      drop_files(key, redis.call('LPOP', posts))
      redis.call('XTRIM', events, 'MINID', redis.call('LINDEX', posts, 0) .. '-0')
    end
    if client_id ~= '' then
      redis.call('HSET', sent, client_id, seq .. ' ' .. key)
      redis.call('RPUSH', sentq, client_id)
      if redis.call('LLEN', sentq) > window then redis.call('HDEL', sent, redis.call('LPOP', sentq)) end
    end
  elseif op == 'delete' then
    redis.call('LREM', posts, 0, ARGV[9])
    drop_files(key, ARGV[9])
  end
  return {'ok', append(seq), seq}
end
"#;

/// Everything, atomically: `{lsn, dataset, users, sessions, channels,
/// reads}` where channels are `{key, entry, head, events}` in creation
/// order and reads are `{user, {key, seq, ...}}`.
const SNAPSHOT: &str = r#"
local P = 'flack:'
redis.call('SET', P .. 'id', ARGV[1], 'NX')
local lsn = tonumber(redis.call('GET', P .. 'lsn') or '0')
local users = redis.call('HVALS', P .. 'users')
local sessions = redis.call('HVALS', P .. 'sessions')
local channels = {}
for _, key in ipairs(redis.call('LRANGE', P .. 'order', 0, -1)) do
  local head = tonumber(redis.call('GET', P .. 'head:' .. key) or '0')
  local events = redis.call('XRANGE', P .. 'events:' .. key, '-', '+')
  table.insert(channels, {key, redis.call('HGET', P .. 'channels', key), head, events})
end
local reads = {}
for _, id in ipairs(redis.call('HKEYS', P .. 'users')) do
  table.insert(reads, {id, redis.call('HGETALL', P .. 'reads:' .. id)})
end
return {lsn, redis.call('GET', P .. 'id'), users, sessions, channels, reads}
"#;

/// Stores an upload, unclaimed. ARGV: id, owner, meta JSON, size, total
/// limit, now (ms), time to live (ms), bytes, per-user limit. Uploads
/// past their time are swept first. Returns `ok`, `full`, or
/// `quota:<bytes the owner holds>` (nothing stored).
const FILE_PUT: &str = r#"
local P = 'flack:'
local id, owner, meta = ARGV[1], ARGV[2], ARGV[3]
local size, total, now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local per_user = tonumber(ARGV[9])
for _, old in ipairs(redis.call('ZRANGEBYSCORE', P .. 'pending', '-inf', now)) do
  local file = P .. 'file:' .. old
  local gone = tonumber(redis.call('HGET', file, 'size') or '0')
  local whose = redis.call('HGET', file, 'owner')
  redis.call('DEL', file)
  redis.call('ZREM', P .. 'pending', old)
  redis.call('DECRBY', P .. 'files_bytes', gone)
  if whose and redis.call('DECRBY', P .. 'files_bytes:' .. whose, gone) <= 0 then
    redis.call('DEL', P .. 'files_bytes:' .. whose)
  end
end
local held = tonumber(redis.call('GET', P .. 'files_bytes:' .. owner) or '0')
if held + size > per_user then return 'quota:' .. held end
if tonumber(redis.call('GET', P .. 'files_bytes') or '0') + size > total then return 'full' end
redis.call('INCRBY', P .. 'files_bytes', size)
redis.call('INCRBY', P .. 'files_bytes:' .. owner, size)
redis.call('HSET', P .. 'file:' .. id, 'meta', meta, 'owner', owner, 'size', size, 'bytes', ARGV[8])
redis.call('ZADD', P .. 'pending', now + ttl, id)
return 'ok'
"#;

/// What a file is: `{meta, owner, pending}` (`meta` nil when unknown).
const FILE_INFO: &str = r#"
local f = 'flack:file:' .. ARGV[1]
local pending = redis.call('ZSCORE', 'flack:pending', ARGV[1]) and 1 or 0
return {redis.call('HGET', f, 'meta'), redis.call('HGET', f, 'owner'), pending}
"#;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cannot reach Redis at {url}: {source}")]
    Connect { url: String, source: RedisError },
    #[error("Redis holds something this server cannot read: {0}")]
    Corrupt(String),
}

/// What a server starts from: the shared state at log position `lsn`.
pub struct Snapshot {
    /// Random per Redis dataset: every server reports it as its
    /// `server_id`, so a client's `seq`s stay valid on any of them.
    pub dataset: String,
    pub lsn: u64,
    /// Users, sessions and channels, in an order that applies cleanly.
    pub entries: Vec<Entry>,
    pub channels: Vec<ChannelEvents>,
    /// Read positions (after the users they belong to).
    pub reads: Vec<Entry>,
}

/// A channel's retained events, oldest first.
pub struct ChannelEvents {
    pub key: String,
    pub head: u64,
    pub events: Vec<Entry>,
}

/// The outcome of a proposal: the `seq` Redis gave (events), or why it
/// was refused.
pub type Outcome = Result<Option<u64>, HubError>;

/// Tickets of this server's proposals until they settle: refused, or
/// applied by this server's hub.
#[derive(Default)]
struct Settling {
    /// In ticket order: the log position each waits for (`None`: nothing
    /// to wait for).
    waiting: VecDeque<(u64, Option<u64>)>,
    applied: u64,
    outcomes: BTreeMap<u64, Outcome>,
}

pub struct Settlements {
    inner: Mutex<Settling>,
    settled: watch::Sender<u64>,
    applied: watch::Sender<u64>,
}

impl Settlements {
    fn new(applied: u64) -> Self {
        Self {
            inner: Mutex::new(Settling {
                applied,
                ..Settling::default()
            }),
            settled: watch::channel(0).0,
            applied: watch::channel(applied).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Settling> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the writer, in ticket order.
    fn proposed(&self, ticket: u64, lsn: Option<u64>, outcome: Outcome) {
        let mut inner = self.lock();
        inner.outcomes.insert(ticket, outcome);
        inner.waiting.push_back((ticket, lsn));
        self.settle(&mut inner);
    }

    /// Called by the follower once the hub applied the log up to `lsn`.
    fn applied(&self, lsn: u64) {
        let mut inner = self.lock();
        inner.applied = inner.applied.max(lsn);
        self.applied.send_replace(inner.applied);
        self.settle(&mut inner);
    }

    fn settle(&self, inner: &mut Settling) {
        let mut last = None;
        while let Some(&(ticket, lsn)) = inner.waiting.front() {
            if lsn.is_some_and(|n| n > inner.applied) {
                break;
            }
            inner.waiting.pop_front();
            last = Some(ticket);
        }
        if let Some(ticket) = last {
            let stale = ticket.saturating_sub(UNCLAIMED);
            inner.outcomes = inner.outcomes.split_off(&stale);
            self.settled.send_replace(ticket);
        }
    }

    /// The outcome of a settled ticket (once: it is forgotten).
    pub fn take(&self, ticket: u64) -> Option<Outcome> {
        self.lock().outcomes.remove(&ticket)
    }

    pub fn settled(&self) -> watch::Receiver<u64> {
        self.settled.subscribe()
    }
}

/// Whether the link to Redis works, for readiness and the log.
#[derive(Default)]
pub struct LinkHealth {
    down: Mutex<Option<String>>,
}

impl LinkHealth {
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

    pub fn down(&self) -> Option<String> {
        self.down.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What the writer and the follower share.
#[derive(Clone)]
struct Tasks {
    settlements: Arc<Settlements>,
    health: Arc<LinkHealth>,
    errors: Counter,
    shutdown: CancellationToken,
}

impl Tasks {
    fn failed(&self, what: &str, err: &RedisError) {
        self.health.failed(what, err, &self.errors);
    }
}

/// What goes to Redis: a change with its ticket, or a notice.
pub enum Proposal {
    Change { ticket: u64, entry: Box<Entry> },
    Notice(Notice),
}

/// What travels in the log besides changes: what is never stored. Each
/// names the server (`node`) it comes from, which ignores its own.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    /// Someone on `node` is typing in channel `key`.
    Typing {
        node: Uuid,
        key: String,
        user: DisplayName,
    },
    /// Connection counts on `node`: `(user, open, hidden)`. `full`: every
    /// user connected there (a heartbeat), else only the ones listed
    /// changed.
    Presence {
        node: Uuid,
        full: bool,
        users: Vec<(Uuid, u32, u32)>,
    },
}

impl Notice {
    fn node(&self) -> Uuid {
        match self {
            Self::Typing { node, .. } | Self::Presence { node, .. } => *node,
        }
    }
}

/// What a log entry is.
enum Logged {
    Entry(Box<Entry>),
    Notice(Notice),
}

/// The hub's handle on the cluster.
pub struct Link {
    /// This server, in notices.
    pub node: Uuid,
    errors: Counter,
    pub proposals: mpsc::Sender<Proposal>,
    pub settlements: Arc<Settlements>,
    pub health: Arc<LinkHealth>,
    conn: ConnectionManager,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

/// How the cluster reaches the hub it feeds.
pub trait Replica: Send + Sync + 'static {
    /// Applies log entries, in order (their `seq`s set).
    fn apply(&self, entries: Vec<Entry>);
    /// Replaces everything with `snapshot` (after a gap in the log).
    fn reload(&self, snapshot: Snapshot);
    /// Another server's notice.
    fn notice(&self, notice: Notice);
    /// This server's connection counts (for the presence heartbeat), and
    /// forgetting servers not heard from since `before`.
    fn presence(&self) -> Vec<(Uuid, u32, u32)>;
    fn forget_servers(&self, before: Instant);
}

pub struct Settings {
    pub url: String,
    /// Log entries Redis keeps (approximately) for servers catching up.
    pub log_len: usize,
    pub ring_len: usize,
    pub queue: usize,
    pub errors: Counter,
    /// A server not heard from for this long is taken to be gone with its
    /// connections; each sends its counts three times as often.
    pub presence_timeout: Duration,
}

/// Connects and reads the shared state.
pub async fn connect(settings: &Settings) -> Result<(ConnectionManager, Snapshot), ClusterError> {
    let client = Client::open(settings.url.as_str()).map_err(|source| ClusterError::Connect {
        url: settings.url.clone(),
        source,
    })?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_number_of_retries(2);
    let mut conn = client
        .get_connection_manager_with_config(config)
        .await
        .map_err(|source| ClusterError::Connect {
            url: settings.url.clone(),
            source,
        })?;
    let snapshot = snapshot(&mut conn).await.map_err(|e| match e {
        Fetch::Redis(source) => ClusterError::Connect {
            url: settings.url.clone(),
            source,
        },
        Fetch::Corrupt(what) => ClusterError::Corrupt(what),
    })?;
    Ok((conn, snapshot))
}

/// Starts the writer and the follower for `replica`, which starts at
/// `from` (its snapshot's log position).
pub fn start(
    settings: Settings,
    conn: ConnectionManager,
    from: u64,
    dataset: String,
    replica: Arc<dyn Replica>,
) -> Link {
    let (proposals, rx) = mpsc::channel(settings.queue.max(1));
    let settlements = Arc::new(Settlements::new(from));
    let health = Arc::new(LinkHealth::default());
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let tasks = Tasks {
        settlements: settlements.clone(),
        health: health.clone(),
        errors: settings.errors.clone(),
        shutdown: shutdown.clone(),
    };
    let node = Uuid::new_v4();
    let lens = (settings.log_len, settings.ring_len);
    tracker.spawn(write(conn.clone(), rx, tasks.clone(), lens));
    tracker.spawn(heartbeat(
        (node, settings.presence_timeout),
        proposals.clone(),
        replica.clone(),
        shutdown.clone(),
    ));
    tracker.spawn(follow(
        settings.url.clone(),
        conn.clone(),
        (from, dataset, node),
        replica,
        tasks,
    ));
    tracker.close();
    Link {
        node,
        errors: settings.errors.clone(),
        proposals,
        settlements,
        health,
        conn,
        shutdown,
        tracker,
    }
}

impl Link {
    /// Sends a notice, if the queue has room (a lost notice is harmless:
    /// typing is repeated, presence counts are resent every few seconds).
    pub fn notify(&self, notice: Notice) {
        let _ = self.proposals.try_send(Proposal::Notice(notice));
    }

    /// Waits until this server has applied everything Redis held when
    /// called: what another server answered is then visible here too.
    /// False when that could not be done (Redis unreachable, or this
    /// server still behind after `RESPONSE_TIMEOUT`).
    pub async fn sync(&self) -> bool {
        let mut conn = self.conn.clone();
        let lsn: Result<Option<u64>, _> = redis::cmd("GET")
            .arg(format!("{PREFIX}lsn"))
            .query_async(&mut conn)
            .await;
        match lsn {
            Ok(None) => true, // nothing was ever written
            Ok(Some(lsn)) => {
                let mut applied = self.settlements.applied.subscribe();
                let wait = async { applied.wait_for(|&done| done >= lsn).await.is_ok() };
                tokio::time::timeout(RESPONSE_TIMEOUT, wait)
                    .await
                    .unwrap_or(false)
            }
            Err(err) => {
                self.health.failed("sync", &err, &self.errors);
                false
            }
        }
    }

    /// Stops following, once the writer sent what was proposed.
    pub async fn close(&self) {
        self.shutdown.cancel();
        self.tracker.wait().await;
    }
}

/// Sends this server's presence counts three times per `timeout` and
/// forgets servers that stopped sending theirs for `timeout` (killed, or
/// cut off).
async fn heartbeat(
    (node, timeout): (Uuid, Duration),
    proposals: mpsc::Sender<Proposal>,
    replica: Arc<dyn Replica>,
    shutdown: CancellationToken,
) {
    let mut every = tokio::time::interval(timeout / 3);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        let users = replica.presence();
        let _ = proposals.try_send(Proposal::Notice(Notice::Presence {
            node,
            full: true,
            users,
        }));
        if let Some(before) = Instant::now().checked_sub(timeout) {
            replica.forget_servers(before);
        }
    }
}

/// Attachments with Redis: their bytes live there, so every server can
/// serve every file.
impl Link {
    /// Stores `meta`'s bytes as `owner`'s unsent upload.
    pub async fn put_file(
        &self,
        owner: Uuid,
        meta: &Attachment,
        bytes: &[u8],
        limits: &FileLimits,
    ) -> Result<(), HubError> {
        let json = serde_json::to_string(meta).map_err(|_| HubError::Busy)?;
        let now = chrono::Utc::now().timestamp_millis();
        let mut conn = self.conn.clone();
        let reply: Result<String, RedisError> = Script::new(FILE_PUT)
            .arg(meta.id.to_string())
            .arg(owner.to_string())
            .arg(json)
            .arg(meta.size)
            .arg(limits.total_bytes)
            .arg(now)
            .arg(PENDING_TTL.as_millis() as u64)
            .arg(bytes)
            .arg(limits.per_user_bytes)
            .invoke_async(&mut conn)
            .await;
        match reply.as_deref() {
            Ok("ok") => Ok(()),
            Ok(refused) => Err(HubError::Attachment(match refused.strip_prefix("quota:") {
                Some(held) => FileError::Quota {
                    held: held.parse().unwrap_or(0),
                    got: meta.size,
                    max: limits.per_user_bytes,
                },
                None => FileError::Full,
            })),
            Err(err) => Err(self.failed("upload", err)),
        }
    }

    /// `owner`'s unsent uploads `ids`, to attach to a message (Redis
    /// checks again, atomically, when the message is stored).
    pub async fn pending_files(
        &self,
        owner: Uuid,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>, HubError> {
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let (meta, holder, pending) = self.file_info(id).await?;
            let mine = pending && holder.as_deref() == Some(owner.to_string().as_str());
            match meta.filter(|_| mine) {
                Some(meta) => found.push(meta),
                None => return Err(HubError::Attachment(FileError::NotYours(id.to_string()))),
            }
        }
        Ok(found)
    }

    /// A file attached to a message, with its bytes.
    pub async fn file(&self, id: &AttachmentId) -> Result<Option<(Attachment, Vec<u8>)>, HubError> {
        let (meta, _, pending) = self.file_info(id).await?;
        let Some(meta) = meta.filter(|_| !pending) else {
            return Ok(None);
        };
        let mut conn = self.conn.clone();
        let bytes: Result<Option<Vec<u8>>, RedisError> = redis::cmd("HGET")
            .arg(format!("{PREFIX}file:{id}"))
            .arg("bytes")
            .query_async(&mut conn)
            .await;
        match bytes {
            Ok(bytes) => Ok(bytes.map(|bytes| (meta, bytes))),
            Err(err) => Err(self.failed("download", &err)),
        }
    }

    async fn file_info(
        &self,
        id: &AttachmentId,
    ) -> Result<(Option<Attachment>, Option<String>, bool), HubError> {
        let mut conn = self.conn.clone();
        let reply: Result<(Option<String>, Option<String>, u8), RedisError> =
            Script::new(FILE_INFO)
                .arg(id.to_string())
                .invoke_async(&mut conn)
                .await;
        match reply {
            Ok((meta, owner, pending)) => {
                let meta = meta.and_then(|json| serde_json::from_str(&json).ok());
                Ok((meta, owner, pending == 1))
            }
            Err(err) => Err(self.failed("file", &err)),
        }
    }

    fn failed(&self, what: &str, err: &RedisError) -> HubError {
        self.health.failed(what, err, &self.errors);
        HubError::StoreDown
    }
}

/// Arguments for `PROPOSE` after the op and JSON.
fn proposal_args(entry: &Entry) -> (&'static str, Vec<String>) {
    match entry {
        Entry::User {
            id,
            key,
            session,
            name,
            replaces,
            ..
        } => {
            let mut args = vec![
                key.clone(),
                id.to_string(),
                session.to_hex(),
                replaces.map(|old| old.to_hex()).unwrap_or_default(),
            ];
            args.extend(names::skeletons(name.as_str()));
            ("user", args)
        }
        Entry::Session { hash, replaces, .. } => (
            "session",
            vec![
                hash.to_hex(),
                replaces.map(|old| old.to_hex()).unwrap_or_default(),
            ],
        ),
        Entry::SessionsEnded { hashes } => (
            "end_sessions",
            hashes.iter().map(TokenHash::to_hex).collect(),
        ),
        Entry::Channel { key, channel, .. } => {
            let mut args = vec![key.clone()];
            if Room::of_key(key) == Room::Public {
                args.extend(names::skeletons(channel.name.as_str()));
            }
            ("channel", args)
        }
        Entry::Read { user, key, seq } => {
            ("read", vec![user.to_string(), key.clone(), seq.to_string()])
        }
        Entry::Event {
            key, change, send, ..
        } => {
            let (user, client_id, window) = match (send, change) {
                (Some(send), Change::Posted(message)) => (
                    send.user.to_string(),
                    message
                        .client_id
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    send.window,
                ),
                _ => (String::new(), String::new(), 0),
            };
            let op = match change {
                Change::Posted(_) => "post",
                Change::Deleted { .. } => "delete",
                _ => "change",
            };
            let mut args = vec![key.clone(), user, client_id, window.to_string()];
            match change {
                Change::Deleted { id } => args.push(id.to_string()),
                Change::Posted(message) => {
                    args.extend(message.attachments.iter().map(|a| a.id.to_string()));
                }
                _ => {}
            }
            (op, args)
        }
    }
}

/// Why Redis refused `entry`, as the hub says it.
fn refusal(status: &str, entry: &Entry) -> HubError {
    if let Some(id) = status.strip_prefix("not_yours:") {
        return HubError::Attachment(FileError::NotYours(id.to_owned()));
    }
    match (status, entry) {
        ("name_taken", Entry::User { name, .. }) => HubError::NameTaken(name.to_string()),
        (
            "client_id_reused",
            Entry::Event {
                change: Change::Posted(message),
                ..
            },
        ) => HubError::ClientIdReused(
            message
                .client_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        ("channel_exists", Entry::Channel { channel, .. }) => {
            HubError::ChannelExists(channel.name.to_string())
        }
        (_, Entry::Event { key, .. }) => HubError::UnknownChannel(key.clone()),
        _ => HubError::Busy,
    }
}

/// Sends proposals to Redis one by one, in ticket order.
/// Proposals sent to Redis in one round trip, at most.
const MAX_PIPELINE: usize = 256;

/// A proposal ready to send: `PROPOSE`'s arguments, and what to settle.
struct Prepared {
    args: Vec<String>,
    /// The change's ticket and entry (`None`: a notice, nothing to settle).
    change: Option<(u64, Entry)>,
}

/// `Err` holds the ticket of a change that cannot be sent (`None`: a notice).
fn prepare(proposal: Proposal, lens: (usize, usize)) -> Result<Prepared, Option<u64>> {
    let (op, json, extra, change) = match proposal {
        Proposal::Notice(notice) => {
            let json = serde_json::to_string(&notice).map_err(|_| None)?;
            ("notice", json, Vec::new(), None)
        }
        Proposal::Change { ticket, entry } => {
            let json = serde_json::to_string(&entry).map_err(|_| Some(ticket))?;
            let (op, extra) = proposal_args(&entry);
            (op, json, extra, Some((ticket, *entry)))
        }
    };
    let mut args = vec![op.to_owned(), json, lens.0.to_string(), lens.1.to_string()];
    args.extend(extra);
    Ok(Prepared { args, change })
}

/// Sends proposals to Redis in ticket order: every proposal waiting is
/// sent in one pipelined round trip (up to `MAX_PIPELINE`), and each is
/// settled with its own answer, in order.
/// `lens`: `(log_len, ring_len)`, how much Redis keeps of the log and of
/// each channel.
async fn write(
    mut conn: ConnectionManager,
    mut proposals: mpsc::Receiver<Proposal>,
    tasks: Tasks,
    lens: (usize, usize),
) {
    let Tasks {
        settlements,
        health,
        shutdown,
        ..
    } = &tasks;
    let script = Script::new(PROPOSE);
    loop {
        let next = tokio::select! {
            biased;
            next = proposals.recv() => next,
            // Closing: the hub takes no more; send what it already took.
            _ = shutdown.cancelled() => proposals.try_recv().ok(),
        };
        let Some(first) = next else {
            return;
        };
        let mut batch = Vec::with_capacity(MAX_PIPELINE);
        for proposal in
            std::iter::once(first).chain(std::iter::from_fn(|| proposals.try_recv().ok()))
        {
            match prepare(proposal, lens) {
                Ok(prepared) => batch.push(prepared),
                Err(None) => {}
                Err(Some(ticket)) => settlements.proposed(ticket, None, Err(HubError::Busy)),
            }
            if batch.len() == MAX_PIPELINE {
                break;
            }
        }
        let replies = match send(&mut conn, &script, &batch).await {
            Ok(replies) => {
                health.ok();
                replies
            }
            Err(err) => {
                tasks.failed("write", &err);
                batch.iter().map(|_| Err(err.clone())).collect()
            }
        };
        // One answer per call; should one be missing, that change is
        // refused like any Redis failure (never left unsettled).
        let mut replies = replies.into_iter();
        for prepared in batch {
            let reply = replies.next();
            let Some((ticket, entry)) = prepared.change else {
                if let Some(Err(err)) = reply {
                    tasks.failed("notice", &err);
                }
                continue;
            };
            let outcome = match reply {
                None => (None, Err(HubError::StoreDown)),
                Some(Ok((status, n, seq))) => match status.as_str() {
                    "ok" => ((n > 0).then_some(n), Ok(Some(seq))),
                    "dup" => (None, Ok(Some(seq))),
                    refused => (None, Err(refusal(refused, &entry))),
                },
                Some(Err(err)) => {
                    tasks.failed("write", &err);
                    (None, Err(HubError::StoreDown))
                }
            };
            settlements.proposed(ticket, outcome.0, outcome.1);
        }
    }
}

type Reply = Result<(String, u64, u64), RedisError>;

/// One pipelined round trip of `PROPOSE` calls, one answer each. After a
/// Redis restart its script cache is empty and those calls did not run:
/// the script is loaded and they are sent again, still in order.
async fn send(
    conn: &mut ConnectionManager,
    script: &Script,
    batch: &[Prepared],
) -> Result<Vec<Reply>, RedisError> {
    let pipeline = |which: &[usize]| {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in which {
            pipe.cmd("EVALSHA")
                .arg(script.get_hash())
                .arg(0)
                .arg(&batch[i].args);
        }
        pipe
    };
    let all: Vec<usize> = (0..batch.len()).collect();
    let mut replies: Vec<Reply> = pipeline(&all).query_async(conn).await?;
    let again: Vec<usize> = all
        .into_iter()
        .filter(|&i| {
            replies.get(i).is_some_and(|reply| {
                reply.as_ref().is_err_and(|e| {
                    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
                })
            })
        })
        .collect();
    if again.is_empty() {
        return Ok(replies);
    }
    script.load_async(conn).await?;
    let retried: Vec<Reply> = pipeline(&again).query_async(conn).await?;
    for (i, reply) in again.into_iter().zip(retried) {
        if let Some(slot) = replies.get_mut(i) {
            *slot = reply;
        }
    }
    Ok(replies)
}

/// Reads the log from `from` and applies it to `replica`, reconnecting
/// (with backoff) whenever Redis goes away, and reloading everything when
/// the log no longer reaches back to where it stopped.
/// Starts at `(from, dataset, node)`: the snapshot's log position, Redis'
/// dataset id and this server's id (its own notices are skipped).
async fn follow(
    url: String,
    mut conn: ConnectionManager,
    (from, dataset, node): (u64, String, Uuid),
    replica: Arc<dyn Replica>,
    tasks: Tasks,
) {
    let Tasks {
        settlements,
        health,
        shutdown,
        ..
    } = &tasks;
    let mut last = from;
    let mut backoff = Duration::from_millis(100);
    let log = format!("{PREFIX}log");
    loop {
        // A blocking read ties up its connection: the follower has its own.
        let reader = async {
            let client = Client::open(url.as_str())?;
            let config = AsyncConnectionConfig::new()
                .set_connection_timeout(Some(CONNECT_TIMEOUT))
                .set_response_timeout(Some(RESPONSE_TIMEOUT + Duration::from_millis(BLOCK_MS)));
            client
                .get_multiplexed_async_connection_with_config(&config)
                .await
        };
        let mut reader = tokio::select! {
            _ = shutdown.cancelled() => return,
            reader = reader => match reader {
                Ok(reader) => reader,
                Err(err) => {
                    tasks.failed("connect", &err);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    continue;
                }
            },
        };
        backoff = Duration::from_millis(100);
        // Back after an outage: is this still the same dataset?
        match redis::cmd("GET")
            .arg(format!("{PREFIX}id"))
            .query_async::<Option<String>>(&mut reader)
            .await
        {
            Ok(Some(id)) if id == dataset => {}
            Ok(other) => {
                tracing::error!(
                    found = ?other,
                    "Redis lost Flack's data (its dataset id changed); stopping so clients start over"
                );
                std::process::exit(70);
            }
            Err(err) => {
                tasks.failed("read", &err);
                continue;
            }
        }
        loop {
            let mut xread = redis::cmd("XREAD");
            xread
                .arg("COUNT")
                .arg(READ_BATCH)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&log)
                .arg(format!("{last}-0"));
            let read = xread.query_async::<Option<StreamReadReply>>(&mut reader);
            let reply = tokio::select! {
                _ = shutdown.cancelled() => return,
                reply = read => reply,
            };
            let reply = match reply {
                Ok(reply) => reply,
                Err(err) => {
                    tasks.failed("read", &err);
                    break;
                }
            };
            health.ok();
            let ids = reply
                .into_iter()
                .flat_map(|r| r.keys)
                .flat_map(|k| k.ids)
                .collect::<Vec<_>>();
            if ids.is_empty() {
                continue;
            }
            let mut batch = Vec::with_capacity(ids.len());
            let mut gap = false;
            for id in ids {
                let n = log_position(&id.id);
                if n != Some(last + 1) {
                    gap = true;
                    break;
                }
                match decode(&id.map) {
                    Ok(Logged::Entry(entry)) => batch.push(*entry),
                    Ok(Logged::Notice(notice)) => {
                        if notice.node() != node {
                            // In log order: the changes before it first.
                            if !batch.is_empty() {
                                replica.apply(std::mem::take(&mut batch));
                            }
                            replica.notice(notice);
                        }
                    }
                    Err(what) => {
                        // Written by a newer or broken server: reload rather than guess.
                        tracing::error!("unreadable log entry {}: {what}", id.id);
                        gap = true;
                        break;
                    }
                }
                last += 1;
            }
            if !batch.is_empty() {
                replica.apply(batch);
            }
            settlements.applied(last);
            if gap {
                tracing::warn!(
                    at = last,
                    "the Redis log has a gap for this server; reloading"
                );
                match snapshot(&mut conn).await {
                    Ok(snapshot) => {
                        last = snapshot.lsn;
                        replica.reload(snapshot);
                        settlements.applied(last);
                    }
                    Err(Fetch::Redis(err)) => {
                        tasks.failed("reload", &err);
                        break;
                    }
                    Err(Fetch::Corrupt(what)) => {
                        tracing::error!("cannot reload from Redis: {what}");
                        std::process::exit(70);
                    }
                }
            }
        }
    }
}

/// `n` of a log id `n-0`.
fn log_position(id: &str) -> Option<u64> {
    id.split_once('-')?.0.parse().ok()
}

/// A log entry: a change's JSON (`e`) with its `seq` (`s`) set, or a
/// notice (`n`).
fn decode(fields: &std::collections::HashMap<String, redis::Value>) -> Result<Logged, String> {
    let text = |name: &str| -> Result<String, String> {
        match fields.get(name) {
            Some(value) => redis::from_redis_value_ref::<String>(value).map_err(|e| e.to_string()),
            None => Err(format!("no field {name}")),
        }
    };
    if fields.contains_key("n") {
        let notice = serde_json::from_str(&text("n")?).map_err(|e| e.to_string())?;
        return Ok(Logged::Notice(notice));
    }
    let entry: Entry = serde_json::from_str(&text("e")?).map_err(|e| e.to_string())?;
    let seq: u64 = text("s")?.parse().map_err(|_| "bad seq".to_owned())?;
    Ok(Logged::Entry(Box::new(with_seq(entry, seq))))
}

/// An event as Redis numbered it (the proposer did not know its `seq`).
fn with_seq(entry: Entry, seq: u64) -> Entry {
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

enum Fetch {
    Redis(RedisError),
    Corrupt(String),
}

type RawChannel = (String, String, u64, Vec<(String, Vec<String>)>);
type RawSnapshot = (
    u64,
    String,
    Vec<String>,
    Vec<String>,
    Vec<RawChannel>,
    Vec<(String, Vec<String>)>,
);

async fn snapshot(conn: &mut ConnectionManager) -> Result<Snapshot, Fetch> {
    let proposed_id = Uuid::new_v4().to_string();
    let (lsn, dataset, users, sessions, channels, reads): RawSnapshot = Script::new(SNAPSHOT)
        .arg(proposed_id)
        .invoke_async(conn)
        .await
        .map_err(Fetch::Redis)?;
    let parse = |json: &str| -> Result<Entry, Fetch> {
        serde_json::from_str(json).map_err(|e| Fetch::Corrupt(format!("{e}: {json}")))
    };
    let mut entries = Vec::with_capacity(users.len() + sessions.len() + channels.len());
    for json in users.iter().chain(&sessions) {
        entries.push(parse(json)?);
    }
    let mut rooms = Vec::with_capacity(channels.len());
    for (key, json, head, events) in channels {
        entries.push(parse(&json)?);
        let mut decoded = Vec::with_capacity(events.len());
        for (id, fields) in events {
            let seq = log_position(&id).ok_or_else(|| Fetch::Corrupt(format!("event id {id}")))?;
            let json = fields
                .chunks(2)
                .find(|pair| pair[0] == "e")
                .and_then(|pair| pair.get(1))
                .ok_or_else(|| Fetch::Corrupt(format!("event {id} has no entry")))?;
            decoded.push(with_seq(parse(json)?, seq));
        }
        rooms.push(ChannelEvents {
            key,
            head,
            events: decoded,
        });
    }
    let mut read_entries = Vec::new();
    for (user, flat) in reads {
        let user: Uuid = user
            .parse()
            .map_err(|_| Fetch::Corrupt(format!("user id {user}")))?;
        for pair in flat.chunks(2) {
            if let [key, seq] = pair {
                let seq = seq
                    .parse()
                    .map_err(|_| Fetch::Corrupt(format!("read position {seq}")))?;
                read_entries.push(Entry::Read {
                    user,
                    key: key.clone(),
                    seq,
                });
            }
        }
    }
    Ok(Snapshot {
        dataset,
        lsn,
        entries,
        channels: rooms,
        reads: read_entries,
    })
}
