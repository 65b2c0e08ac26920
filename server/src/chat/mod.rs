//! `chat`: the domain. What Flack's state is and the rules that change
//! it, with no I/O: no tokio, no axum, no SQLite, no Redis (a test checks
//! the imports). Callers pass the time in.
//!
//! - `access`: who may see which channel (the one door to private things);
//! - `names`: which new names may be taken and when two are one (UTS #39);
//! - `presence`: who is here, and which changes to announce (coalesced);
//! - `sessions`: which session is whose, and when each goes idle.

pub mod access;
pub mod names;
pub mod presence;
pub mod sessions;

pub use sessions::TokenHash;
