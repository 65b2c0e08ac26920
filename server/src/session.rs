//! One WebSocket connection of one signed-in user: decodes client frames,
//! asks the hub to act, and writes the channel it views, live.
//!
//! Invariants:
//! - The connection holds no chat state; it holds a position (`last_seq` of
//!   the viewed channel) and the hub's receivers. Memory per connection is
//!   one task, one small read buffer and two receivers.
//! - A frame with `seq <= last_seq` is never written, so replays after a lag
//!   or a rejoin never duplicate a message.
//! - A viewer that lags behind the channel's live queue is caught up from the
//!   hub's ring (or reset), never silently skipped.
//! - A client that does not take a frame within the write timeout, or stays
//!   silent past the idle timeout, is disconnected; it resumes on reconnect.
//! - Nothing a client sends can end the server; bad frames get `error` frames.

use crate::chat::TokenHash;
use crate::chat::{HubError, Outcome};
use crate::errors::error_frame;
use crate::hub::{Delivery, Draft, Hub, Joined, Online};
use crate::limits::{retry_after_ms, FrameLimiter, Limits};
use crate::log::{Proposed, Settled};
use crate::metrics::Metrics;
use app::model::{AttachmentId, ChannelName, ClientId, MessageBody, UserInfo};
use app::protocol::{decode_client_frame, frame, ClientFrame, ErrorCode, ErrorFrame, ServerFrame};
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use governor::clock::{Clock, DefaultClock};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::broadcast::{
    self,
    error::{RecvError, TryRecvError},
};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

/// Close code sent when the server shuts down (RFC 6455 "going away").
pub const CLOSE_GOING_AWAY: u16 = 1001;
/// Close code for a message over the size limit.
pub const CLOSE_TOO_BIG: u16 = 1009;
/// Close code for a client that is too slow, silent or abusive (policy violation).
pub const CLOSE_POLICY: u16 = 1008;
/// Close code for a text frame that is not UTF-8 (RFC 6455 "invalid payload").
pub const CLOSE_INVALID_PAYLOAD: u16 = 1007;
/// Close code (private range) when the connection's session ended: its
/// user signed out (here or everywhere) or it went idle past the limit.
pub const CLOSE_SIGNED_OUT: u16 = 4001;

/// Acks waiting for the log on one connection. Past this many, the
/// connection stops reading until the oldest settles (backpressure).
const MAX_PENDING_ACKS: usize = 1024;

/// Live events written in one batch (then flushed) when a viewer finds
/// several waiting: bounds how long one connection holds its worker.
const MAX_BATCH: usize = 64;

/// A connection's `typing` notices closer together than this are dropped
/// (browsers send one every few seconds at most).
const TYPING_EVERY: Duration = Duration::from_secs(2);

/// Per-connection timing settings.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
}

/// Why a session ended (for the log).
#[derive(Debug, thiserror::Error)]
enum Ended {
    #[error("client closed the connection")]
    ClientClosed,
    #[error("server is shutting down")]
    Shutdown,
    #[error("the session ended (signed out)")]
    SignedOut,
    #[error("client did not take a frame within the write timeout")]
    WriteTimeout,
    #[error("client was silent past the idle timeout")]
    Idle,
    #[error("client kept sending invalid or excess frames")]
    Abusive,
    #[error("transport error: {0}")]
    Transport(String),
}

/// An ack waiting for its message to settle (be durable, and numbered).
struct PendingAck {
    proposed: Proposed,
    ack: frame::Ack,
    /// When its `send` arrived (for the send latency metric).
    received: Instant,
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

/// The channel a connection views.
struct Viewing {
    channel: ChannelName,
    last_seq: u64,
    live: broadcast::Receiver<Arc<Delivery>>,
}

struct Session<S> {
    socket: S,
    hub: Hub,
    user: UserInfo,
    settings: SessionSettings,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    frames: Option<FrameLimiter>,
    invalid_frames: Option<FrameLimiter>,
    viewing: Option<Viewing>,
    last_heard: Instant,
    /// Acks sent once their message settles, in order (the read loop
    /// does not wait for each commit).
    pending_acks: VecDeque<PendingAck>,
    /// How far the log settled, live (`None`: everything settles at once).
    settled: Option<tokio::sync::watch::Receiver<u64>>,
    /// This connection's part in its user's presence (dropped with it).
    online: Option<Online>,
    last_typing: Option<Instant>,
}

/// Runs one connection until the client leaves, misbehaves past its limits,
/// or `shutdown` is cancelled (then it closes with 1001 "going away").
#[allow(clippy::too_many_arguments)]
pub async fn run<S>(
    socket: S,
    hub: Hub,
    user: UserInfo,
    session: TokenHash,
    settings: SessionSettings,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) where
    S: Stream<Item = Result<WsMessage, axum::Error>> + Sink<WsMessage> + Unpin,
    <S as Sink<WsMessage>>::Error: std::fmt::Display,
{
    let session_hash = session;
    let mut session = Session {
        socket,
        hub,
        user,
        settings,
        frames: limits.frame_limiter(),
        invalid_frames: limits.invalid_frame_limiter(),
        limits,
        metrics,
        viewing: None,
        last_heard: Instant::now(),
        pending_acks: VecDeque::new(),
        settled: None,
        online: None,
        last_typing: None,
    };
    // Cancelled at shutdown, or when this connection's session ends.
    let ends = shutdown.child_token();
    let online = session
        .hub
        .connect(&session.user, session_hash, ends.clone());
    session.online = Some(online);
    session.settled = session.hub.settled_progress();
    session.metrics.connections.inc();
    let ended = match session.serve(&ends).await {
        Err(Ended::Shutdown) if !shutdown.is_cancelled() => Err(Ended::SignedOut),
        ended => ended,
    };
    session.metrics.connections.dec();
    let name = session.user.display_name.clone();
    match &ended {
        Ok(()) | Err(Ended::ClientClosed) => tracing::debug!(user = %name, "connection closed"),
        Err(e) => tracing::info!(user = %name, reason = %e, "connection ended"),
    }
    let close = match ended {
        Err(Ended::Shutdown) => Some((CLOSE_GOING_AWAY, "server is shutting down")),
        Err(Ended::SignedOut) => Some((CLOSE_SIGNED_OUT, "signed out")),
        Err(Ended::WriteTimeout) => Some((CLOSE_POLICY, "too slow: reconnect to resume")),
        Err(Ended::Idle) => Some((CLOSE_POLICY, "no heartbeat: reconnect to resume")),
        Err(Ended::Abusive) => Some((CLOSE_POLICY, "too many invalid or excess frames")),
        _ => None,
    };
    if let Some((code, reason)) = close {
        let frame = WsMessage::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = timeout(session.settings.write_timeout, session.socket.send(frame)).await;
    }
}

/// Waits until the log settles more; never resolves when nothing waits.
async fn settled_moved(
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

/// Waits for the viewed channel's next event; never resolves when none is viewed.
async fn next_event(viewing: &mut Option<Viewing>) -> Result<Arc<Delivery>, RecvError> {
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
    async fn serve(&mut self, shutdown: &CancellationToken) -> Result<(), Ended> {
        let mut lobby = self.hub.subscribe_lobby();
        let welcome = ServerFrame::Welcome(frame::Welcome {
            user: self.user.clone(),
            server_id: self.hub.server_id().to_owned(),
        });
        self.send_frame(&welcome).await?;
        let mut heartbeat = tokio::time::interval(self.settings.ping_interval);
        heartbeat.tick().await;
        // Made once: a fresh wait per wake-up registered and unregistered
        // itself with the token every time.
        let mut shutting_down = std::pin::pin!(shutdown.cancelled());
        // Deliveries are polled first: most wake-ups are one, and taking
        // the live queue first ends them without polling every other
        // source as well. But a busy channel can keep that queue ready,
        // so after a full batch (or a rejoin's backlog) one pass skips
        // it: the client's frames, acks, lobby and heartbeat get their
        // turn, and if none is ready the last branch ends the pass.
        let mut deliveries_first = true;

        loop {
            tokio::select! {
                biased;
                event = next_event(&mut self.viewing), if deliveries_first => {
                    deliveries_first = !self.on_event(event).await?;
                }
                _ = &mut shutting_down => return Err(Ended::Shutdown),
                incoming = self.socket.next() => match incoming {
                    None => return Err(Ended::ClientClosed),
                    Some(Err(e)) => return Box::pin(self.transport_error(e)).await,
                    Some(Ok(message)) => {
                        self.last_heard = Instant::now();
                        // Boxed: a client's frame (a send through Redis,
                        // a join's backlog) needs a far larger future than
                        // waiting does, and every idle connection would
                        // carry that size inline.
                        Box::pin(self.on_message(message)).await?;
                    }
                },
                settled = settled_moved(&mut self.settled, !self.pending_acks.is_empty()) => {
                    Box::pin(self.send_settled_acks(settled)).await?;
                }
                created = lobby.recv() => match created {
                    Ok(frame) => self.send_text(frame).await?,
                    Err(RecvError::Lagged(_)) => {
                        // Missed some creations: send them all again (clients dedupe).
                        for channel in self.hub.channels() {
                            let created = frame::ChannelCreated { channel };
                            self.send_frame(&ServerFrame::ChannelCreated(created)).await?;
                        }
                    }
                    Err(RecvError::Closed) => return Err(Ended::Shutdown),
                },
                _ = heartbeat.tick() => {
                    if self.last_heard.elapsed() > self.settings.idle_timeout {
                        return Err(Ended::Idle);
                    }
                    self.send(WsMessage::Ping(Default::default())).await?;
                }
                () = std::future::ready(()), if !deliveries_first => deliveries_first = true,
            }
        }
    }

    async fn transport_error(&mut self, e: axum::Error) -> Result<(), Ended> {
        let text = e.to_string();
        // tungstenite reports an oversized message as a capacity error and
        // a non-UTF-8 text frame as a UTF-8 error; say so with the matching
        // close code before the connection goes.
        let close = if text.contains("Space limit exceeded") || text.contains("too long") {
            Some((CLOSE_TOO_BIG, "message too big"))
        } else if text.contains("UTF-8") || text.contains("utf-8") {
            Some((CLOSE_INVALID_PAYLOAD, "text frames must be UTF-8"))
        } else {
            None
        };
        if let Some((code, reason)) = close {
            let frame = WsMessage::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            }));
            let _ = timeout(self.settings.write_timeout, self.socket.send(frame)).await;
        }
        Err(Ended::Transport(text))
    }

    /// Counts an invalid or excess frame; past the burst the connection ends.
    fn strike(&mut self) -> Result<(), Ended> {
        match &self.invalid_frames {
            Some(limiter) if limiter.check().is_err() => Err(Ended::Abusive),
            _ => Ok(()),
        }
    }

    /// Refuses a frame with `err`, counting it against the connection.
    async fn refuse(&mut self, err: ErrorFrame) -> Result<(), Ended> {
        self.strike()?;
        self.send_frame(&ServerFrame::Error(err)).await
    }

    async fn on_message(&mut self, message: WsMessage) -> Result<(), Ended> {
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

    async fn on_frame(&mut self, frame: ClientFrame) -> Result<(), Ended> {
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
            } => self.post(channel, client_id, body, attachments).await,
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
    async fn change(
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
    async fn post(
        &mut self,
        channel: ChannelName,
        client_id: ClientId,
        body: MessageBody,
        attachments: Vec<AttachmentId>,
    ) -> Result<(), Ended> {
        let received = Instant::now();
        let refusal = match self.limits.check_message(self.user.user_id) {
            Err(wait) => throttled("you are sending messages too fast; slow down", wait),
            Ok(()) => {
                let draft = Draft {
                    channel: channel.clone(),
                    client_id: client_id.clone(),
                    body,
                    attachments,
                };
                match self.hub.post(&self.user, draft).await {
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
                }
            }
        };
        let mut refusal = refusal;
        refusal.client_id = Some(client_id.to_string());
        refusal.channel = Some(channel.to_string());
        self.send_frame(&ServerFrame::Error(refusal)).await
    }

    /// An ack promises durability: send it now if the message settled,
    /// else queue it for when the log settles it (without holding up the
    /// connection's other frames, unless too many are waiting).
    async fn ack_when_settled(&mut self, pending: PendingAck) -> Result<(), Ended> {
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
    fn settled_now(&self) -> u64 {
        self.settled.as_ref().map_or(u64::MAX, |rx| *rx.borrow())
    }

    /// Sends, in order, every queued ack that settled at `settled`.
    async fn send_settled_acks(&mut self, settled: u64) -> Result<(), Ended> {
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
    async fn send_ack(&mut self, pending: PendingAck) -> Result<(), Ended> {
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

    /// Replaces the viewed channel: reset (if any), backlog, `joined`, then live.
    async fn start_viewing(&mut self, joined: Joined) -> Result<(), Ended> {
        let Joined {
            channel,
            reset,
            backlog,
            head,
            live,
        } = joined;
        // One batch: the history goes out in a few writes, not one per message.
        if reset {
            let reset = ServerFrame::Reset(frame::Reset {
                channel: channel.clone(),
            });
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
    async fn on_event(&mut self, event: Result<Arc<Delivery>, RecvError>) -> Result<bool, Ended> {
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
    async fn rejoin(&mut self) -> Result<(), Ended> {
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

    async fn send_frame(&mut self, frame: &ServerFrame) -> Result<(), Ended> {
        self.send_text(frame.to_json().into()).await
    }

    async fn send_text(&mut self, text: Utf8Bytes) -> Result<(), Ended> {
        self.send(WsMessage::Text(text)).await
    }

    /// Writes one frame and flushes it (and anything fed before it).
    async fn send(&mut self, message: WsMessage) -> Result<(), Ended> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues one frame in the write buffer; it goes out once the buffer
    /// fills or on the next flush.
    async fn feed(&mut self, message: WsMessage) -> Result<(), Ended> {
        within(self.settings.write_timeout, self.socket.feed(message)).await
    }

    async fn flush(&mut self) -> Result<(), Ended> {
        within(self.settings.write_timeout, self.socket.flush()).await
    }
}

/// Awaits a socket write, ending the session when the client does not take
/// it within the write timeout. Nearly every write is done on its first
/// poll (the socket had room), and those never arm the timer: arming one
/// reads the clock and clones the runtime's handle, twice per delivery
/// (a feed and a flush), for a deadline that is almost never needed.
async fn within<E: std::fmt::Display>(
    limit: Duration,
    write: impl std::future::Future<Output = Result<(), E>>,
) -> Result<(), Ended> {
    let mut write = std::pin::pin!(write);
    let written = match futures::poll!(write.as_mut()) {
        Poll::Ready(written) => written,
        Poll::Pending => timeout(limit, write)
            .await
            .map_err(|_| Ended::WriteTimeout)?,
    };
    written.map_err(|e| Ended::Transport(e.to_string()))
}

/// A `rate_limited` refusal saying when to try again.
fn throttled(message: &str, wait: Duration) -> ErrorFrame {
    let mut err = ErrorFrame::new(ErrorCode::RateLimited, message);
    err.retry_after_ms = Some(retry_after_ms(wait));
    err
}

/// The refusal of a frame about `channel` that the hub turned down.
fn refused_in(err: &HubError, channel: &ChannelName) -> ErrorFrame {
    let mut frame = error_frame(err);
    frame.channel = Some(channel.to_string());
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::hub::HubLimits;
    use clap::Parser;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A socket that never delivers anything and accepts every frame.
    struct Quiet;

    impl Stream for Quiet {
        type Item = Result<WsMessage, axum::Error>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Pending
        }
    }

    impl Sink<WsMessage> for Quiet {
        type Error = axum::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, _: WsMessage) -> Result<(), axum::Error> {
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    /// A socket driven by the test: frames pushed into `input` arrive as
    /// the client's, and every frame the session writes comes out of
    /// `output` as text.
    struct Scripted {
        input: futures::channel::mpsc::UnboundedReceiver<WsMessage>,
        output: futures::channel::mpsc::UnboundedSender<String>,
    }

    impl Stream for Scripted {
        type Item = Result<WsMessage, axum::Error>;
        fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            self.input.poll_next_unpin(cx).map(|frame| frame.map(Ok))
        }
    }

    impl Sink<WsMessage> for Scripted {
        type Error = axum::Error;
        fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
        fn start_send(self: Pin<&mut Self>, frame: WsMessage) -> Result<(), axum::Error> {
            if let WsMessage::Text(text) = frame {
                let _ = self.output.unbounded_send(text.as_str().to_owned());
            }
            Ok(())
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), axum::Error>> {
            Poll::Ready(Ok(()))
        }
    }

    fn settings() -> SessionSettings {
        SessionSettings {
            ping_interval: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(10),
        }
    }

    /// `within` arms its timer only for a write that has to wait, and such
    /// a write still either finishes or ends the session.
    #[tokio::test]
    async fn a_write_is_timed_only_when_it_waits_and_a_stuck_one_ends_the_session() {
        let limit = Duration::from_secs(10);
        let at_once = within(limit, async { Ok::<(), String>(()) });
        assert!(matches!(at_once.await, Ok(())));
        let refused = within(limit, async { Err::<(), _>("reset by peer") });
        assert!(matches!(refused.await, Err(Ended::Transport(e)) if e == "reset by peer"));
        // Not done on the first poll: goes on under the timer, and finishes.
        let waits = within(limit, async {
            tokio::task::yield_now().await;
            Ok::<(), String>(())
        });
        assert!(matches!(waits.await, Ok(())));
        // Never done: the timer ends it.
        let stuck = within(
            Duration::from_millis(50),
            std::future::pending::<Result<(), String>>(),
        );
        assert!(matches!(stuck.await, Err(Ended::WriteTimeout)));
    }

    /// Deliveries are polled first, but a channel that keeps the live
    /// queue full must not keep the client's own frames waiting: after
    /// one full batch, the socket gets its turn.
    #[tokio::test]
    async fn a_busy_channel_does_not_starve_the_clients_own_frames() {
        let hub = Hub::new(HubLimits::default());
        let name = |n: &str| app::model::DisplayName::parse(n).unwrap();
        let (alice, token, _) = hub.register(name("alice"), None).unwrap();
        let session = token.expect("a new user's session").hash();
        let (bob, _, _) = hub.register(name("bob"), None).unwrap();
        let general = ChannelName::parse("general").unwrap();
        hub.create_channel(&bob, general.clone()).unwrap();
        let (to_session, input) = futures::channel::mpsc::unbounded();
        let (output, mut written) = futures::channel::mpsc::unbounded();
        let limits = Arc::new(Limits::from_config(&Config::parse_from([
            "flack",
            "--frame-rate",
            "0",
        ])));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let session = tokio::spawn(run(
            Scripted { input, output },
            hub.clone(),
            alice,
            session,
            settings(),
            limits,
            metrics,
            CancellationToken::new(),
        ));
        let join = r#"{"type":"join","channel":"general"}"#;
        to_session
            .unbounded_send(WsMessage::Text(join.into()))
            .unwrap();
        while let Some(frame) = written.next().await {
            if frame.starts_with(r#"{"type":"joined""#) {
                break;
            }
        }
        // 300 messages queue up before the session runs again (this test
        // runs on one thread), and a ping waits behind them.
        for n in 0..300 {
            let body = MessageBody::parse(&format!("m{n}")).unwrap();
            let id = ClientId::parse(&format!("b{n}")).unwrap();
            let draft = Draft {
                channel: general.clone(),
                client_id: id,
                body,
                attachments: Vec::new(),
            };
            hub.post(&bob, draft).await.unwrap();
        }
        let ping = r#"{"type":"ping"}"#;
        to_session
            .unbounded_send(WsMessage::Text(ping.into()))
            .unwrap();
        let mut before_pong = 0;
        while let Some(frame) = written.next().await {
            if frame.starts_with(r#"{"type":"pong""#) {
                break;
            }
            before_pong += usize::from(frame.starts_with(r#"{"type":"message""#));
        }
        assert!(
            before_pong <= MAX_BATCH,
            "the ping was answered after {before_pong} deliveries"
        );
        session.abort();
    }

    /// Each connection is one task holding this future: keep it small
    /// (memory per connection, BENCHMARKS.md).
    #[test]
    fn a_session_task_stays_small() {
        let hub = Hub::new(HubLimits::default());
        let (user, token, _) = hub
            .register(app::model::DisplayName::parse("alice").unwrap(), None)
            .unwrap();
        let limits = Arc::new(Limits::from_config(&Config::parse_from(["flack"])));
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let session = run(
            Quiet,
            hub,
            user,
            token.expect("a new user's session").hash(),
            settings(),
            limits,
            metrics,
            CancellationToken::new(),
        );
        let size = std::mem::size_of_val(&session);
        eprintln!("session future: {size} bytes");
        // Every connection holds this future for its whole life (idle ones
        // too): the rare paths are boxed to keep it near 2 KiB. A change
        // that pushes it past the bound should box its own await.
        assert!(size < 3 * 1024, "session future is {size} bytes");
    }
}
