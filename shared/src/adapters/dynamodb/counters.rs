//! Usage counters: ADD updates inside transactions, read back with one
//! BatchGetItem.
//!
//! A counter name from `CounterDelta::increments()` is either a total
//! (`sessions_created`) kept on the scope's `TOTALS` item, a daily one
//! (`messages#2026-01-31`) kept as attribute `messages` on item `DAY#2026-01-31`,
//! or a monthly one (`tokens#2026-01`) kept on item `MONTH#2026-01`.
//! Each scope is spread over `COUNTER_SHARDS` items picked by session, so
//! concurrent transactions rarely meet on one item.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use chrono::NaiveDate;

use super::items::{Item, get_n, get_s, key, n, sdk_error, unavailable};
use super::keys::{
    COUNTER_SHARDS, DAY_PREFIX, MONTH_PREFIX, PK, SK, TOTALS_SK, TTL, counter_pk, day_counter_ttl,
    day_sk, month_sk,
};
use super::transaction::Transaction;
use crate::ports::state_store::{StoreError, UsageCounters};

/// Where a counter lives: the item's sort key and the attribute, and the
/// day whose retention sets the item's TTL.
fn location(name: &str) -> (String, String, Option<NaiveDate>) {
    match name.split_once('#') {
        Some((attribute, period)) => match period.parse::<NaiveDate>() {
            Ok(day) => (day_sk(period), attribute.to_string(), Some(day)),
            Err(_) => (
                month_sk(period),
                attribute.to_string(),
                NaiveDate::parse_from_str(&format!("{period}-01"), "%Y-%m-%d").ok(),
            ),
        },
        None => (TOTALS_SK.to_string(), name.to_string(), None),
    }
}

/// The increments that land on one counter item.
#[derive(Default)]
struct ItemIncrements {
    adds: Vec<(String, i64)>,
    /// The day of a daily item, which sets its TTL.
    day: Option<NaiveDate>,
}

/// Adds the ADD updates of `increments` to `tx`, once per scope.
pub fn add_increments(
    tx: &mut Transaction,
    scopes: &[String],
    shard: u32,
    increments: &[(String, i64)],
) -> Result<(), StoreError> {
    let mut by_item: BTreeMap<String, ItemIncrements> = BTreeMap::new();
    for (name, by) in increments {
        let (sk, attribute, day) = location(name);
        let entry = by_item.entry(sk).or_default();
        entry.adds.push((attribute, *by));
        entry.day = entry.day.or(day);
    }
    for scope in scopes {
        for (sk, ItemIncrements { adds, day }) in &by_item {
            let mut names = vec![];
            let mut values = vec![];
            let mut clauses = vec![];
            for (i, (attribute, by)) in adds.iter().enumerate() {
                names.push((format!("#c{i}"), attribute.clone()));
                values.push((format!(":c{i}"), n(by)));
                clauses.push(format!("#c{i} :c{i}"));
            }
            let mut expression = format!("ADD {}", clauses.join(", "));
            if let Some(day) = day {
                names.push(("#ttl".into(), TTL.into()));
                values.push((":ttl".into(), n(day_counter_ttl(*day))));
                expression.push_str(" SET #ttl = if_not_exists(#ttl, :ttl)");
            }
            tx.update(
                key(counter_pk(scope, shard), sk),
                expression,
                names,
                values,
                None,
            )?;
        }
    }
    Ok(())
}

/// Sums every shard of `scope`: its totals, `today`'s daily counters and
/// this month's monthly ones (3 items per shard, one BatchGetItem).
pub async fn read(
    client: &Client,
    table: &str,
    scope: &str,
    today: NaiveDate,
) -> Result<UsageCounters, StoreError> {
    let today_sk = day_sk(&today.to_string());
    let month_sk = month_sk(&crate::domain::limits::month_of(today));
    let keys: Vec<Item> = (0..COUNTER_SHARDS)
        .flat_map(|shard| {
            [
                key(counter_pk(scope, shard), TOTALS_SK),
                key(counter_pk(scope, shard), &today_sk),
                key(counter_pk(scope, shard), &month_sk),
            ]
        })
        .collect();
    let mut pending = Some(
        KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .map_err(unavailable)?,
    );
    let mut usage = UsageCounters::default();
    let mut backoff = Duration::from_millis(10);
    while let Some(request) = pending.take() {
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out
            .responses()
            .and_then(|r| r.get(table))
            .into_iter()
            .flatten()
        {
            absorb(&mut usage, item, today);
        }
        // Unprocessed keys come back under throttling: ask again, slower.
        pending = out
            .unprocessed_keys()
            .and_then(|u| u.get(table))
            .filter(|k| !k.keys().is_empty())
            .cloned();
        if pending.is_some() {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Ok(usage)
}

fn absorb(usage: &mut UsageCounters, item: &Item, today: NaiveDate) {
    let sk = get_s(item, SK).unwrap_or_default();
    let day = sk
        .strip_prefix(DAY_PREFIX)
        .or_else(|| sk.strip_prefix(MONTH_PREFIX));
    for name in item.keys() {
        if [PK, SK, TTL].contains(&name.as_str()) {
            continue;
        }
        let value = get_n(item, name).unwrap_or(0);
        match day {
            Some(day) => usage.absorb(&format!("{name}#{day}"), value, today),
            None => usage.absorb(name, value, today),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::state_store::messages_counter;

    #[test]
    fn daily_counters_live_on_their_day_item() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 31).unwrap();
        let (sk, attribute, parsed) = location(&messages_counter(day));
        assert_eq!(
            (sk.as_str(), attribute.as_str()),
            ("DAY#2026-01-31", "messages")
        );
        assert_eq!(parsed, Some(day));
        let month = crate::ports::state_store::monthly_counter("tokens", day);
        assert_eq!(
            location(&month),
            (
                "MONTH#2026-01".to_string(),
                "tokens".to_string(),
                NaiveDate::from_ymd_opt(2026, 1, 1)
            )
        );
        assert_eq!(
            location("sessions_created"),
            ("TOTALS".to_string(), "sessions_created".to_string(), None)
        );
    }
}
