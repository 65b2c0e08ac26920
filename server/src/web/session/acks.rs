//! Acks: a `send` is acknowledged once its message settles (durable and
//! numbered), in the order the sends arrived, without the read loop
//! waiting for each commit.

use super::*;

/// Acks waiting for the log on one connection. Past this many, the
/// connection stops reading until the oldest settles (backpressure).
pub(super) const MAX_PENDING_ACKS: usize = 1024;

/// An ack waiting for its message to settle (be durable, and numbered).
pub(super) struct PendingAck {
    pub(super) proposed: Proposed,
    pub(super) ack: frame::Ack,
    /// When its `send` arrived (for the send latency metric).
    pub(super) received: Instant,
}

impl PendingAck {
    /// Whether it settled, once the log settled up to `settled`.
    fn settled_at(&self, settled: u64) -> bool {
        match self.proposed {
            Proposed::Now(_) => true,
            Proposed::Later(ticket) => ticket.0 <= settled,
        }
    }
}

/// Waits until the log settles more; never resolves when nothing waits.
pub(super) async fn settled_moved(
    settled: &mut Option<tokio::sync::watch::Receiver<u64>>,
    waiting: bool,
) -> u64 {
    match settled {
        Some(rx) if waiting => match rx.changed().await {
            Ok(()) => *rx.borrow_and_update(),
            // The log is gone (shutdown): nothing more will settle.
            Err(_) => std::future::pending().await,
        },
        _ => std::future::pending().await,
    }
}

impl<S> Session<S>
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    /// An ack promises durability: send it now if the message settled,
    /// else queue it for when the log settles it (without holding up the
    /// connection's other frames, unless too many are waiting).
    pub(super) async fn ack_when_settled(&mut self, pending: PendingAck) -> Result<(), Ended> {
        if self.pending_acks.is_empty() && pending.settled_at(self.settled_now()) {
            return self.send_ack(pending).await;
        }
        self.pending_acks.push_back(pending);
        if self.pending_acks.len() > MAX_PENDING_ACKS {
            let oldest = self.pending_acks.front().map(|p| &p.proposed);
            if let (Some(Proposed::Later(ticket)), Some(settled)) = (oldest, &mut self.settled) {
                let ticket = ticket.0;
                // An error means the log is gone: nothing more will settle.
                let _ = settled.wait_for(|&at| at >= ticket).await;
            }
            self.send_settled_acks(self.settled_now()).await?;
        }
        Ok(())
    }

    /// How far the log settled (everything, when it settles at once).
    pub(super) fn settled_now(&self) -> u64 {
        self.settled.as_ref().map_or(u64::MAX, |rx| *rx.borrow())
    }

    /// Sends, in order, every queued ack that settled at `settled`.
    pub(super) async fn send_settled_acks(&mut self, settled: u64) -> Result<(), Ended> {
        while self
            .pending_acks
            .front()
            .is_some_and(|p| p.settled_at(settled))
        {
            if let Some(pending) = self.pending_acks.pop_front() {
                self.send_ack(pending).await?;
            }
        }
        Ok(())
    }

    /// Sends an ack with the `seq` the message got, or (refused after all,
    /// or the store unreachable) the refusal instead.
    pub(super) async fn send_ack(&mut self, pending: PendingAck) -> Result<(), Ended> {
        let PendingAck {
            proposed,
            mut ack,
            received,
        } = pending;
        let outcome: Settled = match proposed {
            Proposed::Now(outcome) => outcome,
            Proposed::Later(ticket) => self.hub.take(ticket).unwrap_or(Err(HubError::Busy)),
        };
        match outcome {
            Ok(Outcome::Stored { seq }) => {
                self.metrics.messages.inc();
                ack.seq = seq;
            }
            Ok(Outcome::Duplicate { seq }) => ack.seq = seq,
            Ok(_) => {}
            Err(err) => {
                let mut refusal = error_frame(&err);
                refusal.client_id = Some(ack.client_id.to_string());
                refusal.channel = Some(ack.channel.to_string());
                return self.send_frame(&ServerFrame::Error(refusal)).await;
            }
        }
        self.send_frame(&ServerFrame::Ack(ack)).await?;
        self.metrics.observe_send(received.elapsed());
        Ok(())
    }
}
