//! A session's erasure, and a tenant's sessions in id order (GSI1
//! partition `SESSIONS#{tenant}`).
//!
//! An erasure does not fit one transaction (a session may hold hundreds of
//! items), so it runs in steps that can be repeated: mask the session's
//! audit entries, delete its messages, goals, links and state, and last,
//! in one transaction, delete the session item, write the `session.erased`
//! entry and the counters. Until that last step the session exists, so
//! running the erasure again finishes one that was interrupted.

use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::counters::add_increments;
use super::items::{Item, audit_item, decode, delete_items, get_s, json, key, s, sdk_error};
use super::keys::{
    AUDIT_ACTOR, BODY, GOAL_PREFIX, GSI1, GSI1_PK, GSI1_SK, LINK_PREFIX, MESSAGE_PREFIX, PK,
    SESSION_SK, SK, audit_session_pk, session_pk, sessions_list_pk, shard_of,
};
use super::sessions::decode_session;
use super::transaction::{Condition, TransactError, Transaction};
use crate::domain::audit::AuditEntry;
use crate::domain::session::Session;
use crate::ports::state_store::{
    ErasedItems, GLOBAL_SCOPE, SessionErasure, StoreError, tenant_scope,
};

/// Concurrent single-item writes of one erasure.
const FAN_OUT: usize = 8;

/// Every item of a GSI1 or table partition, expired ones included.
async fn partition(
    client: &Client,
    table: &str,
    index: Option<&str>,
    pk: &str,
) -> Result<Vec<Item>, StoreError> {
    let pk_attribute = if index.is_some() { GSI1_PK } else { PK };
    let mut items = vec![];
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .set_index_name(index.map(String::from))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(index.is_none())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        items.extend(out.items().iter().cloned());
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(items),
        }
    }
}

fn table_key(item: &Item) -> Option<Item> {
    Some(key(get_s(item, PK)?, get_s(item, SK)?))
}

pub async fn erase(
    client: &Client,
    table: &str,
    erasure: &SessionErasure,
) -> Result<Option<ErasedItems>, StoreError> {
    let pk = session_pk(&erasure.tenant_id, &erasure.session_id);
    let items = partition(client, table, None, &pk).await?;
    if !items.iter().any(|item| get_s(item, SK) == Some(SESSION_SK)) {
        return Ok(None);
    }
    let mut erased = ErasedItems::default();

    // The session's audit entries: masked in place (same keys, same order).
    let entries = partition(
        client,
        table,
        Some(GSI1),
        &audit_session_pk(&erasure.tenant_id, &erasure.session_id),
    )
    .await?;
    erased.audit_entries_masked = entries.len() as u64;
    futures::stream::iter(entries)
        .map(|item| async move {
            let Some(item_key) = table_key(&item) else {
                return Ok(());
            };
            let masked = decode::<AuditEntry>(&item, BODY)?.with_personal_data_erased();
            client
                .update_item()
                .table_name(table)
                .set_key(Some(item_key))
                .update_expression("SET #body = :body, #actor = :actor")
                .condition_expression("attribute_exists(#pk)")
                .expression_attribute_names("#body", BODY)
                .expression_attribute_names("#actor", AUDIT_ACTOR)
                .expression_attribute_names("#pk", PK)
                .expression_attribute_values(":body", json(&masked)?)
                .expression_attribute_values(":actor", s(&masked.actor))
                .send()
                .await
                .map_err(sdk_error)?;
            Ok::<_, StoreError>(())
        })
        .buffer_unordered(FAN_OUT)
        .try_collect::<Vec<()>>()
        .await?;

    // Everything but the session item.
    for item in &items {
        match get_s(item, SK) {
            Some(sk) if sk.starts_with(MESSAGE_PREFIX) => erased.messages += 1,
            Some(sk) if sk.starts_with(GOAL_PREFIX) => erased.goals += 1,
            Some(sk) if sk.starts_with(LINK_PREFIX) => erased.links += 1,
            _ => {}
        }
    }
    let children: Vec<Item> = items
        .iter()
        .filter(|item| get_s(item, SK) != Some(SESSION_SK))
        .filter_map(table_key)
        .collect();
    delete_items(client, table, children).await?;

    // Last: the session item, with the erasure's entry and counters.
    let mut tx = Transaction::new(table);
    tx.delete(
        key(&pk, SESSION_SK),
        Condition {
            expression: format!("attribute_exists({PK})"),
            ..Default::default()
        },
    )?;
    tx.put(audit_item(&erasure.audit)?, None)?;
    let increments = erasure.counters.increments();
    if !increments.is_empty() {
        let scopes = [tenant_scope(&erasure.tenant_id), GLOBAL_SCOPE.to_string()];
        add_increments(&mut tx, &scopes, shard_of(&erasure.session_id), &increments)?;
    }
    match tx.commit(client).await {
        Ok(()) => Ok(Some(erased)),
        // Another erasure of the same session finished first.
        Err(TransactError::ConditionFailed { .. }) => Ok(None),
        Err(TransactError::Store(e)) => Err(e),
    }
}

/// Up to `limit` sessions of the tenant after `after`, in id order: ids
/// from GSI1 (eventually consistent), each session read consistently.
/// Sessions past their TTL that DynamoDB has not deleted yet are listed
/// too, so that the retention sweep and erasures remove all of them.
pub async fn sessions_page(
    client: &Client,
    table: &str,
    tenant_id: &str,
    after: Option<&str>,
    limit: u32,
) -> Result<Vec<Session>, StoreError> {
    let mut found = vec![];
    let mut cursor = after.map(str::to_string);
    while (found.len() as u32) < limit {
        let mut query = client
            .query()
            .table_name(table)
            .index_name(GSI1)
            .expression_attribute_names("#pk", GSI1_PK)
            .expression_attribute_values(":pk", s(sessions_list_pk(tenant_id)))
            .limit((limit - found.len() as u32).max(1) as i32);
        query = match &cursor {
            Some(after) => query
                .key_condition_expression("#pk = :pk AND #sk > :after")
                .expression_attribute_names("#sk", GSI1_SK)
                .expression_attribute_values(":after", s(after)),
            None => query.key_condition_expression("#pk = :pk"),
        };
        let out = query.send().await.map_err(sdk_error)?;
        let ids: Vec<String> = out
            .items()
            .iter()
            .filter_map(|item| get_s(item, GSI1_SK).map(str::to_string))
            .collect();
        let Some(last) = ids.last().cloned() else {
            break;
        };
        let sessions: Vec<Option<Session>> = futures::stream::iter(ids)
            .map(|id| async move {
                let out = client
                    .get_item()
                    .table_name(table)
                    .set_key(Some(key(session_pk(tenant_id, &id), SESSION_SK)))
                    .consistent_read(true)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                out.item().map(decode_session).transpose()
            })
            .buffered(FAN_OUT)
            .try_collect()
            .await?;
        found.extend(sessions.into_iter().flatten());
        cursor = Some(last);
    }
    Ok(found)
}
