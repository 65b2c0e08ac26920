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
use crate::hub::{Delivery, Draft, Hub, Joined, Live, Online};
use crate::log::{Proposed, Settled};
use crate::web::errors::error_frame;
use crate::web::limits::{retry_after_ms, FrameLimiter, Limits};
use crate::web::metrics::Metrics;
use app::model::{ChannelName, UserInfo};
use app::protocol::{decode_client_frame, frame, ClientFrame, ErrorCode, ErrorFrame, ServerFrame};
use axum::extract::ws::{CloseFrame, Message as WsMessage, Utf8Bytes};
use futures::{Sink, SinkExt, Stream, StreamExt};
use governor::clock::{Clock, DefaultClock};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
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
}

mod acks;
mod dispatch;
mod io;
mod viewer;

use acks::{settled_moved, PendingAck};
use viewer::{next_event, Viewing};

#[cfg(test)]
mod tests;
