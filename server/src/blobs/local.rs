//! Attachments kept by this server: in memory, or on disk (`--data-dir`),
//! one file per id. On disk a file is written to a temporary name, synced,
//! then renamed, so a crash never leaves half a file under a real id; that
//! and every deletion run on the blocking pool.
//!
//! Invariant: `total` and `by_owner` are the sizes of the files held, so
//! space is reserved before an upload is written and given back when a
//! file goes.

use super::{check_claim, describe, Blobs, Content, FileLimits, PENDING_TTL};
use crate::chat::{FileError, HubError};
use app::model::{Attachment, AttachmentId};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use uuid::Uuid;

struct Held {
    meta: Attachment,
    /// Who uploaded it (unknown for a file read back whose author is gone).
    owner: Option<Uuid>,
    /// The uploader, while no message has claimed the file.
    pending_for: Option<(Uuid, Instant)>,
    bytes: Option<Bytes>,
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

    /// Reserves `size` bytes for `owner`, within both limits.
    fn admit(&mut self, limits: &FileLimits, owner: Uuid, size: u64) -> Result<(), FileError> {
        let held = self.by_owner.get(&owner).copied().unwrap_or(0);
        if held + size > limits.per_user_bytes {
            return Err(FileError::Quota {
                held,
                got: size,
                max: limits.per_user_bytes,
            });
        }
        if self.total + size > limits.total_bytes {
            return Err(FileError::Full);
        }
        self.reserve(Some(owner), size);
        Ok(())
    }
}

pub struct LocalBlobs {
    limits: FileLimits,
    /// Where files live on disk (`None`: in memory).
    dir: Option<PathBuf>,
    held: Mutex<Inner>,
    /// Where blocking file I/O runs (taken when opened: deletions are also
    /// asked for from the journal's thread, which has no runtime).
    runtime: Option<tokio::runtime::Handle>,
}

impl LocalBlobs {
    pub fn in_memory(limits: FileLimits) -> Self {
        Self {
            limits,
            dir: None,
            held: Mutex::new(Inner::default()),
            runtime: None,
        }
    }

    /// Files kept in `dir` (created if missing).
    pub fn on_disk(limits: FileLimits, dir: &Path) -> Result<Self, FileError> {
        std::fs::create_dir_all(dir).map_err(|e| FileError::Io(e.to_string()))?;
        Ok(Self {
            dir: Some(dir.to_owned()),
            runtime: tokio::runtime::Handle::try_current().ok(),
            ..Self::in_memory(limits)
        })
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Every change is a few inserts: a panic cannot leave it torn.
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn path(&self, id: &AttachmentId) -> Option<PathBuf> {
        self.dir.as_ref().map(|dir| dir.join(id.as_str()))
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
        let expired: Vec<AttachmentId> = (self.inner().files.iter())
            .filter(|(_, h)| {
                h.pending_for
                    .is_some_and(|(_, at)| at.elapsed() > PENDING_TTL)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if !expired.is_empty() {
            self.remove(expired);
        }
    }

    async fn store(
        &self,
        owner: Uuid,
        name: String,
        bytes: Bytes,
    ) -> Result<Attachment, FileError> {
        let meta = describe(&self.limits, &name, &bytes)?;
        self.expire_pending();
        // Reserved first, so concurrent uploads cannot overshoot.
        self.inner().admit(&self.limits, owner, meta.size)?;
        let kept = match self.path(&meta.id) {
            Some(path) => blocking(&self.runtime, move || write_durably(&path, &bytes))
                .await
                .map(|()| None),
            None => Ok(Some(bytes)),
        };
        let mut inner = self.inner();
        let bytes = kept.inspect_err(|_| inner.release(Some(owner), meta.size))?;
        let held = Held {
            meta: meta.clone(),
            owner: Some(owner),
            pending_for: Some((owner, Instant::now())),
            bytes,
        };
        inner.files.insert(meta.id.clone(), held);
        Ok(meta)
    }

    fn take(&self, owner: Uuid, ids: &[AttachmentId]) -> Result<Vec<Attachment>, FileError> {
        check_claim(&self.limits, ids)?;
        let mut inner = self.inner();
        for id in ids {
            let mine = (inner.files.get(id))
                .is_some_and(|h| h.pending_for.is_some_and(|(by, _)| by == owner));
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

    fn served(&self, id: &AttachmentId) -> Option<(Attachment, Content)> {
        let inner = self.inner();
        let held = inner.files.get(id).filter(|h| h.pending_for.is_none())?;
        let content = match (&held.bytes, self.path(id)) {
            (Some(bytes), _) => Content::InMemory(bytes.clone()),
            (None, Some(path)) => Content::OnDisk(path),
            (None, None) => return None,
        };
        Some((held.meta.clone(), content))
    }

    /// Deletes every file in the directory that is not held.
    fn sweep_strays(&self) {
        let Some(dir) = &self.dir else { return };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let inner = self.inner();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let known = AttachmentId::parse(&name).is_ok_and(|id| inner.files.contains_key(&id));
            if !known {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

impl Blobs for LocalBlobs {
    fn limits(&self) -> &FileLimits {
        &self.limits
    }

    fn put(
        &self,
        owner: Uuid,
        name: String,
        bytes: Bytes,
    ) -> BoxFuture<'_, Result<Attachment, HubError>> {
        Box::pin(async move { Ok(self.store(owner, name, bytes).await?) })
    }

    fn claim<'a>(
        &'a self,
        owner: Uuid,
        ids: &'a [AttachmentId],
    ) -> BoxFuture<'a, Result<Vec<Attachment>, HubError>> {
        Box::pin(std::future::ready(
            self.take(owner, ids).map_err(Into::into),
        ))
    }

    fn unclaim(&self, owner: Uuid, ids: &[AttachmentId]) {
        let mut inner = self.inner();
        for id in ids {
            if let Some(held) = inner.files.get_mut(id) {
                held.pending_for = Some((owner, Instant::now()));
            }
        }
    }

    fn get<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, Option<(Attachment, Content)>> {
        Box::pin(std::future::ready(self.served(id)))
    }

    fn remove(&self, ids: Vec<AttachmentId>) {
        let mut paths = Vec::new();
        {
            let mut inner = self.inner();
            for id in &ids {
                if let Some(held) = inner.files.remove(id) {
                    inner.release(held.owner, held.meta.size);
                    paths.extend(self.path(id));
                }
            }
        }
        if !paths.is_empty() {
            in_background(&self.runtime, move || {
                for path in paths {
                    let _ = std::fs::remove_file(path);
                }
            });
        }
    }

    /// Called once, before serving: what is not held is deleted.
    fn restore(&self, attached: Vec<(Option<Uuid>, Attachment)>) {
        {
            let mut inner = self.inner();
            for (owner, meta) in attached {
                inner.reserve(owner, meta.size);
                let held = Held {
                    meta: meta.clone(),
                    owner,
                    pending_for: None,
                    bytes: None,
                };
                inner.files.insert(meta.id, held);
            }
        }
        self.sweep_strays();
    }
}

/// Runs blocking file I/O on the blocking pool (inline without a runtime:
/// in tests).
async fn blocking<T: Send + 'static>(
    runtime: &Option<tokio::runtime::Handle>,
    work: impl FnOnce() -> Result<T, FileError> + Send + 'static,
) -> Result<T, FileError> {
    match runtime {
        Some(runtime) => {
            (runtime.spawn_blocking(work).await).map_err(|e| FileError::Io(e.to_string()))?
        }
        None => work(),
    }
}

/// Runs `work` on the blocking pool without waiting (inline without a
/// runtime: in tests).
fn in_background(runtime: &Option<tokio::runtime::Handle>, work: impl FnOnce() + Send + 'static) {
    match runtime {
        Some(runtime) => drop(runtime.spawn_blocking(work)),
        None => work(),
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

    fn files(total: u64) -> LocalBlobs {
        let limits = FileLimits {
            max_bytes: 100,
            per_message: 2,
            total_bytes: total,
            per_user_bytes: u64::MAX,
        };
        LocalBlobs::in_memory(limits)
    }

    #[tokio::test]
    async fn the_type_comes_from_the_bytes_not_the_name() {
        let files = files(1000);
        let user = Uuid::new_v4();
        let png = files
            .store(user, "notes.txt".into(), Bytes::from_static(PNG))
            .await
            .unwrap();
        assert_eq!(png.content_type, "image/png");
        assert!(png.is_image());
        let html = files
            .store(
                user,
                "cat.png".into(),
                Bytes::from_static(b"<html><script>x</script>"),
            )
            .await
            .unwrap();
        assert!(!html.is_image(), "{}", html.content_type);
        let svg = files
            .store(
                user,
                "a.svg".into(),
                Bytes::from_static(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            )
            .await
            .unwrap();
        assert!(!svg.is_image(), "SVG is never shown inline");
    }

    #[tokio::test]
    async fn limits_refuse_without_storing_anything() {
        let files = files(150);
        let user = Uuid::new_v4();
        assert_eq!(
            files
                .store(user, "big".into(), Bytes::from(vec![1u8; 101]))
                .await,
            Err(FileError::TooLarge { got: 101, max: 100 })
        );
        assert_eq!(
            files.store(user, "none".into(), Bytes::new()).await,
            Err(FileError::Empty)
        );
        files
            .store(user, "a".into(), Bytes::from(vec![1u8; 100]))
            .await
            .unwrap();
        assert_eq!(
            files
                .store(user, "b".into(), Bytes::from(vec![1u8; 60]))
                .await,
            Err(FileError::Full)
        );
        assert_eq!(files.total_bytes(), 100);
    }

    #[tokio::test]
    async fn one_uploader_cannot_fill_the_space_for_everyone() {
        let limits = FileLimits {
            max_bytes: 100,
            per_message: 2,
            total_bytes: 1000,
            per_user_bytes: 120,
        };
        let files = LocalBlobs::in_memory(limits);
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let a = files
            .store(alice, "a".into(), Bytes::from(vec![1u8; 100]))
            .await
            .unwrap();
        assert_eq!(
            files
                .store(alice, "b".into(), Bytes::from(vec![1u8; 30]))
                .await,
            Err(FileError::Quota {
                held: 100,
                got: 30,
                max: 120
            })
        );
        files
            .store(bob, "b".into(), Bytes::from(vec![1u8; 100]))
            .await
            .unwrap();
        assert_eq!(files.bytes_of(alice), 100);
        files.take(alice, std::slice::from_ref(&a.id)).unwrap();
        files.remove(vec![a.id.clone()]);
        assert_eq!(
            files.bytes_of(alice),
            0,
            "her space comes back with her files"
        );
        files
            .store(alice, "c".into(), Bytes::from(vec![1u8; 30]))
            .await
            .unwrap();
        assert_eq!(files.total_bytes(), 130);
    }

    #[tokio::test]
    async fn only_the_uploader_claims_a_file_and_only_once() {
        let files = files(1000);
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let a = files
            .store(alice, "a".into(), Bytes::from_static(b"a"))
            .await
            .unwrap();
        assert!(
            files.served(&a.id).is_none(),
            "pending files are not served"
        );
        assert!(matches!(
            files.take(bob, std::slice::from_ref(&a.id)),
            Err(FileError::NotYours(_))
        ));
        assert!(matches!(
            files.take(alice, &[a.id.clone(), a.id.clone()]),
            Err(FileError::NotYours(_))
        ));
        assert_eq!(
            files.take(alice, std::slice::from_ref(&a.id)).unwrap(),
            vec![a.clone()]
        );
        assert!(matches!(
            files.take(alice, std::slice::from_ref(&a.id)),
            Err(FileError::NotYours(_))
        ));
        assert!(files.served(&a.id).is_some());
        files.remove(vec![a.id.clone()]);
        assert!(files.served(&a.id).is_none());
        assert_eq!(files.total_bytes(), 0);
    }

    #[tokio::test]
    async fn on_disk_files_are_whole_and_removed_with_their_message() {
        let dir = tempfile::tempdir().unwrap();
        let files = LocalBlobs::on_disk(FileLimits::default(), dir.path()).unwrap();
        let user = Uuid::new_v4();
        let a = files
            .store(user, "../../etc/passwd".into(), Bytes::from_static(b"data"))
            .await
            .unwrap();
        assert_eq!(a.name, "passwd");
        files.take(user, std::slice::from_ref(&a.id)).unwrap();
        let path = dir.path().join(a.id.as_str());
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        // A restart keeps what messages reference and deletes the rest.
        let stray = files
            .store(user, "never sent".into(), Bytes::from_static(b"x"))
            .await
            .unwrap();
        let again = LocalBlobs::on_disk(FileLimits::default(), dir.path()).unwrap();
        again.restore(vec![(Some(user), a.clone())]);
        assert!(again.served(&a.id).is_some());
        assert!(!dir.path().join(stray.id.as_str()).exists());
        again.remove(vec![a.id.clone()]);
        assert!(again.served(&a.id).is_none());
        // Deleting the file itself happens on the blocking pool.
        for _ in 0..500 {
            if !path.exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{} was not deleted", path.display());
    }
}
