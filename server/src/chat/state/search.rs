//! `State::search`: every message a user may see (public channels and
//! their own conversations, threads included; the door decides) that a
//! query matches, newest first.

use super::*;
use crate::chat::access;
use crate::chat::channel::ChannelState;
use crate::chat::search::{Query, Scope};
use app::model::{SearchHit, SEARCH_HITS_MAX};

impl State {
    pub fn search(&self, user: UserId, query: &Query) -> Vec<SearchHit> {
        let Some(me) = self.users.get(&user.as_uuid()) else {
            return Vec::new();
        };
        if query.is_empty() {
            return Vec::new();
        }
        let keys: Vec<&String> = match &query.scope {
            None => (self.public.iter()).chain(&me.conversations).collect(),
            Some(scope) => self.scoped(user, scope).into_iter().collect(),
        };
        let from = match &query.from {
            Some(typed) => match DisplayName::parse(typed)
                .ok()
                .and_then(|n| self.user_named(&n))
            {
                Some((_, info)) => Some(info.display_name.clone()),
                None => return Vec::new(),
            },
            None => None,
        };
        let rooms: Vec<&ChannelState> = (keys.into_iter())
            .filter(|key| Room::of_key(key).may_see(Some(user)))
            .filter_map(|key| self.channels.get(key))
            .collect();
        // (when, seq, which room): the newest `SEARCH_HITS_MAX` are read.
        let mut found: Vec<(Timestamp, u64, usize)> = Vec::new();
        let mut in_room = Vec::new();
        for (r, room) in rooms.iter().enumerate() {
            in_room.clear();
            room.search_index().find(query, from.as_ref(), &mut in_room);
            found.extend(in_room.iter().map(|&(at, seq)| (at, seq, r)));
        }
        let newest_first = |f: &(Timestamp, u64, usize)| std::cmp::Reverse((f.0, f.1));
        if found.len() > SEARCH_HITS_MAX {
            found.select_nth_unstable_by_key(SEARCH_HITS_MAX, newest_first);
            found.truncate(SEARCH_HITS_MAX);
        }
        found.sort_unstable_by_key(newest_first);
        (found.into_iter())
            .filter_map(|(_, seq, r)| rooms[r].held(seq))
            .map(|held| SearchHit {
                marks: query.marks(held.message.body.as_str()),
                message: held.message.clone(),
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
