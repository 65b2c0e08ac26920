//! The hub: the one owner of all chat state (users, sessions, channels and
//! their recent messages), behind a cheap cloneable handle.
//!
//! Invariants:
//! - Only the hub mutates chat state, under one `std::sync::Mutex` that is
//!   never held across an `.await` (no method here is async).
//! - Per channel, `seq` is strictly increasing and never reused; the ring
//!   holds exactly the `HISTORY_LEN` most recent messages.
//! - A message is serialized once, when it is stored; every viewer is sent
//!   the same shared bytes.
//! - Subscribing to a channel and reading its backlog happen under the same
//!   lock as posting, so a joiner sees every event exactly once: in the
//!   backlog or live, never both, never neither.
//! - A `(user, client_id)` pair stores at most one message while the pair is
//!   remembered (the last `idempotency_window` per user).

use app::model::{
    Channel, ChannelHistory, ChannelName, ClientId, DisplayName, Message, MessageBody, Timestamp,
    UserInfo, HISTORY_LEN,
};
use app::protocol::ServerFrame;
use axum::extract::ws::Utf8Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::identity::{SessionToken, TokenHash};

/// Limits the hub keeps; each is a command-line setting (see `config`).
#[derive(Debug, Clone)]
pub struct HubLimits {
    /// Events buffered per channel for live viewers; a viewer that falls
    /// further behind catches up from the ring (or gets a reset).
    pub live_queue: usize,
    /// How many recent `client_id`s are remembered per user.
    pub idempotency_window: usize,
}

impl Default for HubLimits {
    fn default() -> Self {
        Self {
            live_queue: 1024,
            idempotency_window: 1000,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("the display name \"{0}\" is taken; choose another")]
    NameTaken(String),
    #[error("a channel named \"{0}\" already exists")]
    ChannelExists(String),
    #[error("there is no channel named \"{0}\"")]
    UnknownChannel(String),
    #[error("your session is no longer valid; sign in again")]
    UnknownUser,
}

/// A stored channel event, with its frame serialized once.
#[derive(Debug)]
pub struct Event {
    pub seq: u64,
    pub message: Message,
    pub frame: Utf8Bytes,
}

/// What a viewer receives after `join`: optionally a reset, the backlog, the
/// head, and the live receiver that continues exactly after the backlog.
pub struct Joined {
    pub channel: ChannelName,
    pub reset: bool,
    pub backlog: Vec<Arc<Event>>,
    pub head: u64,
    pub live: broadcast::Receiver<Arc<Event>>,
}

/// The result of a send: the message's `seq`, and whether this call stored
/// it (false for a retry of a remembered `client_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Posted {
    pub seq: u64,
    pub stored: bool,
}

#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    limits: HubLimits,
    /// Channel creations, for every connection.
    lobby: broadcast::Sender<Utf8Bytes>,
}

#[derive(Default)]
struct State {
    users: HashMap<Uuid, User>,
    names: HashMap<String, Uuid>,
    sessions: HashMap<TokenHash, Uuid>,
    channels: HashMap<String, ChannelState>,
    /// Channel keys in creation order.
    order: Vec<String>,
}

struct User {
    info: UserInfo,
    sends: RecentSends,
}

/// The last N `client_id`s of one user and the `(channel key, seq)` each got.
#[derive(Default)]
struct RecentSends {
    order: VecDeque<ClientId>,
    seqs: HashMap<ClientId, (String, u64)>,
}

impl RecentSends {
    fn get(&self, id: &ClientId) -> Option<&(String, u64)> {
        self.seqs.get(id)
    }

    fn remember(&mut self, id: ClientId, at: (String, u64), window: usize) {
        self.order.push_back(id.clone());
        self.seqs.insert(id, at);
        while self.order.len() > window {
            if let Some(old) = self.order.pop_front() {
                self.seqs.remove(&old);
            }
        }
    }
}

struct ChannelState {
    info: Channel,
    ring: VecDeque<Arc<Event>>,
    head: u64,
    live: broadcast::Sender<Arc<Event>>,
}

impl ChannelState {
    fn history(&self) -> ChannelHistory {
        ChannelHistory {
            channel: self.info.clone(),
            head: self.head,
            messages: self.ring.iter().map(|e| e.message.clone()).collect(),
        }
    }

    /// The events after `after`, or `None` when some of them are no longer
    /// held (or `after` is from the future, e.g. before a restart).
    fn events_after(&self, after: u64) -> Option<Vec<Arc<Event>>> {
        if after > self.head {
            return None;
        }
        let oldest = self.ring.front().map_or(self.head + 1, |e| e.seq);
        if after + 1 < oldest {
            return None;
        }
        Some(
            self.ring
                .iter()
                .filter(|e| e.seq > after)
                .cloned()
                .collect(),
        )
    }
}

fn now() -> Timestamp {
    Timestamp::from_datetime(chrono::Utc::now())
}

impl Hub {
    pub fn new(limits: HubLimits) -> Self {
        let (lobby, _) = broadcast::channel(limits.live_queue.max(1));
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                limits,
                lobby,
            }),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave state half-written in a
        // way later readers would trip over (every mutation is a few inserts),
        // so a poisoned lock is still usable.
        self.shared.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates a user with a fresh session. Names are unique ignoring case
    /// and normalization. When `current` already belongs to a user of that
    /// very name, that user is returned with a fresh session instead.
    pub fn register(
        &self,
        name: DisplayName,
        current: Option<&TokenHash>,
    ) -> Result<(UserInfo, SessionToken), HubError> {
        let mut state = self.state();
        let key = name.key();
        let token = SessionToken::generate();
        if let Some(&existing) = state.names.get(&key) {
            let own = current.and_then(|hash| state.sessions.get(hash)) == Some(&existing);
            if !own {
                return Err(HubError::NameTaken(name.to_string()));
            }
            state.sessions.insert(token.hash(), existing);
            let info = state.users[&existing].info.clone();
            return Ok((info, token));
        }
        let id = Uuid::new_v4();
        let info = UserInfo {
            user_id: id.to_string(),
            display_name: name,
        };
        state.names.insert(key, id);
        state.sessions.insert(token.hash(), id);
        state.users.insert(
            id,
            User {
                info: info.clone(),
                sends: RecentSends::default(),
            },
        );
        Ok((info, token))
    }

    pub fn user_by_session(&self, hash: &TokenHash) -> Option<UserInfo> {
        let state = self.state();
        let id = state.sessions.get(hash)?;
        state.users.get(id).map(|u| u.info.clone())
    }

    pub fn create_channel(&self, by: &UserInfo, name: ChannelName) -> Result<Channel, HubError> {
        let mut state = self.state();
        let key = name.key();
        if let Some(existing) = state.channels.get(&key) {
            return Err(HubError::ChannelExists(existing.info.name.to_string()));
        }
        let channel = Channel {
            name,
            created_by: by.display_name.clone(),
            created_at: now(),
        };
        let (live, _) = broadcast::channel(self.shared.limits.live_queue.max(1));
        state.channels.insert(
            key.clone(),
            ChannelState {
                info: channel.clone(),
                ring: VecDeque::with_capacity(HISTORY_LEN),
                head: 0,
                live,
            },
        );
        state.order.push(key);
        let frame = ServerFrame::ChannelCreated {
            channel: channel.clone(),
        };
        // No receivers is fine: nobody is connected.
        let _ = self.shared.lobby.send(frame.to_json().into());
        Ok(channel)
    }

    pub fn channels(&self) -> Vec<Channel> {
        let state = self.state();
        state
            .order
            .iter()
            .filter_map(|key| state.channels.get(key))
            .map(|c| c.info.clone())
            .collect()
    }

    pub fn history(&self, name: &ChannelName) -> Result<ChannelHistory, HubError> {
        let state = self.state();
        state
            .channels
            .get(&name.key())
            .map(ChannelState::history)
            .ok_or_else(|| HubError::UnknownChannel(name.to_string()))
    }

    /// Stores a message from `user` (idempotent per `client_id`) and
    /// broadcasts it to the channel's viewers.
    pub fn post(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        client_id: ClientId,
        body: MessageBody,
    ) -> Result<Posted, HubError> {
        let user_id: Uuid = user.user_id.parse().map_err(|_| HubError::UnknownUser)?;
        let window = self.shared.limits.idempotency_window;
        let mut state = self.state();
        let state = &mut *state;
        let sender = state.users.get_mut(&user_id).ok_or(HubError::UnknownUser)?;
        if let Some((_, seq)) = sender.sends.get(&client_id) {
            return Ok(Posted {
                seq: *seq,
                stored: false,
            });
        }
        let key = channel.key();
        let room = state
            .channels
            .get_mut(&key)
            .ok_or_else(|| HubError::UnknownChannel(channel.to_string()))?;
        let seq = room.head + 1;
        let message = Message {
            channel: room.info.name.clone(),
            seq,
            author: sender.info.display_name.clone(),
            body,
            sent_at: now(),
            client_id: Some(client_id.clone()),
        };
        let frame = ServerFrame::Message(message.clone()).to_json().into();
        let event = Arc::new(Event {
            seq,
            message,
            frame,
        });
        room.head = seq;
        if room.ring.len() == HISTORY_LEN {
            room.ring.pop_front();
        }
        room.ring.push_back(event.clone());
        // No receivers is fine: nobody is viewing.
        let _ = room.live.send(event);
        sender.sends.remember(client_id, (key, seq), window);
        Ok(Posted { seq, stored: true })
    }

    /// Starts viewing a channel: the events after `after` (all held ones
    /// when `None`, or a reset plus all held ones when `after` is no longer
    /// held) and a live receiver continuing exactly after them.
    pub fn join(&self, channel: &ChannelName, after: Option<u64>) -> Result<Joined, HubError> {
        let state = self.state();
        let room = state
            .channels
            .get(&channel.key())
            .ok_or_else(|| HubError::UnknownChannel(channel.to_string()))?;
        let (reset, backlog) = match after.map(|a| room.events_after(a)) {
            Some(Some(events)) => (false, events),
            Some(None) => (true, room.ring.iter().cloned().collect()),
            None => (false, room.ring.iter().cloned().collect()),
        };
        Ok(Joined {
            channel: room.info.name.clone(),
            reset,
            backlog,
            head: room.head,
            live: room.live.subscribe(),
        })
    }

    /// Channel creations, live.
    pub fn subscribe_lobby(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.shared.lobby.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hub_with(channel: &str) -> (Hub, UserInfo, ChannelName) {
        let hub = Hub::new(HubLimits::default());
        let (user, _) = hub
            .register(DisplayName::parse("alice").unwrap(), None)
            .unwrap();
        let name = ChannelName::parse(channel).unwrap();
        hub.create_channel(&user, name.clone()).unwrap();
        (hub, user, name)
    }

    fn post(hub: &Hub, user: &UserInfo, channel: &ChannelName, id: &str) -> Posted {
        hub.post(
            user,
            channel,
            ClientId::parse(id).unwrap(),
            MessageBody::parse(&format!("body {id}")).unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn display_names_are_unique_ignoring_case() {
        let hub = Hub::new(HubLimits::default());
        hub.register(DisplayName::parse("Alice").unwrap(), None)
            .unwrap();
        let err = hub
            .register(DisplayName::parse("aLICE").unwrap(), None)
            .unwrap_err();
        assert_eq!(err, HubError::NameTaken("aLICE".into()));
    }

    #[test]
    fn registering_your_own_name_again_keeps_your_user() {
        let hub = Hub::new(HubLimits::default());
        let (first, token) = hub
            .register(DisplayName::parse("alice").unwrap(), None)
            .unwrap();
        let (again, _) = hub
            .register(DisplayName::parse("Alice").unwrap(), Some(&token.hash()))
            .unwrap();
        assert_eq!(first.user_id, again.user_id);
    }

    #[test]
    fn channel_names_are_unique_ignoring_case() {
        let (hub, user, _) = hub_with("General");
        let err = hub
            .create_channel(&user, ChannelName::parse("general").unwrap())
            .unwrap_err();
        assert_eq!(err, HubError::ChannelExists("General".into()));
        assert_eq!(hub.channels().len(), 1);
    }

    #[test]
    fn a_retried_client_id_stores_one_message_with_one_seq() {
        let (hub, user, channel) = hub_with("general");
        let first = post(&hub, &user, &channel, "c1");
        let retry = post(&hub, &user, &channel, "c1");
        assert_eq!(
            first,
            Posted {
                seq: 1,
                stored: true
            }
        );
        assert_eq!(
            retry,
            Posted {
                seq: 1,
                stored: false
            }
        );
        assert_eq!(hub.history(&channel).unwrap().messages.len(), 1);
    }

    #[test]
    fn after_150_messages_the_channel_holds_the_last_100() {
        let (hub, user, channel) = hub_with("general");
        for i in 0..150 {
            post(&hub, &user, &channel, &format!("c{i}"));
        }
        let history = hub.history(&channel).unwrap();
        assert_eq!(history.head, 150);
        let seqs: Vec<u64> = history.messages.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (51..=150).collect::<Vec<_>>());
    }

    #[test]
    fn joining_after_a_point_no_longer_held_resets() {
        let (hub, user, channel) = hub_with("general");
        for i in 0..150 {
            post(&hub, &user, &channel, &format!("c{i}"));
        }
        let joined = hub.join(&channel, Some(10)).unwrap();
        assert!(joined.reset);
        assert_eq!(joined.backlog.len(), 100);
        let joined = hub.join(&channel, Some(50)).unwrap();
        assert!(!joined.reset);
        assert_eq!(joined.backlog.len(), 100);
        let joined = hub.join(&channel, Some(999)).unwrap();
        assert!(joined.reset, "a point from the future is not trusted");
    }

    #[test]
    fn the_live_receiver_continues_exactly_after_the_backlog() {
        let (hub, user, channel) = hub_with("general");
        post(&hub, &user, &channel, "a");
        let mut joined = hub.join(&channel, Some(0)).unwrap();
        post(&hub, &user, &channel, "b");
        assert_eq!(
            joined.backlog.iter().map(|e| e.seq).collect::<Vec<_>>(),
            vec![1]
        );
        assert_eq!(joined.live.try_recv().unwrap().seq, 2);
        assert!(joined.live.try_recv().is_err());
    }

    #[test]
    fn posting_to_an_unknown_channel_is_refused() {
        let (hub, user, _) = hub_with("general");
        let err = hub
            .post(
                &user,
                &ChannelName::parse("nope").unwrap(),
                ClientId::parse("x").unwrap(),
                MessageBody::parse("hi").unwrap(),
            )
            .unwrap_err();
        assert_eq!(err, HubError::UnknownChannel("nope".into()));
    }

    proptest! {
        /// Any sequence of sends and resumes: a viewer that joined once and
        /// resumed from its last seen `seq` ends with the same view as a
        /// fresh join, and seqs are strictly increasing.
        #[test]
        fn resuming_yields_the_same_view_as_a_fresh_join(
            // 0 is a resume, anything else a send: sends are three times as common.
            ops in proptest::collection::vec(0u8..4, 1..400)
        ) {
            let (hub, user, channel) = hub_with("general");
            let mut view: Vec<u64> = Vec::new();
            let mut last = 0u64;
            for (i, op) in ops.iter().enumerate() {
                match op {
                    1.. => { post(&hub, &user, &channel, &format!("c{i}")); }
                    0 => {
                        let joined = hub.join(&channel, Some(last)).unwrap();
                        if joined.reset { view.clear(); }
                        for e in &joined.backlog {
                            prop_assert!(view.last().is_none_or(|&l| e.seq > l));
                            view.push(e.seq);
                        }
                        last = joined.head;
                    }
                }
            }
            let joined = hub.join(&channel, Some(last)).unwrap();
            if joined.reset { view.clear(); }
            view.extend(joined.backlog.iter().map(|e| e.seq));
            let fresh: Vec<u64> = hub.history(&channel).unwrap().messages.iter().map(|m| m.seq).collect();
            let tail: Vec<u64> = view.iter().rev().take(fresh.len()).rev().copied().collect();
            prop_assert_eq!(tail, fresh);
        }
    }
}
