//! `server`: the Flack server, an axum app that serves the Leptos pages and
//! server functions, the `/ws` WebSocket and the built site.
//!
//! - `chat`: the domain, no I/O: the state and the one function that
//!   changes it, access, names, presence, sessions;
//! - `log`: the port every change goes through, with its three adapters
//!   (memory, SQLite with `--data-dir`, Redis with `--redis-url`);
//! - `blobs`: attachments' bytes (memory, disk, Redis);
//! - `hub`: the chat as this server holds it: checks, proposes, applies;
//! - `config`: the command line; every limit is a flag;
//! - `errors`: the one mapping from the hub's refusals to wire codes;
//! - `identity`: the session cookie;
//! - `metrics`: Prometheus metrics, `/healthz` and `/readyz`;
//! - `limits`: rate limits (messages, channels, registrations, frames) and connection limits;
//! - `attachments`: upload and download of files over HTTP;
//! - `backend`: `app::api::ChatBackend` for the hub (server functions -> hub);
//! - `policy`: the HTTP edge: same-origin checks, registration limits, security headers;
//! - `session`: one WebSocket connection;
//! - `listener`: HTTP/1.1 connections: a cap, a header deadline, graceful close;
//! - `startup`: the router, the listener, graceful shutdown;
//! - `shutdown`: the Ctrl-C / SIGTERM signal.
//!
//! Invariant: chat state changes only when the log hands back a committed
//! entry; everything else holds a `Hub` handle and calls it without
//! holding any lock across `.await`.

pub mod attachments;
pub mod backend;
pub mod blobs;
pub mod chat;
pub mod config;
pub mod errors;
pub mod hub;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod log;
pub mod metrics;
pub mod policy;
pub mod session;
pub mod shutdown;
pub mod startup;

pub use config::Config;
pub use startup::{Application, StartupError};
