//! The chat model shared by server and browser: validated names and bodies,
//! channels, messages and timestamps.
//!
//! Invariant: a value of `DisplayName`, `ChannelName`, `MessageBody` or
//! `ClientId` always satisfies its rule. The constructor (`parse`) is the only
//! place each rule lives, and `serde` deserialization goes through it, so a
//! value that crossed the wire is as trustworthy as one built locally.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Longest display name, in Unicode scalar values, after trimming.
pub const DISPLAY_NAME_MAX_CHARS: usize = 32;
/// Longest channel name, in Unicode scalar values, after trimming.
pub const CHANNEL_NAME_MAX_CHARS: usize = 80;
/// Longest message body, in Unicode scalar values, after trimming trailing whitespace.
pub const MESSAGE_BODY_MAX_CHARS: usize = 4000;
/// Longest `client_id` a sender may choose (a UUID is 36).
pub const CLIENT_ID_MAX_CHARS: usize = 64;
/// How many of a channel's most recent messages the server keeps.
pub const HISTORY_LEN: usize = 100;

/// Why a piece of user input was refused. The `Display` text is shown to users
/// as it is, so it names the field and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {got} characters long; the limit is {max}")]
    TooLong {
        field: &'static str,
        got: usize,
        max: usize,
    },
    #[error("{field} must not contain control characters")]
    ControlCharacter { field: &'static str },
    #[error("{field} must not contain invisible or text-direction characters")]
    InvisibleCharacter { field: &'static str },
    #[error("{field} must not contain '/'")]
    Slash { field: &'static str },
    #[error("{got:?} is not one of the reactions: {}", REACTIONS.join(" "))]
    NotAReaction { got: String },
    #[error("{field} must be 32 lowercase hex digits")]
    NotAnAttachmentId { field: &'static str },
    #[error("a user id is a UUID")]
    NotAUserId,
    #[error("{field} has no visible character")]
    NothingVisible { field: &'static str },
    #[error("{field} has characters Unicode does not assign (or leaves to private use)")]
    Unassigned { field: &'static str },
    #[error("{field} mixes {scripts}, whose letters can look alike; use one of them")]
    MixedScripts {
        field: &'static str,
        scripts: String,
    },
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl TryFrom<String> for $name {
            type Error = InputError;
            fn try_from(raw: String) -> Result<Self, InputError> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

mod attachment;
mod message;
mod names;
mod people;
mod search;
mod topic;

#[cfg(test)]
mod tests;

pub use attachment::*;
pub use message::*;
pub use names::*;
pub use people::*;
pub use search::*;
pub use topic::*;

use names::{is_invisible_or_bidi, PATH_SEGMENT};
