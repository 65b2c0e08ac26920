//! The hub as the log's sink: committed entries applied to the state, in
//! the log's order, and their effects sent (events to live viewers, new
//! channels to everyone, ended sessions' connections closed, gone files
//! deleted, files of a message not stored given back).

use super::{now, Core, Delivery, Inner};
use crate::chat::channel::Event;
use crate::chat::presence::{self, Counts, Heard};
use crate::chat::{Applied, Effect, Entry, Keep, Snapshot, State, TokenHash};
use crate::log::{Committed, Notice, Sink};
use app::model::{AttachmentId, DisplayName, PresenceStatus};
use app::protocol::{frame, ServerFrame};
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// What applying asks of the blobs, done once the lock is released.
#[derive(Default)]
struct Files {
    gone: Vec<AttachmentId>,
    returned: Vec<(Uuid, Vec<AttachmentId>)>,
}

impl Sink for Core {
    fn apply(&self, entries: Vec<Entry>, keep: Keep) -> Vec<Committed> {
        let mut files = Files::default();
        let committed = {
            let mut inner = self.lock();
            (entries.into_iter())
                .map(|entry| self.apply_locked(&mut inner, entry, keep, &mut files))
                .collect()
        };
        self.files(files);
        committed
    }

    fn apply_one(&self, entry: Entry, keep: Keep) -> Committed {
        let mut files = Files::default();
        let committed = self.apply_locked(&mut self.lock(), entry, keep, &mut files);
        self.files(files);
        committed
    }

    fn reload(&self, snapshot: Snapshot) {
        let at = now();
        let state = State::from_snapshot(snapshot, self.limits.state(), at);
        let mut inner = self.lock();
        inner.state = state;
        // Viewers' live queues close: they join again and get what they
        // missed, or a reset.
        inner.live.clear();
        // Sessions that ended while this server was away close here too.
        let ended: Vec<TokenHash> = (inner.connections.keys())
            .filter(|hash| inner.state.sessions.user(hash, at).is_none())
            .copied()
            .collect();
        inner.close_sessions(&ended);
    }

    fn notice(&self, from: Uuid, notice: Notice) {
        let mut inner = self.lock();
        match notice {
            Notice::Typing { key, user } => {
                let Some(room) = inner.state.channel(&key) else {
                    return;
                };
                let typing = crate::chat::channel::typing_event(&room.info, user);
                inner.deliver(&key, &typing);
            }
            Notice::Presence { full, users } => {
                let notice = presence::Notice { full, users };
                let heard = inner.presence.change_remote(from, Instant::now(), notice);
                self.announce_presence(&inner, heard);
            }
        }
    }

    fn presence(&self) -> Vec<Counts> {
        self.lock().presence.counts_here()
    }

    fn forget_servers(&self, before: Instant) {
        let mut inner = self.lock();
        let (gone, heard) = inner.presence.forget_servers(before, Instant::now());
        for node in gone {
            tracing::info!(%node, "a server stopped sending its presence; forgetting its connections");
        }
        self.announce_presence(&inner, heard);
    }
}

impl Core {
    fn apply_locked(
        &self,
        inner: &mut Inner,
        entry: Entry,
        keep: Keep,
        files: &mut Files,
    ) -> Committed {
        let Applied {
            outcome,
            accepted,
            effects,
        } = inner.state.apply(entry, now, keep);
        for effect in effects {
            self.effect(inner, effect, files);
        }
        Committed { outcome, accepted }
    }

    /// Files are the blobs' business: never under the lock.
    fn files(&self, files: Files) {
        if !files.gone.is_empty() {
            self.blobs.remove(files.gone);
        }
        for (owner, ids) in files.returned {
            self.blobs.unclaim(owner, &ids);
        }
    }

    fn effect(&self, inner: &mut Inner, effect: Effect, files: &mut Files) {
        match effect {
            Effect::Event { key, event } => inner.deliver(&key, &event),
            Effect::ChannelCreated(channel) => {
                let created = ServerFrame::ChannelCreated(frame::ChannelCreated { channel });
                self.tell_everyone(created);
            }
            Effect::SessionsEnded(hashes) => inner.close_sessions(&hashes),
            Effect::FilesGone(ids) => files.gone.extend(ids),
            Effect::FilesReturned { owner, ids } => files.returned.push((owner, ids)),
        }
    }

    /// Announces each `(user, status)` by the user's name.
    pub(super) fn announce_presence(&self, inner: &Inner, heard: Vec<Heard>) {
        for (user, status) in heard {
            if let Some(known) = inner.state.user(user) {
                self.announce(known.display_name.clone(), status);
            }
        }
    }

    pub(super) fn announce(&self, user: DisplayName, status: PresenceStatus) {
        self.tell_everyone(ServerFrame::Presence(frame::Presence { user, status }));
    }

    fn tell_everyone(&self, frame: ServerFrame) {
        // Nobody listening is fine.
        let _ = self.lobby.send(frame.to_json().into());
    }
}

impl Inner {
    /// Sends `event` to the channel's live viewers, if it has any.
    pub(super) fn deliver(&mut self, key: &str, event: &Event) {
        let Some(live) = self.live.get(key) else {
            return;
        };
        if live.receiver_count() == 0 {
            // Nobody views it any more: its queue goes until the next join.
            self.live.remove(key);
            return;
        }
        let _ = live.send(Arc::new(Delivery::of(event)));
    }

    /// Closes every connection opened with one of these sessions.
    pub(super) fn close_sessions(&mut self, hashes: &[TokenHash]) {
        for hash in hashes {
            for (_, connection) in self.connections.remove(hash).unwrap_or_default() {
                connection.cancel();
            }
        }
    }
}

impl Delivery {
    pub(super) fn of(event: &Event) -> Self {
        Self {
            seq: event.seq,
            id: event.id,
            frame: frame_text(event),
        }
    }
}

/// An event's frame as socket text. Frames are made from `String`s, so
/// they are always UTF-8.
pub(super) fn frame_text(event: &Event) -> Utf8Bytes {
    Utf8Bytes::try_from(event.frame.clone()).unwrap_or_default()
}
