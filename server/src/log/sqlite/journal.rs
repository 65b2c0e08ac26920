//! The journal's thread: takes proposals in ticket order, commits them in
//! batches (group commit), then has the hub apply each batch and writes
//! what it accepted to the tables in the next transaction.
//!
//! Invariants:
//! - A batch is applied only after its commit returned: what the hub
//!   shows survives `kill -9`.
//! - Whatever queued up while one commit was syncing goes into the next
//!   transaction, so throughput does not collapse to one fsync per change.
//! - The tables and the `applied` position move together, in one
//!   transaction; journal entries at or before it are deleted with them.
//! - A commit that keeps failing stops the log (fail-stop): nothing in it
//!   was applied or acknowledged, and a restart resumes from the last
//!   good commit.

use super::tables;
use crate::chat::{Entry, Keep};
use crate::log::settlements::Settlements;
use crate::log::Sink;
use rusqlite::{params, Connection};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most entries committed in one transaction.
const MAX_BATCH: usize = 4096;
/// Attempts at a failing commit before the log stops.
const COMMIT_ATTEMPTS: u32 = 5;
/// How long applied entries may wait for the next batch before they are
/// written to the tables on their own.
const IDLE_WRITE: Duration = Duration::from_millis(500);

pub struct Journal {
    pub conn: Connection,
    pub path: PathBuf,
    pub proposals: Receiver<(u64, Entry)>,
    pub sink: Arc<dyn Sink>,
    pub settlements: Arc<Settlements>,
    /// The last position in the journal.
    pub lsn: u64,
    /// Entries applied but not yet written to the tables, and the position
    /// they bring the tables to.
    pub unwritten: Vec<Entry>,
    pub behind: Option<u64>,
    /// Cancelled when the log stops for good.
    pub failed: CancellationToken,
}

impl Journal {
    /// Runs until every proposer is gone (shutdown), then writes the
    /// tables up to date.
    pub fn run(mut self) {
        while let Some(batch) = self.next_batch() {
            if !self.commit_or_stop(&batch) {
                return;
            }
            if !batch.is_empty() {
                self.apply(batch);
            }
        }
        if self.behind.is_some() {
            self.commit_or_stop(&[]);
        }
    }

    /// The next proposals (none: time to write the tables); `None` once
    /// every proposer is gone.
    fn next_batch(&mut self) -> Option<Vec<(u64, Entry)>> {
        let first = if self.behind.is_none() {
            self.proposals.recv().ok()?
        } else {
            match self.proposals.recv_timeout(IDLE_WRITE) {
                Ok(first) => first,
                Err(RecvTimeoutError::Timeout) => return Some(Vec::new()),
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match self.proposals.try_recv() {
                Ok(next) => batch.push(next),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        Some(batch)
    }

    /// Commits, retrying a few times; false (and the log stopped) when it
    /// cannot.
    fn commit_or_stop(&mut self, batch: &[(u64, Entry)]) -> bool {
        let mut attempt = 1;
        loop {
            match self.commit(batch) {
                Ok(()) => return true,
                Err(e) if attempt < COMMIT_ATTEMPTS => {
                    let path = self.path.display();
                    tracing::warn!(attempt, "commit to {path} failed, retrying: {e}");
                    std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!("cannot write to {}: {e}; stopping", self.path.display());
                    self.failed.cancel();
                    return false;
                }
            }
        }
    }

    /// One transaction: the batch into the journal, and the entries
    /// applied before it into the tables.
    fn commit(&mut self, batch: &[(u64, Entry)]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut insert =
                tx.prepare_cached("INSERT INTO journal (lsn, entry) VALUES (?1, ?2)")?;
            for (i, (_, entry)) in batch.iter().enumerate() {
                let json = serde_json::to_string(entry)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                insert.execute(params![(self.lsn + 1 + i as u64) as i64, json])?;
            }
        }
        if let Some(behind) = self.behind {
            for entry in &self.unwritten {
                tables::write(&tx, entry)?;
            }
            tx.execute(
                "UPDATE applied SET lsn = ?1 WHERE id = 1",
                params![behind as i64],
            )?;
            tx.execute(
                "DELETE FROM journal WHERE lsn <= ?1",
                params![behind as i64],
            )?;
        }
        tx.commit()?;
        self.lsn += batch.len() as u64;
        self.unwritten.clear();
        self.behind = None;
        Ok(())
    }

    /// Has the hub apply a committed batch, settles its tickets, and keeps
    /// what it accepted for the tables.
    fn apply(&mut self, batch: Vec<(u64, Entry)>) {
        let (tickets, entries): (Vec<u64>, Vec<Entry>) = batch.into_iter().unzip();
        let committed = self.sink.apply(entries, Keep::Accepted);
        for (ticket, done) in tickets.into_iter().zip(committed) {
            self.unwritten.extend(done.accepted);
            self.settlements.decided(ticket, None, done.outcome);
        }
        self.behind = Some(self.lsn);
    }
}
