//! `Application`: builds the router (Leptos pages and server functions,
//! `/ws`, static files), binds the listener and serves until shutdown.
//!
//! Invariant: every WebSocket session is spawned through the `TaskTracker`
//! and watches the `CancellationToken`, so shutdown reaches all of them and
//! waits (up to the grace period) until they are gone.

use crate::backend::HubBackend;
use crate::config::Config;
use crate::hub::{Hub, HubLimits};
use crate::identity::session_from_headers;
use crate::session::{self, SessionSettings};
use app::api::ChatBackend;
use app::{shell, App};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
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
    #[error("server error: {0}")]
    Serve(std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
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
    allowed_origins: Arc<Vec<String>>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
}

pub struct Application {
    hub: Hub,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    grace: std::time::Duration,
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

        let hub = Hub::open(
            HubLimits {
                live_queue: config.live_queue,
                idempotency_window: config.idempotency_window,
                journal_queue: config.journal_queue,
            },
            config.data_dir.as_deref(),
        )?;
        if let Some(dir) = &config.data_dir {
            tracing::info!(data_dir = %dir.display(), "keeping state in the data dir");
        }
        let backend: Arc<dyn ChatBackend> = Arc::new(HubBackend {
            hub: hub.clone(),
            secure_cookies: config.secure_cookies,
        });
        let hub_handle = hub.clone();
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
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
                allowed_origins: Arc::new(config.allowed_origins.clone()),
                shutdown: shutdown.clone(),
                tracker: tracker.clone(),
            },
        };

        let routes = generate_route_list(App);
        let router = Router::new()
            .route("/ws", get(websocket))
            .leptos_routes_with_context(&state, routes, move || provide_context(backend.clone()), {
                let options = leptos_options.clone();
                move || shell(options.clone())
            })
            .layer(axum::middleware::map_response(status_from_error_code))
            .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
            .with_state(state);

        Ok(Self {
            hub: hub_handle,
            listener,
            router,
            shutdown,
            tracker,
            grace: config.shutdown_grace(),
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
        let serve_shutdown = shutdown.clone();
        let result = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            tokio::select! {
                _ = signal => {}
                _ = serve_shutdown.cancelled() => {}
            }
            tracing::info!("shutting down");
            serve_shutdown.cancel();
        })
        .await;
        shutdown.cancel();
        self.tracker.close();
        if tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not close within the grace period");
        }
        // Write whatever is still queued, then stop the journal.
        let hub = self.hub;
        if tokio::task::spawn_blocking(move || hub.close())
            .await
            .is_err()
        {
            tracing::error!("closing the store failed");
        }
        result.map_err(StartupError::Serve)
    }
}

/// Largest error body inspected by `status_from_error_code`.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// server_fn answers every failure with 500, even an undecodable request
/// body. Server functions answer with an `ApiError` whose `code` fixes the
/// status, so set it here for every 500 that carries one.
async fn status_from_error_code(response: Response) -> Response {
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, ERROR_BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response(),
    };
    if let Ok(err) = serde_json::from_slice::<app::error::ApiError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(err.code.http_status()) {
            parts.status = status;
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Whether a request's `Origin` may open a WebSocket: absent (not a
/// browser), the server's own (same host), or explicitly allowed.
fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let own = host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
    });
    own || allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
}

async fn websocket(
    State(state): State<WsState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !origin_allowed(&headers, &state.allowed_origins) {
        return (
            StatusCode::FORBIDDEN,
            "cross-site WebSocket requests are not allowed",
        )
            .into_response();
    }
    let user = session_from_headers(&headers).and_then(|hash| state.hub.user_by_session(&hash));
    let Some(user) = user else {
        return (
            StatusCode::UNAUTHORIZED,
            "sign in first: POST /api/register",
        )
            .into_response();
    };
    let WsState {
        hub,
        settings,
        max_frame_bytes,
        shutdown,
        tracker,
        ..
    } = state;
    upgrade
        .max_message_size(max_frame_bytes)
        .max_frame_size(max_frame_bytes)
        .on_upgrade(move |socket| {
            tracker.track_future(session::run(socket, hub, user, settings, shutdown))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, host.parse().unwrap());
        if let Some(o) = origin {
            h.insert(header::ORIGIN, o.parse().unwrap());
        }
        h
    }

    #[test]
    fn same_origin_and_non_browser_requests_may_open_the_socket() {
        assert!(origin_allowed(
            &headers(Some("http://127.0.0.1:3000"), "127.0.0.1:3000"),
            &[]
        ));
        assert!(origin_allowed(&headers(None, "127.0.0.1:3000"), &[]));
    }

    #[test]
    fn foreign_origins_are_refused_unless_allowed() {
        let h = headers(Some("https://evil.example"), "127.0.0.1:3000");
        assert!(!origin_allowed(&h, &[]));
        assert!(origin_allowed(&h, &["https://evil.example/".to_string()]));
    }
}
