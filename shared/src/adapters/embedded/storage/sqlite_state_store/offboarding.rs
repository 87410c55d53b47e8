//! A tenant's inventory and its purge, a batch per IMMEDIATE transaction:
//! sessions whole, then document records, audit entries, counters, limit
//! windows, settings versions, and last the tenant's row and admin keys with
//! the platform's tenant counters.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::counters::bump_counter;
use super::database::{db_error, from_json};
use crate::domain::tenant::{TenantRecord, TenantStatus};
use crate::ports::state_store::{
    GLOBAL_SCOPE, StoreError, TENANTS_ACTIVE, TENANTS_TOTAL, TenantInventory, tenant_scope,
};

/// The tables of a session's rows, and the column naming the session.
const SESSION_TABLES: [(&str, &str); 5] = [
    ("messages", "session_id"),
    ("goals", "session_id"),
    ("goal_links", "session_id"),
    ("conversations", "session_id"),
    ("sessions", "id"),
];

fn count(conn: &Connection, sql: &str, key: &str) -> Result<u64, StoreError> {
    conn.query_row(sql, [key], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(db_error)
}

pub(super) fn inventory(conn: &Connection, tenant_id: &str) -> Result<TenantInventory, StoreError> {
    let of = |table: &str| {
        count(
            conn,
            &format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = ?1"),
            tenant_id,
        )
    };
    Ok(TenantInventory {
        tenant: count(
            conn,
            "SELECT COUNT(*) FROM tenants WHERE id = ?1",
            tenant_id,
        )?,
        sessions: of("sessions")?,
        session_items: of("conversations")? + of("messages")? + of("goals")? + of("goal_links")?,
        documents: of("documents")?,
        audit_entries: of("audit_log")?,
        counters: count(
            conn,
            "SELECT COUNT(*) FROM counters WHERE scope = ?1",
            &tenant_scope(tenant_id),
        )? + of("limit_windows")?,
        settings_versions: of("tenant_settings_versions")?,
    })
}

pub(super) fn purge(conn: &mut Connection, tenant_id: &str, batch: u32) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let batch = i64::from(batch.max(1));
    let sessions: Vec<String> = {
        let mut stmt = tx
            .prepare("SELECT id FROM sessions WHERE tenant_id = ?1 LIMIT ?2")
            .map_err(db_error)?;
        let rows = stmt
            .query_map(params![tenant_id, batch], |r| r.get(0))
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)?
    };
    let mut deleted = 0u64;
    for session_id in &sessions {
        for (table, column) in SESSION_TABLES {
            deleted += tx
                .execute(
                    &format!("DELETE FROM {table} WHERE tenant_id = ?1 AND {column} = ?2"),
                    params![tenant_id, session_id],
                )
                .map_err(db_error)? as u64;
        }
    }
    // Sessions whose row is gone but whose other rows are not (none are
    // written so; a purge leaves none behind all the same).
    for (table, _) in SESSION_TABLES {
        if deleted >= batch as u64 {
            break;
        }
        deleted += delete_some(&tx, table, "tenant_id", tenant_id, batch)?;
    }
    for (table, column, key) in [
        ("documents", "tenant_id", tenant_id.to_string()),
        ("audit_log", "tenant_id", tenant_id.to_string()),
        ("counters", "scope", tenant_scope(tenant_id)),
        ("limit_windows", "tenant_id", tenant_id.to_string()),
        (
            "tenant_settings_versions",
            "tenant_id",
            tenant_id.to_string(),
        ),
    ] {
        if deleted >= batch as u64 {
            break;
        }
        deleted += delete_some(&tx, table, column, &key, batch)?;
    }
    if deleted == 0 {
        deleted += delete_tenant_row(&tx, tenant_id)?;
    }
    tx.commit().map_err(db_error)?;
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "could not truncate the write-ahead log after a purge");
    }
    Ok(deleted)
}

fn delete_some(
    tx: &Connection,
    table: &str,
    column: &str,
    key: &str,
    batch: i64,
) -> Result<u64, StoreError> {
    tx.execute(
        &format!(
            "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} WHERE {column} = ?1 LIMIT ?2)"
        ),
        params![key, batch],
    )
    .map(|n| n as u64)
    .map_err(db_error)
}

/// The tenant's row, out of the platform's tenant counters.
fn delete_tenant_row(tx: &Connection, tenant_id: &str) -> Result<u64, StoreError> {
    let body: Option<String> = tx
        .query_row("SELECT body FROM tenants WHERE id = ?1", [tenant_id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_error)?;
    let Some(body) = body else {
        return Ok(0);
    };
    let record: TenantRecord = from_json(&body)?;
    tx.execute("DELETE FROM tenants WHERE id = ?1", [tenant_id])
        .map_err(db_error)?;
    tx.execute(
        "DELETE FROM tenant_admin_keys WHERE tenant_id = ?1",
        [tenant_id],
    )
    .map_err(db_error)?;
    bump_counter(tx, GLOBAL_SCOPE, TENANTS_TOTAL, -1)?;
    if record.tenant.status == TenantStatus::Active {
        bump_counter(tx, GLOBAL_SCOPE, TENANTS_ACTIVE, -1)?;
    }
    Ok(1)
}
