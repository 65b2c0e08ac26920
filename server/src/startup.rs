//! `Application`: builds the router (Leptos pages and server functions,
//! `/ws`, static files), binds the listener and serves until shutdown.
//!
//! Invariant: every WebSocket session is spawned through the `TaskTracker`
//! and watches the `CancellationToken`, so shutdown reaches all of them and
//! waits (up to the grace period) until they are gone.

use crate::attachments;
use crate::backend::HubBackend;
use crate::blobs::FileLimits;
use crate::config::Config;
use crate::hub::{Hub, HubLimits};
use crate::identity::session_from_headers;
use crate::limits::{ConnectionRefused, Limits};
use crate::listener::{self, HttpLimits};
use crate::log::{self, Storage};
use crate::metrics::{self, Metrics, Probes};
use crate::policy::{self, Policy};
use crate::session::{self, SessionSettings};
use app::api::ChatBackend;
use app::{shell, App};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

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

/// Router state: Leptos options (for pages and files) plus the chat.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ws: WsState,
}

#[derive(Clone)]
pub struct WsState {
    hub: Hub,
    settings: SessionSettings,
    max_frame_bytes: usize,
    read_buffer: usize,
    write_buffer: usize,
    limits: Arc<Limits>,
    metrics: Arc<Metrics>,
    allowed_origins: Arc<Vec<String>>,
    clients: Arc<policy::ClientAddress>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
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
        let backend: Arc<dyn ChatBackend> = Arc::new(HubBackend {
            hub: hub.clone(),
            limits: limits.clone(),
            secure_cookies: config.secure_cookies,
        });
        let clients = Arc::new(policy::ClientAddress {
            trusted: config.trusted_proxies.clone(),
        });
        let policy = Policy {
            allowed_origins: Arc::new(config.allowed_origins.clone()),
            limits: limits.clone(),
            max_body_bytes: config.max_body_bytes,
            body_timeout: std::time::Duration::from_secs(config.body_timeout_secs.max(1)),
            clients: clients.clone(),
        };
        let hub_handle = hub.clone();
        let files_state = attachments::FilesState {
            hub: hub.clone(),
            limits: limits.clone(),
            upload_timeout: std::time::Duration::from_secs(config.upload_timeout_secs.max(1)),
            uploading: Default::default(),
        };
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let probes = Probes {
            metrics: metrics.clone(),
            hub: hub.clone(),
            shutdown: shutdown.clone(),
        };
        let state = AppState {
            leptos_options: leptos_options.clone(),
            ws: WsState {
                hub,
                settings: SessionSettings {
                    ping_interval: config.ping_interval(),
                    idle_timeout: config.idle_timeout(),
                    write_timeout: config.write_timeout(),
                },
                max_frame_bytes: config.max_frame_bytes,
                read_buffer: config.ws_read_buffer,
                write_buffer: config.ws_write_buffer,
                limits: limits.clone(),
                metrics,
                allowed_origins: policy.allowed_origins.clone(),
                clients,
                shutdown: shutdown.clone(),
                tracker: tracker.clone(),
            },
        };

        let body_timeout = std::time::Duration::from_secs(config.body_timeout_secs.max(1));
        let routes = generate_route_list(App);
        // `cargo leptos watch` sets LEPTOS_WATCH; its live-reload socket
        // must get past the page's CSP.
        let reload_port = std::env::var_os("LEPTOS_WATCH").map(|_| leptos_options.reload_port);
        let router = Router::new()
            .route("/ws", get(websocket))
            .leptos_routes_with_context(
                &state,
                routes,
                move || {
                    provide_context(backend.clone());
                    set_page_csp(reload_port);
                },
                {
                    let options = leptos_options.clone();
                    move || shell(options.clone())
                },
            )
            .layer(axum::middleware::map_response(
                policy::status_from_error_code,
            ))
            .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
            .with_state(state)
            .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
            // After the body limit: uploads have their own (`--max-attachment-bytes`).
            .route(
                "/api/upload",
                post(attachments::upload).with_state(files_state.clone()),
            )
            .route(
                "/files/{id}/{name}",
                get(attachments::download).with_state(files_state),
            )
            .route("/healthz", get(metrics::healthz))
            .route("/readyz", get(metrics::readyz).with_state(probes.clone()))
            .route("/metrics", get(metrics::metrics).with_state(probes))
            .layer(axum::middleware::from_fn_with_state(
                policy,
                policy::guard_api,
            ))
            // Around everything that reads a body: one that stalls frees
            // its connection (an upload also has a deadline for the whole
            // body, `--upload-timeout-secs`).
            .layer(RequestBodyTimeoutLayer::new(body_timeout))
            .layer(axum::middleware::from_fn(policy::security_headers))
            // Brotli or gzip when the client accepts it: the WASM is
            // 1.3 MB raw and about 0.45 MB compressed.
            .layer(CompressionLayer::new());
        spawn_limit_housekeeping(limits, shutdown.clone(), &tracker);
        spawn_session_sweeper(
            hub_handle.clone(),
            std::time::Duration::from_secs(config.session_idle_secs),
            shutdown.clone(),
            &tracker,
        );
        spawn_presence_flusher(
            hub_handle.clone(),
            std::time::Duration::from_millis(config.presence_interval_ms),
            shutdown.clone(),
            &tracker,
        );

        Ok(Self {
            hub: hub_handle,
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
                header_timeout: std::time::Duration::from_secs(config.header_timeout_secs),
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
fn set_page_csp(reload_port: Option<u32>) {
    if let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) =
            http::HeaderValue::from_str(&policy::page_csp(&nonce.to_string(), reload_port))
        {
            response.insert_header(header::CONTENT_SECURITY_POLICY, value);
        }
    }
}

/// Keyed rate limiters remember every user and address they saw; forget the
/// ones that have fully recovered, once a minute, until shutdown.
fn spawn_limit_housekeeping(
    limits: Arc<Limits>,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    tracker.spawn(async move {
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
fn spawn_session_sweeper(
    hub: Hub,
    idle: std::time::Duration,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    if idle.is_zero() {
        return;
    }
    let every = (idle / 4).clamp(
        std::time::Duration::from_secs(1),
        std::time::Duration::from_secs(3600),
    );
    tracker.spawn(async move {
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
fn spawn_presence_flusher(
    hub: Hub,
    interval: std::time::Duration,
    shutdown: CancellationToken,
    tracker: &TaskTracker,
) {
    if interval.is_zero() {
        return;
    }
    tracker.spawn(async move {
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

async fn websocket(
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
