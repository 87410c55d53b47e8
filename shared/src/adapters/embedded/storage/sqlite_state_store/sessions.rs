//! A session's change: its rows (session, conversation, messages, goals,
//! links), its audit entries, counters and limit charges, in one
//! IMMEDIATE transaction.

use rusqlite::{Connection, TransactionBehavior, params};

use super::audit::insert_audit;
use super::counters::{bump_counter, charge_window, write_budget_alerts};
use super::database::{db_error, to_json};
use crate::ports::state_store::{Expect, GLOBAL_SCOPE, SessionChange, StoreError, tenant_scope};

/// Writes `change` whole or not at all.
pub(super) fn apply(conn: &mut Connection, change: &SessionChange) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let (tenant_id, session_id) = (&change.tenant_id, &change.session_id);
    for charge in &change.charges {
        charge_window(&tx, tenant_id, charge)?;
    }
    if let Some(g) = &change.session {
        let ok = write_guarded(
            &tx,
            "sessions",
            "id",
            tenant_id,
            session_id,
            g.value.version,
            &to_json(&g.value)?,
            g.expect,
        )?;
        if !ok {
            return Err(StoreError::Conflict(format!(
                "session {session_id} changed meanwhile"
            )));
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
            return Err(StoreError::Conflict(format!(
                "session {session_id} does not exist"
            )));
        }
    }
    if let Some(g) = &change.state {
        let ok = write_guarded(
            &tx,
            "conversations",
            "session_id",
            tenant_id,
            session_id,
            g.value.version,
            &to_json(&g.value)?,
            g.expect,
        )?;
        if !ok {
            return Err(StoreError::Conflict(format!(
                "conversation {session_id} changed meanwhile"
            )));
        }
    }
    for (table, id, body) in change
        .messages
        .iter()
        .map(|m| ("messages", &m.id, to_json(m)))
        .chain(change.goals.iter().map(|g| ("goals", &g.id, to_json(g))))
        .chain(
            change
                .links
                .iter()
                .map(|l| ("goal_links", &l.id, to_json(l))),
        )
    {
        tx.execute(
            &format!(
                "INSERT INTO {table} (id, tenant_id, session_id, body) VALUES (?1, ?2, ?3, ?4)"
            ),
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
