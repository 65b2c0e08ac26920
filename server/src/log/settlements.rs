//! Settlements: a log's proposals from the moment they are taken until
//! their outcome is told. Proposals get tickets in the order they are
//! taken; each settles once its outcome is known and, when it made an
//! entry, once this server applied that entry.
//!
//! Invariants:
//! - Tickets settle in order: `settled` moves forward only past tickets
//!   whose outcome is known and whose entry (if any) is applied.
//! - An outcome is told once; one nobody asked for (its connection went)
//!   is forgotten `UNCLAIMED` tickets later, so the map stays bounded.

use super::{Settled, Ticket};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// Outcomes nobody claimed are forgotten this many tickets later.
const UNCLAIMED: u64 = 65_536;

#[derive(Default)]
struct Inner {
    /// In ticket order: the log position each waits for (`None`: nothing
    /// to wait for).
    waiting: VecDeque<(u64, Option<u64>)>,
    applied: u64,
    outcomes: BTreeMap<u64, Settled>,
}

pub struct Settlements {
    inner: Mutex<Inner>,
    settled: watch::Sender<u64>,
    applied: watch::Sender<u64>,
}

impl Settlements {
    /// Nothing waiting; the log applied up to `applied`.
    pub fn new(applied: u64) -> Self {
        Self {
            inner: Mutex::new(Inner {
                applied,
                ..Inner::default()
            }),
            settled: watch::channel(0).0,
            applied: watch::channel(applied).0,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Each change is a push or a pop: a panic cannot leave it torn.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `ticket`'s outcome is known; it settles once the log applied its
    /// entry at `lsn` (`None`: it made none). Called in ticket order.
    pub fn decided(&self, ticket: u64, lsn: Option<u64>, outcome: Settled) {
        let mut inner = self.lock();
        inner.outcomes.insert(ticket, outcome);
        inner.waiting.push_back((ticket, lsn));
        self.settle(&mut inner);
    }

    /// This server applied the log up to `lsn`.
    pub fn applied(&self, lsn: u64) {
        let mut inner = self.lock();
        inner.applied = inner.applied.max(lsn);
        self.applied.send_replace(inner.applied);
        self.settle(&mut inner);
    }

    fn settle(&self, inner: &mut Inner) {
        let mut last = None;
        while let Some(&(ticket, lsn)) = inner.waiting.front() {
            if lsn.is_some_and(|n| n > inner.applied) {
                break;
            }
            inner.waiting.pop_front();
            last = Some(ticket);
        }
        if let Some(ticket) = last {
            let stale = ticket.saturating_sub(UNCLAIMED);
            inner.outcomes = inner.outcomes.split_off(&stale);
            self.settled.send_replace(ticket);
        }
    }

    /// The outcome of a settled ticket (once: it is forgotten).
    pub fn take(&self, ticket: Ticket) -> Option<Settled> {
        self.lock().outcomes.remove(&ticket.0)
    }

    /// The last settled ticket, live.
    pub fn settled(&self) -> watch::Receiver<u64> {
        self.settled.subscribe()
    }

    /// How far this server applied the log, live.
    pub fn applied_progress(&self) -> watch::Receiver<u64> {
        self.applied.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{HubError, Outcome};

    #[test]
    fn tickets_settle_in_order_once_their_entries_are_applied() {
        let s = Settlements::new(0);
        let progress = s.settled();
        s.decided(1, Some(5), Ok(Outcome::Stored { seq: 1 }));
        s.decided(2, None, Err(HubError::Busy));
        assert_eq!(*progress.borrow(), 0, "ticket 1 waits for entry 5");
        s.applied(4);
        assert_eq!(*progress.borrow(), 0);
        s.applied(5);
        assert_eq!(*progress.borrow(), 2, "then both settle, in order");
        assert_eq!(s.take(Ticket(1)), Some(Ok(Outcome::Stored { seq: 1 })));
        assert_eq!(s.take(Ticket(1)), None, "told once");
        assert_eq!(s.take(Ticket(2)), Some(Err(HubError::Busy)));
    }

    #[test]
    fn unclaimed_outcomes_are_forgotten() {
        let s = Settlements::new(0);
        for ticket in 1..=UNCLAIMED + 10 {
            s.decided(ticket, None, Ok(Outcome::Done));
        }
        assert_eq!(s.take(Ticket(1)), None);
        assert!(s.lock().outcomes.len() as u64 <= UNCLAIMED + 1);
    }
}
