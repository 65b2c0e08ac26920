//! Attachments in Redis: their bytes live there, so every server can serve
//! every file. An upload is stored unclaimed (`file_put.lua`, within the
//! limits, sweeping expired ones); the post that claims it does so in the
//! same script that stores the message, and the files of a message that
//! goes are deleted there too (`propose.lua`).

use super::{Link, PREFIX};
use crate::blobs::{check_claim, describe, Blobs, Content, FileLimits, PENDING_TTL};
use crate::chat::{FileError, HubError};
use app::model::{Attachment, AttachmentId};
use bytes::Bytes;
use futures::future::BoxFuture;
use redis::{RedisError, Script};
use uuid::Uuid;

pub struct RedisBlobs {
    link: Link,
    limits: FileLimits,
}

impl RedisBlobs {
    pub fn new(link: Link, limits: FileLimits) -> Self {
        Self { link, limits }
    }

    async fn store(&self, owner: Uuid, name: &str, bytes: &[u8]) -> Result<Attachment, HubError> {
        let meta = describe(&self.limits, name, bytes)?;
        let json = serde_json::to_string(&meta).map_err(|_| HubError::Busy)?;
        let now = chrono::Utc::now().timestamp_millis();
        let reply: Result<String, RedisError> = Script::new(include_str!("file_put.lua"))
            .arg(meta.id.to_string())
            .arg(owner.to_string())
            .arg(json)
            .arg(meta.size)
            .arg(self.limits.total_bytes)
            .arg(now)
            .arg(PENDING_TTL.as_millis() as u64)
            .arg(bytes)
            .arg(self.limits.per_user_bytes)
            .invoke_async(&mut self.link.conn.clone())
            .await;
        match reply.as_deref() {
            Ok("ok") => Ok(meta),
            Ok(refused) => Err(HubError::Attachment(match refused.strip_prefix("quota:") {
                Some(held) => FileError::Quota {
                    held: held.parse().unwrap_or(0),
                    got: meta.size,
                    max: self.limits.per_user_bytes,
                },
                None => FileError::Full,
            })),
            Err(err) => Err(self.link.failed("upload", err)),
        }
    }

    /// `owner`'s unsent uploads `ids` (Redis checks again, atomically,
    /// when the message is stored).
    async fn pending(
        &self,
        owner: Uuid,
        ids: &[AttachmentId],
    ) -> Result<Vec<Attachment>, HubError> {
        check_claim(&self.limits, ids)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let (meta, holder, pending) = self.info(id).await?;
            let mine = pending && holder.as_deref() == Some(owner.to_string().as_str());
            match meta.filter(|_| mine) {
                Some(meta) => found.push(meta),
                None => return Err(HubError::Attachment(FileError::NotYours(id.to_string()))),
            }
        }
        Ok(found)
    }

    async fn served(&self, id: &AttachmentId) -> Result<Option<(Attachment, Content)>, HubError> {
        let (meta, _, pending) = self.info(id).await?;
        let Some(meta) = meta.filter(|_| !pending) else {
            return Ok(None);
        };
        let bytes: Result<Option<Vec<u8>>, RedisError> = redis::cmd("HGET")
            .arg(format!("{PREFIX}file:{id}"))
            .arg("bytes")
            .query_async(&mut self.link.conn.clone())
            .await;
        match bytes {
            Ok(bytes) => Ok(bytes.map(|b| (meta, Content::InMemory(Bytes::from(b))))),
            Err(err) => Err(self.link.failed("download", &err)),
        }
    }

    /// `(meta, owner, pending)` of a file.
    async fn info(
        &self,
        id: &AttachmentId,
    ) -> Result<(Option<Attachment>, Option<String>, bool), HubError> {
        let reply: Result<(Option<String>, Option<String>, u8), RedisError> =
            Script::new(include_str!("file_info.lua"))
                .arg(id.to_string())
                .invoke_async(&mut self.link.conn.clone())
                .await;
        match reply {
            Ok((meta, owner, pending)) => {
                let meta = meta.and_then(|json| serde_json::from_str(&json).ok());
                Ok((meta, owner, pending == 1))
            }
            Err(err) => Err(self.link.failed("file", &err)),
        }
    }
}

impl Blobs for RedisBlobs {
    fn limits(&self) -> &FileLimits {
        &self.limits
    }

    fn put(
        &self,
        owner: Uuid,
        name: String,
        bytes: Bytes,
    ) -> BoxFuture<'_, Result<Attachment, HubError>> {
        Box::pin(async move { self.store(owner, &name, &bytes).await })
    }

    fn claim<'a>(
        &'a self,
        owner: Uuid,
        ids: &'a [AttachmentId],
    ) -> BoxFuture<'a, Result<Vec<Attachment>, HubError>> {
        Box::pin(self.pending(owner, ids))
    }

    fn get<'a>(&'a self, id: &'a AttachmentId) -> BoxFuture<'a, Option<(Attachment, Content)>> {
        Box::pin(async move { self.served(id).await.ok().flatten() })
    }
}
