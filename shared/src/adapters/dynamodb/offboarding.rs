//! A tenant's inventory and its purge, a batch per call: sessions whole
//! (found through GSI1 `SESSIONS#{tenant}`), then the partitions of its
//! documents, audit log, counters and budget ledgers, and last its item,
//! its uniqueness markers and its place in the platform's tenant counters.
//! Limit windows (`LIMIT#{tenant}#…`, keyed by address hashes no query
//! reaches) are left to their TTL: an hour or two.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::Select;

use super::counters::add_increments;
use super::items::{Item, delete_items, get_s, key, s, sdk_error};
use super::keys::{
    COUNTER_SHARDS, GSI1, GSI1_PK, GSI1_SK, MARKER_SK, PK, SESSION_SK, SK, TENANT_SK, admin_key_pk,
    audit_pk, budget_pk, counter_pk, documents_pk, domain_pk, session_pk, sessions_list_pk,
    shard_of, slug_pk, tenant_pk,
};
use super::tenants;
use super::transaction::{Condition, Transaction};
use crate::domain::tenant::TenantStatus;
use crate::ports::state_store::{
    GLOBAL_SCOPE, StoreError, TENANTS_ACTIVE, TENANTS_TOTAL, TenantInventory, tenant_scope,
};

/// The partitions of a tenant that hold no sessions, in purge order.
fn other_partitions(tenant_id: &str) -> Vec<String> {
    let scope = tenant_scope(tenant_id);
    let mut pks = vec![documents_pk(tenant_id), audit_pk(tenant_id)];
    pks.extend((0..COUNTER_SHARDS).map(|shard| counter_pk(&scope, shard)));
    pks.push(budget_pk(tenant_id));
    pks
}

/// Up to `limit` items (keys only, or the GSI1 sort key) of a partition.
async fn keys_of(
    client: &Client,
    table: &str,
    index: Option<&str>,
    pk: &str,
    limit: Option<i32>,
) -> Result<Vec<Item>, StoreError> {
    let pk_attribute = if index.is_some() { GSI1_PK } else { PK };
    let mut found = vec![];
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .set_index_name(index.map(String::from))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_values(":pk", s(pk))
            .set_limit(limit.map(|l| l - found.len() as i32))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        found.extend(out.items().iter().cloned());
        let full = limit.is_some_and(|l| found.len() as i32 >= l);
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() && !full => start = Some(k.clone()),
            _ => return Ok(found),
        }
    }
}

async fn count(
    client: &Client,
    table: &str,
    index: Option<&str>,
    pk: &str,
) -> Result<u64, StoreError> {
    let pk_attribute = if index.is_some() { GSI1_PK } else { PK };
    let mut total = 0;
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .set_index_name(index.map(String::from))
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", pk_attribute)
            .expression_attribute_values(":pk", s(pk))
            .select(Select::Count)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        total += out.count().max(0) as u64;
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(total),
        }
    }
}

async fn session_ids(
    client: &Client,
    table: &str,
    tenant_id: &str,
    limit: Option<i32>,
) -> Result<Vec<String>, StoreError> {
    Ok(keys_of(
        client,
        table,
        Some(GSI1),
        &sessions_list_pk(tenant_id),
        limit,
    )
    .await?
    .iter()
    .filter_map(|item| get_s(item, GSI1_SK).map(str::to_string))
    .collect())
}

pub async fn inventory(
    client: &Client,
    table: &str,
    tenant_id: &str,
) -> Result<TenantInventory, StoreError> {
    let mut inventory = TenantInventory {
        tenant: u64::from(tenants::by_id(client, table, tenant_id).await?.is_some()),
        ..Default::default()
    };
    for id in session_ids(client, table, tenant_id, None).await? {
        let items = count(client, table, None, &session_pk(tenant_id, &id)).await?;
        if items > 0 {
            inventory.sessions += 1;
            inventory.session_items += items - 1;
        }
    }
    inventory.documents = count(client, table, None, &documents_pk(tenant_id)).await?;
    inventory.audit_entries = count(client, table, None, &audit_pk(tenant_id)).await?;
    for pk in other_partitions(tenant_id).iter().skip(2) {
        inventory.counters += count(client, table, None, pk).await?;
    }
    inventory.settings_versions = settings_versions(client, table, tenant_id, None)
        .await?
        .len() as u64;
    Ok(inventory)
}

pub async fn purge(
    client: &Client,
    table: &str,
    tenant_id: &str,
    batch: u32,
) -> Result<u64, StoreError> {
    let batch = batch.clamp(1, 1000) as i32;
    let mut deleted = 0u64;
    for id in session_ids(client, table, tenant_id, Some(batch)).await? {
        let items = keys_of(client, table, None, &session_pk(tenant_id, &id), None).await?;
        // The session item last: it is what lists the session.
        let (session_item, rest): (Vec<Item>, Vec<Item>) = items
            .into_iter()
            .partition(|item| get_s(item, SK) == Some(SESSION_SK));
        deleted += delete_items(client, table, rest).await?;
        deleted += delete_items(client, table, session_item).await?;
    }
    for pk in other_partitions(tenant_id) {
        if deleted >= batch as u64 {
            return Ok(deleted);
        }
        let items = keys_of(client, table, None, &pk, Some(batch)).await?;
        deleted += delete_items(client, table, items).await?;
    }
    if deleted < batch as u64 {
        let versions = settings_versions(client, table, tenant_id, Some(batch)).await?;
        deleted += delete_items(client, table, versions).await?;
    }
    if deleted > 0 {
        return Ok(deleted);
    }
    delete_tenant(client, table, tenant_id).await
}

/// The superseded settings versions beside the tenant item (up to `limit`).
async fn settings_versions(
    client: &Client,
    table: &str,
    tenant_id: &str,
    limit: Option<i32>,
) -> Result<Vec<Item>, StoreError> {
    // The tenant item sorts after `SETTINGS#…`: one more than asked.
    let items = keys_of(
        client,
        table,
        None,
        &tenant_pk(tenant_id),
        limit.map(|l| l + 1),
    )
    .await?;
    Ok(items
        .into_iter()
        .filter(|item| get_s(item, SK) != Some(TENANT_SK))
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect())
}

/// The tenant item and its markers (every active admin key's), out of the
/// platform's tenant counters.
async fn delete_tenant(client: &Client, table: &str, tenant_id: &str) -> Result<u64, StoreError> {
    let Some(record) = tenants::by_id(client, table, tenant_id).await? else {
        return Ok(0);
    };
    let t = &record.tenant;
    let mut tx = Transaction::new(table);
    tx.delete(
        key(tenant_pk(tenant_id), TENANT_SK),
        Condition {
            expression: format!("attribute_exists({PK})"),
            ..Default::default()
        },
    )?;
    let mut markers = vec![slug_pk(&t.slug), domain_pk(&t.domain)];
    let mut key_hashes = record.active_key_hashes();
    key_hashes.push(record.admin_key_hash.clone());
    key_hashes.sort();
    key_hashes.dedup();
    markers.extend(key_hashes.iter().map(|hash| admin_key_pk(hash)));
    let removed = 1 + markers.len() as u64;
    for pk in markers {
        tx.delete(
            key(pk, MARKER_SK),
            Condition::absent_or_equals(super::keys::TENANT_ID, s(tenant_id)),
        )?;
    }
    let active = i64::from(t.status == TenantStatus::Active);
    let increments: Vec<(String, i64)> = [(TENANTS_TOTAL, -1), (TENANTS_ACTIVE, -active)]
        .into_iter()
        .filter(|(_, by)| *by != 0)
        .map(|(name, by)| (name.to_string(), by))
        .collect();
    add_increments(
        &mut tx,
        &[GLOBAL_SCOPE.to_string()],
        shard_of(tenant_id),
        &increments,
    )?;
    match tx.commit(client).await {
        Ok(()) => Ok(removed),
        // Another purge removed it first.
        Err(super::transaction::TransactError::ConditionFailed { .. }) => Ok(0),
        Err(super::transaction::TransactError::Store(e)) => Err(e),
    }
}
