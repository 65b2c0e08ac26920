//! `blobs`: the bytes of attachments, behind one async trait. A file is
//! uploaded first (`put`), held as its uploader's until a message claims
//! it (`claim`), and removed when that message is deleted or leaves the
//! 100-message window (`remove`), or, unclaimed, after `PENDING_TTL`.
//!
//! - `local`: in memory, or on disk under `--data-dir`;
//! - the Redis adapter (`log::redis::blobs`) keeps them in Redis, so any
//!   server serves any file.
//!
//! Invariants:
//! - A file's type is what its bytes are (sniffed with `infer`), never what
//!   the uploader said; only PNG, JPEG, GIF and WebP are shown inline.
//! - Ids are 128 random bits; a file is served only under its id, and
//!   only once a message holds it.
//! - The bytes held never exceed `total_bytes`, nor one uploader's
//!   `per_user_bytes`; a refused upload stores nothing.
//! - Only the uploader can claim a pending file, and only once.
//! - The hub never calls these under its lock; blocking file I/O runs on
//!   the blocking pool.

pub mod local;

use crate::chat::{FileError, HubError};
use app::model::{file_name, Attachment, AttachmentId};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::path::PathBuf;
use std::time::Duration;
use uuid::Uuid;

/// An upload no message claimed is deleted after this long.
pub const PENDING_TTL: Duration = Duration::from_secs(60 * 60);

/// Limits on attachments; each is a command-line setting (see `config`).
#[derive(Debug, Clone)]
pub struct FileLimits {
    /// Largest file, in bytes.
    pub max_bytes: usize,
    /// Most files on one message.
    pub per_message: usize,
    /// All files together, in bytes.
    pub total_bytes: u64,
    /// All files of one uploader together, in bytes: no one fills the
    /// shared space for everyone.
    pub per_user_bytes: u64,
}

impl Default for FileLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            per_message: 4,
            total_bytes: 256 * 1024 * 1024,
            per_user_bytes: 64 * 1024 * 1024,
        }
    }
}

/// The bytes of a file to serve.
pub enum Content {
    InMemory(Bytes),
    OnDisk(PathBuf),
}

/// Where attachments' bytes are kept.
pub trait Blobs: Send + Sync + 'static {
    fn limits(&self) -> &FileLimits;

    /// Stores an upload of `owner`'s, named `name` by the browser.
    fn put(
        &self,
        owner: Uuid,
        name: String,
        bytes: Bytes,
    ) -> BoxFuture<'_, Result<Attachment, HubError>>;

    /// `owner`'s unsent uploads `ids`, handed to a message; all or none.
    fn claim<'a>(
        &'a self,
        owner: Uuid,
        ids: &'a [AttachmentId],
    ) -> BoxFuture<'a, Result<Vec<Attachment>, HubError>>;

    /// Gives claimed files back to `owner` (their message was not stored).
    fn unclaim(&self, _owner: Uuid, _ids: &[AttachmentId]) {}

    /// A file a message holds, and its bytes.
    fn get<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, Option<(Attachment, Content)>>;

    /// Deletes files whose messages are gone.
    fn remove(&self, _ids: Vec<AttachmentId>) {}

    /// At start: the files that stored messages hold (others go).
    fn restore(&self, _attached: Vec<(Option<Uuid>, Attachment)>) {}
}

/// The type of `bytes`, by their content.
fn sniff(bytes: &[u8]) -> String {
    infer::get(bytes).map_or_else(
        || {
            if std::str::from_utf8(bytes).is_ok() {
                "text/plain".to_owned()
            } else {
                "application/octet-stream".to_owned()
            }
        },
        |kind| kind.mime_type().to_owned(),
    )
}

/// What an upload named `name` by the browser is, under a fresh id, if it
/// may be stored at all (not empty, not too large).
pub fn describe(limits: &FileLimits, name: &str, bytes: &[u8]) -> Result<Attachment, FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(FileError::TooLarge {
            got: bytes.len(),
            max: limits.max_bytes,
        });
    }
    Ok(Attachment {
        id: AttachmentId::parse(&Uuid::new_v4().simple().to_string())
            .map_err(|e| FileError::Io(e.to_string()))?,
        name: file_name(name),
        size: bytes.len() as u64,
        content_type: sniff(bytes),
    })
}

/// Checks the ids a message names: at most `per_message`, none twice.
pub fn check_claim(limits: &FileLimits, ids: &[AttachmentId]) -> Result<(), FileError> {
    let max = limits.per_message;
    if ids.len() > max {
        return Err(FileError::TooMany {
            got: ids.len(),
            max,
        });
    }
    match (ids.iter().enumerate()).find(|(i, id)| ids[..*i].contains(id)) {
        Some((_, twice)) => Err(FileError::NotYours(twice.to_string())),
        None => Ok(()),
    }
}
