//! Every route and layer of the server, in one place: the Leptos pages and
//! server functions, `/ws`, uploads and downloads, the probes and metrics,
//! and the layers every request passes (the same-origin and rate guard,
//! body limits and deadlines, security headers, compression).

use super::attachments::{self, FilesState};
use super::metrics::{self, Probes};
use super::policy::{self, Policy};
use super::ws::{websocket, WsState};
use app::api::ChatBackend;
use app::{shell, App};
use axum::http::header;
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::Duration;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// Router state: Leptos options (for pages and files) plus the chat.
#[derive(Clone, axum::extract::FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub ws: WsState,
}

/// Everything the routes serve from.
pub struct Edge {
    pub state: AppState,
    pub backend: Arc<dyn ChatBackend>,
    pub policy: Policy,
    pub files: FilesState,
    pub probes: Probes,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
}

pub fn router(edge: Edge) -> Router {
    let Edge {
        state,
        backend,
        policy,
        files,
        probes,
        max_body_bytes,
        body_timeout,
    } = edge;
    let leptos_options = state.leptos_options.clone();
    let routes = generate_route_list(App);
    // `cargo leptos watch` sets LEPTOS_WATCH; its live-reload socket
    // must get past the page's CSP.
    let reload_port = std::env::var_os("LEPTOS_WATCH").map(|_| leptos_options.reload_port);
    Router::new()
        .route("/ws", get(websocket))
        .leptos_routes_with_context(
            &state,
            routes,
            move || {
                provide_context(backend.clone());
                set_page_csp(reload_port);
            },
            move || shell(leptos_options.clone()),
        )
        .layer(axum::middleware::map_response(
            policy::status_from_error_code,
        ))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(max_body_bytes))
        // After the body limit: uploads have their own (`--max-attachment-bytes`).
        .route(
            "/api/upload",
            post(attachments::upload).with_state(files.clone()),
        )
        .route(
            "/files/{id}/{name}",
            get(attachments::download).with_state(files),
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
        .layer(CompressionLayer::new())
}

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
