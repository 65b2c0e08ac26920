//! Users and their sessions: registering, finding the user of a cookie,
//! signing out, idle sessions, and everyone's names and status.

use super::{done, now, Hub};
use crate::chat::sessions::SessionToken;
use crate::chat::{Entry, HubError, TokenHash};
use crate::log::Proposed;
use app::model::{DisplayName, Person, Timestamp, UserId, UserInfo};
use uuid::Uuid;

/// A registration: the user, their new session (none when the caller's
/// cookie already is one of theirs), and the proposal to wait for.
pub type Registered = (UserInfo, Option<SessionToken>, Proposed);

impl Hub {
    /// Creates a user with a fresh session. Names are unique ignoring case,
    /// normalization and look-alikes (`names`). When `current` is already a
    /// session of that very user, that user is returned with no new
    /// session: the caller's cookie already proves who they are. A new
    /// user's session replaces the caller's `current` one, which ends.
    pub fn register(
        &self,
        name: DisplayName,
        current: Option<&TokenHash>,
    ) -> Result<Registered, HubError> {
        let at = now();
        let (caller, existing) = {
            let inner = self.lock();
            let sessions = &inner.state.sessions;
            let caller = current.filter(|hash| sessions.user(hash, at).is_some());
            let own = caller.and_then(|hash| sessions.user(hash, at));
            (caller.copied(), inner.state.check_register(&name, own)?)
        };
        if let Some(user) = existing {
            return Ok((user, None, done()));
        }
        let id = Uuid::new_v4();
        let token = SessionToken::generate();
        let entry = Entry::User {
            id,
            name: name.clone(),
            key: name.key(),
            session: token.hash(),
            created_at: at,
            replaces: caller,
        };
        let proposed = self.propose(entry)?;
        let user = UserInfo {
            user_id: UserId::from_uuid(id),
            display_name: name,
        };
        Ok((user, Some(token), proposed))
    }

    /// The user of a live session. A use now is recorded (coarsely, see
    /// `sessions`), so a session in use never goes idle.
    pub fn user_by_session(&self, hash: &TokenHash) -> Option<UserInfo> {
        let at = now();
        let (user, touch) = {
            let inner = self.lock();
            let sessions = &inner.state.sessions;
            // An open socket is use: its session is live while it is open.
            let open = || {
                inner
                    .connections
                    .contains_key(hash)
                    .then(|| sessions.owner(hash))?
            };
            let id = sessions.user(hash, at).or_else(open)?;
            let touch = sessions.needs_touch(hash, at).then_some(id);
            (inner.state.user(id).cloned(), touch)
        };
        if let Some(id) = touch {
            self.touch(*hash, id, at);
        }
        user
    }

    /// The user of a session, looking past replication lag: a session
    /// made on another server a moment ago is found here too.
    pub async fn user_by_session_synced(&self, hash: &TokenHash) -> Option<UserInfo> {
        if let Some(user) = self.user_by_session(hash) {
            return Some(user);
        }
        self.sync().await;
        self.user_by_session(hash)
    }

    /// Records a use of session `hash` now; one that cannot be recorded
    /// now (busy) is tried at the next use.
    fn touch(&self, hash: TokenHash, user: Uuid, at: Timestamp) {
        let touch = Entry::Session {
            hash,
            user,
            seen: Some(at),
            replaces: None,
        };
        let _ = self.propose(touch);
    }

    /// Ends the session `hash` (signing out this browser); its connections
    /// close.
    pub fn sign_out(&self, hash: &TokenHash) -> Result<Proposed, HubError> {
        // A session nobody holds has nothing to end: proposing it would let
        // anyone with a made-up cookie write to the log.
        let known = self.lock().state.sessions.owner(hash).is_some();
        self.end_sessions(if known { vec![*hash] } else { Vec::new() })
    }

    /// Ends every session of `user` (signing out everywhere).
    pub fn sign_out_everywhere(&self, user: &UserInfo) -> Result<Proposed, HubError> {
        let hashes = (self.lock().state.sessions).of_user(user.user_id.as_uuid());
        self.end_sessions(hashes)
    }

    fn end_sessions(&self, hashes: Vec<TokenHash>) -> Result<Proposed, HubError> {
        if hashes.is_empty() {
            return Ok(done());
        }
        self.propose(Entry::SessionsEnded { hashes })
    }

    /// Keeps the sessions with a connection open here fresh (an open
    /// socket is use; touching them tells every server so), then ends
    /// those idle past `--session-idle-secs`. Returns how many ended.
    pub fn expire_sessions(&self) -> usize {
        let at = now();
        let (touches, idle) = {
            let inner = self.lock();
            let sessions = &inner.state.sessions;
            let touches: Vec<(TokenHash, Uuid)> = (inner.connections.keys())
                .filter(|hash| sessions.needs_touch(hash, at))
                .filter_map(|hash| Some((*hash, sessions.owner(hash)?)))
                .collect();
            let idle: Vec<TokenHash> = (sessions.expired(at).into_iter())
                .filter(|hash| !inner.connections.contains_key(hash))
                .collect();
            (touches, idle)
        };
        for (hash, user) in touches {
            self.touch(hash, user, at);
        }
        let ended = idle.len();
        // Busy: the next sweep tries again.
        match self.end_sessions(idle) {
            Ok(_) => ended,
            Err(_) => 0,
        }
    }

    /// Everyone, sorted by name ignoring case, with their status.
    pub fn people(&self) -> Vec<Person> {
        let inner = self.lock();
        (inner.state.users_by_name().into_iter())
            .map(|(id, name)| Person {
                name,
                status: inner.presence.status(id),
            })
            .collect()
    }

    /// Every user's display name, sorted ignoring case.
    pub fn users(&self) -> Vec<DisplayName> {
        self.people().into_iter().map(|p| p.name).collect()
    }
}
