//! The memory log: every proposal is committed at once, by applying it
//! through the sink in the caller's thread. Nothing survives the process.
//!
//! Invariant: the order of commits is the order in which proposals reach
//! the hub's lock, the same order in which they are applied.

use super::{Log, Opened, Proposed, Sink, Start};
use crate::blobs::{local::LocalBlobs, FileLimits};
use crate::chat::{Entry, HubError, Keep, Snapshot};
use futures::future::BoxFuture;
use std::sync::Arc;

pub struct Memory {
    sink: Arc<dyn Sink>,
}

/// An empty chat held in memory.
pub fn open(files: FileLimits) -> Opened {
    Opened {
        server_id: uuid::Uuid::new_v4().to_string(),
        snapshot: Snapshot::default(),
        replay: Vec::new(),
        blobs: Arc::new(LocalBlobs::in_memory(files)),
        start: Box::new(Starter),
    }
}

struct Starter;

impl Start for Starter {
    fn start(self: Box<Self>, sink: Arc<dyn Sink>, _replayed: Vec<Entry>) -> Arc<dyn Log> {
        Arc::new(Memory { sink })
    }
}

impl Log for Memory {
    fn propose(&self, entry: Entry) -> Result<Proposed, HubError> {
        let committed = self.sink.apply_one(entry, Keep::OutcomeOnly);
        Ok(Proposed::Now(committed.outcome))
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}
