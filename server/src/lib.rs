//! `server`: the Flack server, an axum app that serves the Leptos pages and
//! server functions, the `/ws` WebSocket and the built site.
//!
//! - `chat`: the domain, no I/O: access, names, presence, sessions;
//! - `config`: the command line; every limit is a flag;
//! - `cluster`: several servers sharing the chat through Redis (`--redis-url`);
//! - `hub`: the one owner of chat state (users, sessions, channels, messages);
//! - `errors`: the one mapping from the hub's refusals to wire codes;
//! - `files`: attachments' bytes, owned by the hub;
//! - `identity`: session tokens and the cookie;
//! - `markup`: a message's Markdown rendered to sanitized HTML;
//! - `metrics`: Prometheus metrics, `/healthz` and `/readyz`;
//! - `limits`: rate limits (messages, channels, registrations, frames) and connection limits;
//! - `attachments`: upload and download of files over HTTP;
//! - `backend`: `app::api::ChatBackend` for the hub (server functions -> hub);
//! - `policy`: the HTTP edge: same-origin checks, registration limits, security headers;
//! - `session`: one WebSocket connection;
//! - `store`: the SQLite journal behind `--data-dir` (group commit);
//! - `listener`: HTTP/1.1 connections: a cap, a header deadline, graceful close;
//! - `startup`: the router, the listener, graceful shutdown;
//! - `shutdown`: the Ctrl-C / SIGTERM signal.
//!
//! Invariant: only the hub mutates chat state; everything else holds a
//! `Hub` handle and calls it without holding any lock across `.await`.

pub mod attachments;
pub mod backend;
pub mod chat;
pub mod cluster;
pub mod config;
pub mod errors;
pub mod files;
pub mod hub;
pub mod identity;
pub mod limits;
pub mod listener;
pub mod markup;
pub mod metrics;
pub mod policy;
pub mod session;
pub mod shutdown;
pub mod startup;
pub mod store;

pub use config::Config;
pub use startup::{Application, StartupError};
