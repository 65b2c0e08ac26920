//! The server's command line. Every limit is a named flag with an
//! environment variable, so operators (and tests) can tighten or relax it.

use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Flack: a real-time chat server.
#[derive(Debug, Clone, Parser)]
#[command(name = "flack", version, about, long_about = None)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    /// Defaults to LEPTOS_SITE_ADDR, then 127.0.0.1:3000.
    #[arg(long, env = "FLACK_ADDR")]
    pub addr: Option<SocketAddr>,

    /// Folder holding the built site (`pkg/` with the WASM, JS and CSS).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,

    /// Log filter, e.g. `info`, `debug`, `server=debug,tower_http=info`.
    #[arg(long, env = "FLACK_LOG", default_value = "info")]
    pub log: String,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "FLACK_LOG_JSON")]
    pub log_json: bool,

    /// Another origin (scheme://host:port) allowed to open the WebSocket,
    /// besides the server's own. Repeatable.
    #[arg(
        long = "allowed-origin",
        env = "FLACK_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,

    /// Mark the session cookie `Secure` (set this when served over HTTPS).
    #[arg(long, env = "FLACK_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Messages one user may post per second (0: unlimited)...
    #[arg(long, env = "FLACK_MESSAGE_RATE", default_value_t = 10)]
    pub message_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_MESSAGE_BURST", default_value_t = 30)]
    pub message_burst: u32,

    /// Searches one user may run per second (0: unlimited)...
    #[arg(long, env = "FLACK_SEARCH_RATE", default_value_t = 5)]
    pub search_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_SEARCH_BURST", default_value_t = 20)]
    pub search_burst: u32,

    /// Channels one user may create per minute (0: unlimited)...
    #[arg(long, env = "FLACK_CHANNEL_RATE", default_value_t = 10)]
    pub channel_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_CHANNEL_BURST", default_value_t = 10)]
    pub channel_burst: u32,

    /// Private conversations one user may start per minute (0: unlimited)...
    #[arg(long, env = "FLACK_CONVERSATION_RATE", default_value_t = 20)]
    pub conversation_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_CONVERSATION_BURST", default_value_t = 20)]
    pub conversation_burst: u32,

    /// Most private conversations one user may start, in all.
    #[arg(long, env = "FLACK_MAX_CONVERSATIONS", default_value_t = 1000)]
    pub max_conversations: usize,

    /// Most public channels the server keeps (each holds up to 100 messages
    /// and, in their threads, up to 100 replies each).
    #[arg(long, env = "FLACK_MAX_CHANNELS", default_value_t = 10_000)]
    pub max_channels: usize,

    /// Registrations one IP address may make per minute (0: unlimited)...
    #[arg(long, env = "FLACK_REGISTER_RATE", default_value_t = 20)]
    pub register_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_REGISTER_BURST", default_value_t = 60)]
    pub register_burst: u32,

    /// WebSocket frames one connection may send per second (0: unlimited)...
    #[arg(long, env = "FLACK_FRAME_RATE", default_value_t = 50)]
    pub frame_rate: u32,
    /// ...after a burst of this many.
    #[arg(long, env = "FLACK_FRAME_BURST", default_value_t = 200)]
    pub frame_burst: u32,

    /// Invalid or excess frames a connection may send (recovering one per
    /// second) before it is closed as abusive (1008).
    #[arg(long, env = "FLACK_INVALID_FRAME_BURST", default_value_t = 20)]
    pub invalid_frame_burst: u32,

    /// Most WebSocket connections the server holds.
    #[arg(long, env = "FLACK_MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Most WebSocket connections from one IP address.
    #[arg(long, env = "FLACK_MAX_CONNECTIONS_PER_IP", default_value_t = 200)]
    pub max_connections_per_ip: usize,

    /// A reverse proxy in front of Flack (an address or a network, like
    /// `10.0.0.0/8`): for requests from it, the client's address is read
    /// from `X-Forwarded-For`. Repeatable. From anyone else the header is
    /// ignored.
    #[arg(
        long = "trusted-proxy",
        env = "FLACK_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Largest HTTP request body accepted, in bytes.
    #[arg(long, env = "FLACK_MAX_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,

    /// Most HTTP connections served at once (more wait to be accepted);
    /// a connection upgraded to a WebSocket counts against
    /// --max-connections instead.
    #[arg(long, env = "FLACK_MAX_HTTP_CONNECTIONS", default_value_t = 4096)]
    pub max_http_connections: usize,

    /// Most HTTP connections from one address (an IPv6 one by its /64);
    /// trusted proxies are exempt.
    #[arg(long, env = "FLACK_MAX_HTTP_CONNECTIONS_PER_IP", default_value_t = 64)]
    pub max_http_connections_per_ip: usize,

    /// A request's headers must arrive within this many seconds (and the
    /// next request's on a kept-alive connection), or the connection is
    /// closed.
    #[arg(long, env = "FLACK_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// A request body that sends nothing for this many seconds is dropped.
    #[arg(long, env = "FLACK_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// An upload must be whole within this many seconds (10 MiB at 40 KB/s).
    #[arg(long, env = "FLACK_UPLOAD_TIMEOUT_SECS", default_value_t = 300)]
    pub upload_timeout_secs: u64,

    /// Read buffer of each WebSocket, in bytes: memory every connection
    /// holds even when idle. Client frames are small; a larger one takes
    /// several reads.
    #[arg(long, env = "FLACK_WS_READ_BUFFER", default_value_t = 1024)]
    pub ws_read_buffer: usize,

    /// Bytes of frames a WebSocket gathers before writing them out when
    /// several are ready at once (a history, a burst): one write instead of
    /// one per frame. Frames are always written out at the end of a batch.
    #[arg(long, env = "FLACK_WS_WRITE_BUFFER", default_value_t = 8192)]
    pub ws_write_buffer: usize,

    /// Largest WebSocket message accepted, in bytes.
    #[arg(long, env = "FLACK_MAX_FRAME_BYTES", default_value_t = app::protocol::MAX_FRAME_BYTES)]
    pub max_frame_bytes: usize,

    /// Keep users, sessions, channels and the last 100 messages per channel
    /// in an SQLite database in this folder, so a restart loses nothing
    /// acknowledged. Without it, everything is in memory.
    #[arg(long, env = "FLACK_DATA_DIR", conflicts_with = "redis_url")]
    pub data_dir: Option<PathBuf>,

    /// Share the chat with other Flack servers through this Redis
    /// (`redis://host:port/db`): Redis holds users, sessions, channels and
    /// messages and orders every change; each server serves its own
    /// connections. Not with --data-dir (Redis' own persistence applies).
    #[arg(long, env = "FLACK_REDIS_URL")]
    pub redis_url: Option<String>,

    /// Changes Redis keeps in its log (approximately) for a server that
    /// lost its link to catch up; one that was away longer reloads.
    #[arg(long, env = "FLACK_REDIS_LOG", default_value_t = 100_000)]
    pub redis_log: usize,

    /// With --redis-url: a server silent this long (killed, or cut off from
    /// Redis) counts as gone, and so do its users' connections.
    #[arg(long, env = "FLACK_PRESENCE_TIMEOUT_SECS", default_value_t = 15)]
    pub presence_timeout_secs: u64,

    /// At most one presence announcement per user this often (plus one
    /// for the state it ends in), however fast a client toggles; with
    /// Redis, how often connection counts go to the other servers. 0
    /// announces every change at once.
    #[arg(long, env = "FLACK_PRESENCE_INTERVAL_MS", default_value_t = 1000)]
    pub presence_interval_ms: u64,

    /// A session unused this many seconds ends (90 days); 0 keeps sessions
    /// until their user signs out.
    #[arg(long, env = "FLACK_SESSION_IDLE_SECS", default_value_t = 90 * 24 * 60 * 60)]
    pub session_idle_secs: u64,

    /// Changes waiting to be written (with --data-dir) before new ones are
    /// refused as busy.
    #[arg(long, env = "FLACK_JOURNAL_QUEUE", default_value_t = 65_536)]
    pub journal_queue: usize,

    /// Events buffered per channel for live viewers before a slow viewer
    /// must catch up from history.
    #[arg(long, env = "FLACK_LIVE_QUEUE", default_value_t = 1024)]
    pub live_queue: usize,

    /// Events kept per channel for viewers resuming after a disconnect
    /// (besides messages: edits, deletions, reactions); an older resume
    /// point gets the channel's current history instead.
    #[arg(long, env = "FLACK_EVENT_LOG", default_value_t = 1000)]
    pub event_log: usize,

    /// ...and at most this many bytes of them per channel (edits of long
    /// messages are large): the older ones go first.
    #[arg(long, env = "FLACK_EVENT_LOG_BYTES", default_value_t = 1024 * 1024)]
    pub event_log_bytes: usize,

    /// Largest attachment, in bytes.
    #[arg(long, env = "FLACK_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: usize,

    /// Most attachments on one message.
    #[arg(long, env = "FLACK_MAX_ATTACHMENTS", default_value_t = 4)]
    pub max_attachments: usize,

    /// All attachments together, in bytes (in memory, or on disk with a
    /// data dir); uploads past it are refused until messages go.
    #[arg(long, env = "FLACK_ATTACHMENTS_TOTAL_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub attachments_total_bytes: u64,

    /// All attachments of one user together, in bytes (uploaded and not
    /// yet sent, or on messages still in a channel's last 100).
    #[arg(long, env = "FLACK_ATTACHMENTS_PER_USER_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub attachments_per_user_bytes: u64,

    /// Recent `client_id`s remembered per user for idempotent sends.
    #[arg(long, env = "FLACK_IDEMPOTENCY_WINDOW", default_value_t = 1000)]
    pub idempotency_window: usize,

    /// Seconds between server pings on a WebSocket.
    #[arg(long, env = "FLACK_PING_INTERVAL_SECS", default_value_t = 20)]
    pub ping_interval_secs: u64,

    /// A WebSocket silent for this many seconds is closed as dead.
    #[arg(long, env = "FLACK_IDLE_TIMEOUT_SECS", default_value_t = 60)]
    pub idle_timeout_secs: u64,

    /// A client that cannot take a frame within this many seconds is
    /// disconnected (it resumes when it comes back).
    #[arg(long, env = "FLACK_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub write_timeout_secs: u64,

    /// Seconds to wait for connections to finish on shutdown.
    #[arg(long, env = "FLACK_SHUTDOWN_GRACE_SECS", default_value_t = 5)]
    pub shutdown_grace_secs: u64,
}

impl Config {
    pub fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.ping_interval_secs.max(1))
    }
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs.max(1))
    }
    pub fn write_timeout(&self) -> Duration {
        Duration::from_secs(self.write_timeout_secs.max(1))
    }
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }

    /// Defaults for tests and embedding: port 0 on loopback.
    pub fn for_tests() -> Self {
        let mut config = Self::parse_from(["flack"]);
        config.addr = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        // Tests send bursts far beyond a person's pace; tests of the limits
        // set them explicitly.
        config.message_rate = 0;
        config.search_rate = 0;
        config.frame_rate = 0;
        config.register_rate = 0;
        config.channel_rate = 0;
        config.conversation_rate = 0;
        // Every presence change at once: tests follow each one; the tests
        // of coalescing set an interval.
        config.presence_interval_ms = 0;
        config
    }
}
