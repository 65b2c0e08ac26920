//! Messages: sending (idempotent per `client_id`), editing, deleting,
//! reacting, typing, and the attachments messages carry.

use super::{done, now, Hub};
use crate::blobs::Content;
use crate::chat::channel::{typing_event, Held};
use crate::chat::markup::{self, Rendered};
use crate::chat::search;
use crate::chat::state::PostCheck;
use crate::chat::{Change, Entry, HubError, Outcome, SendRecord};
use crate::log::{Notice, Proposed};
use app::model::{
    Attachment, AttachmentId, ChannelName, ClientId, DisplayName, Emoji, Message, MessageBody,
    ReplyTo, SearchHit, SearchQuery, UserId, UserInfo,
};
use app::protocol::frame;
use bytes::Bytes;

/// A message to send: where, its idempotency key, its body and files.
pub struct Draft {
    pub channel: ChannelName,
    pub client_id: ClientId,
    pub body: MessageBody,
    pub attachments: Vec<AttachmentId>,
    /// A reply: the thread it goes in.
    pub reply_to: Option<ReplyTo>,
}

impl Hub {
    /// Sends a message from `user` (idempotent per `client_id`); viewers
    /// receive it once it is committed. The proposal settles with its
    /// `seq` (`Outcome::Stored`, or `Duplicate` for a retry).
    pub async fn post(&self, user: &UserInfo, draft: Draft) -> Result<Proposed, HubError> {
        let Draft {
            channel,
            client_id,
            body,
            attachments,
            reply_to,
        } = draft;
        let rendered = self.render(body.as_str());
        // Through the door first: a retry is answered only for a channel
        // its sender may see, and only for the channel it went to.
        let checked =
            (self.lock().state).check_post(user.user_id, &channel, &client_id, reply_to)?;
        let (key, channel, author) = match checked {
            PostCheck::Remembered(seq) => return Ok(Proposed::Now(Ok(Outcome::Duplicate { seq }))),
            PostCheck::Propose {
                key,
                channel,
                author,
            } => (key, channel, author),
        };
        let owner = user.user_id.as_uuid();
        let files = self.core.blobs.claim(owner, &attachments).await?;
        let message = Message {
            channel,
            seq: 0,
            author,
            body,
            sent_at: now(),
            client_id: Some(client_id),
            html: rendered.html,
            edited_at: None,
            reactions: Vec::new(),
            mentions: rendered.mentions,
            attachments: files,
            reply_to,
            replies: None,
        };
        let entry = Entry::Event {
            key,
            seq: 0,
            change: Change::Posted(message),
            send: Some(SendRecord {
                user: owner,
                position: 0,
                window: self.core.limits.idempotency_window,
            }),
        };
        // Refused: the files are the sender's again.
        self.propose(entry)
            .inspect_err(|_| self.core.blobs.unclaim(owner, &attachments))
    }

    /// `body` rendered (`markup`) outside the hub's lock: Markdown and the
    /// sanitizer are the costliest part of a send or an edit. Its
    /// `@mentions` are resolved with one look at the users: a first pass
    /// notes every name the renderer would ask about (without answers it
    /// asks about at least as many), the lock is taken once to look them
    /// all up, and a second pass renders with the answers. A body with
    /// nothing to ask about (most are plain text) renders once.
    pub(super) fn render(&self, body: &str) -> Rendered {
        self.render_by(body, markup::render)
    }

    /// `render` with another renderer of the same markup (a topic's).
    pub(super) fn render_by(&self, body: &str, by: markup::Renderer) -> Rendered {
        let asked = std::cell::RefCell::new(Vec::new());
        let first = by(body, &|typed| {
            asked.borrow_mut().push(typed.to_owned());
            None
        });
        let asked = asked.into_inner();
        if asked.is_empty() {
            return first;
        }
        let keyed: Vec<(String, String)> = (asked.into_iter())
            .filter_map(|typed| {
                let key = DisplayName::parse(&typed).ok()?.key();
                Some((typed, key))
            })
            .collect();
        let found = self.lock().state.mentionable(keyed);
        by(body, &|typed| found.get(typed).cloned())
    }

    /// Replaces the body of `user`'s own message `id`.
    pub fn edit(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
        body: MessageBody,
    ) -> Result<Proposed, HubError> {
        let rendered = self.render(body.as_str());
        self.change(user.user_id, channel, id, |held| {
            if held.message.author != user.display_name {
                return Err(HubError::NotAuthor("edit"));
            }
            Ok(Some(Change::Edited {
                id,
                body,
                rendered,
                at: now(),
            }))
        })
    }

    /// Deletes `user`'s own message `id`.
    pub fn delete(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
    ) -> Result<Proposed, HubError> {
        self.change(user.user_id, channel, id, |held| {
            if held.message.author != user.display_name {
                return Err(HubError::NotAuthor("delete"));
            }
            let thread = held.message.reply_to.map(|to| to.root);
            Ok(Some(Change::Deleted { id, thread }))
        })
    }

    /// Adds or removes `user`'s reaction `emoji` on message `id`; doing what
    /// is already done changes nothing.
    pub fn react(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        id: u64,
        emoji: Emoji,
        add: bool,
    ) -> Result<Proposed, HubError> {
        self.change(user.user_id, channel, id, |held| {
            let has = (held.message.reactions.iter())
                .any(|r| r.emoji == emoji && r.users.contains(&user.display_name));
            Ok((has != add).then(|| Change::Reacted {
                id,
                emoji,
                user: user.display_name.clone(),
                add,
            }))
        })
    }

    /// Proposes a change to message `id` of `channel` if `decide` (shown
    /// the message as committed) allows it and finds something to change.
    fn change(
        &self,
        user: UserId,
        channel: &ChannelName,
        id: u64,
        decide: impl FnOnce(&Held) -> Result<Option<Change>, HubError>,
    ) -> Result<Proposed, HubError> {
        let (key, change) = {
            let inner = self.lock();
            let (key, room) = inner.state.door(Some(user), channel)?;
            let held = room.held(id).ok_or(HubError::UnknownMessage(id))?;
            (key, decide(held)?)
        };
        let Some(change) = change else {
            return Ok(done());
        };
        self.propose(Entry::Event {
            key,
            seq: 0,
            change,
            send: None,
        })
    }

    /// The messages `user` may see that `query` matches, newest first.
    /// The lock is held to take the channels' indexes and to read the
    /// hits, never while scanning.
    pub fn search(&self, user: &UserInfo, query: &SearchQuery) -> Vec<SearchHit> {
        let query = search::Query::parse(query);
        let Some(plan) = self.lock().state.search_plan(user.user_id, &query) else {
            return Vec::new();
        };
        let hits = plan.newest(&query);
        let messages = self.lock().state.found(user.user_id, &plan, &hits);
        (messages.into_iter())
            .map(|message| SearchHit {
                marks: query.marks(message.body.as_str()),
                message,
            })
            .collect()
    }

    /// The thread of message `root` of `channel` as of now, for `user`.
    pub fn thread(
        &self,
        user: &UserInfo,
        channel: &ChannelName,
        root: u64,
    ) -> Result<frame::Thread, HubError> {
        let inner = self.lock();
        let (_, room) = inner.state.door(Some(user.user_id), channel)?;
        let (first, replies) = room.thread(root).ok_or(HubError::UnknownMessage(root))?;
        Ok(frame::Thread {
            channel: room.info.name.clone(),
            head: room.head,
            root: first,
            replies,
        })
    }

    /// Tells `channel`'s viewers (on every server) that `user` is typing.
    /// Not an event: no `seq`, not stored, not replayed.
    pub fn typing(&self, user: &UserInfo, channel: &ChannelName) -> Result<(), HubError> {
        let key = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let (key, room) = inner.state.door(Some(user.user_id), channel)?;
            let typing = typing_event(&room.info, user.display_name.clone());
            inner.deliver(&key, &typing);
            key
        };
        self.log.notify(Notice::Typing {
            key,
            user: user.display_name.clone(),
        });
        Ok(())
    }

    /// Keeps an upload of `user`'s until a message of theirs claims it.
    pub async fn upload(
        &self,
        user: &UserInfo,
        name: &str,
        bytes: Bytes,
    ) -> Result<Attachment, HubError> {
        let owner = user.user_id.as_uuid();
        self.core.blobs.put(owner, name.to_owned(), bytes).await
    }

    /// An attached file, to serve to `viewer` (`None`: nobody signed in)
    /// if they may see the channel its message is in; `None` for a file
    /// that is no message's (yet, or any more) as for one they may not see.
    pub async fn file(
        &self,
        viewer: Option<&UserInfo>,
        id: &AttachmentId,
    ) -> Option<(Attachment, Content)> {
        let allowed = self
            .lock()
            .state
            .may_see_file(viewer.map(|v| v.user_id), id);
        if !allowed {
            return None;
        }
        self.core.blobs.get(id).await
    }
}
