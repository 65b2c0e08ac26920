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

/// One connection's view of its channel.
pub struct Checker {
    epoch: Instant,
    last_seq: u64,
    last_n: HashMap<u32, u64>,
    pub latency_us: Histogram<u64>,
}

pub fn histogram() -> Histogram<u64> {
    // 1 µs to 10 min, 3 significant digits.
    Histogram::new_with_bounds(1, 600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

impl Checker {
    pub fn new(epoch: Instant) -> Self {
        Self {
            epoch,
            last_seq: 0,
            last_n: HashMap::new(),
            latency_us: histogram(),
        }
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
        let _ = self
            .latency_us
            .record((now.saturating_sub(nanos) / 1000).max(1));
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
        let mut checker = Checker::new(Instant::now());
        checker.record(&frame(1, 0, 1, 0), &counts);
        checker.record(&frame(2, 0, 2, 0), &counts);
        checker.record(&frame(2, 0, 2, 0), &counts);
        checker.record(&frame(1, 0, 1, 0), &counts);
        assert_eq!(counts.delivered.load(Ordering::Relaxed), 2);
        assert_eq!(counts.duplicates.load(Ordering::Relaxed), 1);
        assert_eq!(counts.out_of_order.load(Ordering::Relaxed), 1);
    }
}
