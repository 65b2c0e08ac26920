//! `chat`: the domain. What Flack's state is and the rules that change
//! it, with no I/O: no tokio, no axum, no SQLite, no Redis
//! (`server/tests/it/structure.rs` reads the imports). Callers pass the
//! time in.
//!
//! - `state`: everything the chat holds, and `State::apply`, the one
//!   function that changes it, entry by entry in the log's order;
//! - `entry`: a change, as proposed to the log and applied;
//! - `channel`: one channel's ring and event log;
//! - `thread`: a channel's threads (replies kept apart from the ring);
//! - `users`: a user's remembered sends and read positions;
//! - `access`: who may see which channel (the one door to private things);
//! - `names`: which new names may be taken and when two are one (UTS #39);
//! - `markup`: a message's Markdown rendered to sanitized HTML;
//! - `search`: a search query and what matches it (case and accents folded);
//! - `presence`: who is here, and which changes to announce (coalesced);
//! - `sessions`: which session is whose, and when each goes idle;
//! - `error`: the domain's refusals.

pub mod access;
pub mod channel;
pub mod entry;
pub mod error;
pub mod markup;
pub mod names;
pub mod presence;
pub mod search;
pub mod sessions;
pub mod state;
pub mod thread;
pub mod users;

pub use channel::Event;
pub use entry::{Change, Entry, SendRecord};
pub use error::{FileError, HubError};
pub use sessions::TokenHash;
pub use state::{Applied, Effect, Keep, Outcome, Snapshot, State, StateLimits};
