//! The database's schema, as migrations. The version is SQLite's
//! `user_version`; a database from a newer Flack is refused rather than
//! misread.
//!
//! The tables hold the state as of the `applied` position; the `journal`
//! holds every entry committed since, in order, until the tables catch up.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;

/// The schema version this build writes (SQLite's `user_version`).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Entry `i` takes `user_version` from `i` to `i + 1`: 1, the first
/// schema; 2, edits and reactions; 3, attachments (JSON; the files
/// themselves in `FILES_DIR`); 4, read positions and when each user
/// signed up; 5, when each session was last used; 6, the journal; 7,
/// channel topics; 8, threads.
pub const MIGRATIONS: &[&str] = &[
    include_str!("schema/1.sql"),
    include_str!("schema/2.sql"),
    include_str!("schema/3.sql"),
    include_str!("schema/4.sql"),
    include_str!("schema/5.sql"),
    include_str!("schema/6.sql"),
    include_str!("schema/7.sql"),
    include_str!("schema/8.sql"),
];

/// Brings the database up to `SCHEMA_VERSION`, one transaction per step.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sql)?;
    let supported = SCHEMA_VERSION;
    if version > supported {
        return Err(StoreError::TooNew {
            path: path.to_owned(),
            found: version,
            supported,
        });
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().map_err(sql)?;
        tx.execute_batch(migration).map_err(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)
            .map_err(sql)?;
        tx.commit().map_err(sql)?;
    }
    Ok(())
}

/// Reads the schema version of a database file (for tests and diagnostics).
pub fn schema_version(path: &Path) -> rusqlite::Result<Option<i64>> {
    let conn = Connection::open(path)?;
    conn.pragma_query_value(None, "user_version", |row| row.get(0))
        .optional()
}
