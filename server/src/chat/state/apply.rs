//! `State::apply`: the one function that changes the chat, entry by
//! entry in the log's order, and what each entry does.

use super::*;

impl State {
    /// Applies one committed entry (see the module's invariants). `now` is
    /// asked only for sessions from before they were timed: reading the
    /// clock is not free, and nearly no entry needs it.
    pub fn apply(&mut self, entry: Entry, now: impl Fn() -> Timestamp, keep: Keep) -> Applied {
        match entry {
            Entry::User {
                id,
                name,
                key,
                session,
                created_at,
                replaces,
            } => self.apply_user(id, name, key, session, created_at, replaces),
            Entry::Read { user, key, seq } => {
                let moved = self.users.get_mut(&user).is_some_and(|u| u.read(&key, seq));
                let accepted = moved.then_some(Entry::Read { user, key, seq });
                Applied {
                    outcome: Ok(Outcome::Done),
                    accepted,
                    effects: Effects::default(),
                }
            }
            Entry::Session {
                hash,
                user,
                seen,
                replaces,
            } => {
                // A touch of a session still known: one that ended first
                // stays ended.
                if self.sessions.owner(&hash) != Some(user) {
                    return Applied::unchanged(Outcome::Done);
                }
                let seen = seen.unwrap_or_else(now);
                self.sessions.insert(hash, user, seen);
                let mut applied = self.end_sessions(replaces.into_iter().collect());
                applied.accepted = Some(Entry::Session {
                    hash,
                    user,
                    seen: Some(seen),
                    replaces,
                });
                applied
            }
            Entry::SessionsEnded { hashes } => self.end_sessions(hashes),
            Entry::Channel { key, channel, .. } => self.apply_channel(key, channel),
            Entry::Event {
                key,
                seq,
                change,
                send,
            } => self.apply_event(key, seq, change, send, keep),
        }
    }

    pub(super) fn apply_user(
        &mut self,
        id: Uuid,
        name: DisplayName,
        key: String,
        session: TokenHash,
        created_at: Timestamp,
        replaces: Option<TokenHash>,
    ) -> Applied {
        if self.users.contains_key(&id) {
            return Applied::unchanged(Outcome::Done);
        }
        if self.user_named_like(&name).is_some() {
            return Applied::refused(HubError::NameTaken(name.to_string()));
        }
        self.index_user(id, &name);
        self.sessions.insert(session, id, created_at);
        let user = User::new(id, name.clone(), created_at);
        let info = user.info.clone();
        self.users.insert(id, user);
        let mut applied = self.end_sessions(replaces.into_iter().collect());
        applied.outcome = Ok(Outcome::User(info));
        applied.accepted = Some(Entry::User {
            id,
            name,
            key,
            session,
            created_at,
            replaces,
        });
        applied
    }

    /// Ends sessions: they prove nothing from now on.
    pub(super) fn end_sessions(&mut self, hashes: Vec<TokenHash>) -> Applied {
        // Only sessions that exist end: ending one nobody holds records
        // nothing (anyone can name one).
        let hashes: Vec<TokenHash> = (hashes.into_iter())
            .filter(|hash| self.sessions.owner(hash).is_some())
            .collect();
        if hashes.is_empty() {
            return Applied::unchanged(Outcome::Done);
        }
        for hash in &hashes {
            self.sessions.remove(hash);
        }
        Applied {
            outcome: Ok(Outcome::Done),
            accepted: Some(Entry::SessionsEnded {
                hashes: hashes.clone(),
            }),
            effects: Effect::SessionsEnded(hashes).into(),
        }
    }

    pub(super) fn apply_channel(&mut self, key: String, channel: Channel) -> Applied {
        let room = Room::of_key(&key);
        if let Some(existing) = self.channels.get(&key) {
            // Both opened the same conversation at once: it is the one.
            if matches!(room, Room::Conversation(..)) {
                return Applied::unchanged(Outcome::Channel(existing.info.clone()));
            }
            return Applied::refused(HubError::ChannelExists(existing.info.name.to_string()));
        }
        if room == Room::Public {
            if let Some(existing) = self.channel_named_like(&channel.name) {
                return Applied::refused(HubError::ChannelExists(existing.name.to_string()));
            }
        }
        self.add_channel(key.clone(), channel.clone());
        let effects = match room {
            Room::Public => Effect::ChannelCreated(channel.clone()).into(),
            _ => Effects::default(),
        };
        Applied {
            outcome: Ok(Outcome::Channel(channel.clone())),
            accepted: Some(Entry::Channel {
                key,
                channel,
                position: self.order.len() as u64,
            }),
            effects,
        }
    }

    /// Adds a channel (made now, or read back) under `key`.
    pub(super) fn add_channel(&mut self, key: String, channel: Channel) {
        match Room::of_key(&key) {
            Room::Public => {
                for skeleton in names::skeletons(channel.name.as_str()) {
                    self.channel_skeletons
                        .entry(skeleton)
                        .or_insert(key.clone());
                }
                self.public.push(key.clone());
            }
            Room::Conversation(a, b) => {
                for id in [a, b] {
                    let Some(user) = self.users.get_mut(&id.as_uuid()) else {
                        continue;
                    };
                    if !user.conversations.contains(&key) {
                        user.conversations.push(key.clone());
                    }
                    if user.info.display_name == channel.created_by {
                        user.started += 1;
                    }
                }
            }
            Room::Reserved => {}
        }
        self.order.push(key.clone());
        self.channels.insert(key, ChannelState::new(channel));
    }

    pub(super) fn apply_event(
        &mut self,
        key: String,
        seq: u64,
        change: Change,
        send: Option<SendRecord>,
        keep: Keep,
    ) -> Applied {
        let log = self.log_limits();
        let back = files_back(&change, send.as_ref());
        let Some(room) = self.channels.get_mut(&key) else {
            return Applied::refused(HubError::UnknownChannel(key)).with(back);
        };
        let sender = send.and_then(|s| {
            let client_id = change.client_id()?.clone();
            Some((s, client_id))
        });
        if let Some((send, client_id)) = &sender {
            let known = self
                .users
                .get(&send.user)
                .and_then(|u| u.sends.get(client_id));
            match known {
                Some(sent) if sent.key == key => {
                    return Applied::unchanged(Outcome::Duplicate { seq: sent.seq }).with(back)
                }
                Some(_) => {
                    let reused = HubError::ClientIdReused(client_id.to_string());
                    return Applied::refused(reused).with(back);
                }
                None => {}
            }
        }
        // A reply whose thread went while it waited is refused, not
        // numbered: it would be stored nowhere. (Redis refuses it the
        // same way before numbering; an entry it numbered still applies
        // as far as it can.)
        if let (0, Change::Posted(message)) = (seq, &change) {
            if let Some(to) = message.reply_to.filter(|to| !room.may_reply_to(to.root)) {
                return Applied::refused(HubError::UnknownMessage(to.root)).with(back);
            }
        }
        let seq = if seq > 0 { seq } else { room.head + 1 };
        if let Change::Posted(message) = &change {
            for file in &message.attachments {
                self.file_channels.insert(file.id.clone(), key.clone());
            }
        }
        let kept = (keep == Keep::Accepted).then(|| change.clone());
        let changed = room.apply(seq, change, log);
        let mut effects = Effects::default();
        let gone: Vec<AttachmentId> = (changed.gone.iter())
            .flat_map(|m| m.attachments.iter().map(|a| a.id.clone()))
            .collect();
        for id in &gone {
            self.file_channels.remove(id);
        }
        if !gone.is_empty() {
            effects.push(Effect::FilesGone(gone));
        }
        let send = sender.map(|(mut send, client_id)| {
            if let Some(user) = self.users.get_mut(&send.user) {
                let sent = Sent {
                    key: key.clone(),
                    seq,
                };
                send.position = user.sends.remember(client_id, sent, send.window);
            }
            send
        });
        let accepted = kept.map(|change| Entry::Event {
            key: key.clone(),
            seq,
            change: match change {
                Change::Posted(mut message) => {
                    message.seq = seq;
                    Change::Posted(message)
                }
                other => other,
            },
            send,
        });
        if let Some(event) = changed.event {
            effects.push(Effect::Event { key, event });
        }
        Applied {
            outcome: Ok(Outcome::Stored { seq }),
            accepted,
            effects,
        }
    }
}

/// A new message's files, to give back if it is not stored: they were
/// claimed when it was proposed.
fn files_back(change: &Change, send: Option<&SendRecord>) -> Option<Effect> {
    let (Change::Posted(message), Some(send)) = (change, send) else {
        return None;
    };
    (!message.attachments.is_empty()).then(|| Effect::FilesReturned {
        owner: send.user,
        ids: (message.attachments.iter()).map(|a| a.id.clone()).collect(),
    })
}

impl Applied {
    /// With one more effect, if any.
    fn with(mut self, effect: Option<Effect>) -> Self {
        self.effects.extend(effect);
        self
    }
}
