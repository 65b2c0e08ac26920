//! One channel: its ring (the `HISTORY_LEN` most recent messages as they
//! are now), its threads (`thread`), and its event log (the recent events
//! a resuming viewer needs, threads' included: one `seq` order for all).
//!
//! Invariants:
//! - Per channel, every change is an event with a `seq`, strictly
//!   increasing and never reused; `head` is the latest. A change that no
//!   longer applies (its message went while it waited) still takes its
//!   `seq`, so every log hands out the same numbers.
//! - The ring holds the most recent messages as they are now, a deleted one
//!   gone; the log holds events back to `log_floor`, never one about a
//!   deleted message except the deletion, and no more than its limits in
//!   events and bytes.
//! - A message's frame is serialized once, when it enters or changes in
//!   the ring; every viewer is sent the same bytes.

use crate::chat::entry::Change;
use crate::chat::markup::Rendered;
use crate::chat::search;
use crate::chat::thread::Threads;
use app::model::{
    AttachmentId, Channel, ChannelHistory, DisplayName, Emoji, Message, Reaction, Replies,
    Timestamp, HISTORY_LEN,
};
use app::protocol::{frame, ServerFrame};
use bytes::Bytes;
use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};

/// A channel event, with its frame serialized once (JSON text). `seq` 0
/// marks an ephemeral notice (typing), sent to viewers but no event; `id`
/// 0, a change to the channel itself (its topic), which no deletion
/// takes out of the log.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    /// The message the event is about (its `seq`).
    pub id: u64,
    pub frame: Bytes,
}

impl Event {
    fn of(seq: u64, id: u64, frame: &ServerFrame) -> Arc<Self> {
        Arc::new(Self {
            seq,
            id,
            frame: Bytes::from(frame.to_json()),
        })
    }
}

/// How much a channel's event log keeps: events, and their frames' bytes.
#[derive(Debug, Clone, Copy)]
pub struct LogLimits {
    pub events: usize,
    pub bytes: usize,
}

/// A message in the ring, with the frame that shows it as it is now.
pub struct Held {
    pub message: Message,
    pub current: Arc<Event>,
    /// Its text as search compares it (`search::fold` of the body and the
    /// attachments' names), made by the first search that reads it: no
    /// cost to a message nobody searches.
    searchable: OnceLock<Box<str>>,
}

impl Held {
    pub fn new(message: Message) -> Self {
        let current = Event::of(
            message.seq,
            message.seq,
            &ServerFrame::Message(message.clone()),
        );
        Self {
            message,
            current,
            searchable: OnceLock::new(),
        }
    }

    /// The message's text folded for search.
    pub fn searchable(&self) -> &str {
        self.searchable.get_or_init(|| {
            let names = self.message.attachments.iter().map(|a| a.name.as_str());
            let text = std::iter::once(self.message.body.as_str()).chain(names);
            let folded: Vec<String> = text.map(search::fold).collect();
            folded.join(" ").into()
        })
    }
}

/// What applying a change did to the channel.
#[derive(Default)]
pub struct Changed {
    /// The event viewers are sent (`None`: the change no longer applies).
    pub event: Option<Arc<Event>>,
    /// Messages that left the ring (deleted, or pushed out by a new one).
    pub gone: Vec<Message>,
}

pub struct ChannelState {
    pub info: Channel,
    /// The most recent messages as they are now (replies also sent to
    /// the channel included).
    pub ring: VecDeque<Held>,
    /// The replies kept only in their threads.
    threads: Threads,
    /// What search reads, made when first needed after the last change.
    search: OnceLock<Arc<search::Index>>,
    /// Recent events, oldest first, for resuming viewers.
    log: VecDeque<Arc<Event>>,
    /// The bytes of the log's frames.
    pub log_bytes: usize,
    /// A resume point older than this is no longer covered by the log.
    log_floor: u64,
    /// The latest `seq` handed out.
    pub head: u64,
}

impl ChannelState {
    /// An empty channel: its ring and log grow when used, so a channel
    /// nobody writes in costs a few hundred bytes.
    pub fn new(info: Channel) -> Self {
        Self {
            info,
            ring: VecDeque::new(),
            threads: Threads::default(),
            search: OnceLock::new(),
            log: VecDeque::new(),
            log_bytes: 0,
            log_floor: 0,
            head: 0,
        }
    }

    /// A channel read back with its head and the messages it held: a
    /// resume from before now gets a reset (the log starts empty).
    pub fn restored(info: Channel, head: u64, messages: Vec<Message>) -> Self {
        let mut room = Self::new(info);
        room.head = head;
        room.log_floor = head;
        for message in messages {
            match message.reply_to {
                Some(to) if !to.also_in_channel => {
                    if room.root(to.root).is_some() {
                        room.threads.add(to.root, Held::new(message));
                    }
                }
                _ => room.ring.push_back(Held::new(message)),
            }
        }
        room
    }

    /// A channel rebuilt by replaying its retained events (from its oldest
    /// message on): a resume from before them gets a reset.
    pub fn replayed(
        info: Channel,
        head: u64,
        events: Vec<(u64, Change)>,
        limits: LogLimits,
    ) -> Self {
        let mut room = Self::new(info);
        let first = events.first().map_or(head + 1, |(seq, _)| *seq);
        room.log_floor = first - 1;
        for (seq, change) in events {
            room.apply(seq, change, limits);
        }
        room.head = room.head.max(head);
        room
    }

    pub fn history(&self) -> ChannelHistory {
        ChannelHistory {
            channel: self.info.clone(),
            head: self.head,
            messages: self.ring.iter().map(|h| h.message.clone()).collect(),
        }
    }

    /// The messages as they are now, as frames.
    pub fn current(&self) -> Vec<Arc<Event>> {
        self.ring.iter().map(|h| h.current.clone()).collect()
    }

    /// Message `id`, in the ring or a thread.
    pub fn held(&self, id: u64) -> Option<&Held> {
        (self.ring.iter().find(|h| h.message.seq == id)).or_else(|| self.threads.get(id))
    }

    /// Whether message `root` can take a reply.
    pub fn may_reply_to(&self, root: u64) -> bool {
        self.root(root).is_some()
    }

    /// Message `id` if it can start a thread: in the ring, not a reply.
    fn root(&self, id: u64) -> Option<&Held> {
        (self.ring.iter()).find(|h| h.message.seq == id && h.message.reply_to.is_none())
    }

    /// The thread of message `root`: that message and its replies, oldest
    /// first (those also sent to the channel included).
    pub fn thread(&self, root: u64) -> Option<(Message, Vec<Message>)> {
        let first = self.root(root)?.message.clone();
        let mut replies: Vec<Message> = (self.threads.of(root))
            .chain(self.ring.iter().filter(|h| is_reply_to(&h.message, root)))
            .map(|h| h.message.clone())
            .collect();
        replies.sort_by_key(|m| m.seq);
        Some((first, replies))
    }

    /// Every message held: the ring's, then the threads'.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.all_held().map(|h| &h.message)
    }

    fn all_held(&self) -> impl Iterator<Item = &Held> {
        self.ring.iter().chain(self.threads.all())
    }

    /// The messages held, as search reads them.
    pub fn search_index(&self) -> Arc<search::Index> {
        (self.search)
            .get_or_init(|| Arc::new(search::Index::of(self.all_held())))
            .clone()
    }

    /// The events after `after`, or `None` when some of them are no longer
    /// held (or `after` is from the future, e.g. another server run).
    pub fn events_after(&self, after: u64) -> Option<Vec<Arc<Event>>> {
        if after > self.head || after < self.log_floor {
            return None;
        }
        Some(self.log.iter().filter(|e| e.seq > after).cloned().collect())
    }

    /// Applies a change as event `seq` (the next one, or the one the log
    /// gave it).
    pub fn apply(&mut self, seq: u64, change: Change, limits: LogLimits) -> Changed {
        self.head = self.head.max(seq);
        self.search.take();
        let mut changed = Changed::default();
        let channel = self.info.name.clone();
        let event = match change {
            Change::Posted(mut message) => {
                message.seq = seq;
                self.post(message, &mut changed.gone)
            }
            Change::Edited {
                id,
                body,
                rendered: Rendered { html, mentions },
                at,
            } => self.held_mut(id).map(|held| {
                held.message
                    .apply_edit(body.clone(), html.clone(), mentions.clone(), at);
                *held = Held::new(held.message.clone());
                let edited = frame::Edited {
                    channel,
                    seq,
                    id,
                    body,
                    html,
                    mentions,
                    edited_at: at,
                };
                Event::of(seq, id, &ServerFrame::Edited(edited))
            }),
            Change::Deleted { id, .. } => {
                self.delete(id, &mut changed.gone).map(|(root, thread)| {
                    let deleted = frame::Deleted {
                        channel,
                        seq,
                        id,
                        root,
                        thread,
                    };
                    Event::of(seq, id, &ServerFrame::Deleted(deleted))
                })
            }
            Change::Reacted {
                id,
                emoji,
                user,
                add,
            } => self.held_mut(id).and_then(|held| {
                if !react(&mut held.message.reactions, emoji, user, add) {
                    return None;
                }
                let reactions = held.message.reactions.clone();
                *held = Held::new(held.message.clone());
                let frame = frame::Reactions {
                    channel,
                    seq,
                    id,
                    reactions,
                };
                Some(Event::of(seq, id, &ServerFrame::Reactions(frame)))
            }),
            Change::Topic { topic, by } => {
                self.info.topic = topic.clone();
                let frame = frame::Topic {
                    channel,
                    seq,
                    topic,
                    by,
                };
                Some(Event::of(seq, 0, &ServerFrame::Topic(frame)))
            }
        };
        if let Some(event) = &event {
            self.log_event(event.clone(), limits);
        }
        changed.event = event;
        changed
    }

    fn held_mut(&mut self, id: u64) -> Option<&mut Held> {
        match self.ring.iter().position(|h| h.message.seq == id) {
            Some(at) => self.ring.get_mut(at),
            None => self.threads.get_mut(id),
        }
    }

    /// A new message (`seq` given): into the ring, or a reply into its
    /// thread (and the ring too when also sent to the channel). A reply
    /// whose thread's first message is gone no longer applies: it goes.
    fn post(&mut self, message: Message, gone: &mut Vec<Message>) -> Option<Arc<Event>> {
        let Some(to) = message.reply_to else {
            let held = Held::new(message);
            let event = held.current.clone();
            self.push(held, gone);
            return Some(event);
        };
        if self.root(to.root).is_none() {
            gone.push(message);
            return None;
        }
        let (seq, at) = (message.seq, message.sent_at);
        let held = Held::new(message.clone());
        if to.also_in_channel {
            self.push(held, gone);
        } else {
            gone.extend(self.threads.add(to.root, held));
        }
        let thread = self.summarize(to.root, Some(at))?;
        let reply = frame::Reply { message, thread };
        Some(Event::of(seq, seq, &ServerFrame::Reply(reply)))
    }

    /// Adds to the ring; what it pushes out goes, with its thread.
    fn push(&mut self, held: Held, gone: &mut Vec<Message>) {
        self.ring.push_back(held);
        while self.ring.len() > HISTORY_LEN {
            if let Some(old) = self.ring.pop_front() {
                // Its events are of no use to anyone resuming now.
                self.log_floor = self.log_floor.max(old.message.seq);
                gone.extend(self.threads.remove_thread(old.message.seq));
                gone.push(old.message);
            }
        }
    }

    /// Updates the summary on thread `root`'s first message: one more
    /// reply, sent `at`, or (`None`) one fewer. Returns the new summary.
    fn summarize(&mut self, root: u64, at: Option<Timestamp>) -> Option<Replies> {
        let newest = match at {
            Some(at) => Some(at),
            // The latest reply left, by `seq`, read in place.
            None => (self.threads.of(root))
                .chain(self.ring.iter().filter(|h| is_reply_to(&h.message, root)))
                .max_by_key(|h| h.message.seq)
                .map(|h| h.message.sent_at),
        };
        let held = (self.ring.iter_mut()).find(|h| h.message.seq == root)?;
        let before = held.message.replies.map_or(0, |r| r.count);
        let count = if at.is_some() {
            before + 1
        } else {
            before.saturating_sub(1)
        };
        let replies = Replies {
            count,
            last_at: newest,
        };
        held.message.replies = (count > 0).then_some(replies);
        *held = Held::new(held.message.clone());
        Some(replies)
    }

    /// Takes message `id` out (with its thread, if it started one);
    /// nobody resuming is sent what was deleted, only that it was. For a
    /// reply, its thread's root and new summary.
    fn delete(
        &mut self,
        id: u64,
        gone: &mut Vec<Message>,
    ) -> Option<(Option<u64>, Option<Replies>)> {
        let message = match self.ring.iter().position(|h| h.message.seq == id) {
            Some(at) => self.ring.remove(at)?.message,
            None => self.threads.remove(id)?,
        };
        let thread = self.threads.remove_thread(id);
        let ids: Vec<u64> = std::iter::once(id)
            .chain(thread.iter().map(|m| m.seq))
            .collect();
        let log_bytes = &mut self.log_bytes;
        self.log.retain(|e| {
            let keep = !ids.contains(&e.id);
            if !keep {
                *log_bytes -= e.frame.len();
            }
            keep
        });
        gone.extend(thread);
        let root = message.reply_to.map(|to| to.root);
        gone.push(message);
        let summary = root.and_then(|root| self.summarize(root, None));
        Some((root, summary.filter(|r| r.count > 0)))
    }

    fn log_event(&mut self, event: Arc<Event>, limits: LogLimits) {
        self.log_bytes += event.frame.len();
        self.log.push_back(event);
        while self.log.len() > limits.events.max(1) || self.log_bytes > limits.bytes {
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
    }

    /// The frames held in the log (for tests of its bounds).
    pub fn log_len(&self) -> usize {
        self.log.len()
    }

    /// The log's frames' bytes, counted (for tests of `log_bytes`).
    pub fn log_frame_bytes(&self) -> usize {
        self.log.iter().map(|e| e.frame.len()).sum()
    }

    /// The attachments of the messages held.
    pub fn attachments(&self) -> impl Iterator<Item = &AttachmentId> {
        self.messages()
            .flat_map(|m| m.attachments.iter().map(|a| &a.id))
    }
}

fn is_reply_to(message: &Message, root: u64) -> bool {
    message.reply_to.is_some_and(|to| to.root == root)
}

/// A typing notice for a channel's viewers: `seq` 0, never stored.
pub fn typing_event(channel: &Channel, user: DisplayName) -> Arc<Event> {
    let frame = ServerFrame::Typing(frame::Typing {
        channel: channel.name.clone(),
        user,
    });
    Event::of(0, 0, &frame)
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
