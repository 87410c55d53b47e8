//! The counters (usage totals per scope), the limit windows and the budget
//! alerts they trigger.

use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, params};

use super::audit::insert_audit;
use super::database::db_error;
use crate::ports::state_store::{
    BudgetAlerts, StoreError, TOKENS, UsageCounters, WindowCharge, monthly_counter,
};

/// A window's counted slots span at most this long (an hour and a slot);
/// rows of slots that ended longer ago than this are dead and deleted as
/// new charges come.
const LONGEST_WINDOW_SECONDS: i64 = 3600 + 900;

/// Counts one charge in its slot (a row per slot holds that slot's own
/// charges); `LimitReached` when the window's counted slots are full.
pub(super) fn charge_window(
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
pub(super) fn write_budget_alerts(
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

pub(super) fn bump_counter(
    tx: &Connection,
    scope: &str,
    name: &str,
    by: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO counters (scope, name, value) VALUES (?1, ?2, ?3)
         ON CONFLICT (scope, name) DO UPDATE SET value = value + excluded.value",
        params![scope, name, by],
    )
    .map_err(db_error)?;
    Ok(())
}

/// The counters of one scope (a tenant's or the platform's).
pub(super) fn usage(
    conn: &Connection,
    scope: &str,
    today: NaiveDate,
) -> Result<UsageCounters, StoreError> {
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
}
