//! A channel's threads: for each message that has replies kept only in
//! its thread, those replies (the `THREAD_LEN` most recent, oldest first).
//! Replies also sent to the channel live in the channel's ring instead.
//!
//! Invariant: every reply held here is indexed by its `seq` in `root_of`
//! and nowhere else; a thread is held only while its first message is in
//! the channel's ring (the channel removes it when that message goes).

use crate::chat::channel::Held;
use app::model::{Message, THREAD_LEN};
use std::collections::{HashMap, VecDeque};

#[derive(Default)]
pub struct Threads {
    replies: HashMap<u64, VecDeque<Held>>,
    root_of: HashMap<u64, u64>,
}

impl Threads {
    /// Adds a reply to the thread of `root`; returns the replies that
    /// left to keep it to `THREAD_LEN`.
    pub fn add(&mut self, root: u64, held: Held) -> Vec<Message> {
        self.root_of.insert(held.message.seq, root);
        let thread = self.replies.entry(root).or_default();
        thread.push_back(held);
        let mut gone = Vec::new();
        while thread.len() > THREAD_LEN {
            if let Some(old) = thread.pop_front() {
                self.root_of.remove(&old.message.seq);
                gone.push(old.message);
            }
        }
        gone
    }

    /// The reply `id` held here, if any.
    pub fn get(&self, id: u64) -> Option<&Held> {
        let root = self.root_of.get(&id)?;
        (self.replies.get(root)?.iter()).find(|h| h.message.seq == id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Held> {
        let root = self.root_of.get(&id)?;
        (self.replies.get_mut(root)?.iter_mut()).find(|h| h.message.seq == id)
    }

    /// Takes reply `id` out of its thread.
    pub fn remove(&mut self, id: u64) -> Option<Message> {
        let root = self.root_of.remove(&id)?;
        let thread = self.replies.get_mut(&root)?;
        let at = thread.iter().position(|h| h.message.seq == id)?;
        let gone = thread.remove(at)?.message;
        if thread.is_empty() {
            self.replies.remove(&root);
        }
        Some(gone)
    }

    /// Takes the whole thread of `root` out (its first message went).
    pub fn remove_thread(&mut self, root: u64) -> Vec<Message> {
        let Some(thread) = self.replies.remove(&root) else {
            return Vec::new();
        };
        (thread.into_iter())
            .map(|held| {
                self.root_of.remove(&held.message.seq);
                held.message
            })
            .collect()
    }

    /// The replies of `root` held here, oldest first.
    pub fn of(&self, root: u64) -> impl Iterator<Item = &Held> {
        self.replies.get(&root).into_iter().flatten()
    }

    /// Every reply held, thread by thread.
    pub fn all(&self) -> impl Iterator<Item = &Held> {
        self.replies.values().flatten()
    }
}
