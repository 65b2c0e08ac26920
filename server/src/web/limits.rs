//! Rate and connection limits: how fast one user may post and create
//! channels, how fast one address may register, how many frames one
//! connection may send, and how many connections one address (and the
//! server) may hold.
//!
//! Invariants: every limit is a named setting (see `config`), where a rate
//! of 0 means unlimited; a refusal says when to retry; nothing refused is
//! half-done. Rates use GCRA (`governor`): a burst is allowed, then a steady
//! rate. Connection counts are released by `ConnectionPermit`'s `Drop`, so
//! a session that ends in any way gives its slot back.

use crate::config::Config;
use app::model::UserId;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A per-connection frame limiter.
pub type FrameLimiter = DefaultDirectRateLimiter;

/// `count` per `period` with bursts of `burst`; `None` (unlimited) when 0.
fn quota(count: u32, period: Duration, burst: u32) -> Option<Quota> {
    let count = NonZeroU32::new(count)?;
    let burst = NonZeroU32::new(burst.max(1))?;
    Quota::with_period(period / count.get()).map(|q| q.allow_burst(burst))
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefused {
    #[error("the server is at its connection limit ({0}); try again later")]
    ServerFull(usize),
    #[error("too many connections from your address (limit {0})")]
    AddressFull(usize),
}

pub struct Limits {
    messages: Option<DefaultKeyedRateLimiter<UserId>>,
    channels: Option<DefaultKeyedRateLimiter<UserId>>,
    conversations: Option<DefaultKeyedRateLimiter<UserId>>,
    searches: Option<DefaultKeyedRateLimiter<UserId>>,
    registrations: Option<DefaultKeyedRateLimiter<IpAddr>>,
    frames: Option<Quota>,
    invalid_frames: Option<Quota>,
    max_connections: usize,
    max_connections_per_ip: usize,
    connections: Mutex<Connections>,
}

#[derive(Default)]
struct Connections {
    total: usize,
    by_ip: HashMap<IpAddr, usize>,
}

/// A held connection slot; dropping it frees the slot.
pub struct ConnectionPermit {
    limits: Arc<Limits>,
    ip: IpAddr,
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut connections = self.limits.connections();
        connections.total = connections.total.saturating_sub(1);
        if let Some(count) = connections.by_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                connections.by_ip.remove(&self.ip);
            }
        }
    }
}

fn check<K: Clone + std::hash::Hash + Eq>(
    limiter: &Option<DefaultKeyedRateLimiter<K>>,
    key: &K,
) -> Result<(), Duration> {
    match limiter {
        None => Ok(()),
        Some(limiter) => limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
    }
}

impl Limits {
    pub fn from_config(config: &Config) -> Self {
        const SECOND: Duration = Duration::from_secs(1);
        const MINUTE: Duration = Duration::from_secs(60);
        Self {
            messages: quota(config.message_rate, SECOND, config.message_burst)
                .map(DefaultKeyedRateLimiter::keyed),
            channels: quota(config.channel_rate, MINUTE, config.channel_burst)
                .map(DefaultKeyedRateLimiter::keyed),
            conversations: quota(config.conversation_rate, MINUTE, config.conversation_burst)
                .map(DefaultKeyedRateLimiter::keyed),
            searches: quota(config.search_rate, SECOND, config.search_burst)
                .map(DefaultKeyedRateLimiter::keyed),
            registrations: quota(config.register_rate, MINUTE, config.register_burst)
                .map(DefaultKeyedRateLimiter::keyed),
            frames: quota(config.frame_rate, SECOND, config.frame_burst),
            invalid_frames: quota(1, SECOND, config.invalid_frame_burst),
            max_connections: config.max_connections,
            max_connections_per_ip: config.max_connections_per_ip,
            connections: Mutex::default(),
        }
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// May this user post a message now? `Err` says how long to wait.
    pub fn check_message(&self, user: UserId) -> Result<(), Duration> {
        check(&self.messages, &user)
    }

    /// May this user create a channel now?
    pub fn check_channel(&self, user: UserId) -> Result<(), Duration> {
        check(&self.channels, &user)
    }

    /// May this user start a private conversation now?
    pub fn check_conversation(&self, user: UserId) -> Result<(), Duration> {
        check(&self.conversations, &user)
    }

    /// May this user search now?
    pub fn check_search(&self, user: UserId) -> Result<(), Duration> {
        check(&self.searches, &user)
    }

    /// May this address register now?
    pub fn check_registration(&self, ip: IpAddr) -> Result<(), Duration> {
        check(&self.registrations, &ip)
    }

    /// A fresh limiter for one connection's frames (`None`: unlimited).
    pub fn frame_limiter(&self) -> Option<FrameLimiter> {
        self.frames.map(FrameLimiter::direct)
    }

    /// A fresh limiter for one connection's invalid frames: past its burst
    /// the connection is closed as abusive.
    pub fn invalid_frame_limiter(&self) -> Option<FrameLimiter> {
        self.invalid_frames.map(FrameLimiter::direct)
    }

    /// Takes a connection slot for `ip`, or says which limit is full.
    pub fn try_connect(
        self: &Arc<Self>,
        ip: IpAddr,
    ) -> Result<ConnectionPermit, ConnectionRefused> {
        let mut connections = self.connections();
        if connections.total >= self.max_connections {
            return Err(ConnectionRefused::ServerFull(self.max_connections));
        }
        let from_ip = connections.by_ip.entry(ip).or_default();
        if *from_ip >= self.max_connections_per_ip {
            return Err(ConnectionRefused::AddressFull(self.max_connections_per_ip));
        }
        *from_ip += 1;
        connections.total += 1;
        Ok(ConnectionPermit {
            limits: self.clone(),
            ip,
        })
    }

    /// Forgets rate state that has fully recovered, so keyed limiters do not
    /// grow with every address or user ever seen. Called periodically.
    pub fn forget_idle(&self) {
        for limiter in [&self.messages, &self.channels, &self.conversations]
            .into_iter()
            .flatten()
        {
            limiter.retain_recent();
        }
        if let Some(limiter) = &self.registrations {
            limiter.retain_recent();
        }
    }
}

/// Whole milliseconds to wait, at least 1.
pub fn retry_after_ms(wait: Duration) -> u64 {
    (wait.as_millis() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn limits(args: &[&str]) -> Arc<Limits> {
        let mut argv = vec!["flack"];
        argv.extend_from_slice(args);
        Arc::new(Limits::from_config(&Config::parse_from(argv)))
    }

    #[test]
    fn a_burst_is_allowed_then_the_rate_applies_with_a_retry_time() {
        let limits = limits(&["--message-rate", "1", "--message-burst", "3"]);
        let (alice, bob) = (UserId::random(), UserId::random());
        for _ in 0..3 {
            assert!(limits.check_message(alice).is_ok());
        }
        let wait = limits.check_message(alice).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limits.check_message(bob).is_ok(), "limits are per user");
    }

    #[test]
    fn a_rate_of_zero_means_unlimited() {
        let limits = limits(&["--message-rate", "0"]);
        let alice = UserId::random();
        for _ in 0..10_000 {
            assert!(limits.check_message(alice).is_ok());
        }
    }

    #[test]
    fn connection_slots_are_limited_per_address_and_returned_on_drop() {
        let limits = limits(&["--max-connections", "3", "--max-connections-per-ip", "2"]);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let first = limits.try_connect(a).unwrap();
        let _second = limits.try_connect(a).unwrap();
        assert_eq!(
            limits.try_connect(a).err(),
            Some(ConnectionRefused::AddressFull(2))
        );
        let _third = limits.try_connect(b).unwrap();
        assert_eq!(
            limits.try_connect(b).err(),
            Some(ConnectionRefused::ServerFull(3))
        );
        drop(first);
        assert!(limits.try_connect(a).is_ok());
    }
}
