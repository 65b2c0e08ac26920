//! What operators and load balancers see: Prometheus metrics (`/metrics`),
//! liveness (`/healthz`) and readiness (`/readyz`).
//!
//! Invariant: recording a metric never blocks and never allocates on the
//! delivery path: counters and gauges are atomics, and a session adds its
//! deliveries once per written batch, not once per frame.

use crate::hub::Hub;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The server's metrics; clone the `Arc` to record from anywhere.
pub struct Metrics {
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Event frames (messages, edits, deletions, reactions) written to
    /// viewers, live or as backlog.
    pub deliveries: Counter,
    /// Messages stored (a retried `client_id` is not counted again).
    pub messages: Counter,
    /// From a `send` frame arriving to its `ack` leaving.
    send_latency: Histogram,
    /// Failed calls to the shared store (Redis).
    pub store_errors: Counter,
    registry: Registry,
}

impl Default for Metrics {
    fn default() -> Self {
        let connections = Gauge::default();
        let deliveries = Counter::default();
        let messages = Counter::default();
        // 100 µs to ~3.3 s, doubling.
        let send_latency = Histogram::new(exponential_buckets(0.000_1, 2.0, 16));
        let store_errors = Counter::default();
        let mut registry = Registry::with_prefix("flack");
        registry.register(
            "connections",
            "Open WebSocket connections",
            connections.clone(),
        );
        registry.register(
            "deliveries",
            "Event frames written to viewers",
            deliveries.clone(),
        );
        registry.register("messages", "Messages stored", messages.clone());
        registry.register(
            "send_latency_seconds",
            "Time from a send frame to its ack",
            send_latency.clone(),
        );
        registry.register(
            "redis_errors",
            "Failed calls to Redis (always 0 without --redis-url)",
            store_errors.clone(),
        );
        Self {
            connections,
            deliveries,
            messages,
            send_latency,
            store_errors,
            registry,
        }
    }
}

impl Metrics {
    pub fn observe_send(&self, took: Duration) {
        self.send_latency.observe(took.as_secs_f64());
    }

    /// Everything, in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = encode(&mut text, &self.registry);
        text
    }
}

/// What the probes read.
#[derive(Clone)]
pub struct Probes {
    pub metrics: Arc<Metrics>,
    pub hub: Hub,
    pub shutdown: CancellationToken,
}

/// `GET /metrics`.
pub async fn metrics(State(probes): State<Probes>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        probes.metrics.render(),
    )
        .into_response()
}

/// `GET /healthz`: the process is up and answering.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: whether to send this server traffic. Not while shutting
/// down, nor while its store cannot take changes.
pub async fn readyz(State(probes): State<Probes>) -> Response {
    if probes.shutdown.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    match probes.hub.store_unavailable() {
        // Why is for the operator's log, not for whoever asks.
        Some(why) => {
            tracing::warn!("not ready: {why}");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready\n").into_response()
        }
        None => "ready\n".into_response(),
    }
}
