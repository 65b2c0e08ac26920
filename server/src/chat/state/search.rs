//! Search in three steps, so the hub's lock is held only to take and to
//! give back: `State::search_plan` takes each channel's index the user
//! may see (public channels and their own conversations, threads
//! included; the door decides), `Plan::newest` scans them with no lock
//! held, and `State::found` reads the newest hits' messages, through the
//! door again (a channel may have changed in between).

use super::*;
use crate::chat::access;
use crate::chat::search::{Found, Index, Query, Scope};
use app::model::SEARCH_HITS_MAX;
use std::sync::Arc;

/// The indexes a search scans: each channel's key and index.
pub struct Plan {
    rooms: Vec<(String, Arc<Index>)>,
    from: Option<DisplayName>,
}

/// A hit: when, its `seq`, and which of the plan's channels.
pub type Hit = (Timestamp, u64, usize);

impl State {
    /// What `user` may search with `query` (`None`: nothing to find).
    pub fn search_plan(&self, user: UserId, query: &Query) -> Option<Plan> {
        let me = self.users.get(&user.as_uuid())?;
        if query.is_empty() {
            return None;
        }
        let keys: Vec<&String> = match &query.scope {
            None => (self.public.iter()).chain(&me.conversations).collect(),
            Some(scope) => self.scoped(user, scope).into_iter().collect(),
        };
        let from = match &query.from {
            Some(typed) => {
                let name = DisplayName::parse(typed).ok()?;
                Some(self.user_named(&name)?.1.display_name.clone())
            }
            None => None,
        };
        let rooms = (keys.into_iter())
            .filter(|key| Room::of_key(key).may_see(Some(user)))
            .filter_map(|key| Some((key.clone(), self.channels.get(key)?.search_index())))
            .collect();
        Some(Plan { rooms, from })
    }

    /// The messages of `hits` that `user` may still see, in order.
    pub fn found(&self, user: UserId, plan: &Plan, hits: &[Hit]) -> Vec<Message> {
        (hits.iter())
            .filter_map(|&(_, seq, r)| {
                let key = &plan.rooms.get(r)?.0;
                let room = self.channels.get(key)?;
                Room::of_key(key).may_see(Some(user)).then_some(())?;
                Some(room.held(seq)?.message.clone())
            })
            .collect()
    }

    /// The channel an `in:` filter names, if the user may see it.
    fn scoped(&self, user: UserId, scope: &Scope) -> Option<&String> {
        let key = match scope {
            Scope::Channel(name) => ChannelName::parse(name).ok()?.key(),
            Scope::With(name) => {
                let (other, _) = self.user_named(&DisplayName::parse(name).ok()?)?;
                access::conversation_key(user.as_uuid(), other)
            }
        };
        let (key, _) = self.channels.get_key_value(&key)?;
        Room::of_key(key).may_see(Some(user)).then_some(key)
    }
}

impl Plan {
    /// The newest `SEARCH_HITS_MAX` messages `query` matches, newest first.
    pub fn newest(&self, query: &Query) -> Vec<Hit> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut in_room: Vec<Found> = Vec::new();
        for (r, (_, index)) in self.rooms.iter().enumerate() {
            in_room.clear();
            index.find(query, self.from.as_ref(), &mut in_room);
            hits.extend(in_room.iter().map(|&(at, seq)| (at, seq, r)));
        }
        let newest_first = |h: &Hit| std::cmp::Reverse((h.0, h.1));
        if hits.len() > SEARCH_HITS_MAX {
            hits.select_nth_unstable_by_key(SEARCH_HITS_MAX, newest_first);
            hits.truncate(SEARCH_HITS_MAX);
        }
        hits.sort_unstable_by_key(newest_first);
        hits
    }
}
