//! The follower: reads the log from where this server's state is and
//! applies it, in order, reconnecting (with backoff) whenever Redis goes
//! away, and reloading everything when the log no longer reaches back to
//! where it stopped.

use super::snapshot::{self, Fetch};
use super::{Link, Noted, CONNECT_TIMEOUT, PREFIX, RESPONSE_TIMEOUT};
use crate::chat::{Entry, Keep};
use crate::log::settlements::Settlements;
use crate::log::Sink;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamId, StreamReadReply};
use redis::{AsyncConnectionConfig, Client};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// How long a blocking read waits before asking again.
const BLOCK_MS: u64 = 1_000;
/// Log entries read per call.
const READ_BATCH: usize = 1_024;

pub struct Follower {
    pub url: String,
    pub link: Link,
    /// The last log position applied.
    pub last: u64,
    /// Redis' dataset id when this server started.
    pub dataset: String,
    /// This server: its own notices are skipped.
    pub node: Uuid,
    pub sink: Arc<dyn Sink>,
    pub settlements: Arc<Settlements>,
    pub shutdown: CancellationToken,
    /// Cancelled when this server must stop.
    pub failed: CancellationToken,
}

/// What to do after a stretch of following.
enum Then {
    Reconnect,
    Stop,
}

/// A log entry: a change with its `seq` set, or a notice.
enum Logged {
    Entry(Box<Entry>),
    Notice(Noted),
}

impl Follower {
    pub async fn run(mut self) {
        let mut backoff = Duration::from_millis(100);
        loop {
            // A blocking read ties up its connection: the follower has its own.
            let Some(mut reader) = self.connect(&mut backoff).await else {
                return;
            };
            let then = match self.same_dataset(&mut reader).await {
                Some(true) => self.follow(&mut reader).await,
                Some(false) => Then::Stop,
                None => Then::Reconnect,
            };
            if matches!(then, Then::Stop) {
                return;
            }
        }
    }

    /// A reading connection, waiting out Redis (`None`: shutting down).
    async fn connect(&self, backoff: &mut Duration) -> Option<MultiplexedConnection> {
        loop {
            let reader = async {
                let client = Client::open(self.url.as_str())?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT + Duration::from_millis(BLOCK_MS)));
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
            };
            let err = tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                reader = reader => match reader {
                    Ok(reader) => {
                        *backoff = Duration::from_millis(100);
                        return Some(reader);
                    }
                    Err(err) => err,
                },
            };
            self.link.failed("connect", &err);
            tokio::select! {
                _ = self.shutdown.cancelled() => return None,
                _ = tokio::time::sleep(*backoff) => {}
            }
            *backoff = (*backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// Back after an outage: is this still the same dataset? (`None`: no
    /// answer.) If not, this server stops so its clients start over.
    async fn same_dataset(&self, reader: &mut MultiplexedConnection) -> Option<bool> {
        let mut id = redis::cmd("GET");
        id.arg(format!("{PREFIX}id"));
        match id.query_async::<Option<String>>(reader).await {
            Ok(Some(id)) if id == self.dataset => Some(true),
            Ok(other) => {
                tracing::error!(
                    found = ?other,
                    "Redis lost Flack's data (its dataset id changed); stopping so clients start over"
                );
                self.failed.cancel();
                Some(false)
            }
            Err(err) => {
                self.link.failed("read", &err);
                None
            }
        }
    }

    /// Reads and applies the log until the link fails or this server stops.
    async fn follow(&mut self, reader: &mut MultiplexedConnection) -> Then {
        let log = format!("{PREFIX}log");
        loop {
            let mut xread = redis::cmd("XREAD");
            (xread
                .arg("COUNT")
                .arg(READ_BATCH)
                .arg("BLOCK")
                .arg(BLOCK_MS))
            .arg("STREAMS")
            .arg(&log)
            .arg(format!("{}-0", self.last));
            let read = xread.query_async::<Option<StreamReadReply>>(reader);
            let reply = tokio::select! {
                _ = self.shutdown.cancelled() => return Then::Stop,
                reply = read => reply,
            };
            let ids: Vec<StreamId> = match reply {
                Ok(reply) => (reply.into_iter().flat_map(|r| r.keys))
                    .flat_map(|k| k.ids)
                    .collect(),
                Err(err) => {
                    self.link.failed("read", &err);
                    return Then::Reconnect;
                }
            };
            self.link.health.ok();
            if ids.is_empty() {
                continue;
            }
            let gap = self.apply(ids);
            self.settlements.applied(self.last);
            if gap {
                if let Some(then) = self.reload().await {
                    return then;
                }
            }
        }
    }

    /// Applies entries in log order (notices in their place); true when
    /// the log has a gap, or an entry this server cannot read.
    fn apply(&mut self, ids: Vec<StreamId>) -> bool {
        let mut batch = Vec::with_capacity(ids.len());
        let mut gap = false;
        for id in ids {
            if log_position(&id.id) != Some(self.last + 1) {
                gap = true;
                break;
            }
            match decode(&id.map) {
                Ok(Logged::Entry(entry)) => batch.push(*entry),
                Ok(Logged::Notice(noted)) if noted.node != self.node => {
                    // In log order: the changes before it first.
                    if !batch.is_empty() {
                        self.sink
                            .apply(std::mem::take(&mut batch), Keep::OutcomeOnly);
                    }
                    self.sink.notice(noted.node, noted.notice);
                }
                Ok(Logged::Notice(_)) => {}
                Err(what) => {
                    // Written by a newer or broken server: reload rather than guess.
                    tracing::error!("unreadable log entry {}: {what}", id.id);
                    gap = true;
                    break;
                }
            }
            self.last += 1;
        }
        if !batch.is_empty() {
            self.sink.apply(batch, Keep::OutcomeOnly);
        }
        gap
    }

    /// Replaces everything with a fresh snapshot (`Some`: stop following).
    async fn reload(&mut self) -> Option<Then> {
        tracing::warn!(
            at = self.last,
            "the Redis log has a gap for this server; reloading"
        );
        match snapshot::fetch(&mut self.link.conn.clone()).await {
            Ok(fetched) => {
                self.last = fetched.lsn;
                self.sink.reload(fetched.state);
                self.settlements.applied(self.last);
                None
            }
            Err(Fetch::Redis(err)) => {
                self.link.failed("reload", &err);
                Some(Then::Reconnect)
            }
            Err(Fetch::Corrupt(what)) => {
                tracing::error!("cannot reload from Redis: {what}; stopping");
                self.failed.cancel();
                Some(Then::Stop)
            }
        }
    }
}

/// `n` of a log id `n-0`.
pub fn log_position(id: &str) -> Option<u64> {
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
        let noted = serde_json::from_str(&text("n")?).map_err(|e| e.to_string())?;
        return Ok(Logged::Notice(noted));
    }
    let entry: Entry = serde_json::from_str(&text("e")?).map_err(|e| e.to_string())?;
    let seq: u64 = text("s")?.parse().map_err(|_| "bad seq".to_owned())?;
    Ok(Logged::Entry(Box::new(snapshot::with_seq(entry, seq))))
}
