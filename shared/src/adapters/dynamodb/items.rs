//! Attribute values in and out, and error mapping.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::{
    AUDIT_ACTION, AUDIT_ACTOR, AUDIT_AT, BODY, GSI1_PK, GSI1_SK, PK, SK, TTL, audit_instant,
    audit_pk, audit_session_pk, next_order,
};
use crate::domain::audit::AuditEntry;
use crate::ports::state_store::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// An SDK error with its whole cause chain (the plain Display says little).
pub fn sdk_error<E: std::error::Error>(e: E) -> StoreError {
    StoreError::Unavailable(format!("dynamodb: {}", DisplayErrorContext(&e)))
}

pub fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub fn json<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value).map(s).map_err(unavailable)
}

pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
    HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))])
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Option<i64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// Decodes the JSON held in attribute `name`.
pub fn decode<T: DeserializeOwned>(item: &Item, name: &str) -> Result<T, StoreError> {
    let text = get_s(item, name).ok_or_else(|| {
        unavailable(format!(
            "corrupt item {:?}: no '{name}'",
            get_s(item, PK).zip(get_s(item, SK))
        ))
    })?;
    serde_json::from_str(text).map_err(|e| unavailable(format!("corrupt record: {e}")))
}

/// Whether the item's TTL has passed. DynamoDB deletes expired items
/// lazily (up to days later), so reads must skip them themselves.
pub fn is_expired(item: &Item, now_epoch: i64) -> bool {
    get_n(item, TTL).is_some_and(|ttl| ttl <= now_epoch)
}

/// The item of an audit entry, keyed by write order.
pub fn audit_item(entry: &AuditEntry) -> Result<Item, StoreError> {
    let order = next_order();
    let mut item = key(audit_pk(&entry.tenant_id), &order);
    item.insert(BODY.into(), json(entry)?);
    item.insert(AUDIT_ACTION.into(), s(&entry.action));
    item.insert(AUDIT_ACTOR.into(), s(&entry.actor));
    item.insert(AUDIT_AT.into(), s(audit_instant(entry.created_at)));
    if let Some(session_id) = &entry.session_id {
        item.insert(
            GSI1_PK.into(),
            s(audit_session_pk(&entry.tenant_id, session_id)),
        );
        item.insert(GSI1_SK.into(), s(order));
    }
    Ok(item)
}

/// Deletes these items (by their `PK` and `SK`), a few requests at a time;
/// how many were deleted.
pub async fn delete_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<Item>,
) -> Result<u64, StoreError> {
    use futures::{StreamExt, TryStreamExt};
    // Concurrent deletes per call: fast enough for a purge, gentle on the
    // table's capacity.
    const FAN_OUT: usize = 8;
    let keys: Vec<Item> = items
        .iter()
        .filter_map(|item| Some(key(get_s(item, PK)?, get_s(item, SK)?)))
        .collect();
    let deleted = keys.len() as u64;
    futures::stream::iter(keys)
        .map(|item_key| async move {
            client
                .delete_item()
                .table_name(table)
                .set_key(Some(item_key))
                .send()
                .await
                .map_err(sdk_error)
                .map(drop)
        })
        .buffer_unordered(FAN_OUT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(deleted)
}
