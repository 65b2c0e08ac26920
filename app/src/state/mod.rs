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
    Message, MessageBody, Person, PresenceStatus, Replies, ReplyTo, Topic, Unread, UserInfo,
};
use crate::protocol::ClientFrame;
use leptos::prelude::*;
use std::collections::HashMap;

mod frames;
mod log;
mod outbox;
pub mod session;
mod thread;

pub use log::{ChannelLog, CLIENT_LOG_MAX};
pub use outbox::Outgoing;
pub use thread::ThreadView;

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
    /// The message a link points at (`/c/<channel>/<seq>`): scrolled into
    /// view and highlighted.
    pub focus: RwSignal<Option<u64>>,
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
            focus: RwSignal::new(None),
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
}

impl Default for Chat {
    fn default() -> Self {
        Self::new()
    }
}
