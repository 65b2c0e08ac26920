//! The tab's one WebSocket to `/ws`: connects once someone is signed in,
//! reconnects with exponential backoff and jitter, detects a dead link by
//! heartbeat, and on every (re)connect resumes the open channel after its
//! last applied `seq` and resends the outbox with the same `client_id`s.
//!
//! Invariant: the socket holds no state of its own that matters. Everything
//! needed to resume (the open channel, `last_seq`, the outbox) lives in
//! `Chat`, so dropping a connection at any moment loses nothing. Commands
//! issued while disconnected are dropped and re-derived from `Chat` on
//! connect.

use crate::state::Chat;

/// Starts the connection loop once per tab (no-op on the server).
pub fn start(chat: Chat) {
    #[cfg(feature = "browser")]
    imp::start(chat);
    #[cfg(not(feature = "browser"))]
    let _ = chat;
}

#[cfg(feature = "browser")]
mod imp {
    use super::*;
    use crate::protocol::{frame, ClientFrame, ServerFrame};
    use crate::state::ConnectionStatus;
    use futures::channel::mpsc;
    use futures::{FutureExt, SinkExt, StreamExt};
    use gloo_net::websocket::{futures::WebSocket, Message as WsMessage, WebSocketError};
    use gloo_timers::future::TimeoutFuture;
    use leptos::prelude::*;

    /// How often the client pings the server.
    const HEARTBEAT_MS: f64 = 15_000.0;
    /// How often the link's health (and the browser's online state) is checked.
    const CHECK_MS: u32 = 1_000;
    /// A link silent for this long is dead.
    const DEAD_AFTER_MS: f64 = 40_000.0;
    const BACKOFF_BASE_MS: f64 = 500.0;
    /// How often unread counts are fetched again (they are not pushed:
    /// a push for every message to every connection would not scale).
    const UNREAD_EVERY_MS: f64 = 5_000.0;
    const BACKOFF_MAX_MS: f64 = 15_000.0;

    pub fn start(chat: Chat) {
        let Some(rx) = crate::browser::outbound::open() else {
            return;
        };
        // A hidden tab makes its user "away" (if all their tabs are).
        let on_visibility = leptos::wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || {
            crate::browser::outbound::send(ClientFrame::Away { away: hidden() });
            if !hidden() {
                chat.refresh_unread();
            }
        });
        if let Some(document) = window().document() {
            use leptos::wasm_bindgen::JsCast;
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visibility.as_ref().unchecked_ref(),
            );
        }
        // Lives as long as the tab.
        on_visibility.forget();
        leptos::task::spawn_local(run(chat, rx));
    }

    fn online() -> bool {
        window().navigator().on_line()
    }

    fn socket_url() -> String {
        let location = window().location();
        let scheme = match location.protocol().as_deref() {
            Ok("https:") => "wss",
            _ => "ws",
        };
        let host = location.host().unwrap_or_default();
        format!("{scheme}://{host}/ws")
    }

    /// Close code of a connection whose session ended (signed out here
    /// or everywhere, or idle past the server's limit).
    const CLOSE_SIGNED_OUT: u16 = 4001;

    async fn run(chat: Chat, mut commands: mpsc::Receiver<ClientFrame>) {
        let mut attempt: u32 = 0;
        let mut server_seen: Option<String> = None;
        loop {
            // Signed out: nothing to connect as until someone signs in.
            while chat.user.with_untracked(Option::is_none) {
                chat.status.set(ConnectionStatus::Idle);
                TimeoutFuture::new(250).await;
            }
            chat.status.set(if online() {
                ConnectionStatus::Connecting
            } else {
                ConnectionStatus::Offline
            });
            let welcomed = match WebSocket::open(&socket_url()) {
                Ok(ws) => session(chat, ws, &mut commands, &mut server_seen).await,
                Err(_) => false,
            };
            if welcomed {
                attempt = 0;
            } else {
                attempt = attempt.saturating_add(1);
                // The upgrade may have been refused because the server forgot
                // this browser's session: sign in again if we can.
                if online() {
                    crate::state::session::restore_session(chat).await;
                }
            }
            let exp = BACKOFF_BASE_MS * 2f64.powi(attempt.min(10) as i32);
            let delay = exp.min(BACKOFF_MAX_MS) * (0.5 + js_sys::Math::random() / 2.0);
            wait_before_retry(chat, delay).await;
        }
    }

    /// Sleeps `delay_ms`, showing the countdown, but retries at once when the
    /// browser comes back online.
    async fn wait_before_retry(chat: Chat, delay_ms: f64) {
        let start = js_sys::Date::now();
        let was_online = online();
        loop {
            let left = delay_ms - (js_sys::Date::now() - start);
            if left <= 0.0 {
                return;
            }
            let now_online = online();
            if now_online && !was_online {
                return;
            }
            chat.status.set(if now_online {
                ConnectionStatus::Reconnecting {
                    retry_in_secs: (left / 1000.0).ceil() as u32,
                }
            } else {
                ConnectionStatus::Offline
            });
            TimeoutFuture::new(left.min(250.0) as u32).await;
        }
    }

    /// One connection, from open to close. Returns whether the server welcomed us.
    async fn session(
        chat: Chat,
        ws: WebSocket,
        commands: &mut mpsc::Receiver<ClientFrame>,
        server_seen: &mut Option<String>,
    ) -> bool {
        let (mut sink, mut stream) = ws.split();
        // Anything queued while disconnected is re-derived from `Chat` below.
        while commands.try_recv().is_ok() {}

        let mut welcomed = false;
        let mut last_heard = js_sys::Date::now();
        let mut last_ping = last_heard;
        let mut last_unread = last_heard;
        loop {
            let mut incoming = stream.next().fuse();
            let mut outgoing = commands.next().fuse();
            let mut tick = TimeoutFuture::new(CHECK_MS).fuse();
            futures::select! {
                frame = incoming => match frame {
                    Some(Ok(WsMessage::Text(text))) => {
                        last_heard = js_sys::Date::now();
                        let Ok(frame) = ServerFrame::from_json(&text) else { continue };
                        if let ServerFrame::Welcome(frame::Welcome { server_id, .. }) = &frame {
                            welcomed = true;
                            if server_seen.as_ref().is_some_and(|seen| seen != server_id) {
                                // A restarted server: our seqs are not its seqs.
                                chat.log.update(|log| log.reset());
                            }
                            *server_seen = Some(server_id.clone());
                            chat.status.set(ConnectionStatus::Connected);
                            for frame in resume_frames(chat) {
                                if send_frame(&mut sink, &frame).await.is_err() {
                                    return welcomed;
                                }
                            }
                            chat.resend_outbox();
                        }
                        chat.apply_frame(frame);
                    }
                    Some(Ok(WsMessage::Bytes(_))) => {}
                    Some(Err(WebSocketError::ConnectionClose(close)))
                        if close.code == CLOSE_SIGNED_OUT =>
                    {
                        crate::state::session::signed_out(chat, "You were signed out.");
                        return welcomed;
                    }
                    Some(Err(_)) | None => return welcomed,
                },
                command = outgoing => match command {
                    Some(frame) => {
                        if welcomed && send_frame(&mut sink, &frame).await.is_err() {
                            return welcomed;
                        }
                    }
                    None => return welcomed,
                },
                _ = tick => {
                    let now = js_sys::Date::now();
                    // The browser says the network is gone: say so now rather
                    // than after the heartbeat gives up.
                    if !online() || now - last_heard > DEAD_AFTER_MS {
                        return welcomed;
                    }
                    if welcomed && now - last_unread > UNREAD_EVERY_MS {
                        last_unread = now;
                        chat.refresh_unread();
                    }
                    if now - last_ping > HEARTBEAT_MS {
                        last_ping = now;
                        if send_frame(&mut sink, &ClientFrame::Ping).await.is_err() {
                            return welcomed;
                        }
                    }
                },
            }
        }
    }

    async fn send_frame(
        sink: &mut futures::stream::SplitSink<WebSocket, WsMessage>,
        frame: &ClientFrame,
    ) -> Result<(), ()> {
        let text = serde_json::to_string(frame).map_err(|_| ())?;
        sink.send(WsMessage::Text(text)).await.map_err(|_| ())
    }

    /// Whether this tab is hidden (then its user may be away).
    fn hidden() -> bool {
        window().document().is_some_and(|d| d.hidden())
    }

    /// What to send after a (re)connect: whether this tab is hidden, and
    /// resume the open channel (the outbox follows, one at a time).
    fn resume_frames(chat: Chat) -> Vec<ClientFrame> {
        let mut frames = Vec::new();
        if hidden() {
            frames.push(ClientFrame::Away { away: true });
        }
        chat.log.with_untracked(|log| {
            if let Some(channel) = &log.channel {
                frames.push(ClientFrame::Join {
                    channel: channel.clone(),
                    after: Some(log.last_seq),
                });
            }
        });
        frames
    }
}
