//! A session's erasure in one IMMEDIATE transaction, and a tenant's
//! sessions in id order (what erasure by employee code, export and the
//! retention sweep walk).

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::audit::insert_audit;
use super::counters::bump_counter;
use super::database::{db_error, from_json, to_json};
use crate::domain::audit::AuditEntry;
use crate::domain::session::Session;
use crate::ports::state_store::{
    ErasedItems, GLOBAL_SCOPE, SessionErasure, StoreError, tenant_scope,
};

/// Removes the session's rows, masks its audit entries, writes the
/// erasure's entry and counters; `None` (nothing written) when the session
/// is gone.
pub(super) fn erase(
    conn: &mut Connection,
    erasure: &SessionErasure,
) -> Result<Option<ErasedItems>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let (tenant_id, session_id) = (&erasure.tenant_id, &erasure.session_id);
    let exists = tx
        .query_row(
            "SELECT 1 FROM sessions WHERE tenant_id = ?1 AND id = ?2",
            params![tenant_id, session_id],
            |_| Ok(()),
        )
        .optional()
        .map_err(db_error)?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let delete = |table: &str, column: &str| -> Result<u64, StoreError> {
        tx.execute(
            &format!("DELETE FROM {table} WHERE tenant_id = ?1 AND {column} = ?2"),
            params![tenant_id, session_id],
        )
        .map(|n| n as u64)
        .map_err(db_error)
    };
    let mut erased = ErasedItems {
        messages: delete("messages", "session_id")?,
        goals: delete("goals", "session_id")?,
        links: delete("goal_links", "session_id")?,
        audit_entries_masked: 0,
    };
    delete("conversations", "session_id")?;
    delete("sessions", "id")?;
    let entries: Vec<(i64, String)> = {
        let mut stmt = tx
            .prepare("SELECT seq, body FROM audit_log WHERE tenant_id = ?1 AND session_id = ?2")
            .map_err(db_error)?;
        let rows = stmt
            .query_map(params![tenant_id, session_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(db_error)?;
        rows.collect::<Result<_, _>>().map_err(db_error)?
    };
    for (seq, body) in &entries {
        let masked = from_json::<AuditEntry>(body)?.with_personal_data_erased();
        tx.execute(
            "UPDATE audit_log SET body = ?2 WHERE seq = ?1",
            params![seq, to_json(&masked)?],
        )
        .map_err(db_error)?;
    }
    erased.audit_entries_masked = entries.len() as u64;
    insert_audit(&tx, &erasure.audit)?;
    let scope = tenant_scope(tenant_id);
    for (name, by) in erasure.counters.increments() {
        bump_counter(&tx, &scope, &name, by)?;
        bump_counter(&tx, GLOBAL_SCOPE, &name, by)?;
    }
    tx.commit().map_err(db_error)?;
    // Secure delete zeroes the freed space of the pages; the write-ahead
    // log still holds the earlier page images until it is checkpointed and
    // truncated. Best effort: a reader in the middle of a transaction
    // delays it to a later erasure or checkpoint.
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "could not truncate the write-ahead log after an erasure");
    }
    Ok(Some(erased))
}

pub(super) fn sessions_page(
    conn: &Connection,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Session>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT body FROM sessions WHERE tenant_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3")
        .map_err(db_error)?;
    let rows = stmt
        .query_map(
            params![tenant_id, after.unwrap_or(""), i64::from(limit)],
            |r| r.get::<_, String>(0),
        )
        .map_err(db_error)?;
    rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
        .collect()
}
