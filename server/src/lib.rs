//! `server`: the Flack server, an axum app that serves the Leptos pages and
//! server functions, the `/ws` WebSocket and the built site.
//!
//! - `chat`: the domain, no I/O: the state and the one function that
//!   changes it, access, names, presence, sessions;
//! - `log`: the port every change goes through, with its three adapters
//!   (memory, SQLite with `--data-dir`, Redis with `--redis-url`);
//! - `blobs`: attachments' bytes (memory, disk, Redis);
//! - `hub`: the chat as this server holds it: checks, proposes, applies;
//! - `web`: the HTTP and WebSocket edge (router, `/ws`, sessions, server
//!   functions, attachments, policy, limits, metrics, the one mapping from
//!   refusals to wire codes);
//! - `config`: the command line; every limit is a flag;
//! - `startup`: the application assembled, served, and shut down gracefully;
//! - `shutdown`: the Ctrl-C / SIGTERM signal.
//!
//! Dependencies point inwards: `web` -> `hub` -> `log`, `blobs` -> `chat`;
//! `chat` does no I/O and knows no framework.
//!
//! Invariant: chat state changes only when the log hands back a committed
//! entry; everything else holds a `Hub` handle and calls it without
//! holding any lock across `.await`.

pub mod blobs;
pub mod chat;
pub mod config;
pub mod hub;
pub mod log;
pub mod shutdown;
pub mod startup;
pub mod web;

pub use config::Config;
pub use startup::{Application, StartupError};
