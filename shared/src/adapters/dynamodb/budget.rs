//! A tenant's budget ledger for a month: one item (`BUDGET#{tenant}`,
//! `MONTH#2026-12`) with the month's token tally and one flag per budget
//! alert written. The transaction of a change with alerts adds its tokens
//! to the tally under a condition that says which alerts it writes (their
//! flag unset, the tally reaching their level); it sets their flags and
//! puts their audit entries in the same transaction. Of concurrent changes
//! exactly one writes each alert. A change whose guess of the due alerts
//! was wrong fails only that condition, reads the ledger and tries again;
//! tallies and flags only grow, so a few attempts always settle it.

use aws_sdk_dynamodb::Client;
use chrono::{Datelike, NaiveDate};

use super::items::audit_item;
use super::items::{Item, get_n, key, n, sdk_error};
use super::keys::{budget_pk, day_counter_ttl, month_sk};
use super::transaction::{Condition, Transaction};
use crate::domain::limits::month_of;
use crate::ports::state_store::{BudgetAlert, BudgetAlerts, SessionChange, StoreError};

const TALLY: &str = "tokens";

fn flag(alert: &BudgetAlert) -> String {
    format!("alert_{}", alert.key)
}

/// The budget alerts of `change` with the month they count in.
fn of(change: &SessionChange) -> Option<(&BudgetAlerts, NaiveDate)> {
    let budget = change.budget.as_ref().filter(|b| !b.alerts.is_empty())?;
    Some((budget, change.counters.month_of?))
}

fn ledger_key(tenant_id: &str, day: NaiveDate) -> Item {
    key(budget_pk(tenant_id), month_sk(&month_of(day)))
}

/// Attempts a change with alerts gets: one more than the times the due set
/// can change (each alert's level reached, then its flag set).
pub fn attempts(change: &SessionChange) -> u32 {
    of(change).map_or(1, |(b, _)| 2 * b.alerts.len() as u32 + 2)
}

/// Which alerts the change writes, guessed from the tokens its writer saw:
/// those its own tokens take the tally past.
pub fn guess(change: &SessionChange) -> Vec<bool> {
    let Some((budget, _)) = of(change) else {
        return vec![];
    };
    let seen = budget.tokens_seen.max(0);
    budget
        .alerts
        .iter()
        .map(|a| seen < a.level && BudgetAlerts::reached(a, seen, change.counters.tokens))
        .collect()
}

/// Which alerts the change writes, from the ledger as stored now.
pub async fn due_now(
    client: &Client,
    table: &str,
    change: &SessionChange,
) -> Result<Vec<bool>, StoreError> {
    let Some((budget, day)) = of(change) else {
        return Ok(vec![]);
    };
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(ledger_key(&change.tenant_id, day)))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    let ledger = out.item();
    let tally = ledger
        .and_then(|item| get_n(item, TALLY))
        .unwrap_or(budget.tokens_seen.max(0));
    Ok(budget
        .alerts
        .iter()
        .map(|a| {
            let written = ledger.is_some_and(|item| item.contains_key(&flag(a)));
            !written && BudgetAlerts::reached(a, tally, change.counters.tokens)
        })
        .collect())
}

/// Adds the ledger's update, conditioned on exactly the alerts in `due`
/// being due, and the audit entries of those; returns the update's
/// position in `tx`.
pub fn add(
    tx: &mut Transaction,
    change: &SessionChange,
    due: &[bool],
) -> Result<Option<usize>, StoreError> {
    let Some((budget, day)) = of(change) else {
        return Ok(None);
    };
    let delta = change.counters.tokens;
    let seed = budget.tokens_seen.max(0);
    let mut names = vec![
        ("#tally".to_string(), TALLY.to_string()),
        ("#ttl".into(), "ttl".into()),
    ];
    let month_start = day.with_day(1).unwrap_or(day);
    let mut values = vec![
        (":seed".to_string(), n(seed)),
        (":delta".into(), n(delta)),
        (":ttl".into(), n(day_counter_ttl(month_start))),
    ];
    let mut sets = vec![
        "#tally = if_not_exists(#tally, :seed) + :delta".to_string(),
        "#ttl = if_not_exists(#ttl, :ttl)".into(),
    ];
    let mut clauses = vec![];
    for (i, (alert, due)) in budget.alerts.iter().zip(due).enumerate() {
        names.push((format!("#f{i}"), flag(alert)));
        let need = alert.level.saturating_sub(delta);
        // Whether the tally before this change is enough for the level; a
        // ledger not yet written starts from `seed`.
        let reached = if need <= 0 {
            None
        } else {
            values.push((format!(":need{i}"), n(need)));
            Some(if seed >= need {
                format!("(#tally >= :need{i} OR attribute_not_exists(#tally))")
            } else {
                format!("#tally >= :need{i}")
            })
        };
        let is_due = match reached {
            Some(reached) => format!("(attribute_not_exists(#f{i}) AND {reached})"),
            None => format!("attribute_not_exists(#f{i})"),
        };
        if *due {
            clauses.push(is_due);
            sets.push(format!("#f{i} = :on"));
        } else {
            clauses.push(format!("(NOT {is_due})"));
        }
    }
    if due.iter().any(|d| *d) {
        values.push((":on".into(), n(1)));
    }
    let at = tx.len();
    tx.update(
        ledger_key(&change.tenant_id, day),
        format!("SET {}", sets.join(", ")),
        names,
        values,
        Some(Condition {
            expression: clauses.join(" AND "),
            ..Default::default()
        }),
    )?;
    for (alert, _) in budget.alerts.iter().zip(due).filter(|(_, due)| **due) {
        tx.put(audit_item(&alert.entry)?, None)?;
    }
    Ok(Some(at))
}
