//! The audit log: appended in write order, read newest first a page at a time.

use rusqlite::{Connection, params};

use super::database::{db_error, from_json, to_json};
use crate::domain::audit::AuditEntry;
use crate::ports::state_store::{AuditPage, AuditQuery, StoreError};

pub(in crate::adapters::embedded::storage) fn insert_audit(
    tx: &Connection,
    entry: &AuditEntry,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO audit_log (id, tenant_id, session_id, body) VALUES (?1, ?2, ?3, ?4)",
        params![entry.id, entry.tenant_id, entry.session_id, to_json(entry)?],
    )
    .map_err(db_error)?;
    Ok(())
}

/// An instant to the millisecond, as SQLite's `strftime` writes it and as
/// chrono does.
const SQLITE_INSTANT: &str = "%Y-%m-%d %H:%M:%f";
const CHRONO_INSTANT: &str = "%Y-%m-%d %H:%M:%S%.3f";

/// One page of the entries `query` selects, newest first, with their total.
pub(super) fn page(conn: &Connection, query: &AuditQuery) -> Result<AuditPage, StoreError> {
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
    for (field, value) in [("action", &query.action), ("actor", &query.actor)] {
        if let Some(value) = value {
            args.push(value.clone());
            clauses.push(format!("json_extract(body, '$.{field}') = ?{}", args.len()));
        }
    }
    // Both sides in one fixed format: chrono writes a varying number of
    // fractional digits, which does not compare as text.
    for (op, bound) in [(">=", &query.from), ("<", &query.to)] {
        if let Some(bound) = bound {
            args.push(bound.format(CHRONO_INSTANT).to_string());
            clauses.push(format!(
                "strftime('{SQLITE_INSTANT}', json_extract(body, '$.created_at')) {op} ?{}",
                args.len()
            ));
        }
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM audit_log {filter}"),
            rusqlite::params_from_iter(&args),
            |r| r.get(0),
        )
        .map_err(db_error)?;
    let per_page = query.per_page.max(1) as i64;
    let offset = (query.page.max(1) as i64 - 1) * per_page;
    let mut stmt = conn
        .prepare(&format!(
            "SELECT body FROM audit_log {filter} ORDER BY seq DESC LIMIT {per_page} OFFSET {offset}"
        ))
        .map_err(db_error)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(&args), |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    let entries = rows
        .map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
        .collect::<Result<_, _>>()?;
    Ok(AuditPage {
        entries,
        total: total as u64,
    })
}
