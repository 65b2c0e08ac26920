//! Connections and presence: each open WebSocket counts toward its user's
//! status while it lives, and is closed if its session ends.

use super::{now, Hub};
use crate::chat::presence::Connections;
use crate::chat::TokenHash;
use crate::log::Notice;
use app::model::{DisplayName, UserInfo};
use std::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// A connection's share of its user's presence: counted while it lives,
/// uncounted when dropped, so presence settles as soon as a tab closes.
pub struct Online {
    hub: Hub,
    user: Uuid,
    name: DisplayName,
    away: bool,
    session: TokenHash,
    /// Its place among its session's connections.
    number: u64,
}

impl Online {
    /// This connection's tab is hidden (`true`) or in view (`false`).
    pub fn set_away(&mut self, away: bool) {
        if away == self.away {
            return;
        }
        self.away = away;
        self.hub.update_presence(self.user, &self.name, |c| {
            if away {
                c.away += 1;
            } else {
                c.away = c.away.saturating_sub(1);
            }
        });
    }
}

impl Drop for Online {
    fn drop(&mut self) {
        {
            let mut inner = self.hub.lock();
            if let Some(open) = inner.connections.get_mut(&self.session) {
                open.retain(|(number, _)| *number != self.number);
                if open.is_empty() {
                    inner.connections.remove(&self.session);
                }
            }
        }
        let away = self.away;
        self.hub.update_presence(self.user, &self.name, |c| {
            c.open = c.open.saturating_sub(1);
            if away {
                c.away = c.away.saturating_sub(1);
            }
        });
    }
}

impl Hub {
    /// Counts a connection of `user`, opened with `session`, until the
    /// returned guard is dropped; `ended` is cancelled if that session
    /// ends first (signed out, or idle past the limit).
    pub fn connect(&self, user: &UserInfo, session: TokenHash, ended: CancellationToken) -> Online {
        let id = user.user_id.as_uuid();
        let number = {
            let mut inner = self.lock();
            inner.next_connection += 1;
            let number = inner.next_connection;
            if inner.state.sessions.user(&session, now()).is_none() {
                ended.cancel(); // ended between the handshake and now
            }
            (inner.connections.entry(session).or_default()).push((number, ended));
            number
        };
        self.update_presence(id, &user.display_name, |c| c.open += 1);
        Online {
            hub: self.clone(),
            user: id,
            name: user.display_name.clone(),
            away: false,
            session,
            number,
        }
    }

    /// Changes `user`'s connection counts and tells everyone when that
    /// changes their status (the other servers at once, unless batched).
    fn update_presence(
        &self,
        user: Uuid,
        name: &DisplayName,
        change: impl FnOnce(&mut Connections),
    ) {
        let (here, batched) = {
            let mut inner = self.lock();
            let (here, announce) = inner.presence.change_here(user, Instant::now(), change);
            if let Some(status) = announce {
                self.core.announce(name.clone(), status);
            }
            (here, inner.presence.batched())
        };
        if !batched {
            let users = vec![(user, here.open, here.away)];
            self.log.notify(Notice::Presence { full: false, users });
        }
    }

    /// Announces the presence changes that waited (at most one per user
    /// per `--presence-interval-ms`) and tells the other servers this
    /// one's changed counts in one notice. Called every interval.
    pub fn flush_presence(&self) {
        let tell = {
            let mut inner = self.lock();
            let (heard, tell) = inner.presence.flush(Instant::now());
            self.core.announce_presence(&inner, heard);
            tell
        };
        if !tell.is_empty() {
            self.log.notify(Notice::Presence {
                full: false,
                users: tell,
            });
        }
    }
}
