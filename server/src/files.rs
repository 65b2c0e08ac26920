//! Attachments: the bytes of uploaded files, owned by the hub. A file is
//! uploaded first (`store`), held as its uploader's until a message claims
//! it (`claim`), and deleted when that message is deleted or leaves the
//! 100-message window (`remove`), or, unclaimed, after `PENDING_TTL`.
//!
//! Invariants:
//! - A file's type is what its bytes are (sniffed with `infer`), never what
//!   the uploader said; only PNG, JPEG, GIF and WebP are shown inline.
//! - Ids are 128 random bits; a file is served only under its id.
//! - The bytes held (in memory, or on disk under `--data-dir`) never exceed
//!   `total_bytes`; a refused upload stores nothing. On disk a file is
//!   written to a temporary name, synced, then renamed, so a crash never
//!   leaves half a file under a real id.
//! - Only the uploader can claim a pending file, and only once.

use app::model::{file_name, Attachment, AttachmentId};
use axum::body::Bytes;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
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

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the file is empty")]
    Empty,
    #[error("the file is {got} bytes; the limit is {max} bytes")]
    TooLarge { got: usize, max: usize },
    #[error("the server's space for attachments is full; try again later")]
    Full,
    #[error(
        "your attachments take {held} bytes and this one {got} more; one person may keep \
         {max} bytes (older files go as their messages leave the last 100)"
    )]
    Quota { held: u64, got: u64, max: u64 },
    #[error("attachment {0} is not one of your unsent uploads")]
    NotYours(String),
    #[error("{got} attachments; a message can have at most {max}")]
    TooMany { got: usize, max: usize },
    #[error("the file could not be stored: {0}")]
    Io(String),
}

/// The bytes of a file to serve.
pub enum Content {
    InMemory(Bytes),
    OnDisk(PathBuf),
}

struct Held {
    meta: Attachment,
    /// Who uploaded it (unknown for a file read back whose author is gone).
    owner: Option<Uuid>,
    /// The uploader, while no message has claimed the file.
    pending_for: Option<(Uuid, Instant)>,
    bytes: Option<Bytes>,
}

#[derive(Clone)]
pub struct Files {
    shared: Arc<Shared>,
}

struct Shared {
    limits: FileLimits,
    /// Where files live with a data dir; in memory otherwise.
    dir: Option<PathBuf>,
    held: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    files: HashMap<AttachmentId, Held>,
    total: u64,
    /// Bytes held per uploader (absent: none).
    by_owner: HashMap<Uuid, u64>,
}

impl Inner {
    fn reserve(&mut self, owner: Option<Uuid>, size: u64) {
        self.total += size;
        if let Some(owner) = owner {
            *self.by_owner.entry(owner).or_default() += size;
        }
    }

    fn release(&mut self, owner: Option<Uuid>, size: u64) {
        self.total = self.total.saturating_sub(size);
        let Some(owner) = owner else { return };
        if let Some(held) = self.by_owner.get_mut(&owner) {
            *held = held.saturating_sub(size);
            if *held == 0 {
                self.by_owner.remove(&owner);
            }
        }
    }
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

impl Files {
    /// Files kept in `dir` (created if missing), or in memory.
    pub fn open(limits: FileLimits, dir: Option<&Path>) -> Result<Self, FileError> {
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir).map_err(|e| FileError::Io(e.to_string()))?;
        }
        Ok(Self::with(limits, dir.map(Path::to_owned)))
    }

    /// Files kept in memory.
    pub fn in_memory(limits: FileLimits) -> Self {
        Self::with(limits, None)
    }

    fn with(limits: FileLimits, dir: Option<PathBuf>) -> Self {
        Self {
            shared: Arc::new(Shared {
                limits,
                dir,
                held: Mutex::new(Inner::default()),
            }),
        }
    }

    pub fn limits(&self) -> &FileLimits {
        &self.shared.limits
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.shared.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, id: &AttachmentId) -> Option<PathBuf> {
        self.shared.dir.as_ref().map(|dir| dir.join(id.as_str()))
    }

    /// After a restart: the files that stored messages still reference.
    /// Anything else in the directory (an upload never sent, a file whose
    /// message went while the server was down) is deleted.
    pub fn restore(&self, attached: impl IntoIterator<Item = (Option<Uuid>, Attachment)>) {
        let mut inner = self.inner();
        for (owner, meta) in attached {
            inner.reserve(owner, meta.size);
            inner.files.insert(
                meta.id.clone(),
                Held {
                    meta,
                    owner,
                    pending_for: None,
                    bytes: None,
                },
            );
        }
        let Some(dir) = &self.shared.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let known = AttachmentId::parse(&name).is_ok_and(|id| inner.files.contains_key(&id));
            if !known {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// What an upload named `name` by the browser is, under a fresh id,
    /// if it may be stored at all (not empty, not too large).
    pub fn describe(&self, name: &str, bytes: &[u8]) -> Result<Attachment, FileError> {
        let limits = &self.shared.limits;
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
    pub fn check_claim(&self, ids: &[AttachmentId]) -> Result<(), FileError> {
        let max = self.shared.limits.per_message;
        if ids.len() > max {
            return Err(FileError::TooMany {
                got: ids.len(),
                max,
            });
        }
        match ids
            .iter()
            .enumerate()
            .find(|(i, id)| ids[..*i].contains(id))
        {
            Some((_, twice)) => Err(FileError::NotYours(twice.to_string())),
            None => Ok(()),
        }
    }

    /// Stores an upload of `user`'s, named `name` by the browser.
    pub fn store(&self, user: Uuid, name: &str, bytes: Bytes) -> Result<Attachment, FileError> {
        let limits = &self.shared.limits;
        let meta = self.describe(name, &bytes)?;
        self.expire_pending();
        // Reserve the space first, so concurrent uploads cannot overshoot.
        {
            let mut inner = self.inner();
            let held = inner.by_owner.get(&user).copied().unwrap_or(0);
            if held + meta.size > limits.per_user_bytes {
                return Err(FileError::Quota {
                    held,
                    got: meta.size,
                    max: limits.per_user_bytes,
                });
            }
            if inner.total + meta.size > limits.total_bytes {
                return Err(FileError::Full);
            }
            inner.reserve(Some(user), meta.size);
        }
        let kept = match self.path(&meta.id) {
            Some(path) => write_durably(&path, &bytes).map(|()| None),
            None => Ok(Some(bytes)),
        };
        let mut inner = self.inner();
        match kept {
            Ok(bytes) => {
                inner.files.insert(
                    meta.id.clone(),
                    Held {
                        meta: meta.clone(),
                        owner: Some(user),
                        pending_for: Some((user, Instant::now())),
                        bytes,
                    },
                );
                Ok(meta)
            }
            Err(e) => {
                inner.release(Some(user), meta.size);
                Err(e)
            }
        }
    }

    /// Hands `user`'s pending uploads `ids` to a message; all or none.
    pub fn claim(&self, user: Uuid, ids: &[AttachmentId]) -> Result<Vec<Attachment>, FileError> {
        self.check_claim(ids)?;
        let mut inner = self.inner();
        for id in ids {
            let mine = inner
                .files
                .get(id)
                .is_some_and(|h| h.pending_for.is_some_and(|(owner, _)| owner == user));
            if !mine {
                return Err(FileError::NotYours(id.to_string()));
            }
        }
        Ok(ids
            .iter()
            .filter_map(|id| {
                let held = inner.files.get_mut(id)?;
                held.pending_for = None;
                Some(held.meta.clone())
            })
            .collect())
    }

    /// Gives claimed files back to `user` (the message was not stored).
    pub fn unclaim(&self, user: Uuid, ids: &[AttachmentId]) {
        let mut inner = self.inner();
        for id in ids {
            if let Some(held) = inner.files.get_mut(id) {
                held.pending_for = Some((user, Instant::now()));
            }
        }
    }

    /// Deletes files (their message is gone).
    pub fn remove<'a>(&self, ids: impl IntoIterator<Item = &'a AttachmentId>) {
        let mut gone = Vec::new();
        {
            let mut inner = self.inner();
            for id in ids {
                if let Some(held) = inner.files.remove(id) {
                    inner.release(held.owner, held.meta.size);
                    gone.push(id.clone());
                }
            }
        }
        for id in gone {
            if let Some(path) = self.path(&id) {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    /// A claimed file (attached to a message) and where its bytes are.
    pub fn get(&self, id: &AttachmentId) -> Option<(Attachment, Content)> {
        let inner = self.inner();
        let held = inner.files.get(id)?;
        if held.pending_for.is_some() {
            return None;
        }
        let content = match (&held.bytes, self.path(id)) {
            (Some(bytes), _) => Content::InMemory(bytes.clone()),
            (None, Some(path)) => Content::OnDisk(path),
            (None, None) => return None,
        };
        Some((held.meta.clone(), content))
    }

    /// How many bytes are held (for tests and metrics).
    pub fn total_bytes(&self) -> u64 {
        self.inner().total
    }

    /// How many bytes of `user`'s are held (for tests).
    pub fn bytes_of(&self, user: Uuid) -> u64 {
        self.inner().by_owner.get(&user).copied().unwrap_or(0)
    }

    /// Deletes uploads no message claimed within `PENDING_TTL`.
    fn expire_pending(&self) {
        let expired: Vec<AttachmentId> = self
            .inner()
            .files
            .iter()
            .filter(|(_, h)| {
                h.pending_for
                    .is_some_and(|(_, at)| at.elapsed() > PENDING_TTL)
            })
            .map(|(id, _)| id.clone())
            .collect();
        self.remove(&expired);
    }
}

/// Writes `bytes` to `path` so that it is either whole or absent.
fn write_durably(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let io = |e: std::io::Error| FileError::Io(e.to_string());
    let temp = path.with_extension("part");
    let mut file = std::fs::File::create(&temp).map_err(io)?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if let Err(e) = written.and_then(|()| std::fs::rename(&temp, path)) {
        let _ = std::fs::remove_file(&temp);
        return Err(io(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 0];

    fn files(total: u64) -> Files {
        let limits = FileLimits {
            max_bytes: 100,
            per_message: 2,
            total_bytes: total,
            per_user_bytes: u64::MAX,
        };
        Files::open(limits, None).unwrap()
    }

    #[test]
    fn the_type_comes_from_the_bytes_not_the_name() {
        let files = files(1000);
        let user = Uuid::new_v4();
        let png = files
            .store(user, "notes.txt", Bytes::from_static(PNG))
            .unwrap();
        assert_eq!(png.content_type, "image/png");
        assert!(png.is_image());
        let html = files
            .store(
                user,
                "cat.png",
                Bytes::from_static(b"<html><script>x</script>"),
            )
            .unwrap();
        assert!(!html.is_image(), "{}", html.content_type);
        let svg = files
            .store(
                user,
                "a.svg",
                Bytes::from_static(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            )
            .unwrap();
        assert!(!svg.is_image(), "SVG is never shown inline");
    }

    #[test]
    fn limits_refuse_without_storing_anything() {
        let files = files(150);
        let user = Uuid::new_v4();
        assert_eq!(
            files.store(user, "big", Bytes::from(vec![1u8; 101])),
            Err(FileError::TooLarge { got: 101, max: 100 })
        );
        assert_eq!(
            files.store(user, "none", Bytes::new()),
            Err(FileError::Empty)
        );
        files.store(user, "a", Bytes::from(vec![1u8; 100])).unwrap();
        assert_eq!(
            files.store(user, "b", Bytes::from(vec![1u8; 60])),
            Err(FileError::Full)
        );
        assert_eq!(files.total_bytes(), 100);
    }

    #[test]
    fn one_uploader_cannot_fill_the_space_for_everyone() {
        let limits = FileLimits {
            max_bytes: 100,
            per_message: 2,
            total_bytes: 1000,
            per_user_bytes: 120,
        };
        let files = Files::open(limits, None).unwrap();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let a = files
            .store(alice, "a", Bytes::from(vec![1u8; 100]))
            .unwrap();
        assert_eq!(
            files.store(alice, "b", Bytes::from(vec![1u8; 30])),
            Err(FileError::Quota {
                held: 100,
                got: 30,
                max: 120
            })
        );
        files.store(bob, "b", Bytes::from(vec![1u8; 100])).unwrap();
        assert_eq!(files.bytes_of(alice), 100);
        files.claim(alice, std::slice::from_ref(&a.id)).unwrap();
        files.remove([&a.id]);
        assert_eq!(
            files.bytes_of(alice),
            0,
            "her space comes back with her files"
        );
        files.store(alice, "c", Bytes::from(vec![1u8; 30])).unwrap();
        assert_eq!(files.total_bytes(), 130);
    }

    #[test]
    fn only_the_uploader_claims_a_file_and_only_once() {
        let files = files(1000);
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let a = files.store(alice, "a", Bytes::from_static(b"a")).unwrap();
        assert!(files.get(&a.id).is_none(), "pending files are not served");
        assert!(matches!(
            files.claim(bob, std::slice::from_ref(&a.id)),
            Err(FileError::NotYours(_))
        ));
        assert!(matches!(
            files.claim(alice, &[a.id.clone(), a.id.clone()]),
            Err(FileError::NotYours(_))
        ));
        assert_eq!(
            files.claim(alice, std::slice::from_ref(&a.id)).unwrap(),
            vec![a.clone()]
        );
        assert!(matches!(
            files.claim(alice, std::slice::from_ref(&a.id)),
            Err(FileError::NotYours(_))
        ));
        assert!(files.get(&a.id).is_some());
        files.remove([&a.id]);
        assert!(files.get(&a.id).is_none());
        assert_eq!(files.total_bytes(), 0);
    }

    #[test]
    fn on_disk_files_are_whole_and_removed_with_their_message() {
        let dir = tempfile::tempdir().unwrap();
        let files = Files::open(FileLimits::default(), Some(dir.path())).unwrap();
        let user = Uuid::new_v4();
        let a = files
            .store(user, "../../etc/passwd", Bytes::from_static(b"data"))
            .unwrap();
        assert_eq!(a.name, "passwd");
        files.claim(user, std::slice::from_ref(&a.id)).unwrap();
        let path = dir.path().join(a.id.as_str());
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        // A restart keeps what messages reference and deletes the rest.
        let stray = files
            .store(user, "never sent", Bytes::from_static(b"x"))
            .unwrap();
        let again = Files::open(FileLimits::default(), Some(dir.path())).unwrap();
        again.restore([(Some(user), a.clone())]);
        assert!(again.get(&a.id).is_some());
        assert!(!dir.path().join(stray.id.as_str()).exists());
        again.remove([&a.id]);
        assert!(!path.exists());
    }
}
