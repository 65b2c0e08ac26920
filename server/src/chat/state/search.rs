//! `State::search`: every message a user may see (public channels and
//! their own conversations, threads included; the door decides) that a
//! query matches, newest first.

use super::*;
use crate::chat::access;
use crate::chat::channel::Held;
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
        let mut found: Vec<&Held> = (keys.into_iter())
            .filter(|key| Room::of_key(key).may_see(Some(user)))
            .filter_map(|key| self.channels.get(key))
            .flat_map(|room| room.all_held())
            .filter(|held| from.as_ref().is_none_or(|f| &held.message.author == f))
            .filter(|held| query.matches(held.searchable()))
            .collect();
        let newest_first = |h: &&Held| std::cmp::Reverse((h.message.sent_at, h.message.seq));
        if found.len() > SEARCH_HITS_MAX {
            found.select_nth_unstable_by_key(SEARCH_HITS_MAX, newest_first);
            found.truncate(SEARCH_HITS_MAX);
        }
        found.sort_unstable_by_key(newest_first);
        (found.into_iter())
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
