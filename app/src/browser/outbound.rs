//! The queue of frames for the tab's socket: `state` and the components
//! put frames in, the socket task (`client::socket`) takes them out.
//!
//! Invariant: the queue is small and lossy on purpose. Frames issued
//! while disconnected (or past its bound) are dropped: everything that
//! matters (the open channel, the outbox) is re-derived from `Chat` on
//! connect.

use crate::model::ChannelName;
use crate::protocol::ClientFrame;

/// Frames waiting for the socket task; small, since the UI issues them at
/// human speed.
#[cfg(feature = "browser")]
const QUEUE: usize = 256;

#[cfg(feature = "browser")]
thread_local! {
    static QUEUED: std::cell::RefCell<Option<futures::channel::mpsc::Sender<ClientFrame>>> =
        const { std::cell::RefCell::new(None) };
}

/// Opens the queue and hands its receiving end to the socket task (`None`
/// when it is already open: one socket per tab).
#[cfg(feature = "browser")]
pub fn open() -> Option<futures::channel::mpsc::Receiver<ClientFrame>> {
    QUEUED.with(|queued| {
        let mut queued = queued.borrow_mut();
        if queued.is_some() {
            return None;
        }
        let (tx, rx) = futures::channel::mpsc::channel(QUEUE);
        *queued = Some(tx);
        Some(rx)
    })
}

/// Queues `frame` for the socket (no-op on the server, or before the
/// socket task started).
pub fn send(frame: ClientFrame) {
    #[cfg(feature = "browser")]
    QUEUED.with(|queued| {
        if let Some(tx) = queued.borrow_mut().as_mut() {
            // Full or closed: the frame is re-derived from `Chat` on reconnect.
            let _ = tx.try_send(frame);
        }
    });
    #[cfg(not(feature = "browser"))]
    let _ = frame;
}

/// Views `channel` from after `after`.
pub fn join(channel: ChannelName, after: Option<u64>) {
    send(ClientFrame::Join { channel, after });
}

/// Tells the server this user is typing in `channel` (a hint: dropped
/// when disconnected).
pub fn typing(channel: ChannelName) {
    send(ClientFrame::Typing { channel });
}

/// Moves this user's read position in `channel`.
pub fn read(channel: ChannelName, seq: u64) {
    send(ClientFrame::Read { channel, seq });
}
