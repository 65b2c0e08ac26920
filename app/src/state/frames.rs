//! The socket's frames applied to `Chat`: the one place that says what each
//! server frame changes in the browser's view.
//!
//! Invariant: a frame changes only state; anything it asks of the browser
//! (remember a name, fetch a list, wait) goes through `browser` or `api`,
//! so the interpreter runs the same in tests and in the tab.

use super::Chat;
use crate::browser;
use crate::model::{ClientId, Message, Replies, UserInfo};
use crate::protocol::{frame, ErrorCode, ErrorFrame, ServerFrame};
use leptos::prelude::*;

impl Chat {
    /// Applies one frame from the server.
    pub fn apply_frame(self, frame: ServerFrame) {
        match frame {
            ServerFrame::Welcome(frame::Welcome { user, .. }) => self.welcomed(user),
            ServerFrame::ChannelCreated(frame::ChannelCreated { channel }) => {
                self.learn_channel(channel)
            }
            ServerFrame::Presence(frame::Presence { user, status }) => {
                self.set_presence(user, status)
            }
            ServerFrame::Typing(frame::Typing { channel, user }) => {
                self.someone_typing(channel, user, browser::now_ms())
            }
            ServerFrame::Message(message) => self.message_arrived(message),
            ServerFrame::Ack(ack) => self.acked(ack),
            ServerFrame::Edited(frame::Edited {
                channel,
                seq,
                id,
                body,
                html,
                mentions,
                edited_at,
            }) => self.log.update(|log| {
                log.apply_change(&channel, seq, id, |m| {
                    m.apply_edit(body.clone(), html.clone(), mentions.clone(), edited_at)
                });
            }),
            ServerFrame::Deleted(frame::Deleted {
                channel,
                seq,
                id,
                root,
                thread,
            }) => self.log.update(|log| {
                log.apply_delete(&channel, seq, id, root, thread);
            }),
            ServerFrame::Reply(frame::Reply { message, thread }) => {
                self.reply_arrived(message, thread)
            }
            ServerFrame::Thread(frame::Thread {
                channel,
                head,
                root,
                replies,
            }) => self.log.update(|log| {
                if log.shows(&channel) {
                    log.load_thread(head, root, replies);
                }
            }),
            ServerFrame::Reactions(frame::Reactions {
                channel,
                seq,
                id,
                reactions,
            }) => self.log.update(|log| {
                log.apply_change(&channel, seq, id, |m| m.reactions = reactions.clone());
            }),
            ServerFrame::Reset(frame::Reset { channel, topic }) => self.log.update(|log| {
                if log.shows(&channel) {
                    log.reset();
                    log.topic = topic;
                }
            }),
            ServerFrame::Joined(frame::Joined { channel, head }) => {
                self.log.update(|log| {
                    if log.shows(&channel) && head > log.last_seq {
                        log.last_seq = head;
                    }
                });
                self.ask_for_thread();
            }
            ServerFrame::Topic(frame::Topic {
                channel,
                seq,
                topic,
                ..
            }) => self.log.update(|log| {
                if log.apply_change(&channel, seq, 0, |_| {}) {
                    log.topic = topic;
                }
            }),
            ServerFrame::Error(err) => self.refused(err),
            ServerFrame::Pong | ServerFrame::Unknown => {}
        }
    }

    fn welcomed(self, user: UserInfo) {
        browser::remember_name(user.display_name.as_str());
        self.notify
            .set(browser::notify::enabled(&user.display_name));
        self.user.set(Some(user));
        self.refresh_people();
        self.refresh_unread();
        // Catch up on channels created while we were away; ones created
        // from now on arrive as `channel_created`.
        leptos::task::spawn_local(async move {
            if let Ok(channels) = crate::api::list_channels().await {
                for channel in channels {
                    self.learn_channel(channel);
                }
            }
        });
    }

    fn message_arrived(self, message: Message) {
        self.outbox_answered_by(&message);
        let mut shown = false;
        self.log.update(|log| {
            shown = log.apply(message.clone());
        });
        if shown {
            self.notify_message(&message);
        }
    }

    fn reply_arrived(self, message: Message, thread: Replies) {
        self.outbox_answered_by(&message);
        let mut shown = false;
        self.log.update(|log| {
            shown = log.apply_reply(message.clone(), thread);
        });
        if shown {
            self.notify_message(&message);
        }
    }

    /// The open thread's request was refused: it no longer exists.
    fn thread_refused(self, err: &ErrorFrame) -> bool {
        let open = self.log.with_untracked(|log| {
            (log.thread.as_ref()).is_some_and(|v| !v.loaded && err.id == Some(v.root))
        });
        let refused = open && err.client_id.is_none() && err.code == ErrorCode::UnknownMessage;
        if refused {
            self.log.update(|log| {
                if let Some(view) = log.thread.as_mut() {
                    view.missing = true;
                }
            });
        }
        refused
    }

    /// This user's own message arrived: its pending line goes.
    fn outbox_answered_by(self, message: &Message) {
        if let Some(id) = &message.client_id {
            let mine = self
                .user
                .with_untracked(|u| u.as_ref().is_some_and(|u| u.display_name == message.author));
            if mine {
                self.answered(id, |o| o.retain(|item| &item.client_id != id));
            }
        }
    }

    fn acked(self, ack: frame::Ack) {
        let frame::Ack {
            client_id,
            channel,
            seq,
        } = ack;
        // Keep the pending line until the message itself is shown, unless
        // it will never be (another channel, or already here).
        let shown = self
            .log
            .with_untracked(|log| !log.shows(&channel) || log.last_seq >= seq);
        self.answered(&client_id, |o| {
            if shown {
                o.retain(|item| item.client_id != client_id);
            } else if let Some(item) = o.iter_mut().find(|item| item.client_id == client_id) {
                item.acked = true;
            }
        });
    }

    fn refused(self, err: ErrorFrame) {
        if self.thread_refused(&err) {
            return;
        }
        let id = (err.client_id.as_deref()).and_then(|id| ClientId::parse(id).ok());
        if err.code == ErrorCode::RateLimited {
            if let Some(id) = id {
                // Throttled, not refused: it keeps its place (holding the
                // ones after it) and goes again, with the same client_id,
                // when the server says.
                let delay = err.retry_after_ms.unwrap_or(1000).min(60_000) as u32;
                browser::after(delay, move || self.throttle_passed(&id));
            }
            return;
        }
        let for_outbox = id.as_ref().is_some_and(|id| {
            self.outbox
                .with_untracked(|o| o.iter().any(|item| &item.client_id == id))
        });
        match id {
            Some(id) if for_outbox => {
                let message = err.message;
                self.answered(&id, |o| {
                    if let Some(item) = o.iter_mut().find(|item| item.client_id == id) {
                        item.failed = Some(message);
                    }
                });
            }
            _ => self.notice.set(Some(err.message)),
        }
    }
}
