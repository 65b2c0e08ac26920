//! Talking to a Flack server like any outside client: register over HTTP,
//! create channels, open WebSockets (optionally from a chosen loopback
//! source address, to get past one address's ephemeral ports).
//!
//! Invariant: only the public wire contract (docs/PROTOCOL.md) is used; the
//! load generator knows nothing of the server's internals.

use futures::StreamExt;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

pub type Ws = WebSocketStream<TcpStream>;

#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("HTTP {0}: {1}")]
    Http(String, String),
    #[error("request failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("connect failed: {0}")]
    Connect(#[from] std::io::Error),
    #[error("WebSocket failed: {0}")]
    WebSocket(#[from] tokio_tungstenite::tungstenite::Error),
    #[error("unexpected first frame: {0}")]
    NoWelcome(String),
}

/// A signed-in user: the session cookie to present.
#[derive(Clone)]
pub struct Session {
    pub cookie: String,
}

#[derive(Clone)]
pub struct Server {
    pub addr: SocketAddr,
    http: reqwest::Client,
}

impl Server {
    pub fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            http: reqwest::Client::new(),
        }
    }

    async fn post(
        &self,
        endpoint: &str,
        cookie: Option<&str>,
        body: Value,
    ) -> Result<reqwest::Response, WireError> {
        let mut request = self
            .http
            .post(format!("http://{}/api/{endpoint}", self.addr))
            .json(&body);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        let response = request.send().await?;
        if !response.status().is_success() {
            let status = response.status().to_string();
            return Err(WireError::Http(
                status,
                response.text().await.unwrap_or_default(),
            ));
        }
        Ok(response)
    }

    pub async fn register(&self, name: &str) -> Result<Session, WireError> {
        let response = self
            .post("register", None, json!({ "display_name": name }))
            .await?;
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(str::to_owned)
            .ok_or_else(|| WireError::Http("200".into(), "no session cookie".into()))?;
        Ok(Session { cookie })
    }

    pub async fn create_channel(&self, session: &Session, name: &str) -> Result<(), WireError> {
        self.post(
            "create_channel",
            Some(&session.cookie),
            json!({ "name": name }),
        )
        .await
        .map(drop)
    }

    /// Searches as `session`; returns how many hits came back.
    pub async fn search(&self, session: &Session, query: &str) -> Result<usize, WireError> {
        let response = self
            .post("search", Some(&session.cookie), json!({ "query": query }))
            .await?;
        let hits: Vec<Value> = response.json().await?;
        Ok(hits.len())
    }

    /// Opens a WebSocket as `session` from `source` (any loopback address)
    /// and reads the welcome.
    pub async fn connect(
        &self,
        session: &Session,
        source: Option<IpAddr>,
    ) -> Result<Ws, WireError> {
        let socket = match self.addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        if let Some(ip) = source {
            socket.bind(SocketAddr::new(ip, 0))?;
        }
        let stream = socket.connect(self.addr).await?;
        stream.set_nodelay(true)?;
        let mut request = format!("ws://{}/ws", self.addr).into_client_request()?;
        request.headers_mut().insert(
            "cookie",
            session
                .cookie
                .parse()
                .map_err(|_| WireError::NoWelcome("bad cookie".into()))?,
        );
        let (mut ws, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config())).await?;
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.as_str().contains("\"welcome\"") => Ok(ws),
            other => Err(WireError::NoWelcome(format!("{other:?}"))),
        }
    }
}

/// tungstenite zero-fills its whole read buffer before every read (128 KiB
/// by default): at 100,000 deliveries/s that memset was a third of the
/// generator's CPU. Frames here are a few hundred bytes and the server's
/// writes at most 8 KiB, so a small buffer loses nothing.
const READ_BUFFER: usize = 4 * 1024;

pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(READ_BUFFER)
}

pub fn join_frame(channel: &str, after: Option<u64>) -> Message {
    let mut frame = json!({ "type": "join", "channel": channel });
    if let Some(after) = after {
        frame["after"] = json!(after);
    }
    Message::text(frame.to_string())
}

pub fn send_frame(channel: &str, client_id: &str, body: &str) -> Message {
    Message::text(
        json!({ "type": "send", "channel": channel, "client_id": client_id, "body": body })
            .to_string(),
    )
}
