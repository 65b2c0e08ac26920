//! The outbox: messages this user wrote that the server has not stored yet.
//!
//! Invariant: they go one at a time, in the order they were written, each
//! with its own `client_id` kept across retries and reconnects, so none is
//! stored twice and none overtakes an earlier one.

use super::*;

/// A message the user sent that the server has not acknowledged yet.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub channel: ChannelName,
    pub client_id: ClientId,
    pub body: MessageBody,
    /// Files uploaded for it, sent by id.
    pub attachments: Vec<Attachment>,
    /// Why the server refused it; a refused message waits for retry or discard.
    pub failed: Option<String>,
    /// Stored by the server; shown as pending until its `message` frame arrives.
    pub acked: bool,
    /// Sent and not answered yet (or throttled, waiting to be sent again):
    /// the outbox sends nothing after it meanwhile.
    pub in_flight: bool,
    /// A reply: the thread it goes in.
    pub reply_to: Option<ReplyTo>,
}

impl Outgoing {
    /// The `send` frame that carries it.
    pub fn frame(&self) -> ClientFrame {
        ClientFrame::Send {
            channel: self.channel.clone(),
            client_id: self.client_id.clone(),
            body: self.body.clone(),
            attachments: self.attachments.iter().map(|a| a.id.clone()).collect(),
            reply_to: self.reply_to,
        }
    }
}

impl Chat {
    /// Queues a message (a reply with `reply_to`); it shows as pending
    /// until the server acknowledges it, and goes out in its turn (`pump`).
    pub fn send(
        &self,
        channel: ChannelName,
        body: MessageBody,
        attachments: Vec<Attachment>,
        reply_to: Option<ReplyTo>,
    ) {
        let outgoing = Outgoing {
            channel,
            client_id: ClientId::random(),
            body,
            attachments,
            failed: None,
            acked: false,
            in_flight: false,
            reply_to,
        };
        self.outbox.update(|outbox| outbox.push(outgoing));
        self.pump();
    }

    /// Sends the outbox's next message if none is on its way: one at a
    /// time, in the order they were written, so no message overtakes an
    /// earlier one (PROTOCOL.md §5.3). A throttled one keeps its place and
    /// holds the rest until it is stored; one refused for good steps aside
    /// (it waits for Retry or Discard). Called whenever the outbox or the
    /// connection changes.
    pub fn pump(&self) {
        if self.status.get_untracked() != ConnectionStatus::Connected {
            return;
        }
        let mut next = None;
        // Untracked: the flag changes nothing on screen.
        self.outbox.update_untracked(|outbox| {
            let waiting = outbox.iter_mut().find(|o| o.failed.is_none() && !o.acked);
            if let Some(first) = waiting.filter(|o| !o.in_flight) {
                first.in_flight = true;
                next = Some(first.clone());
            }
        });
        if let Some(item) = next {
            crate::browser::outbound::send(item.frame());
        }
    }

    /// After a (re)connect: whatever was on its way got no answer on the
    /// old connection, so the first unanswered message goes again (with
    /// its `client_id`: the server stores it once).
    pub fn resend_outbox(&self) {
        self.outbox.update_untracked(|outbox| {
            for item in outbox.iter_mut() {
                item.in_flight = false;
            }
        });
        self.pump();
    }

    /// A throttled message may go again (`retry_after_ms` passed); it is
    /// still first, so it is the next sent.
    pub fn throttle_passed(&self, client_id: &ClientId) {
        self.outbox.update_untracked(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.in_flight = false;
            }
        });
        self.pump();
    }

    /// Takes a message off its way: answered (`ack`, or shown), or refused
    /// for good (`failed`); the next one goes.
    pub fn answered(&self, client_id: &ClientId, change: impl FnOnce(&mut Vec<Outgoing>)) {
        self.outbox.update(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.in_flight = false;
            }
            change(outbox);
        });
        self.pump();
    }

    /// Sends a refused message again with its original `client_id`, in its
    /// turn.
    pub fn retry(&self, client_id: &ClientId) {
        self.outbox.update(|outbox| {
            if let Some(item) = outbox.iter_mut().find(|o| &o.client_id == client_id) {
                item.failed = None;
            }
        });
        self.pump();
    }

    /// Replaces the body of one's own message `id`.
    pub fn discard(&self, client_id: &ClientId) {
        self.answered(client_id, |outbox| {
            outbox.retain(|o| &o.client_id != client_id)
        });
    }
}
