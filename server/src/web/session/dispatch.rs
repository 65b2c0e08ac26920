//! Client frames: decoded, rate-limited, and turned into hub calls; a
//! refusal becomes an `error` frame counted against the connection.

use super::*;

/// A connection's `typing` notices closer together than this are dropped
/// (browsers send one every few seconds at most).
pub(super) const TYPING_EVERY: Duration = Duration::from_secs(2);

impl<S> Session<S>
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    /// Counts an invalid or excess frame; past the burst the connection ends.
    pub(super) fn strike(&mut self) -> Result<(), Ended> {
        match &self.invalid_frames {
            Some(limiter) if limiter.check().is_err() => Err(Ended::Abusive),
            _ => Ok(()),
        }
    }

    /// Refuses a frame with `err`, counting it against the connection.
    pub(super) async fn refuse(&mut self, err: ErrorFrame) -> Result<(), Ended> {
        self.strike()?;
        self.send_frame(&ServerFrame::Error(err)).await
    }

    pub(super) async fn on_message(&mut self, message: WsMessage) -> Result<(), Ended> {
        if matches!(message, WsMessage::Text(_) | WsMessage::Binary(_)) {
            if let Some(Err(not_until)) = self.frames.as_ref().map(|limiter| limiter.check()) {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let mut err = throttled("too many frames on this connection; slow down", wait);
                // A refused send still names its client_id, so the sender
                // knows which message to resend (DESIGN §5).
                if let WsMessage::Text(text) = &message {
                    let (client_id, channel) = match decode_client_frame(text.as_str()) {
                        Ok(ClientFrame::Send {
                            client_id, channel, ..
                        }) => (Some(client_id.to_string()), Some(channel.to_string())),
                        Ok(_) => (None, None),
                        Err(refused) => (refused.client_id, refused.channel),
                    };
                    err.client_id = client_id;
                    err.channel = channel;
                }
                return self.refuse(err).await;
            }
        }
        match message {
            WsMessage::Text(text) => match decode_client_frame(text.as_str()) {
                Ok(frame) => self.on_frame(frame).await,
                Err(err) => self.refuse(err).await,
            },
            WsMessage::Binary(_) => {
                let err = ErrorFrame::new(
                    ErrorCode::BinaryNotSupported,
                    "binary frames are not supported; send JSON text frames",
                );
                self.refuse(err).await
            }
            // axum answers pings itself; any frame proves the client alive.
            WsMessage::Ping(_) | WsMessage::Pong(_) => Ok(()),
            WsMessage::Close(_) => Err(Ended::ClientClosed),
        }
    }

    pub(super) async fn on_frame(&mut self, frame: ClientFrame) -> Result<(), Ended> {
        match frame {
            ClientFrame::Ping => self.send_frame(&ServerFrame::Pong).await,
            ClientFrame::Read { channel, seq } => {
                match self.hub.mark_read(&self.user, &channel, seq) {
                    Ok(()) => Ok(()),
                    Err(err) => {
                        self.send_frame(&ServerFrame::Error(refused_in(&err, &channel)))
                            .await
                    }
                }
            }
            ClientFrame::Away { away } => {
                if let Some(online) = self.online.as_mut() {
                    online.set_away(away);
                }
                Ok(())
            }
            ClientFrame::Typing { channel } => {
                if self
                    .last_typing
                    .is_some_and(|at| at.elapsed() < TYPING_EVERY)
                {
                    return Ok(());
                }
                match self.hub.typing(&self.user, &channel) {
                    Ok(()) => {
                        self.last_typing = Some(Instant::now());
                        Ok(())
                    }
                    Err(err) => {
                        self.send_frame(&ServerFrame::Error(refused_in(&err, &channel)))
                            .await
                    }
                }
            }
            ClientFrame::Join { channel, after } => {
                match self.hub.join(&self.user, &channel, after) {
                    Ok(joined) => self.start_viewing(joined).await,
                    Err(err) => {
                        self.send_frame(&ServerFrame::Error(refused_in(&err, &channel)))
                            .await
                    }
                }
            }
            ClientFrame::Send {
                channel,
                client_id,
                body,
                attachments,
                reply_to,
            } => {
                let draft = Draft {
                    channel,
                    client_id,
                    body,
                    attachments,
                    reply_to,
                };
                self.post(draft).await
            }
            ClientFrame::Thread { channel, root } => self.open_thread(channel, root).await,
            ClientFrame::Edit { channel, id, body } => {
                let user = self.user.clone();
                self.change(channel, id, |hub, c| hub.edit(&user, c, id, body))
                    .await
            }
            ClientFrame::Delete { channel, id } => {
                let user = self.user.clone();
                self.change(channel, id, |hub, c| hub.delete(&user, c, id))
                    .await
            }
            ClientFrame::React {
                channel,
                id,
                emoji,
                add,
            } => {
                let user = self.user.clone();
                self.change(channel, id, |hub, c| hub.react(&user, c, id, emoji, add))
                    .await
            }
        }
    }

    /// An edit, deletion or reaction: counted against the sender's message
    /// rate, refused with the message's `id` when not allowed. There is no
    /// ack: the change's event, sent to every viewer once it is durable,
    /// confirms it.
    pub(super) async fn change(
        &mut self,
        channel: ChannelName,
        id: u64,
        act: impl FnOnce(&Hub, &ChannelName) -> Result<Proposed, HubError>,
    ) -> Result<(), Ended> {
        let mut refusal = match self.limits.check_message(self.user.user_id) {
            Err(wait) => throttled("you are changing messages too fast; slow down", wait),
            Ok(()) => match act(&self.hub, &channel) {
                Ok(_) => return Ok(()),
                Err(err) => error_frame(&err),
            },
        };
        refusal.channel = Some(channel.to_string());
        refusal.id = Some(id);
        self.send_frame(&ServerFrame::Error(refusal)).await
    }

    /// Stores a message (unless the sender is over their rate) and acks it
    /// once durable; a refusal carries the `client_id` and, when throttled,
    /// when to retry. Nothing refused is stored.
    pub(super) async fn post(&mut self, draft: Draft) -> Result<(), Ended> {
        let received = Instant::now();
        let (channel, client_id) = (draft.channel.clone(), draft.client_id.clone());
        let refusal = match self.limits.check_message(self.user.user_id) {
            Err(wait) => throttled("you are sending messages too fast; slow down", wait),
            Ok(()) => match self.hub.post(&self.user, draft).await {
                Ok(proposed) => {
                    let ack = frame::Ack {
                        client_id,
                        channel,
                        seq: 0,
                    };
                    let pending = PendingAck {
                        proposed,
                        ack,
                        received,
                    };
                    return self.ack_when_settled(pending).await;
                }
                Err(err) => error_frame(&err),
            },
        };
        let mut refusal = refusal;
        refusal.client_id = Some(client_id.to_string());
        refusal.channel = Some(channel.to_string());
        self.send_frame(&ServerFrame::Error(refusal)).await
    }
}

impl<S> Session<S>
where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    /// Answers a `thread` with the thread as of now, in the viewed
    /// channel's event order: everything written before it is in it, and
    /// everything after it comes later (PROTOCOL.md §5.1).
    async fn open_thread(&mut self, channel: ChannelName, root: u64) -> Result<(), Ended> {
        let viewing = (self.viewing.as_ref()).is_some_and(|v| v.channel.key() == channel.key());
        if !viewing {
            let mut err = ErrorFrame::new(
                ErrorCode::InvalidFrame,
                "join the channel before opening one of its threads",
            );
            err.channel = Some(channel.to_string());
            err.id = Some(root);
            return self.refuse(err).await;
        }
        match self.hub.thread(&self.user, &channel, root) {
            Ok(thread) => self.send_frame(&ServerFrame::Thread(thread)).await,
            Err(err) => {
                let mut refusal = refused_in(&err, &channel);
                refusal.id = Some(root);
                self.send_frame(&ServerFrame::Error(refusal)).await
            }
        }
    }
}

/// A `rate_limited` refusal saying when to try again.
pub(super) fn throttled(message: &str, wait: Duration) -> ErrorFrame {
    let mut err = ErrorFrame::new(ErrorCode::RateLimited, message);
    err.retry_after_ms = Some(retry_after_ms(wait));
    err
}

/// The refusal of a frame about `channel` that the hub turned down.
pub(super) fn refused_in(err: &HubError, channel: &ChannelName) -> ErrorFrame {
    let mut frame = error_frame(err);
    frame.channel = Some(channel.to_string());
    frame
}
