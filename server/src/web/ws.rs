//! The `/ws` upgrade: a same-origin request with a live session, within
//! the connection caps, becomes a `session` task tracked for shutdown.
//! Everything else is refused before the upgrade, with a status that says
//! why.

use super::identity::session_from_headers;
use super::limits::{ConnectionRefused, Limits};
use super::metrics::Metrics;
use super::policy;
use super::session::{self, SessionSettings};
use crate::hub::Hub;
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Clone)]
/// What the `/ws` handler needs: the hub, the per-connection settings and
/// limits, and the server's shutdown (connections are tracked for it).
pub struct WsState {
    pub hub: Hub,
    pub settings: SessionSettings,
    pub max_frame_bytes: usize,
    pub read_buffer: usize,
    pub write_buffer: usize,
    pub limits: Arc<Limits>,
    pub metrics: Arc<Metrics>,
    pub allowed_origins: Arc<Vec<String>>,
    pub clients: Arc<policy::ClientAddress>,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
}

pub async fn websocket(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !policy::same_origin(&headers, &state.allowed_origins) {
        return (
            StatusCode::FORBIDDEN,
            "cross-site WebSocket requests are not allowed",
        )
            .into_response();
    }
    let hash = session_from_headers(&headers);
    let user = match &hash {
        Some(hash) => state.hub.user_by_session_synced(hash).await,
        None => None,
    };
    let (Some(user), Some(hash)) = (user, hash) else {
        return (
            StatusCode::UNAUTHORIZED,
            "sign in first: POST /api/register",
        )
            .into_response();
    };
    let permit = match state
        .limits
        .try_connect(state.clients.of(peer.ip(), &headers))
    {
        Ok(permit) => permit,
        Err(refused @ ConnectionRefused::ServerFull(_)) => {
            return (StatusCode::SERVICE_UNAVAILABLE, refused.to_string()).into_response()
        }
        Err(refused @ ConnectionRefused::AddressFull(_)) => {
            return (StatusCode::TOO_MANY_REQUESTS, refused.to_string()).into_response()
        }
    };
    let WsState {
        hub,
        settings,
        max_frame_bytes,
        read_buffer,
        write_buffer,
        limits,
        metrics,
        shutdown,
        tracker,
        ..
    } = state;
    upgrade
        .max_message_size(max_frame_bytes)
        .max_frame_size(max_frame_bytes)
        .read_buffer_size(read_buffer)
        // The session flushes at the end of each batch, so this only
        // decides how much of a batch is gathered into one write.
        .write_buffer_size(write_buffer)
        .on_upgrade(move |socket| {
            tracker.track_future(async move {
                session::run(socket, hub, user, hash, settings, limits, metrics, shutdown).await;
                drop(permit);
            })
        })
}
