//! Sessions: which session (by its token's hash) belongs to which user,
//! and when each was last used. No I/O and no clock of its own: callers
//! pass `now`.
//!
//! Invariants:
//! - A session unused for longer than `idle` is no session: it proves
//!   nothing, whether or not it was swept yet (`user`).
//! - Use is recorded coarsely: a session is touched (and the touch
//!   stored) only when its last recorded use is older than `touch_every`,
//!   so reading a cookie costs no write on nearly every request.
//! - An idle of zero keeps sessions until they are ended.

use app::model::Timestamp;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// The SHA-256 of a token: what the server stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

/// As hex (how Redis holds it with `--redis-url`).
impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        hex::decode(text.as_ref())
            .ok()
            .and_then(|bytes| Self::from_bytes(&bytes))
            .ok_or_else(|| serde::de::Error::custom("a session hash is 64 hex digits"))
    }
}

impl TokenHash {
    /// The hash of a session token as the client holds it.
    pub fn of(token: &str) -> Self {
        Self(Sha256::digest(token.as_bytes()).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// A hash read back from storage; `None` unless exactly 32 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }
}

/// A freshly issued session token (hex of 16 random bytes): in clear only
/// in the client's cookie; the server keeps its hash.
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never log a live credential.
        f.write_str("SessionToken(..)")
    }
}

impl SessionToken {
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::random();
        Self(hex::encode(bytes))
    }

    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }

    /// The token itself, for the cookie that carries it.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

/// Touches happen at most this often per session, and more often when
/// `idle` is short (a tenth of it).
const TOUCH_EVERY_MOST: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone, Copy)]
struct Session {
    user: Uuid,
    seen: Timestamp,
}

#[derive(Default)]
pub struct Sessions {
    idle: Duration,
    by_hash: HashMap<TokenHash, Session>,
}

impl Sessions {
    pub fn new(idle: Duration) -> Self {
        Self {
            idle,
            by_hash: HashMap::new(),
        }
    }

    pub fn clear(&mut self) {
        self.by_hash.clear();
    }

    pub fn insert(&mut self, hash: TokenHash, user: Uuid, seen: Timestamp) {
        self.by_hash.insert(hash, Session { user, seen });
    }

    pub fn remove(&mut self, hash: &TokenHash) {
        self.by_hash.remove(hash);
    }

    /// The user of a live session.
    pub fn user(&self, hash: &TokenHash, now: Timestamp) -> Option<Uuid> {
        let session = self.by_hash.get(hash)?;
        (!self.is_idle(session, now)).then_some(session.user)
    }

    /// Whether a use of `hash` now should be recorded (see the invariants).
    pub fn needs_touch(&self, hash: &TokenHash, now: Timestamp) -> bool {
        if self.idle.is_zero() {
            return false;
        }
        let every = (self.idle / 10).min(TOUCH_EVERY_MOST);
        self.by_hash
            .get(hash)
            .is_some_and(|s| since(s.seen, now) >= every)
    }

    /// Every session of `user`.
    pub fn of_user(&self, user: Uuid) -> Vec<TokenHash> {
        self.by_hash
            .iter()
            .filter(|(_, s)| s.user == user)
            .map(|(hash, _)| *hash)
            .collect()
    }

    /// The user of `hash`, live or idle.
    pub fn owner(&self, hash: &TokenHash) -> Option<Uuid> {
        self.by_hash.get(hash).map(|s| s.user)
    }

    /// The sessions idle past the limit.
    pub fn expired(&self, now: Timestamp) -> Vec<TokenHash> {
        self.by_hash
            .iter()
            .filter(|(_, s)| self.is_idle(s, now))
            .map(|(hash, _)| *hash)
            .collect()
    }

    fn is_idle(&self, session: &Session, now: Timestamp) -> bool {
        !self.idle.is_zero() && since(session.seen, now) > self.idle
    }
}

/// How long from `then` to `now` (zero if `now` is earlier).
fn since(then: Timestamp, now: Timestamp) -> Duration {
    (now.as_datetime() - then.as_datetime())
        .to_std()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_datetime(chrono::DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap())
    }

    #[test]
    fn a_session_idle_past_the_limit_proves_nothing() {
        let mut sessions = Sessions::new(Duration::from_secs(100));
        let (hash, user) = (SessionToken::generate().hash(), Uuid::new_v4());
        sessions.insert(hash, user, at(0));
        assert_eq!(sessions.user(&hash, at(100)), Some(user));
        assert_eq!(sessions.user(&hash, at(101)), None);
        assert_eq!(sessions.expired(at(101)), [hash]);
        assert_eq!(sessions.owner(&hash), Some(user), "idle, but known");
        // A touch renews it.
        sessions.insert(hash, user, at(90));
        assert_eq!(sessions.user(&hash, at(150)), Some(user));
    }

    #[test]
    fn uses_are_recorded_coarsely() {
        let mut sessions = Sessions::new(Duration::from_secs(100));
        let hash = SessionToken::generate().hash();
        sessions.insert(hash, Uuid::new_v4(), at(0));
        assert!(!sessions.needs_touch(&hash, at(9)));
        assert!(sessions.needs_touch(&hash, at(10)));
        let forever = Sessions::new(Duration::ZERO);
        assert!(!forever.needs_touch(&hash, at(1_000_000)));
    }

    #[test]
    fn with_no_idle_limit_sessions_last_until_ended() {
        let mut sessions = Sessions::new(Duration::ZERO);
        let (hash, user) = (SessionToken::generate().hash(), Uuid::new_v4());
        sessions.insert(hash, user, at(0));
        assert_eq!(sessions.user(&hash, at(10_000_000)), Some(user));
        assert!(sessions.expired(at(10_000_000)).is_empty());
        assert_eq!(sessions.of_user(user), [hash]);
        sessions.remove(&hash);
        assert_eq!(sessions.user(&hash, at(0)), None);
    }
}
