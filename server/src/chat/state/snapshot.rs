//! A `State` read back from a store: at start, or a replica after a gap
//! in its log.

use super::*;

/// Everything a store holds, read back, for `State::from_snapshot`.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub users: Vec<(Uuid, DisplayName, Timestamp)>,
    /// With when each was last used (absent: from before they were timed).
    pub sessions: Vec<(TokenHash, Uuid, Option<Timestamp>)>,
    /// `(user, channel key, seq)`.
    pub reads: Vec<(Uuid, String, u64)>,
    /// In creation order.
    pub channels: Vec<ChannelSnapshot>,
    /// Per user, oldest first.
    pub sends: Vec<RememberedSend>,
}

/// A user's message remembered by its `client_id`, so a retry is
/// acknowledged with the `seq` it got, not stored twice.
#[derive(Debug)]
pub struct RememberedSend {
    pub user: Uuid,
    pub client_id: ClientId,
    pub key: String,
    pub seq: u64,
    /// Its place in the user's sends, which are forgotten oldest first.
    pub position: u64,
}

/// One channel read back: its messages as they are, or the events that
/// rebuild them.
#[derive(Debug)]
pub struct ChannelSnapshot {
    pub key: String,
    pub channel: Channel,
    pub head: u64,
    pub content: ChannelContent,
}

#[derive(Debug)]
pub enum ChannelContent {
    /// The ring as stored (bodies not yet rendered).
    Messages(Vec<Message>),
    /// Its retained events, from its oldest message on, with their sends.
    Events(Vec<(u64, Change, Option<SendRecord>)>),
}

impl State {
    /// The state a store read back (at start, or a replica after a gap in
    /// its log). Stored bodies are rendered again (`markup`), as they were
    /// when sent.
    pub fn from_snapshot(snapshot: Snapshot, limits: StateLimits, now: Timestamp) -> Self {
        let mut state = Self::new(limits);
        for (id, name, created_at) in snapshot.users {
            state.index_user(id, &name);
            state.users.insert(id, User::new(id, name, created_at));
        }
        for (hash, user, seen) in snapshot.sessions {
            // From before sessions went idle: a full idle period from now.
            state.sessions.insert(hash, user, seen.unwrap_or(now));
        }
        for (user, key, seq) in snapshot.reads {
            if let Some(user) = state.users.get_mut(&user) {
                user.read(&key, seq);
            }
        }
        for channel in snapshot.channels {
            state.restore_channel(channel);
        }
        for send in snapshot.sends {
            if let Some(user) = state.users.get_mut(&send.user) {
                user.sends.next_position = send.position;
                let sent = Sent {
                    key: send.key,
                    seq: send.seq,
                };
                user.sends.remember(send.client_id, sent, usize::MAX);
            }
        }
        state
    }

    pub(super) fn restore_channel(&mut self, snapshot: ChannelSnapshot) {
        let ChannelSnapshot {
            key,
            channel,
            head,
            content,
        } = snapshot;
        self.add_channel(key.clone(), channel.clone());
        let log = self.log_limits();
        let room = match content {
            ChannelContent::Messages(messages) => {
                let rendered = messages
                    .into_iter()
                    .map(|mut message| {
                        let lookup = |typed: &str| {
                            let name = DisplayName::parse(typed).ok()?;
                            self.user_named(&name).map(|(_, u)| u.display_name.clone())
                        };
                        let markup::Rendered { html, mentions } =
                            markup::render(message.body.as_str(), &lookup);
                        (message.html, message.mentions) = (html, mentions);
                        message
                    })
                    .collect();
                ChannelState::restored(channel, head, rendered)
            }
            ChannelContent::Events(events) => {
                for (seq, change, send) in &events {
                    if let (Some(send), Some(client_id)) = (send, change.client_id()) {
                        if let Some(user) = self.users.get_mut(&send.user) {
                            let sent = Sent {
                                key: key.clone(),
                                seq: *seq,
                            };
                            user.sends.remember(client_id.clone(), sent, send.window);
                        }
                    }
                }
                let events = events.into_iter().map(|(seq, c, _)| (seq, c)).collect();
                ChannelState::replayed(channel, head, events, log)
            }
        };
        for id in room.attachments() {
            self.file_channels.insert(id.clone(), key.clone());
        }
        self.channels.insert(key, room);
    }
}
