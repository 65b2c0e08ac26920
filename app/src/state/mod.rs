//! `Chat`: the browser's view of the chat, one reactive handle (all signals,
//! so it is `Copy`) provided as context by `App` and shared by every
//! component.
//!
//! Invariant: the message log only ever grows by frames whose `seq` is
//! greater than the last one applied for the shown channel, so a message is
//! never shown twice, whatever the socket replays. Channel names here come
//! from the server, which always answers with a channel's canonical
//! spelling, so the browser compares them exactly (and carries no Unicode
//! normalization tables in its WASM). Only the frame interpreter (`frames`)
//! and the channel page write the log.

use crate::model::{
    Attachment, Channel, ChannelHistory, ChannelName, ClientId, Conversation, DisplayName, Emoji,
    Message, MessageBody, Person, PresenceStatus, Unread, UserInfo,
};
use crate::protocol::ClientFrame;
use leptos::prelude::*;
use std::collections::HashMap;

mod frames;
pub mod session;

/// How many messages the browser keeps for the open channel while it stays
/// open (the server keeps `HISTORY_LEN`; a long session may show more).
pub const CLIENT_LOG_MAX: usize = 500;

/// What the connection-status element says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionStatus {
    /// Not started: nobody is signed in yet, or still hydrating.
    Idle,
    Connecting,
    Connected,
    /// The link dropped; the next try is in `retry_in_secs`.
    Reconnecting {
        retry_in_secs: u32,
    },
    /// The browser says there is no network.
    Offline,
}

impl ConnectionStatus {
    pub fn label(&self) -> String {
        match self {
            Self::Idle => "Not connected".into(),
            Self::Connecting => "Connecting…".into(),
            Self::Connected => "Connected".into(),
            Self::Reconnecting { retry_in_secs } => {
                format!("Reconnecting (next try in {retry_in_secs} s)…")
            }
            Self::Offline => "Offline: messages will be sent when you are back".into(),
        }
    }
}

/// The open channel's messages as far as this tab has applied them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelLog {
    pub channel: Option<ChannelName>,
    pub messages: Vec<Message>,
    /// The `seq` of the last event applied; the socket resumes after it.
    pub last_seq: u64,
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
        self.messages.push(message);
        if self.messages.len() > CLIENT_LOG_MAX {
            let excess = self.messages.len() - CLIENT_LOG_MAX;
            self.messages.drain(..excess);
        }
        true
    }

    /// Applies an event about message `id` (an edit or new reactions) if it
    /// belongs to this log and is new; returns whether it did. An event
    /// about a message this tab does not hold only moves `last_seq`.
    pub fn apply_change(
        &mut self,
        channel: &ChannelName,
        seq: u64,
        id: u64,
        change: impl FnOnce(&mut Message),
    ) -> bool {
        if !self.shows(channel) || seq <= self.last_seq {
            return false;
        }
        self.last_seq = seq;
        if let Some(message) = self.messages.iter_mut().find(|m| m.seq == id) {
            change(message);
        }
        true
    }

    /// Removes message `id` if the deletion belongs to this log and is new.
    pub fn apply_delete(&mut self, channel: &ChannelName, seq: u64, id: u64) -> bool {
        if !self.shows(channel) || seq <= self.last_seq {
            return false;
        }
        self.last_seq = seq;
        self.messages.retain(|m| m.seq != id);
        true
    }

    /// The newest message of `author` shown here (what Up arrow edits).
    pub fn last_by(&self, author: &DisplayName) -> Option<&Message> {
        self.messages.iter().rev().find(|m| &m.author == author)
    }

    /// Forgets what was shown; the server's recent history follows.
    pub fn reset(&mut self) {
        self.messages.clear();
        self.last_seq = 0;
    }
}

/// A message the user sent that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub channel: ChannelName,
    pub client_id: ClientId,
    pub body: MessageBody,
    /// Files uploaded for it, sent by id.
    pub attachments: Vec<Attachment>,
    /// Why the server refused it; a refused message waits for retry or discard.
    pub failed: Option<String>,
    /// Stored by the server; shown as pending until its `message` frame arrives.
    pub acked: bool,
    /// Sent and not answered yet (or throttled, waiting to be sent again):
    /// the outbox sends nothing after it meanwhile.
    pub in_flight: bool,
}

impl Outgoing {
    /// The `send` frame that carries it.
    pub fn frame(&self) -> ClientFrame {
        ClientFrame::Send {
            channel: self.channel.clone(),
            client_id: self.client_id.clone(),
            body: self.body.clone(),
            attachments: self.attachments.iter().map(|a| a.id.clone()).collect(),
        }
    }
}

#[derive(Clone, Copy)]
pub struct Chat {
    /// True once the WASM app has hydrated; forms are disabled before.
    pub hydrated: RwSignal<bool>,
    /// The signed-in user, once known in this tab (the server render knows it
    /// from the cookie through `App`'s resource).
    pub user: RwSignal<Option<UserInfo>>,
    /// Channels learned live (welcome, channel_created, own creations).
    pub channels: RwSignal<Vec<Channel>>,
    pub status: RwSignal<ConnectionStatus>,
    pub log: RwSignal<ChannelLog>,
    pub outbox: RwSignal<Vec<Outgoing>>,
    /// A problem not tied to one field (shown in the workspace's alert).
    pub notice: RwSignal<Option<String>>,
    /// The message (by `seq`) being edited in place, if any.
    pub editing: RwSignal<Option<u64>>,
    /// Everyone's display names, for `@mention` completion.
    pub users: RwSignal<Vec<DisplayName>>,
    /// Everyone and whether they are here, live (`presence` frames).
    pub people: RwSignal<Vec<Person>>,
    /// Who is typing where, and until when (ms since the epoch).
    pub typing: RwSignal<Vec<Typing>>,
    /// Each channel's unsent draft, kept while switching channels.
    pub drafts: RwSignal<HashMap<ChannelName, String>>,
    /// What this user has not read, per channel (from the server).
    pub unread: RwSignal<Vec<Unread>>,
    /// Where "New messages" goes in the open channel: after this `seq`.
    pub read_marker: RwSignal<Option<u64>>,
    /// The read position last sent for the open channel.
    pub read_sent: RwSignal<u64>,
    /// Desktop notifications for mentions while the tab is hidden.
    pub notify: RwSignal<bool>,
    /// This user's private conversations.
    pub conversations: RwSignal<Vec<Conversation>>,
}

/// Someone typing in a channel, shown until `until` (ms since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct Typing {
    pub channel: ChannelName,
    pub user: DisplayName,
    pub until: f64,
}

/// How long a `typing` notice shows without another.
pub const TYPING_SHOWN_MS: f64 = 6_000.0;

impl Chat {
    pub fn new() -> Self {
        Self {
            hydrated: RwSignal::new(false),
            user: RwSignal::new(None),
            channels: RwSignal::new(Vec::new()),
            status: RwSignal::new(ConnectionStatus::Idle),
            log: RwSignal::new(ChannelLog::default()),
            outbox: RwSignal::new(Vec::new()),
            notice: RwSignal::new(None),
            editing: RwSignal::new(None),
            users: RwSignal::new(Vec::new()),
            people: RwSignal::new(Vec::new()),
            typing: RwSignal::new(Vec::new()),
            drafts: RwSignal::new(HashMap::new()),
            unread: RwSignal::new(Vec::new()),
            read_marker: RwSignal::new(None),
            read_sent: RwSignal::new(0),
            notify: RwSignal::new(false),
            conversations: RwSignal::new(Vec::new()),
        }
    }

    pub fn expect() -> Self {
        expect_context::<Self>()
    }

    /// Fetches everyone's names again (cheap; done when completion opens,
    /// so people who signed up since are offered too).
    pub fn refresh_users(&self) {
        let users = self.users;
        leptos::task::spawn_local(async move {
            if let Ok(list) = crate::api::list_users().await {
                users.set(list);
            }
        });
    }

    /// Fetches what this user has not read (after each connect, every few
    /// seconds, and when the tab comes back into view).
    pub fn refresh_unread(&self) {
        let chat = *self;
        leptos::task::spawn_local(async move {
            // Someone may have started a conversation with this user.
            if let Ok(list) = crate::api::list_conversations().await {
                if chat.conversations.with_untracked(|c| c != &list) {
                    chat.conversations.set(list);
                }
            }
            if let Ok(mut list) = crate::api::fetch_unread().await {
                // The open channel is being read right now.
                let open = chat.log.with_untracked(|l| l.channel.clone());
                list.retain(|u| Some(&u.channel) != open.as_ref());
                chat.notify_new_mentions(&list);
                chat.unread.set(list);
            }
        });
    }

    /// Notifies (if on, and the tab is hidden) about channels where the
    /// mention count grew, and conversations with new messages, since the
    /// last look.
    fn notify_new_mentions(&self, fresh: &[Unread]) {
        if !self.notify.get_untracked() || crate::browser::tab_visible() {
            return;
        }
        let before = self.unread.get_untracked();
        for now in fresh {
            let had = before.iter().find(|u| u.channel == now.channel);
            if now.channel.is_conversation() {
                if now.unread > had.map_or(0, |u| u.unread) {
                    let with = self.conversations.with_untracked(|c| {
                        c.iter()
                            .find(|c| c.channel == now.channel)
                            .map(|c| c.with.to_string())
                    });
                    crate::browser::notify::show(
                        &format!("New message from {}", with.unwrap_or_default()),
                        &format!("{} unread", now.unread),
                    );
                }
            } else if now.mentions > had.map_or(0, |u| u.mentions) {
                crate::browser::notify::show(
                    &format!("You were mentioned in #{}", now.channel),
                    &format!("{} unread, {} mentioning you", now.unread, now.mentions),
                );
            }
        }
    }

    /// Notifies (if on, and the tab is hidden) about a live message in the
    /// open channel that mentions this user.
    pub fn notify_message(&self, message: &Message) {
        if !self.notify.get_untracked() || crate::browser::tab_visible() {
            return;
        }
        let mine = self
            .user
            .with_untracked(|u| u.as_ref().is_some_and(|u| message.author == u.display_name));
        if mine {
            return;
        }
        if message.channel.is_conversation() {
            crate::browser::notify::show(
                &format!("New message from {}", message.author),
                message.body.as_str(),
            );
        } else if untrack(|| self.mentions_me(message)) {
            crate::browser::notify::show(
                &format!("{} mentioned you in #{}", message.author, message.channel),
                message.body.as_str(),
            );
        }
    }

    /// The open channel is read up to its last message: tell the server
    /// (once per new position) and drop its count.
    pub fn mark_read(&self) {
        let Some((channel, seq)) = self
            .log
            .with_untracked(|l| l.channel.clone().map(|c| (c, l.last_seq)))
        else {
            return;
        };
        self.unread.update(|u| u.retain(|x| x.channel != channel));
        if seq > self.read_sent.get_untracked() {
            self.read_sent.set(seq);
            crate::browser::outbound::read(channel, seq);
        }
    }

    /// Fetches everyone's presence (after each connect; `presence` frames
    /// keep it current from then on).
    pub fn refresh_people(&self) {
        let people = self.people;
        leptos::task::spawn_local(async move {
            if let Ok(list) = crate::api::people().await {
                people.set(list);
            }
        });
    }

    /// Applies a `presence` frame.
    pub fn set_presence(&self, user: DisplayName, status: PresenceStatus) {
        self.people
            .update(|people| match people.iter_mut().find(|p| p.name == user) {
                Some(person) => person.status = status,
                None => people.push(Person { name: user, status }),
            });
    }

    /// Applies a `typing` frame (never about oneself).
    pub fn someone_typing(&self, channel: ChannelName, user: DisplayName, now: f64) {
        let me = self
            .user
            .with_untracked(|u| u.as_ref().is_some_and(|u| u.display_name == user));
        if me {
            return;
        }
        self.typing.update(|typing| {
            typing.retain(|t| !(t.channel == channel && t.user == user) && t.until > now);
            typing.push(Typing {
                channel,
                user,
                until: now + TYPING_SHOWN_MS,
            });
        });
    }

    /// `channel`'s unread and mention counts, if anything is unread (tracked).
    pub fn unread_in(&self, channel: &ChannelName) -> Option<(u32, u32)> {
        self.unread.with(|u| {
            u.iter()
                .find(|x| &x.channel == channel)
                .map(|x| (x.unread, x.mentions))
        })
    }

    /// Whether `message` mentions the signed-in user.
    pub fn mentions_me(&self, message: &Message) -> bool {
        self.user.with(|u| {
            u.as_ref()
                .is_some_and(|u| message.mentions.contains(&u.display_name))
        })
    }

    /// Adds a channel to the live list unless one with its key is there.
    pub fn learn_channel(&self, channel: Channel) {
        self.channels.update(|list| {
            if !list.iter().any(|c| c.name == channel.name) {
                list.push(channel);
            }
        });
    }

    /// Shows `history` as the open channel and subscribes to what follows it.
    pub fn open_channel(&self, history: ChannelHistory) {
        let channel = history.channel.name.clone();
        // "New messages" marks where the user left off, if anything is new.
        let marker = self.unread.with_untracked(|unread| {
            unread
                .iter()
                .find(|u| u.channel == channel)
                .map(|u| u.last_read)
        });
        self.read_marker.set(marker);
        self.read_sent.set(0);
        self.learn_channel(history.channel.clone());
        let log = ChannelLog::from_history(history);
        let after = log.last_seq;
        self.log.set(log);
        crate::browser::remember_channel(&channel);
        crate::browser::outbound::join(channel, Some(after));
    }

    /// Queues a message; it shows as pending until the server acknowledges
    /// it, and goes out in its turn (`pump`).
    pub fn send(&self, channel: ChannelName, body: MessageBody, attachments: Vec<Attachment>) {
        let outgoing = Outgoing {
            channel,
            client_id: ClientId::random(),
            body,
            attachments,
            failed: None,
            acked: false,
            in_flight: false,
        };
        self.outbox.update(|outbox| outbox.push(outgoing));
        self.pump();
    }

    /// Sends the outbox's next message if none is on its way: one at a
    /// time, in the order they were written, so no message overtakes an
    /// earlier one (PROTOCOL.md §5.3). A throttled one keeps its place and
    /// holds the rest until it is stored; one refused for good steps aside
    /// (it waits for Retry or Discard). Called whenever the outbox or the
    /// connection changes.
    pub fn pump(&self) {
        if self.status.get_untracked() != ConnectionStatus::Connected {
            return;
        }
        let mut next = None;
        // Untracked: the flag changes nothing on screen.
        self.outbox.update_untracked(|outbox| {
            let waiting = outbox.iter_mut().find(|o| o.failed.is_none() && !o.acked);
            if let Some(first) = waiting.filter(|o| !o.in_flight) {
                first.in_flight = true;
                next = Some(first.clone());
            }
        });
        if let Some(item) = next {
            crate::browser::outbound::send(item.frame());
        }
    }

    /// After a (re)connect: whatever was on its way got no answer on the
    /// old connection, so the first unanswered message goes again (with
    /// its `client_id`: the server stores it once).
    pub fn resend_outbox(&self) {
        self.outbox.update_untracked(|outbox| {
            for item in outbox.iter_mut() {
                item.in_flight = false;
            }
        });
        self.pump();
    }

    /// A throttled message may go again (`retry_after_ms` passed); it is
    /// still first, so it is the next sent.
    pub fn throttle_passed(&self, client_id: &ClientId) {
        self.outbox.update_untracked(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.in_flight = false;
            }
        });
        self.pump();
    }

    /// Takes a message off its way: answered (`ack`, or shown), or refused
    /// for good (`failed`); the next one goes.
    pub fn answered(&self, client_id: &ClientId, change: impl FnOnce(&mut Vec<Outgoing>)) {
        self.outbox.update(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.in_flight = false;
            }
            change(outbox);
        });
        self.pump();
    }

    /// Sends a refused message again with its original `client_id`, in its
    /// turn.
    pub fn retry(&self, client_id: &ClientId) {
        self.outbox.update(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.failed = None;
            }
        });
        self.pump();
    }

    /// Replaces the body of one's own message `id`.
    pub fn edit(&self, channel: ChannelName, id: u64, body: MessageBody) -> bool {
        self.change(ClientFrame::Edit { channel, id, body })
    }

    /// Deletes one's own message `id`.
    pub fn delete(&self, channel: ChannelName, id: u64) -> bool {
        self.change(ClientFrame::Delete { channel, id })
    }

    /// Adds or removes one's reaction `emoji` on message `id`.
    pub fn react(&self, channel: ChannelName, id: u64, emoji: Emoji, add: bool) -> bool {
        self.change(ClientFrame::React {
            channel,
            id,
            emoji,
            add,
        })
    }

    /// Sends a change to an existing message. Unlike a new message it is not
    /// kept for later: offline, the user is told and keeps what they typed.
    /// Returns whether it went out.
    fn change(&self, frame: ClientFrame) -> bool {
        if self.status.get_untracked() != ConnectionStatus::Connected {
            self.notice.set(Some(
                "Not connected: the change was not made. Try again once connected.".into(),
            ));
            return false;
        }
        crate::browser::outbound::send(frame);
        true
    }

    pub fn discard(&self, client_id: &ClientId) {
        self.answered(client_id, |outbox| {
            outbox.retain(|o| &o.client_id != client_id)
        });
    }
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
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
        assert!(log.apply_delete(&general, 4, 2));
        assert!(
            !log.apply_delete(&general, 4, 1),
            "a replayed deletion is ignored"
        );
        assert_eq!(log.messages.len(), 1);
        assert!(
            log.apply_delete(&general, 5, 99),
            "unknown ids only move last_seq"
        );
        assert_eq!(log.last_seq, 5);
        let random = ChannelName::parse("random").unwrap();
        assert!(!log.apply_delete(&random, 6, 1));
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
