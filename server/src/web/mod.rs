//! `web`: the HTTP and WebSocket edge around the hub. It parses what
//! clients send, once, into the domain's types, asks the hub, and turns
//! the answer (or the refusal, through `errors`, the one mapping to wire
//! codes) into a response or a frame. It holds no chat state.
//!
//! - `router`: every route and layer, in one place;
//! - `ws`: the `/ws` upgrade (origin, session, connection caps);
//! - `session`: one WebSocket connection (dispatch, acks, viewer, I/O);
//! - `backend`: the server functions (`app::api::ChatBackend`) over the hub;
//! - `attachments`: upload and download of files over HTTP;
//! - `policy`: same-origin checks, client addresses, security headers;
//! - `identity`: the session cookie;
//! - `limits`: rate and connection limits;
//! - `listener`: HTTP/1.1 connections: a cap, a header deadline, graceful close;
//! - `metrics`: Prometheus metrics, `/healthz` and `/readyz`;
//! - `errors`: the hub's refusals as HTTP statuses and error frames.

pub mod attachments;
pub mod backend;
pub mod errors;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod metrics;
pub mod policy;
pub mod router;
pub mod session;
pub mod ws;
