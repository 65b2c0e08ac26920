//! Measuring deliveries: a stamp in each message body (sender, number,
//! scheduled send time), and a per-connection checker that records latency
//! and counts losses, duplicates and out-of-order deliveries.
//!
//! Invariant: latency is measured from the time a message was *scheduled*
//! to be sent (open loop), so a server that falls behind cannot hide its
//! delay by slowing the senders down.

use hdrhistogram::Histogram;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The body of a load message: `lg <sender> <n> <nanos since epoch>`.
pub fn stamp(sender: u32, n: u64, nanos: u64) -> String {
    format!("lg {sender} {n} {nanos}")
}

/// Finds `"<key>":` in a frame and returns the text after it.
fn after<'a>(frame: &'a str, key: &str) -> Option<&'a str> {
    let at = frame.find(key)?;
    Some(&frame[at + key.len()..])
}

fn leading_number(text: &str) -> Option<u64> {
    let digits: &str = &text[..text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len())];
    digits.parse().ok()
}

/// `(seq, sender, n, nanos)` of a `message` frame carrying a stamp. A cheap
/// scan rather than a JSON parse, so the generator stays light.
pub fn read_stamp(frame: &str) -> Option<(u64, u32, u64, u64)> {
    if !frame.starts_with(r#"{"type":"message""#) {
        return None;
    }
    let seq = leading_number(after(frame, r#""seq":"#)?)?;
    let body = after(frame, r#""body":"lg "#)?;
    let mut parts = body.splitn(4, [' ', '"']);
    let sender = parts.next()?.parse().ok()?;
    let n = parts.next()?.parse().ok()?;
    let nanos = leading_number(parts.next()?)?;
    Some((seq, sender, n, nanos))
}

/// An open-loop schedule: message `n` (from 1) is due at `start` +
/// (n − 1) × `period`, whenever the previous one went out.
#[derive(Clone, Copy)]
pub struct Schedule {
    pub start: Instant,
    pub period: Duration,
}

impl Schedule {
    /// `rate` messages/s from `start`.
    pub fn new(start: Instant, rate: f64) -> Self {
        Self {
            start,
            period: Duration::from_secs_f64(1.0 / rate.max(0.001)),
        }
    }

    /// Sender `s`'s share of `rate` messages/s split over `senders`: each
    /// sends at `rate / senders`, offset by `s / rate`, so that together
    /// they send one message every `1 / rate`. Sharing one phase instead
    /// would send `senders` messages at the same instant: bursts that
    /// `rate` does not describe.
    pub fn share(start: Instant, rate: f64, senders: usize, s: usize) -> Self {
        let senders = senders.max(1);
        let offset = Duration::from_secs_f64(s as f64 / rate.max(0.001));
        Self::new(start + offset, rate / senders as f64)
    }

    /// Sleeps (on this OS thread, with the OS's precision rather than an
    /// async runtime's 1 ms timer wheel) until message `n` is due, and
    /// returns when that was: the time its latency is measured from.
    pub fn wait_for(&self, n: u64) -> Instant {
        let due = self.start + self.period.mul_f64(n.saturating_sub(1) as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        due
    }
}

/// Waits, at most 15 s, until `done` holds: the deliveries still in flight
/// when sending stops.
pub async fn drain(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline && !done() {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Counters shared with the coordinator while a run is live.
#[derive(Default)]
pub struct Counts {
    pub delivered: AtomicU64,
    pub duplicates: AtomicU64,
    pub out_of_order: AtomicU64,
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

/// Durations in µs recorded by many connections into a few shared
/// histograms. One histogram per connection costs about 170 KB; a run's
/// 10,000 viewers allocating and zeroing theirs kept the generator from
/// reading for the first second of the run.
#[derive(Clone)]
pub struct Latencies(Arc<[Mutex<Histogram<u64>>]>);

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    /// Enough shards that the generator's few threads rarely meet.
    const SHARDS: usize = 16;

    pub fn new() -> Self {
        Self((0..Self::SHARDS).map(|_| Mutex::new(histogram())).collect())
    }

    /// Records `took` for connection `id`.
    pub fn record(&self, id: usize, took: Duration) {
        let mut shard = self.0[id % Self::SHARDS]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let _ = shard.record((took.as_micros() as u64).max(1));
    }

    /// Everything recorded so far, in one histogram.
    pub fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        for shard in self.0.iter() {
            let _ = all.add(&*shard.lock().unwrap_or_else(PoisonError::into_inner));
        }
        all
    }
}

/// One connection's view of its channel.
pub struct Checker {
    epoch: Instant,
    last_seq: u64,
    last_n: HashMap<u32, u64>,
    latencies: Latencies,
    id: usize,
}

impl Checker {
    /// Checks connection `id`, recording its latencies in `latencies`.
    pub fn new(epoch: Instant, latencies: Latencies, id: usize) -> Self {
        Self {
            epoch,
            last_seq: 0,
            last_n: HashMap::new(),
            latencies,
            id,
        }
    }

    pub fn id(&self) -> usize {
        self.id
    }

    /// The last `seq` delivered in order: where a resume starts from.
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Records one frame; non-load frames are ignored.
    pub fn record(&mut self, frame: &str, counts: &Counts) {
        let Some((seq, sender, n, nanos)) = read_stamp(frame) else {
            return;
        };
        let now = self.epoch.elapsed().as_nanos() as u64;
        self.latencies
            .record(self.id, Duration::from_nanos(now.saturating_sub(nanos)));
        let last_n = self.last_n.entry(sender).or_insert(0);
        if seq <= self.last_seq || n <= *last_n {
            if seq == self.last_seq || n == *last_n {
                counts.duplicates.fetch_add(1, Ordering::Relaxed);
            } else {
                counts.out_of_order.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        self.last_seq = seq;
        *last_n = n;
        counts.delivered.fetch_add(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(seq: u64, sender: u32, n: u64, nanos: u64) -> String {
        format!(
            r#"{{"type":"message","channel":"c","seq":{seq},"author":"a","body":"{}","sent_at":"2026-11-25T12:00:00.000Z","client_id":"x"}}"#,
            stamp(sender, n, nanos)
        )
    }

    #[test]
    fn stamps_are_read_back_from_message_frames() {
        assert_eq!(
            read_stamp(&frame(7, 3, 42, 123_456)),
            Some((7, 3, 42, 123_456))
        );
        assert_eq!(read_stamp(r#"{"type":"ack","seq":1}"#), None);
    }

    #[test]
    fn duplicates_and_reordering_are_counted_not_delivered() {
        let counts = Counts::default();
        let latencies = Latencies::new();
        let mut checker = Checker::new(Instant::now(), latencies.clone(), 0);
        checker.record(&frame(1, 0, 1, 0), &counts);
        checker.record(&frame(2, 0, 2, 0), &counts);
        checker.record(&frame(2, 0, 2, 0), &counts);
        checker.record(&frame(1, 0, 1, 0), &counts);
        assert_eq!(counts.delivered.load(Ordering::Relaxed), 2);
        assert_eq!(counts.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(counts.out_of_order.load(Ordering::Relaxed), 1);
        // Every stamped frame is timed, in order or not.
        assert_eq!(latencies.merged().len(), 4);
    }

    #[test]
    fn latencies_from_every_shard_are_merged() {
        let latencies = Latencies::new();
        for id in 0..100 {
            latencies.record(id, Duration::from_micros(id as u64 + 1));
        }
        let all = latencies.merged();
        assert_eq!(all.len(), 100);
        assert_eq!(all.max(), 100);
        assert_eq!(all.min(), 1);
    }

    #[test]
    fn shared_schedules_interleave_evenly() {
        let start = Instant::now();
        let senders = 4;
        let mut due: Vec<Duration> = (0..senders)
            .flat_map(|s| {
                let schedule = Schedule::share(start, 100.0, senders, s);
                (0..3).map(move |k| schedule.start + schedule.period * k - start)
            })
            .collect();
        due.sort();
        // 12 messages, one every 10 ms, none at the same instant.
        for (i, at) in due.iter().enumerate() {
            let expected = Duration::from_millis(10 * i as u64);
            assert!(
                at.abs_diff(expected) < Duration::from_micros(1),
                "{i}: {at:?}"
            );
        }
    }
}
