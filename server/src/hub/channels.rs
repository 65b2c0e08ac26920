//! Channels and private conversations: making them, listing them, reading
//! their history, joining one live, and where each user has read to.

use super::apply::frame_text;
use super::{done, now, Hub, Joined, Live};
use crate::chat::access;
use crate::chat::markup;
use crate::chat::{Change, Entry, HubError};
use crate::log::Proposed;
use app::model::{
    Channel, ChannelHistory, ChannelName, Conversation, DisplayName, Topic, TopicText, Unread,
    UserInfo,
};
use app::protocol::frame;
use tokio::sync::broadcast;

impl Hub {
    /// Makes a public channel named `name`.
    pub fn create_channel(
        &self,
        by: &UserInfo,
        name: ChannelName,
    ) -> Result<(Channel, Proposed), HubError> {
        let most = self.core.limits.max_channels;
        self.lock().state.check_channel(&name, most)?;
        self.add_channel(by, name)
    }

    fn add_channel(
        &self,
        by: &UserInfo,
        name: ChannelName,
    ) -> Result<(Channel, Proposed), HubError> {
        let channel = Channel {
            name,
            created_by: by.display_name.clone(),
            created_at: now(),
            topic: None,
        };
        let entry = Entry::Channel {
            key: channel.name.key(),
            channel: channel.clone(),
            position: 0,
        };
        Ok((channel, self.propose(entry)?))
    }

    /// Sets `channel`'s topic (`None`: clears it), as any member may;
    /// setting the topic it already has changes nothing.
    pub fn set_topic(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        text: Option<TopicText>,
    ) -> Result<(Channel, Proposed), HubError> {
        let topic = text.map(|text| Topic {
            html: self.render_by(text.as_str(), markup::render_inline).html,
            text,
            set_by: user.display_name.clone(),
            set_at: now(),
        });
        let inner = self.lock();
        let (key, room) = inner.state.door(Some(user.user_id), channel)?;
        let same = match (&room.info.topic, &topic) {
            (Some(now), Some(new)) => now.text == new.text,
            (None, None) => true,
            _ => false,
        };
        let mut info = room.info.clone();
        drop(inner);
        if same {
            return Ok((info, done()));
        }
        info.topic = topic.clone();
        let entry = Entry::Event {
            key,
            seq: 0,
            change: Change::Topic {
                topic,
                by: user.display_name.clone(),
            },
            send: None,
        };
        Ok((info, self.propose(entry)?))
    }

    /// The private conversation of `user` with the user named `with`,
    /// started if it was not.
    pub fn open_conversation(
        &self,
        user: &UserInfo,
        with: &DisplayName,
    ) -> Result<(Channel, Proposed), HubError> {
        let me = user.user_id.as_uuid();
        let name = {
            let inner = self.lock();
            let (other, _) = (inner.state.user_named(with))
                .ok_or_else(|| HubError::NoSuchUser(with.to_string()))?;
            let key = access::conversation_key(me, other);
            if let Some(room) = inner.state.channel(&key) {
                return Ok((room.info.clone(), done()));
            }
            let most = self.core.limits.max_conversations;
            if inner.state.started(me) >= most {
                return Err(HubError::TooManyConversations(most));
            }
            ChannelName::parse(&key).map_err(|_| HubError::UnknownUser)?
        };
        self.add_channel(user, name)
    }

    /// `user`'s conversation with the user named `with`, if started.
    pub fn find_conversation(
        &self,
        user: &UserInfo,
        with: &DisplayName,
    ) -> Result<Option<Channel>, HubError> {
        let inner = self.lock();
        let (other, _) =
            (inner.state.user_named(with)).ok_or_else(|| HubError::NoSuchUser(with.to_string()))?;
        let key = access::conversation_key(user.user_id.as_uuid(), other);
        Ok(inner.state.channel(&key).map(|room| room.info.clone()))
    }

    /// `user`'s private conversations, oldest first.
    pub fn conversations(&self, user: &UserInfo) -> Vec<Conversation> {
        self.lock().state.conversations(user.user_id)
    }

    /// Public channels, oldest first.
    pub fn channels(&self) -> Vec<Channel> {
        self.lock().state.channels()
    }

    /// `name`'s recent history, as `viewer` (`None`: nobody signed in) may
    /// see it.
    pub fn history(
        &self,
        viewer: Option<&UserInfo>,
        name: &ChannelName,
    ) -> Result<ChannelHistory, HubError> {
        self.lock().state.history(viewer.map(|v| v.user_id), name)
    }

    /// Starts viewing a channel: the events after `after` (all held ones
    /// when `None`, or a reset plus all held ones when `after` is no longer
    /// held) and a live receiver continuing exactly after them.
    pub fn join(
        &self,
        viewer: &UserInfo,
        channel: &ChannelName,
        after: Option<u64>,
    ) -> Result<Joined, HubError> {
        let queue = self.core.limits.live_queue.max(1);
        let mut guard = self.lock();
        let inner = &mut *guard;
        let (key, room) = inner.state.door(Some(viewer.user_id), channel)?;
        let (reset, backlog) = match after.map(|a| room.events_after(a)) {
            Some(Some(events)) => (false, events),
            Some(None) => (true, room.current()),
            None => (false, room.current()),
        };
        let (channel, head) = (room.info.name.clone(), room.head);
        let reset = reset.then(|| frame::Reset {
            channel: channel.clone(),
            topic: room.info.topic.clone(),
        });
        let receiver = (inner.live.entry(key.clone()))
            .or_insert_with(|| broadcast::channel(queue).0)
            .subscribe();
        let live = Live::new(receiver, key, &self.core);
        Ok(Joined {
            channel,
            reset,
            backlog: backlog.iter().map(|event| frame_text(event)).collect(),
            head,
            live,
        })
    }

    /// Moves `user`'s read position in `channel` forward to `seq` (at most
    /// the channel's head).
    pub fn mark_read(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        seq: u64,
    ) -> Result<(), HubError> {
        let id = user.user_id.as_uuid();
        let entry = {
            let inner = self.lock();
            let (key, room) = inner.state.door(Some(user.user_id), channel)?;
            let seq = seq.min(room.head);
            inner.state.user(id).ok_or(HubError::UnknownUser)?;
            if inner.state.last_read(id, &key).is_some_and(|at| at >= seq) {
                return Ok(());
            }
            Entry::Read { user: id, key, seq }
        };
        self.propose(entry).map(drop)
    }

    /// What `user` has not read (see `State::unread`).
    pub fn unread(&self, user: &UserInfo) -> Vec<Unread> {
        self.lock().state.unread(user.user_id)
    }
}
