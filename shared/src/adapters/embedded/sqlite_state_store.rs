//! The embedded state store: one SQLite file under the data directory.
//!
//! SQLite in WAL mode lets `petraf tenant create` write while `petraf serve`
//! runs; every session change is one IMMEDIATE transaction.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::audit::AuditEntry;
use crate::domain::conversation::ConversationState;
use crate::domain::document::DocumentRecord;
use crate::domain::goal::{Goal, GoalLink};
use crate::domain::message::Message;
use crate::domain::session::Session;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord, TenantStatus};
use crate::ports::state_store::{
    AuditPage, AuditQuery, BudgetAlerts, Expect, GLOBAL_SCOPE, SessionChange, StateStore,
    StoreError, TENANTS_ACTIVE, TENANTS_TOTAL, TOKENS, UsageCounters, WindowCharge,
    monthly_counter, tenant_scope,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, slug TEXT NOT NULL UNIQUE, domain TEXT NOT NULL UNIQUE,
    admin_key_hash TEXT NOT NULL UNIQUE, body TEXT NOT NULL);
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

/// A window's counted slots span at most this long (an hour and a slot);
/// rows of slots that ended longer ago than this are dead and deleted as
/// new charges come.
const LONGEST_WINDOW_SECONDS: i64 = 3600 + 900;

/// Counts one charge in its slot (a row per slot holds that slot's own
/// charges); `LimitReached` when the window's counted slots are full.
fn charge_window(
    tx: &Connection,
    tenant_id: &str,
    charge: &WindowCharge,
) -> Result<(), StoreError> {
    let end = charge.slot_end.timestamp();
    tx.execute(
        "DELETE FROM limit_windows WHERE window_end < ?1",
        params![end - 2 * LONGEST_WINDOW_SECONDS],
    )
    .map_err(db_error)?;
    let oldest = charge
        .window
        .counted_slots(charge.slot_end)
        .last()
        .map_or(end, |e| e.timestamp());
    let count: i64 = tx
        .query_row(
            "SELECT COALESCE(SUM(count), 0) FROM limit_windows
             WHERE tenant_id = ?1 AND key = ?2 AND window_end BETWEEN ?3 AND ?4",
            params![tenant_id, charge.key, oldest, end],
            |r| r.get(0),
        )
        .map_err(db_error)?;
    if count >= i64::from(charge.limit) {
        return Err(StoreError::LimitReached(charge.key.clone()));
    }
    tx.execute(
        "INSERT INTO limit_windows (tenant_id, key, window_end, count) VALUES (?1, ?2, ?3, 1)
         ON CONFLICT (tenant_id, key, window_end) DO UPDATE SET count = count + 1",
        params![tenant_id, charge.key, end],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Writes each alert whose level the month's tokens (counted already, in
/// this transaction) have reached, once: a marker counter per alert and
/// month, inserted only if absent, decides.
fn write_budget_alerts(
    tx: &Connection,
    scope: &str,
    budget: &BudgetAlerts,
    day: NaiveDate,
) -> Result<(), StoreError> {
    let total: i64 = tx
        .query_row(
            "SELECT value FROM counters WHERE scope = ?1 AND name = ?2",
            params![scope, monthly_counter(TOKENS, day)],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?
        .unwrap_or(0);
    for alert in budget
        .alerts
        .iter()
        .filter(|a| BudgetAlerts::reached(a, total, 0))
    {
        let marker = monthly_counter(&format!("alert_{}", alert.key), day);
        let first = tx
            .execute(
                "INSERT INTO counters (scope, name, value) VALUES (?1, ?2, 1)
                 ON CONFLICT (scope, name) DO NOTHING",
                params![scope, marker],
            )
            .map_err(db_error)?;
        if first == 1 {
            insert_audit(tx, &alert.entry)?;
        }
    }
    Ok(())
}

#[derive(Clone)]
pub struct SqliteStateStore {
    conn: Arc<Mutex<Connection>>,
    /// The database file, canonical: what [`StateStore::transaction_scope`] names.
    file: String,
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Maps SQLite errors, turning unique-key violations into conflicts.
pub(super) fn db_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            StoreError::Conflict(e.to_string())
        }
        _ => unavailable(e),
    }
}

pub(super) fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(unavailable)
}

pub(super) fn from_json<T: DeserializeOwned>(body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| unavailable(format!("corrupt record: {e}")))
}

fn bump_counter(tx: &Connection, scope: &str, name: &str, by: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO counters (scope, name, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope, name) DO UPDATE SET value = value + excluded.value",
        params![scope, name, by],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Writes a versioned row under its guard; false when the guard fails.
#[allow(clippy::too_many_arguments)]
fn write_guarded(
    tx: &Connection,
    table: &str,
    key_column: &str,
    tenant_id: &str,
    id: &str,
    version: u64,
    body: &str,
    expect: Expect,
) -> Result<bool, StoreError> {
    let changed = match expect {
        Expect::Absent => tx.execute(
            &format!("INSERT OR IGNORE INTO {table} (tenant_id, {key_column}, version, body) VALUES (?1, ?2, ?3, ?4)"),
            params![tenant_id, id, version as i64, body],
        ),
        Expect::Version(previous) => tx.execute(
            &format!("UPDATE {table} SET version = ?3, body = ?4 WHERE tenant_id = ?1 AND {key_column} = ?2 AND version = ?5"),
            params![tenant_id, id, version as i64, body, previous as i64],
        ),
    }
    .map_err(db_error)?;
    Ok(changed == 1)
}

impl SqliteStateStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (conn, file) = open_database(path)?;
        Ok(SqliteStateStore {
            conn: Arc::new(Mutex::new(conn)),
            file,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| unavailable("state store lock poisoned"))?;
            work(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }

    /// The JSON body of the one row `sql` selects, if any.
    async fn one_body<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<String>,
    ) -> Result<Option<T>, StoreError> {
        self.run(move |conn| {
            let body: Option<String> = conn
                .query_row(sql, rusqlite::params_from_iter(&args), |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            body.map(|b| from_json(&b)).transpose()
        })
        .await
    }

    async fn session_rows<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &'static str,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Vec<T>, StoreError> {
        let (tenant_id, session_id) = (tenant_id.to_string(), session_id.to_string());
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT body FROM {table} WHERE tenant_id = ?1 AND session_id = ?2 ORDER BY seq"
                ))
                .map_err(db_error)?;
            let rows = stmt
                .query_map([tenant_id, session_id], |r| r.get::<_, String>(0))
                .map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
                .collect()
        })
        .await
    }
}

/// Opens the database at `path` (created 0600 if new) with the state
/// tables, in WAL mode; returns it with its canonical file name.
pub(super) fn open_database(path: &Path) -> Result<(Connection, String), StoreError> {
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

/// The revision of the stored document record, if any.
fn stored_revision(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
) -> Result<Option<u32>, StoreError> {
    tx.query_row(
        "SELECT json_extract(body, '$.revision') FROM documents WHERE tenant_id = ?1 AND id = ?2",
        params![tenant_id, document_id],
        |r| r.get::<_, u32>(0),
    )
    .optional()
    .map_err(db_error)
}

/// Creates or replaces a document record if the stored one is as `expect`
/// says; `Conflict` otherwise. Run inside a transaction (or as the
/// connection's only writer: the store's mutex).
pub(super) fn put_document_row(
    tx: &Connection,
    document: &DocumentRecord,
    expect: Expect,
) -> Result<(), StoreError> {
    let stored = stored_revision(tx, &document.tenant_id, &document.id)?;
    if !expect.admits_document(stored) {
        return Err(document_changed(&document.id, stored));
    }
    tx.execute(
        "INSERT INTO documents (tenant_id, id, created_at, body) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (tenant_id, id) DO UPDATE SET created_at = excluded.created_at, body = excluded.body",
        params![
            document.tenant_id,
            document.id,
            document.created_at.to_rfc3339(),
            to_json(document)?
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

/// Removes a document record (and, with it, nothing else) at `revision`.
pub(super) fn delete_document_row(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
    revision: u32,
) -> Result<(), StoreError> {
    let removed = tx
        .execute(
            "DELETE FROM documents WHERE tenant_id = ?1 AND id = ?2
             AND json_extract(body, '$.revision') = ?3",
            params![tenant_id, document_id, revision],
        )
        .map_err(db_error)?;
    if removed != 1 {
        let stored = stored_revision(tx, tenant_id, document_id)?;
        return Err(document_changed(document_id, stored));
    }
    Ok(())
}

fn document_changed(document_id: &str, stored: Option<u32>) -> StoreError {
    StoreError::Conflict(match stored {
        Some(r) => format!("document {document_id} is at revision {r}"),
        None => format!("document {document_id} is gone"),
    })
}

pub(super) fn insert_audit(tx: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (id, tenant_id, session_id, body) VALUES (?1, ?2, ?3, ?4)",
        params![entry.id, entry.tenant_id, entry.session_id, to_json(entry)?],
    )
    .map_err(db_error)?;
    Ok(())
}

#[async_trait]
impl StateStore for SqliteStateStore {
    fn name(&self) -> &'static str {
        "embedded-sqlite"
    }

    fn transaction_scope(&self) -> Option<String> {
        Some(self.file.clone())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db_error))
            .await
    }

    async fn create_tenant(
        &self,
        record: &TenantRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (record, audit) = (record.clone(), audit.clone());
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let t = &record.tenant;
            tx.execute(
                "INSERT INTO tenants (id, slug, domain, admin_key_hash, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![t.id, t.slug, t.domain, record.admin_key_hash, to_json(&record)?],
            )
            .map_err(db_error)?;
            bump_counter(&tx, GLOBAL_SCOPE, TENANTS_TOTAL, 1)?;
            if t.status == TenantStatus::Active {
                bump_counter(&tx, GLOBAL_SCOPE, TENANTS_ACTIVE, 1)?;
            }
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<(), StoreError> {
        let (tenant, audit) = (tenant.clone(), audit.clone());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM tenants WHERE id = ?1",
                    [&tenant.id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            let mut record: TenantRecord = from_json(
                &body.ok_or_else(|| StoreError::Conflict(format!("no tenant {}", tenant.id)))?,
            )?;
            let was_active = record.tenant.status == TenantStatus::Active;
            let is_active = tenant.status == TenantStatus::Active;
            record.tenant = tenant;
            tx.execute(
                "UPDATE tenants SET slug = ?2, domain = ?3, body = ?4 WHERE id = ?1",
                params![
                    record.tenant.id,
                    record.tenant.slug,
                    record.tenant.domain,
                    to_json(&record)?
                ],
            )
            .map_err(db_error)?;
            if was_active != is_active {
                bump_counter(
                    &tx,
                    GLOBAL_SCOPE,
                    TENANTS_ACTIVE,
                    if is_active { 1 } else { -1 },
                )?;
            }
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn update_tenant_config(
        &self,
        tenant_id: &str,
        config: &TenantConfig,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (tenant_id, config, audit) = (tenant_id.to_string(), config.clone(), audit.clone());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            let body: Option<String> = tx
                .query_row(
                    "SELECT body FROM tenants WHERE id = ?1",
                    [&tenant_id],
                    |r| r.get(0),
                )
                .optional()
                .map_err(db_error)?;
            let mut record: TenantRecord = from_json(
                &body.ok_or_else(|| StoreError::Conflict(format!("no tenant {tenant_id}")))?,
            )?;
            record.config = config;
            tx.execute(
                "UPDATE tenants SET body = ?2 WHERE id = ?1",
                params![tenant_id, to_json(&record)?],
            )
            .map_err(db_error)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM tenants WHERE id = ?1",
            vec![tenant_id.to_string()],
        )
        .await
    }

    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM tenants WHERE domain = ?1",
            vec![domain.to_string()],
        )
        .await
    }

    async fn tenant_by_admin_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<TenantRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM tenants WHERE admin_key_hash = ?1",
            vec![key_hash.to_string()],
        )
        .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.run(|conn| {
            let mut stmt = conn
                .prepare("SELECT body FROM tenants ORDER BY slug")
                .map_err(db_error)?;
            let rows = stmt
                .query_map([], |r| r.get::<_, String>(0))
                .map_err(db_error)?;
            rows.map(|r| {
                r.map_err(db_error)
                    .and_then(|b| from_json::<TenantRecord>(&b))
                    .map(|t| t.tenant)
            })
            .collect()
        })
        .await
    }

    async fn apply(&self, change: SessionChange) -> Result<(), StoreError> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(db_error)?;
            let (tenant_id, session_id) = (&change.tenant_id, &change.session_id);
            for charge in &change.charges {
                charge_window(&tx, tenant_id, charge)?;
            }
            if let Some(g) = &change.session {
                let ok = write_guarded(&tx, "sessions", "id", tenant_id, session_id, g.value.version, &to_json(&g.value)?, g.expect)?;
                if !ok {
                    return Err(StoreError::Conflict(format!("session {session_id} changed meanwhile")));
                }
            }
            if let (Some(at), None) = (change.touched_at, &change.session) {
                let touched = tx
                    .execute(
                        "UPDATE sessions SET body = json_set(body, '$.last_accessed_at', ?3) WHERE tenant_id = ?1 AND id = ?2",
                        params![tenant_id, session_id, to_json(&at)?.trim_matches('"')],
                    )
                    .map_err(db_error)?;
                if touched != 1 {
                    return Err(StoreError::Conflict(format!("session {session_id} does not exist")));
                }
            }
            if let Some(g) = &change.state {
                let ok = write_guarded(
                    &tx, "conversations", "session_id", tenant_id, session_id, g.value.version, &to_json(&g.value)?, g.expect,
                )?;
                if !ok {
                    return Err(StoreError::Conflict(format!("conversation {session_id} changed meanwhile")));
                }
            }
            for (table, id, body) in change
                .messages
                .iter()
                .map(|m| ("messages", &m.id, to_json(m)))
                .chain(change.goals.iter().map(|g| ("goals", &g.id, to_json(g))))
                .chain(change.links.iter().map(|l| ("goal_links", &l.id, to_json(l))))
            {
                tx.execute(
                    &format!("INSERT INTO {table} (id, tenant_id, session_id, body) VALUES (?1, ?2, ?3, ?4)"),
                    params![id, tenant_id, session_id, body?],
                )
                .map_err(db_error)?;
            }
            for entry in &change.audit {
                insert_audit(&tx, entry)?;
            }
            let scope = tenant_scope(tenant_id);
            for (name, by) in change.counters.increments() {
                bump_counter(&tx, &scope, &name, by)?;
                bump_counter(&tx, GLOBAL_SCOPE, &name, by)?;
            }
            if let (Some(budget), Some(day)) = (&change.budget, change.counters.month_of) {
                write_budget_alerts(&tx, &scope, budget, day)?;
            }
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        self.one_body(
            "SELECT body FROM sessions WHERE tenant_id = ?1 AND id = ?2",
            vec![tenant_id.to_string(), session_id.to_string()],
        )
        .await
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        self.one_body(
            "SELECT body FROM conversations WHERE tenant_id = ?1 AND session_id = ?2",
            vec![tenant_id.to_string(), session_id.to_string()],
        )
        .await
    }

    async fn messages(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Vec<Message>, StoreError> {
        self.session_rows("messages", tenant_id, session_id).await
    }

    async fn goals(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError> {
        let goals = self.session_rows("goals", tenant_id, session_id).await?;
        let links = self
            .session_rows("goal_links", tenant_id, session_id)
            .await?;
        Ok((goals, links))
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.run(move |conn| insert_audit(conn, &entry)).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let query = query.clone();
        self.run(move |conn| {
            let mut clauses = vec![];
            let mut args: Vec<String> = vec![];
            if let Some(t) = &query.tenant_id {
                args.push(t.clone());
                clauses.push(format!("tenant_id = ?{}", args.len()));
            }
            if let Some(s) = &query.session_id {
                args.push(s.clone());
                clauses.push(format!("session_id = ?{}", args.len()));
            }
            let filter = if clauses.is_empty() { String::new() } else { format!("WHERE {}", clauses.join(" AND ")) };
            let total: i64 = conn
                .query_row(&format!("SELECT COUNT(*) FROM audit_log {filter}"), rusqlite::params_from_iter(&args), |r| {
                    r.get(0)
                })
                .map_err(db_error)?;
            let per_page = query.per_page.max(1) as i64;
            let offset = (query.page.max(1) as i64 - 1) * per_page;
            let mut stmt = conn
                .prepare(&format!("SELECT body FROM audit_log {filter} ORDER BY seq LIMIT {per_page} OFFSET {offset}"))
                .map_err(db_error)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(&args), |r| r.get::<_, String>(0))
                .map_err(db_error)?;
            let entries = rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b))).collect::<Result<_, _>>()?;
            Ok(AuditPage { entries, total: total as u64 })
        })
        .await
    }

    async fn usage(
        &self,
        tenant_id: Option<&str>,
        today: NaiveDate,
    ) -> Result<UsageCounters, StoreError> {
        let scope = tenant_id
            .map(tenant_scope)
            .unwrap_or_else(|| GLOBAL_SCOPE.to_string());
        self.run(move |conn| {
            let mut stmt = conn
                .prepare("SELECT name, value FROM counters WHERE scope = ?1")
                .map_err(db_error)?;
            let rows = stmt
                .query_map([scope], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                })
                .map_err(db_error)?;
            let mut usage = UsageCounters::default();
            for row in rows {
                let (name, value) = row.map_err(db_error)?;
                usage.absorb(&name, value, today);
            }
            Ok(usage)
        })
        .await
    }

    async fn put_document(
        &self,
        document: &DocumentRecord,
        expect: Expect,
    ) -> Result<(), StoreError> {
        let document = document.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            put_document_row(&tx, &document, expect)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn document(
        &self,
        tenant_id: &str,
        document_id: &str,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM documents WHERE tenant_id = ?1 AND id = ?2",
            vec![tenant_id.to_string(), document_id.to_string()],
        )
        .await
    }

    async fn documents(&self, tenant_id: &str) -> Result<Vec<DocumentRecord>, StoreError> {
        let tenant_id = tenant_id.to_string();
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT body FROM documents WHERE tenant_id = ?1 ORDER BY created_at DESC, id DESC",
                )
                .map_err(db_error)?;
            let rows = stmt
                .query_map([tenant_id], |r| r.get::<_, String>(0))
                .map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
                .collect()
        })
        .await
    }

    async fn delete_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        revision: u32,
    ) -> Result<(), StoreError> {
        let (tenant_id, document_id) = (tenant_id.to_string(), document_id.to_string());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            delete_document_row(&tx, &tenant_id, &document_id, revision)?;
            tx.commit().map_err(db_error)
        })
        .await
    }
}
