//! The open channel's messages as the browser shows them.
//!
//! Invariant: the log only grows by messages whose `seq` is past the last
//! one applied for the shown channel, so nothing shows twice, whatever the
//! socket replays.

use super::*;

/// How many messages the browser keeps for the open channel while it stays
/// open (the server keeps `HISTORY_LEN`; a long session may show more).
pub const CLIENT_LOG_MAX: usize = 500;

/// The open channel's messages as far as this tab has applied them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelLog {
    pub channel: Option<ChannelName>,
    pub messages: Vec<Message>,
    /// The `seq` of the last event applied; the socket resumes after it.
    pub last_seq: u64,
    /// The channel's topic, as of `last_seq`.
    pub topic: Option<Topic>,
    /// The thread open beside the channel, if any.
    pub thread: Option<ThreadView>,
}

impl ChannelLog {
    pub fn from_history(history: ChannelHistory) -> Self {
        let last_seq = history
            .messages
            .last()
            .map_or(history.head, |m| m.seq.max(history.head));
        Self {
            channel: Some(history.channel.name),
            messages: history.messages,
            last_seq,
            topic: history.channel.topic,
            thread: None,
        }
    }

    pub fn shows(&self, channel: &ChannelName) -> bool {
        self.channel.as_ref().is_some_and(|c| c == channel)
    }

    /// Applies a message if it belongs to this log and is new; returns whether it did.
    pub fn apply(&mut self, message: Message) -> bool {
        if !self.shows(&message.channel) || message.seq <= self.last_seq {
            return false;
        }
        self.last_seq = message.seq;
        self.push(message);
        true
    }

    /// Adds a message to the channel's, keeping `CLIENT_LOG_MAX`.
    pub(super) fn push(&mut self, message: Message) {
        self.messages.push(message);
        if self.messages.len() > CLIENT_LOG_MAX {
            let excess = self.messages.len() - CLIENT_LOG_MAX;
            self.messages.drain(..excess);
        }
    }

    /// Applies an event about message `id` (an edit or new reactions) if it
    /// belongs to this log and is new; returns whether it did. An event
    /// about a message this tab does not hold only moves `last_seq`.
    pub fn apply_change(
        &mut self,
        channel: &ChannelName,
        seq: u64,
        id: u64,
        change: impl Fn(&mut Message),
    ) -> bool {
        if !self.shows(channel) || seq <= self.last_seq {
            return false;
        }
        self.last_seq = seq;
        if let Some(message) = self.messages.iter_mut().find(|m| m.seq == id) {
            change(message);
        }
        self.change_in_thread(seq, id, &change);
        true
    }

    /// Removes message `id` if the deletion belongs to this log and is new
    /// (a reply names its thread's `root` and the thread's new summary).
    pub fn apply_delete(
        &mut self,
        channel: &ChannelName,
        seq: u64,
        id: u64,
        root: Option<u64>,
        thread: Option<Replies>,
    ) -> bool {
        if !self.shows(channel) || seq <= self.last_seq {
            return false;
        }
        self.last_seq = seq;
        // Replies also sent here stay when their thread's first message
        // goes, as the server keeps them.
        self.messages.retain(|m| m.seq != id);
        self.delete_in_thread(seq, id, root, thread);
        true
    }

    /// The newest message of `author` shown here (what Up arrow edits).
    pub fn last_by(&self, author: &DisplayName) -> Option<&Message> {
        self.messages.iter().rev().find(|m| &m.author == author)
    }

    /// Forgets what was shown; the server's recent history follows (and
    /// the open thread is asked for again).
    pub fn reset(&mut self) {
        self.messages.clear();
        self.last_seq = 0;
        if let Some(view) = self.thread.as_mut() {
            *view = ThreadView::of(view.root);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DisplayName, Timestamp};

    fn message(channel: &str, seq: u64) -> Message {
        Message {
            channel: ChannelName::parse(channel).unwrap(),
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
            reply_to: None,
            replies: None,
        }
    }

    fn log_of(channel: &str) -> ChannelLog {
        ChannelLog {
            channel: Some(ChannelName::parse(channel).unwrap()),
            ..ChannelLog::default()
        }
    }

    #[test]
    fn a_replayed_message_is_applied_once() {
        let mut log = log_of("general");
        assert!(log.apply(message("general", 1)));
        assert!(log.apply(message("general", 2)));
        assert!(!log.apply(message("general", 2)));
        assert!(!log.apply(message("general", 1)));
        assert_eq!(log.messages.len(), 2);
        assert_eq!(log.last_seq, 2);
    }

    #[test]
    fn messages_of_another_channel_are_ignored() {
        let mut log = log_of("general");
        assert!(!log.apply(message("random", 5)));
        assert!(log.messages.is_empty());
    }

    #[test]
    fn channel_names_are_compared_as_the_server_spells_them() {
        let mut log = log_of("General");
        assert!(log.apply(message("General", 1)));
        assert!(
            !log.apply(message("general", 2)),
            "the server never respells a channel"
        );
    }

    #[test]
    fn the_client_log_is_bounded() {
        let mut log = log_of("general");
        for seq in 1..=(CLIENT_LOG_MAX as u64 + 10) {
            log.apply(message("general", seq));
        }
        assert_eq!(log.messages.len(), CLIENT_LOG_MAX);
        assert_eq!(log.messages[0].seq, 11);
    }

    #[test]
    fn edits_and_deletions_apply_once_and_in_order() {
        let mut log = log_of("general");
        log.apply(message("general", 1));
        log.apply(message("general", 2));
        let general = ChannelName::parse("general").unwrap();
        let edit = |log: &mut ChannelLog, seq| {
            log.apply_change(&general, seq, 1, |m| {
                m.body = MessageBody::parse("edited").unwrap()
            })
        };
        assert!(edit(&mut log, 3));
        assert_eq!(log.messages[0].body.as_str(), "edited");
        assert!(!edit(&mut log, 3), "a replayed event is ignored");
        assert!(log.apply_delete(&general, 4, 2, None, None));
        assert!(
            !log.apply_delete(&general, 4, 1, None, None),
            "a replayed deletion is ignored"
        );
        assert_eq!(log.messages.len(), 1);
        assert!(
            log.apply_delete(&general, 5, 99, None, None),
            "unknown ids only move last_seq"
        );
        assert_eq!(log.last_seq, 5);
        let random = ChannelName::parse("random").unwrap();
        assert!(!log.apply_delete(&random, 6, 1, None, None));
    }

    #[test]
    fn a_reset_empties_the_log_so_history_can_replace_it() {
        let mut log = log_of("general");
        log.apply(message("general", 7));
        log.reset();
        assert!(log.messages.is_empty());
        assert!(log.apply(message("general", 3)));
    }
}
