//! A viewer's place in a channel's live queue.
//!
//! Invariant: a channel has a live queue only while someone views it. A
//! queue allocates all its slots up front (`--live-queue` of them), so one
//! left behind by every channel a user once opened would pin memory for
//! nothing: the last `Live` of a channel to go removes its queue.

use super::{Core, Delivery};
use std::sync::{Arc, Weak};
use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};

pub struct Live {
    /// `None` only while being dropped.
    receiver: Option<broadcast::Receiver<Arc<Delivery>>>,
    key: String,
    core: Weak<Core>,
}

impl Live {
    pub(super) fn new(
        receiver: broadcast::Receiver<Arc<Delivery>>,
        key: String,
        core: &Arc<Core>,
    ) -> Self {
        Self {
            receiver: Some(receiver),
            key,
            core: Arc::downgrade(core),
        }
    }

    /// The next event (see `broadcast::Receiver::recv`).
    pub async fn recv(&mut self) -> Result<Arc<Delivery>, RecvError> {
        match &mut self.receiver {
            Some(receiver) => receiver.recv().await,
            None => Err(RecvError::Closed),
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<Arc<Delivery>, TryRecvError> {
        match &mut self.receiver {
            Some(receiver) => receiver.try_recv(),
            None => Err(TryRecvError::Closed),
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        drop(self.receiver.take());
        // Never dropped under the hub's lock: only sessions (and tests)
        // hold one.
        if let Some(core) = self.core.upgrade() {
            let mut inner = core.lock();
            let unwatched = (inner.live.get(&self.key)).is_some_and(|q| q.receiver_count() == 0);
            if unwatched {
                inner.live.remove(&self.key);
            }
        }
    }
}
