//! The database file: its schema, how it is opened, and how SQLite's
//! errors and the rows' JSON bodies map to the port's.

use std::path::Path;

use rusqlite::{Connection, ErrorCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::state_store::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, domain TEXT NOT NULL UNIQUE,
    admin_key_hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
-- A tenant's active admin keys (the first one is in tenants too).
CREATE TABLE IF NOT EXISTS tenant_admin_keys (
    key_hash TEXT PRIMARY KEY, tenant_id TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS admin_keys_by_tenant ON tenant_admin_keys (tenant_id);
-- Superseded settings versions.
CREATE TABLE IF NOT EXISTS tenant_settings_versions (
    tenant_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, version));
CREATE TABLE IF NOT EXISTS sessions (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE IF NOT EXISTS conversations (
    tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, version INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, session_id));
CREATE TABLE IF NOT EXISTS messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS messages_by_session ON messages (tenant_id, session_id, seq);
CREATE TABLE IF NOT EXISTS goals (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS goals_by_session ON goals (tenant_id, session_id, seq);
CREATE TABLE IF NOT EXISTS goal_links (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL, session_id TEXT NOT NULL, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS links_by_session ON goal_links (tenant_id, session_id, seq);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    tenant_id TEXT NOT NULL, session_id TEXT, body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit_log (tenant_id, seq);
CREATE INDEX IF NOT EXISTS audit_by_session ON audit_log (tenant_id, session_id, seq);
CREATE TABLE IF NOT EXISTS documents (
    tenant_id TEXT NOT NULL, id TEXT NOT NULL, created_at TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE IF NOT EXISTS counters (
    scope TEXT NOT NULL, name TEXT NOT NULL, value INTEGER NOT NULL, PRIMARY KEY (scope, name));
-- One row per limit slot: window_end is the slot's end, count its own charges.
CREATE TABLE IF NOT EXISTS limit_windows (
    tenant_id TEXT NOT NULL, key TEXT NOT NULL, window_end INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key, window_end));
CREATE INDEX IF NOT EXISTS limit_windows_by_end ON limit_windows (window_end);
";

pub(in crate::adapters::embedded::storage) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Maps SQLite errors, turning unique-key violations into conflicts.
pub(in crate::adapters::embedded::storage) fn db_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            StoreError::Conflict(e.to_string())
        }
        _ => unavailable(e),
    }
}

pub(in crate::adapters::embedded::storage) fn to_json<T: Serialize>(
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(unavailable)
}

pub(in crate::adapters::embedded::storage) fn from_json<T: DeserializeOwned>(
    body: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| unavailable(format!("corrupt record: {e}")))
}

/// Opens the database at `path` (created 0600 if new) with the state
/// tables, in WAL mode; returns it with its canonical file name.
pub(in crate::adapters::embedded::storage) fn open_database(
    path: &Path,
) -> Result<(Connection, String), StoreError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(unavailable)?;
    }
    // Only a new file: closing a descriptor of a file SQLite has open in
    // this process would drop its POSIX locks (the state and vector
    // stores each open the same database).
    if !path.exists() {
        create_private(path).map_err(unavailable)?;
    }
    let conn = Connection::open(path).map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(unavailable)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(unavailable)?;
    // Deleted rows (an erased session) are overwritten, not left in free
    // space where a copy of the file would still hold them.
    conn.pragma_update(None, "secure_delete", "ON")
        .map_err(unavailable)?;
    conn.execute_batch(SCHEMA).map_err(unavailable)?;
    let file = std::fs::canonicalize(path)
        .map_err(unavailable)?
        .to_string_lossy()
        .into_owned();
    Ok((conn, file))
}

/// Creates the database file readable by its owner only, before SQLite
/// opens it (SQLite gives its WAL and shared-memory files the same mode).
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}
