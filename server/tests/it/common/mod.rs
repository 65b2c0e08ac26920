//! Test harness: the real server on an ephemeral loopback port, with real
//! HTTP (reqwest) and WebSocket (tokio-tungstenite) clients.

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use server::{Application, Config};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame it expects before failing.
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

/// Starts the real binary on a free loopback port (plus `args`) and returns
/// it with its address, read from the line it prints when ready. Rate
/// limits are off: these tests send far faster than people do.
pub fn spawn_server(args: &[&str]) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["--addr", "127.0.0.1:0", "--log", "warn"])
        .args(["--message-rate", "0", "--frame-rate", "0"])
        .args(["--register-rate", "0", "--channel-rate", "0"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("server binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("server prints its address");
    let addr = line
        .trim()
        .rsplit("http://")
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("unexpected first line: {line:?}"));
    (child, addr)
}

/// Waits (polling, bounded) for a child to exit.
pub fn wait_for_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("wait works") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Sends a signal to a child by pid (`TERM`, `KILL`).
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name}");
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    /// With `FLACK_TEST_STORE=redis`: the Redis this server keeps its chat in.
    _redis: Option<RedisServer>,
    /// With `FLACK_TEST_STORE=sqlite`: the `--data-dir` of this server.
    _data_dir: Option<tempfile::TempDir>,
}

/// Whether to run the in-memory tests against a server keeping its chat
/// in Redis instead (`FLACK_TEST_STORE=redis`, as `scripts/test` does on a
/// second pass): the same suite for every log.
pub fn store_is_redis() -> bool {
    std::env::var("FLACK_TEST_STORE").is_ok_and(|store| store == "redis")
}

/// Whether to run them against a server keeping its chat in SQLite
/// (`FLACK_TEST_STORE=sqlite`, the third pass).
pub fn store_is_sqlite() -> bool {
    std::env::var("FLACK_TEST_STORE").is_ok_and(|store| store == "sqlite")
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::for_tests();
        adjust(&mut config);
        let mut redis = None;
        let mut data_dir = None;
        let in_memory = config.data_dir.is_none() && config.redis_url.is_none();
        if store_is_redis() && in_memory {
            let server = RedisServer::start();
            config.redis_url = Some(server.url());
            redis = Some(server);
        } else if store_is_sqlite() && in_memory {
            let dir = tempfile::tempdir().expect("a temporary --data-dir");
            config.data_dir = Some(dir.path().to_path_buf());
            data_dir = Some(dir);
        }
        let app = Application::build(config).await.expect("server starts");
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .expect("server runs");
        });
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
            _redis: redis,
            _data_dir: data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// A client with its own cookie jar, not signed in.
    pub fn anonymous(&self) -> Client {
        Client::new(self.addr)
    }

    /// A client signed in as `name`.
    pub async fn user(&self, name: &str) -> Client {
        let mut client = self.anonymous();
        let response = client.register(name).await;
        assert_eq!(response.status(), 200, "register {name}");
        client
    }

    /// The common start: alice and bob signed in, and `#general`, made by
    /// alice.
    pub async fn alice_and_bob_in_general(&self) -> (Client, Client) {
        let alice = self.user("alice").await;
        let bob = self.user("bob").await;
        alice.create_channel("general").await;
        (alice, bob)
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

pub struct Client {
    pub http: reqwest::Client,
    base: String,
    ws_url: String,
    /// `name=value` of the session cookie, for the WebSocket handshake.
    pub cookie: Option<String>,
}

impl Client {
    /// A client of the server at `addr`, with its own cookie jar, not signed in.
    pub fn new(addr: SocketAddr) -> Self {
        Self::build(addr, None)
    }

    /// A client of the server at `addr` that presents an existing session
    /// cookie (`name=value`), as a browser does after a server restart.
    pub fn with_cookie(addr: SocketAddr, cookie: &str) -> Self {
        Self::build(addr, Some(cookie))
    }

    fn build(addr: SocketAddr, cookie: Option<&str>) -> Self {
        let mut http = reqwest::Client::builder().cookie_store(true);
        if let Some(cookie) = cookie {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert("cookie", cookie.parse().expect("cookie header"));
            http = http.default_headers(headers);
        }
        Client {
            http: http.build().expect("http client"),
            base: format!("http://{addr}"),
            ws_url: format!("ws://{addr}/ws"),
            cookie: cookie.map(str::to_owned),
        }
    }

    pub async fn post(&self, endpoint: &str, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/api/{endpoint}", self.base))
            .json(&body)
            .send()
            .await
            .expect("request is answered")
    }

    pub async fn post_raw(&self, endpoint: &str, body: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/api/{endpoint}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request is answered")
    }

    /// `POST /api/upload?name=…` with `bytes` as the body.
    pub async fn upload(&self, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        self.http
            .post(format!("{}/api/upload", self.base))
            .query(&[("name", name)])
            // What the uploader claims; the server must not believe it.
            .header("content-type", "image/png")
            .body(bytes)
            .send()
            .await
            .expect("request is answered")
    }

    /// `GET path` on the server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("request is answered")
    }

    pub async fn register(&mut self, name: &str) -> reqwest::Response {
        let response = self.post("register", json!({ "display_name": name })).await;
        if let Some(set_cookie) = response.headers().get("set-cookie") {
            let pair = set_cookie
                .to_str()
                .unwrap()
                .split(';')
                .next()
                .unwrap()
                .to_owned();
            self.cookie = Some(pair);
        }
        response
    }

    pub async fn create_channel(&self, name: &str) -> reqwest::Response {
        self.post("create_channel", json!({ "name": name })).await
    }

    pub async fn channels(&self) -> Vec<Value> {
        let response = self.post("list_channels", json!({})).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Opens (or finds) this user's conversation with `with`: its name.
    pub async fn open_conversation(&self, with: &str) -> String {
        let response = self
            .post("open_conversation", json!({ "with": with }))
            .await;
        assert_eq!(response.status(), 200, "open a conversation with {with}");
        let channel: Value = response.json().await.unwrap();
        channel["name"].as_str().unwrap().to_owned()
    }

    pub async fn history(&self, channel: &str) -> Value {
        let response = self
            .post("channel_history", json!({ "channel": channel }))
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Opens a WebSocket with this client's cookie and reads the welcome.
    pub async fn connect(&self) -> Ws {
        let mut ws = self.try_connect(None).await.expect("websocket opens");
        let welcome = ws.next_json().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        ws
    }

    pub async fn try_connect(
        &self,
        origin: Option<&str>,
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        let mut request = self.ws_url.as_str().into_client_request().unwrap();
        if let Some(cookie) = &self.cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Ws { stream })
    }
}

pub struct Ws {
    pub stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How the server ended a connection, read from the client's side.
#[derive(Debug, PartialEq)]
pub enum Ending {
    /// A close frame with this code and reason.
    Closed(Option<(u16, String)>),
    /// The TCP connection was reset or dropped: the server closed while
    /// unread or unwritten frames were in the way, so no close frame came.
    Reset,
    /// Nothing ended within `FRAME_WAIT`.
    StillOpen,
}

impl Ending {
    /// The close code, when a close frame came.
    pub fn code(&self) -> Option<u16> {
        match self {
            Ending::Closed(Some((code, _))) => Some(*code),
            _ => None,
        }
    }
}

impl Ws {
    /// Reads (skipping other frames) until the server ends the connection.
    pub async fn ending(&mut self) -> Ending {
        loop {
            match tokio::time::timeout(FRAME_WAIT, self.stream.next()).await {
                Err(_) => return Ending::StillOpen,
                Ok(None) | Ok(Some(Err(_))) => return Ending::Reset,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return Ending::Closed(frame.map(|f| (u16::from(f.code), f.reason.to_string())))
                }
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    pub async fn send_json(&mut self, value: Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.stream
            .send(Message::text(text))
            .await
            .expect("frame is sent");
    }

    /// The next message from the server (pings skipped), or a panic after `FRAME_WAIT`.
    pub async fn next_message(&mut self) -> Message {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.stream.next())
                .await
                .expect("a frame arrives in time")
                .expect("the connection stays open")
                .expect("the frame is readable");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    pub async fn next_json(&mut self) -> Value {
        match self.next_message().await {
            Message::Text(text) => {
                serde_json::from_str(text.as_str()).expect("server frames are JSON")
            }
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// The status in the next `presence` frame about `user`.
    pub async fn presence_of(&mut self, user: &str) -> String {
        loop {
            let frame = self.until("presence").await;
            if frame["user"] == user {
                return frame["status"].as_str().unwrap().to_owned();
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn until(&mut self, kind: &str) -> Value {
        loop {
            let frame = self.next_json().await;
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// Joins and returns the backlog (every event before `joined`) and `joined`.
    pub async fn join(&mut self, channel: &str, after: Option<u64>) -> (Vec<Value>, Value) {
        let mut frame = json!({ "type": "join", "channel": channel });
        if let Some(after) = after {
            frame["after"] = json!(after);
        }
        self.send_json(frame).await;
        let mut backlog = Vec::new();
        loop {
            let frame = self.next_json().await;
            match frame["type"].as_str() {
                Some("joined") => return (backlog, frame),
                Some(
                    "message" | "reset" | "edited" | "deleted" | "reactions" | "topic" | "reply",
                ) => backlog.push(frame),
                Some("error") => panic!("join refused: {frame}"),
                _ => {}
            }
        }
    }

    pub async fn send_message(&mut self, channel: &str, client_id: &str, body: &str) {
        self.send_json(
            json!({ "type": "send", "channel": channel, "client_id": client_id, "body": body }),
        )
        .await;
    }
}

/// A real `redis-server` on a free loopback port with its own temporary
/// directory, persisting every write (AOF, `appendfsync always`) so that a
/// restart keeps what it acknowledged. Killed when dropped.
pub struct RedisServer {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl RedisServer {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = Self {
            port,
            dir,
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts it (again) on the same port and directory; waits until it
    /// answers.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--dir", self.dir.path().to_str().expect("utf-8 path")])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .args(["--save", "", "--protected-mode", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/setup installs it)");
        self.child = Some(child);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if self.answers() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer on port {}", self.port);
    }

    fn answers(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut tcp) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        tcp.write_all(b"PING\r\n").is_ok()
            && tcp.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// Stopped, forgets everything it held (its files), as a Redis whose
    /// disk was lost or replaced comes back.
    pub fn wipe(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        for entry in std::fs::read_dir(self.dir.path()).expect("its directory") {
            let path = entry.expect("an entry").path();
            let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
        }
    }

    /// Stops it (SIGTERM: it finishes writing its log first) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            wait_for_exit(&mut child, Duration::from_secs(10)).expect("redis-server stops");
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A TCP proxy on loopback that can cut every connection through it and
/// refuse new ones, then let them through again: one server's link to
/// Redis going down while the others' stays up. It can also pass requests
/// on and swallow the replies: Redis does the work, the server never hears.
pub struct Proxy {
    pub port: u16,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    mute: std::sync::Arc<std::sync::atomic::AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(to: u16) -> Self {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy binds");
        let port = listener.local_addr().expect("proxy address").port();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mute = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (gate, muted, cuts) = (open.clone(), mute.clone(), cut.clone());
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !gate.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused
                }
                let mut cut = cuts.subscribe();
                let muted = muted.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", to)).await else {
                        return;
                    };
                    let (mut from_client, mut to_client) = inbound.split();
                    let (mut from_server, mut to_server) = outbound.split();
                    let requests = tokio::io::copy(&mut from_client, &mut to_server);
                    let replies = async {
                        let mut buf = [0u8; 8192];
                        loop {
                            let n = from_server.read(&mut buf).await?;
                            if n == 0 {
                                return Ok::<_, std::io::Error>(());
                            }
                            if !muted.load(Ordering::SeqCst) {
                                to_client.write_all(&buf[..n]).await?;
                            }
                        }
                    };
                    tokio::select! {
                        _ = requests => {}
                        _ = replies => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            port,
            open,
            mute,
            cut,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Drops every connection through the proxy and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Keeps passing requests on but drops every reply, until `restore`.
    pub fn swallow_replies(&self) {
        self.mute.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Lets connections through again. Links that swallowed replies are
    /// cut first: their streams lost frames midway.
    pub fn restore(&self) {
        if self.mute.swap(false, std::sync::atomic::Ordering::SeqCst) {
            self.cut.send_modify(|n| *n += 1);
        }
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Waits until `done` holds, for something the server finishes in the
/// background (a file deleted on the blocking pool); fails after 5 s.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what}: still not so after 5 s");
}
