//! Flack's integration tests: the real server on loopback, real HTTP and
//! WebSocket clients, a real `redis-server` and SQLite. One binary, so it
//! links once; `FLACK_TEST_STORE=redis` or `sqlite` runs the suites that
//! start their own in-memory server against that log instead.
//!
//! Run one at a time (`--test-threads=1`): Leptos keeps process-global
//! rendering state, and two servers rendering their first page at the same
//! moment can stall.

mod common;

mod api;
mod attachments;
mod changes;
mod cli;
mod cluster;
mod conversations;
mod delivery;
mod durability;
mod operations;
mod presence;
mod privacy;
mod reading;
mod search;
mod security;
mod sessions;
mod structure;
mod threads;
mod topics;
mod websocket;
