//! The open thread as the browser shows it, kept inside the open channel's
//! log: the same frames move both, in one `seq` order.
//!
//! Invariant: the thread's replies only change by frames whose `seq` is
//! past `last_seq` (the `head` of the `thread` answer that loaded it, then
//! each event applied), so a reply never shows twice or goes missing
//! between the answer and the live events that follow it.

use super::log::ChannelLog;
use crate::model::{Message, Replies, THREAD_LEN};
use leptos::prelude::*;

/// The open thread of the channel shown.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadView {
    /// The `seq` of the message that started it.
    pub root: u64,
    /// That message, once loaded (`None` after it was deleted).
    pub first: Option<Message>,
    pub replies: Vec<Message>,
    pub last_seq: u64,
    /// Whether the server's `thread` answer came (asked again after each
    /// `joined` until it does).
    pub loaded: bool,
    /// The server has no such thread (its first message went).
    pub missing: bool,
}

impl ThreadView {
    pub fn of(root: u64) -> Self {
        Self {
            root,
            ..Self::default()
        }
    }

    /// Whether an event `seq` is new to the loaded thread (and moves it on).
    fn takes(&mut self, seq: u64) -> bool {
        if !self.loaded || seq <= self.last_seq {
            return false;
        }
        self.last_seq = seq;
        true
    }
}

impl ChannelLog {
    /// The `thread` answer for the open thread, as of `head`.
    pub fn load_thread(&mut self, head: u64, first: Message, replies: Vec<Message>) {
        if let Some(view) = self.thread.as_mut().filter(|v| v.root == first.seq) {
            *view = ThreadView {
                root: first.seq,
                first: Some(first),
                replies,
                last_seq: head,
                loaded: true,
                missing: false,
            };
        }
    }

    /// A `reply` frame: the thread's summary on its first message, the
    /// reply in the channel too if sent there, and in the open thread.
    pub fn apply_reply(&mut self, message: Message, thread: Replies) -> bool {
        let Some(to) = message.reply_to else {
            return false;
        };
        if !self.shows(&message.channel) || message.seq <= self.last_seq {
            return false;
        }
        self.last_seq = message.seq;
        set_summary(&mut self.messages, to.root, Some(thread));
        if to.also_in_channel {
            self.push(message.clone());
        }
        if let Some(view) = self.thread.as_mut().filter(|v| v.root == to.root) {
            if view.takes(message.seq) {
                set_summary(view.first.iter_mut(), to.root, Some(thread));
                view.replies.push(message);
                let excess = view.replies.len().saturating_sub(2 * THREAD_LEN);
                view.replies.drain(..excess);
            }
        }
        true
    }

    /// An edit or new reactions (event `seq`) for the open thread.
    pub(super) fn change_in_thread(&mut self, seq: u64, id: u64, change: &dyn Fn(&mut Message)) {
        if let Some(view) = self.thread.as_mut() {
            if view.takes(seq) {
                (view.first.iter_mut().chain(view.replies.iter_mut()))
                    .filter(|m| m.seq == id)
                    .for_each(change);
            }
        }
    }

    /// A deletion (event `seq`): a reply leaves the open thread; the
    /// thread's first message takes the thread with it.
    pub(super) fn delete_in_thread(
        &mut self,
        seq: u64,
        id: u64,
        root: Option<u64>,
        thread: Option<Replies>,
    ) {
        if let Some(root) = root {
            set_summary(&mut self.messages, root, thread);
        }
        if let Some(view) = self.thread.as_mut() {
            if view.takes(seq) {
                view.replies.retain(|m| m.seq != id);
                if id == view.root {
                    view.first = None;
                    view.replies.clear();
                }
                if root == Some(view.root) {
                    set_summary(view.first.iter_mut(), view.root, thread);
                }
            }
        }
    }
}

/// Sets the summary on the message `root` among `messages`.
fn set_summary<'m>(
    messages: impl IntoIterator<Item = &'m mut Message>,
    root: u64,
    thread: Option<Replies>,
) {
    for message in messages.into_iter().filter(|m| m.seq == root) {
        message.replies = thread;
    }
}

impl super::Chat {
    /// Opens the thread of message `root` beside the channel shown (the
    /// URL says so: the channel page calls this from its `thread` query).
    pub fn open_thread(&self, root: u64) {
        let open = self
            .log
            .with_untracked(|log| log.thread.as_ref().map(|v| v.root));
        if open != Some(root) {
            self.log
                .update(|log| log.thread = Some(ThreadView::of(root)));
            self.ask_for_thread();
        }
    }

    pub fn close_thread(&self) {
        if self.log.with_untracked(|log| log.thread.is_some()) {
            self.log.update(|log| log.thread = None);
        }
    }

    /// Asks the server for the open thread until its answer comes: now,
    /// and after each `joined` (a reconnect or a reset loses it). The
    /// socket sends frames in order, so the channel's `join` goes first.
    pub(super) fn ask_for_thread(&self) {
        let wanted = self.log.with_untracked(|log| {
            let view = log.thread.as_ref().filter(|v| !v.loaded)?;
            Some((log.channel.clone()?, view.root))
        });
        if let Some((channel, root)) = wanted {
            crate::browser::outbound::send(crate::protocol::ClientFrame::Thread { channel, root });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChannelName, DisplayName, MessageBody, ReplyTo, Timestamp};

    fn message(seq: u64, root: Option<u64>) -> Message {
        Message {
            channel: ChannelName::parse("general").unwrap(),
            seq,
            author: DisplayName::parse("alice").unwrap(),
            body: MessageBody::parse("hi").unwrap(),
            sent_at: Timestamp::from_datetime(chrono::Utc::now()),
            client_id: None,
            html: String::new(),
            edited_at: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            reply_to: root.map(|root| ReplyTo {
                root,
                also_in_channel: false,
            }),
            replies: None,
        }
    }

    fn summary(count: u32) -> Replies {
        Replies {
            count,
            last_at: None,
        }
    }

    #[test]
    fn a_loaded_thread_takes_each_later_reply_once_and_the_channel_only_counts() {
        let mut log = ChannelLog {
            channel: Some(ChannelName::parse("general").unwrap()),
            messages: vec![message(1, None)],
            last_seq: 1,
            ..ChannelLog::default()
        };
        log.thread = Some(ThreadView::of(1));
        // Before the thread's answer: the count moves, the thread waits.
        assert!(log.apply_reply(message(2, Some(1)), summary(1)));
        assert!(log.thread.as_ref().unwrap().replies.is_empty());
        log.load_thread(2, message(1, None), vec![message(2, Some(1))]);
        // Replayed (at or before the answer's head): nothing twice.
        assert!(!log.apply_reply(message(2, Some(1)), summary(1)));
        assert!(log.apply_reply(message(3, Some(1)), summary(2)));
        let view = log.thread.as_ref().unwrap();
        assert_eq!(
            view.replies.iter().map(|m| m.seq).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(log.messages.len(), 1, "replies stay out of the channel");
        assert_eq!(log.messages[0].replies, Some(summary(2)));

        let general = ChannelName::parse("general").unwrap();
        assert!(log.apply_delete(&general, 4, 2, Some(1), Some(summary(1))));
        let view = log.thread.as_ref().unwrap();
        assert_eq!(view.replies.iter().map(|m| m.seq).collect::<Vec<_>>(), [3]);
        assert_eq!(log.messages[0].replies, Some(summary(1)));
        log.reset();
        assert!(!log.thread.as_ref().unwrap().loaded, "asked for again");
    }
}
