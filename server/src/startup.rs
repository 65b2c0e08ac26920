//! `Application`: builds the router (Leptos pages and server functions,
//! `/ws`, static files), binds the listener and serves until shutdown.
//!
//! Invariant: every WebSocket session is spawned through the `TaskTracker`
//! and watches the `CancellationToken`, so shutdown reaches all of them and
//! waits (up to the grace period) until they are gone.

use crate::blobs::FileLimits;
use crate::config::Config;
use crate::hub::{Hub, HubLimits};
use crate::log::{self, Storage};
use crate::web::attachments::FilesState;
use crate::web::backend::HubBackend;
use crate::web::limits::Limits;
use crate::web::listener::{self, HttpLimits};
use crate::web::metrics::{Metrics, Probes};
use crate::web::policy::{self, Policy};
use crate::web::router::{self, AppState, Edge};
use crate::web::session::SessionSettings;
use crate::web::ws::WsState;
use app::api::ChatBackend;
use axum::Router;
use leptos::prelude::*;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the Leptos configuration: {0}")]
    Leptos(String),
    #[error(transparent)]
    Open(#[from] log::OpenError),
    #[error("cannot start the hub: {0}")]
    Start(String),
    /// The log stopped for good (a disk that keeps failing, Redis that
    /// lost Flack's data): the server shut down; `main` exits 70.
    #[error("the store failed; the server stopped (see the log above)")]
    StoreFailed,
}

/// A Redis URL without its password, for the log.
fn redacted(url: &str) -> String {
    match url.split_once('@') {
        Some((auth, host)) => match auth.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://***@{host}"),
            None => format!("***@{host}"),
        },
        None => url.to_owned(),
    }
}

pub struct Application {
    hub: Hub,
    /// Cancelled when the log stops for good.
    failed: CancellationToken,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    grace: std::time::Duration,
    http: HttpLimits,
}

fn leptos_options(config: &Config) -> Result<LeptosOptions, StartupError> {
    let from_cargo_leptos = std::env::var_os("LEPTOS_OUTPUT_NAME").is_some()
        || option_env!("LEPTOS_OUTPUT_NAME").is_some();
    let mut options = if from_cargo_leptos {
        get_configuration(None)
            .map_err(|e| StartupError::Leptos(e.to_string()))?
            .leptos_options
    } else {
        LeptosOptions::builder().output_name("flack").build()
    };
    options.site_root = config.site_root.to_string_lossy().into_owned().into();
    if let Some(addr) = config.addr {
        options.site_addr = addr;
    }
    Ok(options)
}

impl Application {
    pub async fn build(config: Config) -> Result<Self, StartupError> {
        let leptos_options = leptos_options(&config)?;
        let addr = leptos_options.site_addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| StartupError::Bind { addr, source })?;
        let metrics = Arc::new(Metrics::default());
        let failed = CancellationToken::new();
        let hub = open_hub(&config, &metrics, failed.clone()).await?;
        let limits = Arc::new(Limits::from_config(&config));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let background = Background {
            hub: &hub,
            shutdown: &shutdown,
            tracker: &tracker,
        };
        spawn_limit_housekeeping(limits.clone(), &background);
        spawn_session_sweeper(Duration::from_secs(config.session_idle_secs), &background);
        spawn_presence_flusher(
            Duration::from_millis(config.presence_interval_ms),
            &background,
        );
        let ws = WsState {
            hub: hub.clone(),
            settings: SessionSettings {
                ping_interval: config.ping_interval(),
                idle_timeout: config.idle_timeout(),
                write_timeout: config.write_timeout(),
            },
            max_frame_bytes: config.max_frame_bytes,
            read_buffer: config.ws_read_buffer,
            write_buffer: config.ws_write_buffer,
            limits,
            metrics,
            allowed_origins: Arc::new(config.allowed_origins.clone()),
            clients: Arc::new(policy::ClientAddress {
                trusted: config.trusted_proxies.clone(),
            }),
            shutdown: shutdown.clone(),
            tracker: tracker.clone(),
        };
        let router = router::router(edge(&config, leptos_options, ws));
        Ok(Self {
            hub,
            failed,
            listener,
            router,
            shutdown,
            tracker,
            grace: config.shutdown_grace(),
            http: HttpLimits {
                max_connections: config.max_http_connections,
                per_address: config.max_http_connections_per_ip,
                trusted: config.trusted_proxies.clone(),
                header_timeout: Duration::from_secs(config.header_timeout_secs),
                grace: config.shutdown_grace(),
            },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `signal` resolves, then stops accepting, closes every
    /// WebSocket with 1001 "going away" and waits for them (up to the grace
    /// period).
    pub async fn run_until(
        self,
        signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let shutdown = self.shutdown.clone();
        let stop = {
            let (shutdown, failed) = (shutdown.clone(), self.failed.clone());
            async move {
                tokio::select! {
                    _ = signal => {}
                    _ = shutdown.cancelled() => {}
                    _ = failed.cancelled() => {}
                }
                tracing::info!("shutting down");
                shutdown.cancel();
            }
        };
        let http = listener::serve(self.listener, self.router, self.http, shutdown.clone());
        tokio::join!(http, stop);
        self.tracker.close();
        if tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within the grace period");
        }
        // Write whatever is still queued, then stop the log.
        self.hub.close().await;
        if self.failed.is_cancelled() {
            return Err(StartupError::StoreFailed);
        }
        Ok(())
    }
}

/// The hub, started from the log `config` chooses: Redis, a data dir, or
/// memory.
/// What the routes serve from, around the `/ws` state.
fn edge(config: &Config, leptos_options: LeptosOptions, ws: WsState) -> Edge {
    let body_timeout = Duration::from_secs(config.body_timeout_secs.max(1));
    let backend: Arc<dyn ChatBackend> = Arc::new(HubBackend {
        hub: ws.hub.clone(),
        limits: ws.limits.clone(),
        secure_cookies: config.secure_cookies,
    });
    let policy = Policy {
        allowed_origins: ws.allowed_origins.clone(),
        limits: ws.limits.clone(),
        max_body_bytes: config.max_body_bytes,
        body_timeout,
        clients: ws.clients.clone(),
    };
    let files = FilesState {
        hub: ws.hub.clone(),
        limits: ws.limits.clone(),
        upload_timeout: Duration::from_secs(config.upload_timeout_secs.max(1)),
        uploading: Default::default(),
    };
    let probes = Probes {
        metrics: ws.metrics.clone(),
        hub: ws.hub.clone(),
        shutdown: ws.shutdown.clone(),
    };
    Edge {
        state: AppState { leptos_options, ws },
        backend,
        policy,
        files,
        probes,
        max_body_bytes: config.max_body_bytes,
        body_timeout,
    }
}

/// What the background tasks share: the hub, and the shutdown they stop at
/// (and are tracked for).
struct Background<'a> {
    hub: &'a Hub,
    shutdown: &'a CancellationToken,
    tracker: &'a TaskTracker,
}

async fn open_hub(
    config: &Config,
    metrics: &Metrics,
    failed: CancellationToken,
) -> Result<Hub, StartupError> {
    let limits = HubLimits {
        live_queue: config.live_queue,
        idempotency_window: config.idempotency_window,
        event_log: config.event_log,
        event_log_bytes: config.event_log_bytes,
        max_conversations: config.max_conversations,
        max_channels: config.max_channels,
        presence_interval: std::time::Duration::from_millis(config.presence_interval_ms),
        session_idle: std::time::Duration::from_secs(config.session_idle_secs),
        files: FileLimits {
            max_bytes: config.max_attachment_bytes,
            per_message: config.max_attachments,
            total_bytes: config.attachments_total_bytes,
            per_user_bytes: config.attachments_per_user_bytes,
        },
    };
    let files = limits.files.clone();
    let storage = match (&config.redis_url, &config.data_dir) {
        (Some(url), _) => {
            tracing::info!(redis = %redacted(url), "sharing the chat through Redis");
            Storage::Redis(log::redis::Settings {
                url: url.clone(),
                log_len: config.redis_log,
                ring_len: app::model::HISTORY_LEN,
                queue: config.journal_queue,
                errors: metrics.store_errors.clone(),
                presence_timeout: std::time::Duration::from_secs(
                    config.presence_timeout_secs.max(1),
                ),
                files,
            })
        }
        (None, Some(dir)) => {
            tracing::info!(data_dir = %dir.display(), "keeping state in the data dir");
            Storage::Sqlite(log::sqlite::Settings {
                dir: dir.clone(),
                queue: config.journal_queue,
                files,
            })
        }
        (None, None) => Storage::Memory(files),
    };
    let opened = log::open(storage, failed).await?;
    // Starting reads back attachments on disk: off the runtime.
    tokio::task::spawn_blocking(move || Hub::start(limits, opened))
        .await
        .map_err(|e| StartupError::Start(e.to_string()))
}

/// Sets the page's Content-Security-Policy with this request's nonce
/// (rendering a page provides one; server-function calls do not).
/// Keyed rate limiters remember every user and address they saw; forget the
/// ones that have fully recovered, once a minute, until shutdown.
fn spawn_limit_housekeeping(limits: Arc<Limits>, background: &Background<'_>) {
    let shutdown = background.shutdown.clone();
    background.tracker.spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => limits.forget_idle(),
            }
        }
    });
}

/// Ends sessions idle past `--session-idle-secs` (and the connections
/// opened with them), a few times per idle period and at least hourly,
/// until shutdown (none to run when sessions never go idle).
fn spawn_session_sweeper(idle: Duration, background: &Background<'_>) {
    if idle.is_zero() {
        return;
    }
    let (hub, shutdown) = (background.hub.clone(), background.shutdown.clone());
    let every = (idle / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    background.tracker.spawn(async move {
        let mut ticks = tokio::time::interval(every);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = ticks.tick() => {
                    let ended = hub.expire_sessions();
                    if ended > 0 {
                        tracing::info!(ended, "idle sessions ended");
                    }
                }
            }
        }
    });
}

/// Announces the presence changes that waited for their interval, every
/// interval, until shutdown (none to run with no interval).
fn spawn_presence_flusher(interval: Duration, background: &Background<'_>) {
    if interval.is_zero() {
        return;
    }
    let (hub, shutdown) = (background.hub.clone(), background.shutdown.clone());
    background.tracker.spawn(async move {
        let mut every = tokio::time::interval(interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = every.tick() => hub.flush_presence(),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn a_redis_password_never_reaches_the_log() {
        assert_eq!(
            redacted("redis://:hunter2@db.internal:6379/0"),
            "redis://***@db.internal:6379/0"
        );
        assert_eq!(
            redacted("redis://127.0.0.1:6390/"),
            "redis://127.0.0.1:6390/"
        );
    }
}
