//! The SQLite log (`--data-dir`): an embedded database (WAL,
//! `synchronous=FULL`) written by one thread with group commit.
//!
//! A proposal is committed to the journal first, then applied, then its
//! effect written to the tables with the next commit; at start the tables
//! are read as a snapshot and the journal after them replayed. So the
//! state after a restart is the state before it, entry for entry.
//!
//! - `schema`: the migrations;
//! - `snapshot`: reading tables and journal back;
//! - `journal`: the thread that commits, applies and writes;
//! - `tables`: writing applied entries to the tables.

mod journal;
pub mod schema;
mod snapshot;
mod tables;

use super::settlements::Settlements;
use super::{Log, Opened, Proposed, Settled, Sink, Start, Ticket};
use crate::blobs::local::LocalBlobs;
use crate::blobs::FileLimits;
use crate::chat::{Entry, HubError};
use futures::future::BoxFuture;
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::sync::mpsc::SyncSender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use schema::{schema_version, SCHEMA_VERSION};

/// Name of the database file inside the data dir.
pub const DATABASE_FILE: &str = "flack.sqlite3";
/// The directory (in the data dir) holding attachments, one file per id.
pub const FILES_DIR: &str = "files";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data dir {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database error in {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database {path} was written by a newer Flack (schema {found}; this build knows up to {supported}); \
         refusing to touch it"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("the database {path} holds an invalid row: {detail}")]
    Corrupt { path: PathBuf, detail: String },
    #[error("cannot use the attachments directory {path}: {detail}")]
    Files { path: PathBuf, detail: String },
    #[error("cannot start the journal thread: {0}")]
    Thread(std::io::Error),
}

/// Where and how: the data dir, and how many proposals may wait for the
/// journal before more are refused as busy.
pub struct Settings {
    pub dir: PathBuf,
    pub queue: usize,
    pub files: FileLimits,
}

/// Opens (creating or migrating) the database in `settings.dir` and reads
/// it whole. Blocking: call it off the runtime. `failed` is cancelled if
/// the log later stops for good.
pub fn open(settings: Settings, failed: CancellationToken) -> Result<Opened, StoreError> {
    let Settings { dir, queue, files } = settings;
    let path = dir.join(DATABASE_FILE);
    let conn = connect(&dir, &path)?;
    let snapshot = snapshot::read_snapshot(&conn, &path)?;
    let (applied, journal) = snapshot::read_journal(&conn, &path)?;
    let lsn = journal.last().map_or(applied, |(lsn, _)| *lsn);
    let files_dir = dir.join(FILES_DIR);
    let blobs = LocalBlobs::on_disk(files, &files_dir).map_err(|e| StoreError::Files {
        path: files_dir,
        detail: e.to_string(),
    })?;
    Ok(Opened {
        server_id: uuid::Uuid::new_v4().to_string(),
        snapshot,
        replay: journal.into_iter().map(|(_, entry)| entry).collect(),
        blobs: Arc::new(blobs),
        start: Box::new(Starter {
            conn,
            path,
            queue,
            lsn,
            replayed_to: (lsn > applied).then_some(lsn),
            failed,
        }),
    })
}

fn connect(dir: &Path, path: &Path) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
        path: dir.to_owned(),
        source,
    })?;
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let mut conn = Connection::open(path).map_err(sql)?;
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )
    .map_err(sql)?;
    schema::migrate(&mut conn, path)?;
    Ok(conn)
}

struct Starter {
    conn: Connection,
    path: PathBuf,
    queue: usize,
    lsn: u64,
    /// The journal's last position, when replaying it changed the state
    /// beyond what the tables hold.
    replayed_to: Option<u64>,
    failed: CancellationToken,
}

impl Start for Starter {
    fn start(self: Box<Self>, sink: Arc<dyn Sink>, replayed: Vec<Entry>) -> Arc<dyn Log> {
        let (proposals, rx) = std::sync::mpsc::sync_channel(self.queue.max(1));
        let settlements = Arc::new(Settlements::new(0));
        let journal = journal::Journal {
            conn: self.conn,
            path: self.path,
            proposals: rx,
            sink,
            settlements: settlements.clone(),
            lsn: self.lsn,
            unwritten: replayed,
            behind: self.replayed_to,
            failed: self.failed.clone(),
        };
        let failed = self.failed.clone();
        let writer = std::thread::Builder::new()
            .name("flack-journal".into())
            .spawn(move || {
                // A panic here would leave every write waiting forever while
                // the server looks ready: stop instead, as after a commit
                // that keeps failing (a restart resumes from the last one).
                let run = std::panic::AssertUnwindSafe(|| journal.run());
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!("the journal thread panicked; stopping");
                    failed.cancel();
                }
            });
        let writer = writer.inspect_err(|e| {
            tracing::error!("cannot start the journal thread: {e}");
            self.failed.cancel();
        });
        Arc::new(Sqlite {
            queue: Mutex::new(Queue {
                last: 0,
                proposals: writer.is_ok().then_some(proposals),
            }),
            settlements,
            writer: Mutex::new(writer.ok()),
            failed: self.failed,
        })
    }
}

/// Where proposals wait for the journal, and the last ticket given.
struct Queue {
    last: u64,
    /// `None` once closed.
    proposals: Option<SyncSender<(u64, Entry)>>,
}

pub struct Sqlite {
    queue: Mutex<Queue>,
    settlements: Arc<Settlements>,
    writer: Mutex<Option<JoinHandle<()>>>,
    failed: CancellationToken,
}

impl Sqlite {
    fn queue(&self) -> MutexGuard<'_, Queue> {
        // A ticket and a send: nothing a panic could leave half-done.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Log for Sqlite {
    fn propose(&self, entry: Entry) -> Result<Proposed, HubError> {
        let mut queue = self.queue();
        let ticket = queue.last + 1;
        let sent =
            (queue.proposals.as_ref()).is_some_and(|tx| tx.try_send((ticket, entry)).is_ok());
        if !sent {
            // Full, stopped, or closed for shutdown: nothing was recorded.
            return Err(HubError::Busy);
        }
        queue.last = ticket;
        Ok(Proposed::Later(Ticket(ticket)))
    }

    fn settled(&self) -> Option<watch::Receiver<u64>> {
        Some(self.settlements.settled())
    }

    fn take(&self, ticket: Ticket) -> Option<Settled> {
        self.settlements.take(ticket)
    }

    fn unavailable(&self) -> Option<String> {
        if self.failed.is_cancelled() {
            return Some("the store failed".to_owned());
        }
        self.queue()
            .proposals
            .is_none()
            .then(|| "the store is closed".to_owned())
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        self.queue().proposals = None;
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        Box::pin(async move {
            let Some(writer) = writer else { return };
            let joined = tokio::task::spawn_blocking(move || writer.join()).await;
            if !matches!(joined, Ok(Ok(()))) {
                tracing::error!("the journal thread panicked");
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::state::ChannelContent;
    use crate::chat::Snapshot;
    use rusqlite::params;
    use schema::MIGRATIONS;
    use uuid::Uuid;

    /// What a database in `dir` holds, after migrating it.
    fn open(dir: &Path) -> Snapshot {
        let path = dir.join(DATABASE_FILE);
        let conn = connect(dir, &path).unwrap();
        snapshot::read_snapshot(&conn, &path).unwrap()
    }

    #[test]
    fn sessions_from_before_they_were_timed_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let hash = crate::chat::TokenHash::of("a token");
        let user = Uuid::new_v4();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            for migration in &MIGRATIONS[..4] {
                conn.execute_batch(migration).unwrap();
            }
            conn.pragma_update(None, "user_version", 4).unwrap();
            conn.execute(
                "INSERT INTO users (id, display_name, name_key) VALUES (?1, 'alice', 'alice')",
                params![user.to_string()],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO sessions (token_hash, user_id) VALUES (?1, ?2)",
                params![hash.as_bytes().as_slice(), user.to_string()],
            )
            .unwrap();
        }
        let snapshot = open(dir.path());
        assert_eq!(snapshot.sessions, vec![(hash, user, None)]);
    }

    #[test]
    fn a_version_1_database_is_migrated_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        {
            let conn = Connection::open(dir.path().join(DATABASE_FILE)).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO channels VALUES ('general', 'general', 'alice', '2026-11-25T12:00:00.000Z', 1, 1);
                 INSERT INTO messages VALUES ('general', 1, 'alice', 'kept', '2026-11-25T12:00:01.000Z', 'c1');",
            )
            .unwrap();
        }
        let snapshot = open(dir.path());
        let channel = &snapshot.channels[0];
        assert_eq!(channel.head, 1);
        let ChannelContent::Messages(messages) = &channel.content else {
            panic!("a table holds messages");
        };
        assert_eq!(messages[0].body.as_str(), "kept");
        assert_eq!(messages[0].edited_at, None);
        assert!(messages[0].reactions.is_empty());
        assert_eq!(
            schema_version(&dir.path().join(DATABASE_FILE)).unwrap(),
            Some(SCHEMA_VERSION)
        );
    }
}

/// The journal is what makes a restart exact: what it holds beyond the
/// tables is applied again, refusals included, then written to them.
#[cfg(test)]
mod replay {
    use super::*;
    use crate::chat::{Change, TokenHash};
    use crate::hub::{Hub, HubLimits};
    use app::model::{
        Channel, ChannelName, ClientId, DisplayName, Message, MessageBody, Timestamp,
    };
    use rusqlite::params;
    use uuid::Uuid;

    fn settings(dir: &Path) -> Settings {
        Settings {
            dir: dir.to_owned(),
            queue: 16,
            files: FileLimits::default(),
        }
    }

    fn user(name: &str) -> Entry {
        Entry::User {
            id: Uuid::new_v4(),
            name: DisplayName::parse(name).unwrap(),
            key: name.to_lowercase(),
            session: TokenHash::of(name),
            created_at: Timestamp::from_datetime(chrono::Utc::now()),
            replaces: None,
        }
    }

    fn channel(name: &str) -> (Entry, Message) {
        let name = ChannelName::parse(name).unwrap();
        let alice = DisplayName::parse("alice").unwrap();
        let at = Timestamp::from_datetime(chrono::Utc::now());
        let created = Entry::Channel {
            key: name.key(),
            channel: Channel {
                name: name.clone(),
                created_by: alice.clone(),
                created_at: at,
                topic: None,
            },
            position: 0,
        };
        let message = Message {
            channel: name,
            seq: 0,
            author: alice,
            body: MessageBody::parse("kept across a crash").unwrap(),
            sent_at: at,
            client_id: Some(ClientId::parse("c1").unwrap()),
            html: String::new(),
            edited_at: None,
            reactions: Vec::new(),
            mentions: Vec::new(),
            attachments: Vec::new(),
            reply_to: None,
            replies: None,
        };
        (created, message)
    }

    #[tokio::test]
    async fn a_journal_ahead_of_the_tables_is_replayed_then_written() {
        let dir = tempfile::tempdir().unwrap();
        let (created, message) = channel("general");
        let posted = Entry::Event {
            key: "general".into(),
            seq: 0,
            change: Change::Posted(message),
            send: None,
        };
        // As a crash leaves it: committed to the journal, not the tables.
        {
            let path = dir.path().join(DATABASE_FILE);
            let conn = connect(dir.path(), &path).unwrap();
            let journal = [user("alice"), user("ALICE"), created, posted];
            for (lsn, entry) in journal.iter().enumerate() {
                conn.execute(
                    "INSERT INTO journal (lsn, entry) VALUES (?1, ?2)",
                    params![lsn as i64 + 1, serde_json::to_string(entry).unwrap()],
                )
                .unwrap();
            }
        }
        let failed = CancellationToken::new();
        let hub = Hub::start(
            HubLimits::default(),
            open(settings(dir.path()), failed.clone()).unwrap(),
        );
        assert_eq!(hub.users().len(), 1, "the second alice is refused again");
        let general = ChannelName::parse("general").unwrap();
        let history = hub.history(None, &general).unwrap();
        assert_eq!(history.head, 1);
        assert_eq!(history.messages[0].body.as_str(), "kept across a crash");
        hub.close().await;
        // Closing wrote the tables: the journal is empty, the state the same.
        let path = dir.path().join(DATABASE_FILE);
        let conn = connect(dir.path(), &path).unwrap();
        let (applied, rest) = snapshot::read_journal(&conn, &path).unwrap();
        assert_eq!((applied, rest.len()), (4, 0));
        let again = Hub::start(
            HubLimits::default(),
            open(settings(dir.path()), failed).unwrap(),
        );
        assert_eq!(again.users().len(), 1);
        assert_eq!(again.history(None, &general).unwrap().messages.len(), 1);
    }
}
