//! The viewed channel: joining it (backlog, then live), its live events
//! written in batches, and catching up (or a reset) after a lag.

use super::*;

/// Live events written in one batch (then flushed) when a viewer finds
/// several waiting: bounds how long one connection holds its worker.
pub(super) const MAX_BATCH: usize = 64;

/// The channel a connection views.
pub(super) struct Viewing {
    pub(super) channel: ChannelName,
    pub(super) last_seq: u64,
    pub(super) live: Live,
}

/// Waits for the viewed channel's next event; never resolves when none is viewed.
pub(super) async fn next_event(viewing: &mut Option<Viewing>) -> Result<Arc<Delivery>, RecvError> {
    match viewing {
        Some(v) => v.live.recv().await,
        None => std::future::pending().await,
    }
}

impl<S> Session<S>
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    /// Replaces the viewed channel: reset (if any), backlog, `joined`, then live.
    pub(super) async fn start_viewing(&mut self, joined: Joined) -> Result<(), Ended> {
        let Joined {
            channel,
            reset,
            backlog,
            head,
            live,
        } = joined;
        // One batch: the history goes out in a few writes, not one per message.
        if let Some(reset) = reset {
            let reset = ServerFrame::Reset(reset);
            self.feed(WsMessage::Text(reset.to_json().into())).await?;
        }
        for frame in &backlog {
            self.feed(WsMessage::Text(frame.clone())).await?;
        }
        self.metrics.deliveries.inc_by(backlog.len() as u64);
        self.viewing = Some(Viewing {
            channel: channel.clone(),
            last_seq: head,
            live,
        });
        self.send_frame(&ServerFrame::Joined(frame::Joined { channel, head }))
            .await
    }

    /// Writes the viewed channel's events: this one and any already waiting
    /// (up to `MAX_BATCH`), fed together and flushed once, so a viewer that
    /// fell a few events behind catches up in one write. Returns whether
    /// events may still be waiting (a full batch, or a rejoin's backlog).
    pub(super) async fn on_event(
        &mut self,
        event: Result<Arc<Delivery>, RecvError>,
    ) -> Result<bool, Ended> {
        let mut event = event;
        let mut fed = 0;
        let mut full = false;
        while let Some(viewing) = self.viewing.as_mut() {
            match event {
                Ok(event) => {
                    if event.seq == 0 {
                        // A notice (typing), not an event: never moves last_seq.
                        self.feed(WsMessage::Text(event.frame.clone())).await?;
                        fed += 1;
                    } else if event.seq > viewing.last_seq {
                        viewing.last_seq = event.seq;
                        self.feed(WsMessage::Text(event.frame.clone())).await?;
                        fed += 1;
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    // Fell behind the live queue: continue from the ring.
                    tracing::debug!(user = %self.user.display_name, channel = %viewing.channel, missed, "viewer lagged; catching up");
                    return self.rejoin().await.map(|()| true);
                }
                // The channel was reloaded (a replica that found a gap in
                // Redis' log): join again from where this viewer is.
                Err(RecvError::Closed) => return self.rejoin().await.map(|()| true),
            }
            if fed >= MAX_BATCH {
                full = true;
                break;
            }
            let Some(viewing) = self.viewing.as_mut() else {
                break;
            };
            event = match viewing.live.try_recv() {
                Ok(next) => Ok(next),
                Err(TryRecvError::Lagged(missed)) => Err(RecvError::Lagged(missed)),
                Err(TryRecvError::Closed) => Err(RecvError::Closed),
                Err(TryRecvError::Empty) => break,
            };
        }
        if fed > 0 {
            self.metrics.deliveries.inc_by(fed as u64);
            self.flush().await?;
        }
        Ok(full)
    }

    /// Joins the viewed channel again after the last event this viewer
    /// got: the events since, or a reset and the ring.
    pub(super) async fn rejoin(&mut self) -> Result<(), Ended> {
        let Some(viewing) = self.viewing.as_ref() else {
            return Ok(());
        };
        let (channel, after) = (viewing.channel.clone(), viewing.last_seq);
        match self.hub.join(&self.user, &channel, Some(after)) {
            Ok(joined) => self.start_viewing(joined).await,
            Err(_) => {
                self.viewing = None;
                self.flush().await
            }
        }
    }
}
