//! The writer: sends proposals to Redis in ticket order. Every proposal
//! waiting is sent in one pipelined round trip (up to `MAX_PIPELINE`),
//! and each is decided by its own answer, in order; it settles once the
//! follower applied its entry.

use super::{Link, Noted, Proposal};
use crate::chat::{access::Room, names};
use crate::chat::{Change, Entry, FileError, HubError, Outcome, TokenHash};
use crate::log::settlements::Settlements;
use app::model::THREAD_LEN;
use redis::aio::ConnectionManager;
use redis::{RedisError, Script};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Proposals sent to Redis in one round trip, at most.
const MAX_PIPELINE: usize = 256;

pub struct Writer {
    pub link: Link,
    pub proposals: mpsc::Receiver<Proposal>,
    pub settlements: Arc<Settlements>,
    pub shutdown: CancellationToken,
    /// `(log_len, ring_len)`: how much Redis keeps of the log and of each
    /// channel.
    pub lens: (usize, usize),
    /// This server, in its notices.
    pub node: Uuid,
}

/// A proposal ready to send: `propose.lua`'s arguments, and what to settle.
struct Prepared {
    args: Vec<String>,
    /// The change's ticket and entry (`None`: a notice, nothing to settle).
    change: Option<(u64, Entry)>,
}

type Reply = Result<(String, u64, u64), RedisError>;

impl Writer {
    pub async fn run(mut self) {
        let script = Script::new(include_str!("propose.lua"));
        while let Some(batch) = self.next_batch().await {
            let replies = match send(&mut self.link.conn.clone(), &script, &batch).await {
                Ok(replies) => {
                    self.link.health.ok();
                    replies
                }
                Err(err) => {
                    self.link.failed("write", &err);
                    batch.iter().map(|_| Err(err.clone())).collect()
                }
            };
            self.decide(batch, replies);
        }
    }

    /// The proposals waiting, prepared; `None` once closed and drained.
    async fn next_batch(&mut self) -> Option<Vec<Prepared>> {
        let first = tokio::select! {
            biased;
            next = self.proposals.recv() => next,
            // Closing: the hub takes no more; send what it already took.
            _ = self.shutdown.cancelled() => self.proposals.try_recv().ok(),
        }?;
        let mut batch = Vec::with_capacity(MAX_PIPELINE);
        let mut next = Some(first);
        while let Some(proposal) = next.take() {
            match self.prepare(proposal) {
                Ok(prepared) => batch.push(prepared),
                Err(None) => {}
                Err(Some(ticket)) => self.settlements.decided(ticket, None, Err(HubError::Busy)),
            }
            if batch.len() < MAX_PIPELINE {
                next = self.proposals.try_recv().ok();
            }
        }
        Some(batch)
    }

    /// `Err` holds the ticket of a change that cannot be sent (`None`: a
    /// notice).
    fn prepare(&self, proposal: Proposal) -> Result<Prepared, Option<u64>> {
        let (op, json, extra, change) = match proposal {
            Proposal::Notice(notice) => {
                let noted = Noted {
                    node: self.node,
                    notice,
                };
                let json = serde_json::to_string(&noted).map_err(|_| None)?;
                ("notice", json, Vec::new(), None)
            }
            Proposal::Change { ticket, entry } => {
                let json = serde_json::to_string(&entry).map_err(|_| Some(ticket))?;
                let (op, extra) = arguments(&entry);
                (op, json, extra, Some((ticket, *entry)))
            }
        };
        let (log_len, ring_len) = self.lens;
        let mut args = vec![
            op.to_owned(),
            json,
            log_len.to_string(),
            ring_len.to_string(),
        ];
        args.extend(extra);
        Ok(Prepared { args, change })
    }

    /// Decides each change by its answer, in order. One answer per call;
    /// should one be missing, that change is refused like any Redis
    /// failure (never left unsettled).
    fn decide(&self, batch: Vec<Prepared>, replies: Vec<Reply>) {
        let mut replies = replies.into_iter();
        for prepared in batch {
            let reply = replies.next();
            let Some((ticket, entry)) = prepared.change else {
                if let Some(Err(err)) = reply {
                    self.link.failed("notice", &err);
                }
                continue;
            };
            let (lsn, outcome) = match reply {
                None => (None, Err(HubError::StoreDown)),
                Some(Ok((status, n, seq))) => decision(&status, n, seq, &entry),
                Some(Err(err)) => (None, Err(self.link.failed("write", &err))),
            };
            self.settlements.decided(ticket, lsn, outcome);
        }
    }
}

/// What an answer of `propose.lua` means: the log position to wait for,
/// and the outcome.
fn decision(status: &str, n: u64, seq: u64, entry: &Entry) -> (Option<u64>, crate::log::Settled) {
    match status {
        "ok" => {
            let outcome = match entry {
                Entry::Event { .. } => Outcome::Stored { seq },
                _ => Outcome::Done,
            };
            ((n > 0).then_some(n), Ok(outcome))
        }
        "dup" => (None, Ok(Outcome::Duplicate { seq })),
        refused => (None, Err(refusal(refused, entry))),
    }
}

/// Arguments for `propose.lua` after the op and JSON.
fn arguments(entry: &Entry) -> (&'static str, Vec<String>) {
    let hex = |hash: &Option<TokenHash>| hash.map(|old| old.to_hex()).unwrap_or_default();
    match entry {
        Entry::User {
            id,
            key,
            session,
            name,
            replaces,
            ..
        } => {
            let mut args = vec![key.clone(), id.to_string(), session.to_hex(), hex(replaces)];
            args.extend(names::skeletons(name.as_str()));
            ("user", args)
        }
        Entry::Session { hash, replaces, .. } => ("session", vec![hash.to_hex(), hex(replaces)]),
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
        } => event_arguments(key, change, send.as_ref().map(|s| (s.user, s.window))),
    }
}

fn event_arguments(
    key: &str,
    change: &Change,
    send: Option<(Uuid, usize)>,
) -> (&'static str, Vec<String>) {
    let (user, window) = send.map_or((String::new(), 0), |(u, w)| (u.to_string(), w));
    let client_id = change
        .client_id()
        .map(ToString::to_string)
        .unwrap_or_default();
    let mut args = vec![key.to_owned(), user, client_id, window.to_string()];
    let op = match change {
        Change::Posted(message) => {
            let op = match message.reply_to {
                Some(to) if !to.also_in_channel => {
                    args.extend([to.root.to_string(), THREAD_LEN.to_string()]);
                    "reply"
                }
                _ => "post",
            };
            args.extend(message.attachments.iter().map(|a| a.id.to_string()));
            op
        }
        Change::Deleted { id, thread } => {
            args.push(id.to_string());
            args.push(thread.map(|root| root.to_string()).unwrap_or_default());
            "delete"
        }
        Change::Topic { .. } => "topic",
        _ => "change",
    };
    (op, args)
}

/// Why Redis refused `entry`, as the hub says it.
fn refusal(status: &str, entry: &Entry) -> HubError {
    if let Some(id) = status.strip_prefix("not_yours:") {
        return HubError::Attachment(FileError::NotYours(id.to_owned()));
    }
    match (status, entry) {
        ("name_taken", Entry::User { name, .. }) => HubError::NameTaken(name.to_string()),
        ("client_id_reused", Entry::Event { change, .. }) => HubError::ClientIdReused(
            change
                .client_id()
                .map(ToString::to_string)
                .unwrap_or_default(),
        ),
        ("channel_exists", Entry::Channel { channel, .. }) => {
            HubError::ChannelExists(channel.name.to_string())
        }
        (
            "unknown_message",
            Entry::Event {
                change: Change::Posted(message),
                ..
            },
        ) => HubError::UnknownMessage(message.reply_to.map_or(0, |to| to.root)),
        (_, Entry::Event { key, .. }) => HubError::UnknownChannel(key.clone()),
        _ => HubError::Busy,
    }
}

/// One pipelined round trip of `propose.lua` calls, one answer each.
/// After a Redis restart its script cache is empty and those calls did
/// not run: the script is loaded and they are sent again, still in order.
async fn send(
    conn: &mut ConnectionManager,
    script: &Script,
    batch: &[Prepared],
) -> Result<Vec<Reply>, RedisError> {
    let pipeline = |which: &[usize]| {
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for &i in which {
            (pipe.cmd("EVALSHA").arg(script.get_hash()).arg(0)).arg(&batch[i].args);
        }
        pipe
    };
    let all: Vec<usize> = (0..batch.len()).collect();
    let mut replies: Vec<Reply> = pipeline(&all).query_async(conn).await?;
    let no_script = |reply: &Reply| {
        reply
            .as_ref()
            .is_err_and(|e| e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
    };
    let again: Vec<usize> = (all.into_iter())
        .filter(|&i| replies.get(i).is_some_and(no_script))
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
