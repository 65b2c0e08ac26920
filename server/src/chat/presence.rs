//! Who is here: each user's open and hidden connections, on this server
//! and (with Redis) on the others, and which status changes to announce.
//! No I/O and no clock of its own: the hub passes `now` and sends what
//! this decides.
//!
//! Invariants:
//! - A user's status is `online` with any connection in view, `away` when
//!   all of them are hidden, `offline` with none, counted on every server.
//! - A change is announced at once unless that user's status was announced
//!   less than `interval` ago; then it waits for the next `flush`, which
//!   announces the latest status if it differs from the last one
//!   announced. So an observer hears at most two announcements per user
//!   per interval, however fast a client toggles, and always the final
//!   state. An interval of zero announces every change at once.
//! - With Redis, this server's counts go to the others the same way: at
//!   once with no interval, else batched by `flush`.

use app::model::PresenceStatus;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// One user's open connections and how many of them are hidden tabs.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    pub open: u32,
    pub away: u32,
}

impl Connections {
    pub fn status(self) -> PresenceStatus {
        match self {
            Self { open: 0, .. } => PresenceStatus::Offline,
            Self { open, away } if away >= open => PresenceStatus::Away,
            _ => PresenceStatus::Online,
        }
    }
}

/// Another server's connection counts, as its last notices said.
struct Remote {
    heard: Instant,
    users: HashMap<Uuid, Connections>,
}

/// `(user, status)`: a status to announce.
pub type Heard = (Uuid, PresenceStatus);
/// `(user, open, away)`: one user's connection counts on one server.
pub type Counts = (Uuid, u32, u32);

/// A change to another server's counts, as its notice says.
pub struct Notice {
    /// The counts replace all that server's counts (its heartbeat).
    pub full: bool,
    pub users: Vec<Counts>,
}

#[derive(Default)]
pub struct Presence {
    interval: Duration,
    here: HashMap<Uuid, Connections>,
    remote: HashMap<Uuid, Remote>,
    /// The last status announced per user, and when (absent: offline).
    announced: HashMap<Uuid, (PresenceStatus, Instant)>,
    /// Users whose status may differ from the one last announced.
    due: HashSet<Uuid>,
    /// Users whose counts here changed since the others were told.
    untold: HashSet<Uuid>,
}

impl Presence {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            here: HashMap::new(),
            remote: HashMap::new(),
            announced: HashMap::new(),
            due: HashSet::new(),
            untold: HashSet::new(),
        }
    }

    /// Whether changes wait to be batched (`flush`), or go at once.
    pub fn batched(&self) -> bool {
        !self.interval.is_zero()
    }

    /// `user`'s connections on every server.
    fn connections(&self, user: Uuid) -> Connections {
        let mut all = self.here.get(&user).copied().unwrap_or_default();
        for server in self.remote.values() {
            if let Some(there) = server.users.get(&user) {
                all.open += there.open;
                all.away += there.away;
            }
        }
        all
    }

    pub fn status(&self, user: Uuid) -> PresenceStatus {
        self.connections(user).status()
    }

    /// This server's counts, for its heartbeat to the others.
    pub fn counts_here(&self) -> Vec<Counts> {
        self.here
            .iter()
            .map(|(user, c)| (*user, c.open, c.away))
            .collect()
    }

    /// `user`'s counts here after `change`, and the status to announce now.
    pub fn change_here(
        &mut self,
        user: Uuid,
        now: Instant,
        change: impl FnOnce(&mut Connections),
    ) -> (Connections, Option<PresenceStatus>) {
        let mut here = self.here.get(&user).copied().unwrap_or_default();
        change(&mut here);
        if here.open == 0 {
            self.here.remove(&user);
        } else {
            self.here.insert(user, here);
        }
        if self.batched() {
            self.untold.insert(user);
        }
        (here, self.decide(user, now))
    }

    /// Applies another server's notice; the statuses to announce now.
    pub fn change_remote(&mut self, node: Uuid, now: Instant, notice: Notice) -> Vec<Heard> {
        let mut server = self.remote.remove(&node).unwrap_or_else(|| Remote {
            heard: now,
            users: HashMap::new(),
        });
        server.heard = now;
        let mut affected: Vec<Uuid> = Vec::new();
        if notice.full {
            affected.extend(server.users.keys());
            server.users.clear();
        }
        for (user, open, away) in notice.users {
            affected.push(user);
            if open == 0 {
                server.users.remove(&user);
            } else {
                server.users.insert(user, Connections { open, away });
            }
        }
        // A server with no connections left is no longer tracked.
        if !server.users.is_empty() {
            self.remote.insert(node, server);
        }
        self.decide_all(affected, now)
    }

    /// Forgets the servers not heard from since `before` (gone, with their
    /// connections): which ones, and the statuses to announce now.
    pub fn forget_servers(&mut self, before: Instant, now: Instant) -> (Vec<Uuid>, Vec<Heard>) {
        let gone: Vec<Uuid> = self
            .remote
            .iter()
            .filter(|(_, server)| server.heard < before)
            .map(|(node, _)| *node)
            .collect();
        let mut affected = Vec::new();
        for node in &gone {
            if let Some(server) = self.remote.remove(node) {
                affected.extend(server.users.into_keys());
            }
        }
        (gone, self.decide_all(affected, now))
    }

    /// What waited: the statuses to announce now, and (with Redis) this
    /// server's changed counts to tell the others.
    pub fn flush(&mut self, now: Instant) -> (Vec<Heard>, Vec<Counts>) {
        let due: Vec<Uuid> = self.due.drain().collect();
        let announce = due
            .into_iter()
            .filter_map(|user| {
                let status = self.status(user);
                (status != self.last_announced(user)).then(|| {
                    self.record(user, status, now);
                    (user, status)
                })
            })
            .collect();
        let tell = self
            .untold
            .drain()
            .map(|user| {
                let c = self.here.get(&user).copied().unwrap_or_default();
                (user, c.open, c.away)
            })
            .collect();
        (announce, tell)
    }

    fn decide_all(&mut self, users: Vec<Uuid>, now: Instant) -> Vec<Heard> {
        let mut seen = HashSet::new();
        users
            .into_iter()
            .filter(|user| seen.insert(*user))
            .filter_map(|user| self.decide(user, now).map(|status| (user, status)))
            .collect()
    }

    /// Whether `user`'s status is to be announced now (and records it).
    fn decide(&mut self, user: Uuid, now: Instant) -> Option<PresenceStatus> {
        let status = self.status(user);
        if status == self.last_announced(user) {
            self.due.remove(&user);
            return None;
        }
        let recently = self
            .announced
            .get(&user)
            .is_some_and(|(_, at)| now.saturating_duration_since(*at) < self.interval);
        if recently {
            self.due.insert(user);
            return None;
        }
        self.record(user, status, now);
        Some(status)
    }

    fn last_announced(&self, user: Uuid) -> PresenceStatus {
        self.announced
            .get(&user)
            .map_or(PresenceStatus::Offline, |(status, _)| *status)
    }

    fn record(&mut self, user: Uuid, status: PresenceStatus, now: Instant) {
        self.due.remove(&user);
        if status == PresenceStatus::Offline {
            // Offline is what no entry means: the map holds who is here.
            self.announced.remove(&user);
        } else {
            self.announced.insert(user, (status, now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PresenceStatus::{Away, Offline, Online};

    fn toggle(away: bool) -> impl FnOnce(&mut Connections) {
        move |c| {
            if away {
                c.away += 1;
            } else {
                c.away -= 1;
            }
        }
    }

    /// 200 away/back toggles within an interval: one announcement at once,
    /// one at the next flush with the final state, nothing else.
    #[test]
    fn a_flood_of_toggles_is_heard_at_most_twice_per_interval_and_ends_right() {
        let mut presence = Presence::new(Duration::from_secs(1));
        let (alice, t0) = (Uuid::new_v4(), Instant::now());
        let mut heard = Vec::new();
        let (_, first) = presence.change_here(alice, t0, |c| c.open += 1);
        heard.extend(first);
        for i in 0..200u32 {
            let at = t0 + Duration::from_millis(u64::from(i));
            let (_, now) = presence.change_here(alice, at, toggle(i % 2 == 0));
            heard.extend(now);
        }
        assert_eq!(heard, [Online], "only the first change goes at once");
        // The final state (after an even number of toggles) is online:
        // what was announced, so the flush has nothing to say.
        let (flushed, _) = presence.flush(t0 + Duration::from_secs(1));
        assert!(flushed.is_empty());
        // One more toggle leaves her away; the flush says so, once.
        let later = t0 + Duration::from_millis(300);
        assert_eq!(presence.change_here(alice, later, toggle(true)).1, None);
        let (flushed, _) = presence.flush(t0 + Duration::from_secs(1));
        assert_eq!(flushed, [(alice, Away)]);
        assert!(presence.flush(t0 + Duration::from_secs(2)).0.is_empty());
        assert_eq!(presence.status(alice), Away);
    }

    #[test]
    fn with_no_interval_every_change_is_announced_at_once() {
        let mut presence = Presence::new(Duration::ZERO);
        let (alice, now) = (Uuid::new_v4(), Instant::now());
        let mut heard = Vec::new();
        heard.extend(presence.change_here(alice, now, |c| c.open += 1).1);
        heard.extend(presence.change_here(alice, now, toggle(true)).1);
        heard.extend(presence.change_here(alice, now, toggle(false)).1);
        heard.extend(presence.change_here(alice, now, |c| c.open -= 1).1);
        assert_eq!(heard, [Online, Away, Online, Offline]);
        assert_eq!(presence.flush(now), (Vec::new(), Vec::new()));
    }

    #[test]
    fn connections_on_other_servers_count_and_go_with_their_server() {
        let mut presence = Presence::new(Duration::ZERO);
        let (alice, node, now) = (Uuid::new_v4(), Uuid::new_v4(), Instant::now());
        let there = Notice {
            full: false,
            users: vec![(alice, 2, 2)],
        };
        assert_eq!(presence.change_remote(node, now, there), [(alice, Away)]);
        assert_eq!(
            presence.change_here(alice, now, |c| c.open += 1).1,
            Some(Online)
        );
        assert_eq!(
            presence.change_here(alice, now, |c| c.open -= 1).1,
            Some(Away)
        );
        let later = now + Duration::from_secs(60);
        let (gone, heard) = presence.forget_servers(now + Duration::from_secs(1), later);
        assert_eq!((gone, heard), (vec![node], vec![(alice, Offline)]));
        assert_eq!(presence.status(alice), Offline);
    }

    #[test]
    fn with_an_interval_counts_for_the_others_are_batched() {
        let mut presence = Presence::new(Duration::from_secs(1));
        let (alice, now) = (Uuid::new_v4(), Instant::now());
        for _ in 0..5 {
            presence.change_here(alice, now, |c| c.open += 1);
        }
        let (_, tell) = presence.flush(now);
        assert_eq!(tell, [(alice, 5, 0)], "one notice with the latest counts");
        assert!(presence.flush(now).1.is_empty());
    }
}
