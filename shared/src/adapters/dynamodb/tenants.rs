//! Tenants: the tenant item, uniqueness markers for slug, domain and
//! admin-key hash, and the GSI1 listing.
//!
//! The domain and admin-key markers carry a copy of the tenant record so
//! that resolving a request's tenant is one strongly consistent GetItem;
//! every write of a tenant rewrites its copies in the same transaction.

use aws_sdk_dynamodb::Client;

use super::counters::add_increments;
use super::items::audit_item;
use super::items::{Item, decode, get_n, json, key, n, s, sdk_error};
use super::keys::{
    BODY, GSI1, GSI1_PK, GSI1_SK, MARKER_SK, PK, RECORD, REVISION, SETTINGS_PREFIX, SK, SUMMARY,
    TENANT_ID, TENANT_LIST, TENANT_SK, admin_key_pk, domain_pk, settings_sk, shard_of, slug_pk,
    tenant_list_sk, tenant_pk,
};
use super::transaction::{Condition, TransactError, Transaction};
use crate::domain::audit::AuditEntry;
use crate::domain::settings::SettingsVersion;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord, TenantStatus};
use crate::ports::state_store::{
    GLOBAL_SCOPE, StoreError, TENANTS_ACTIVE, TENANTS_TOTAL, TenantReplacement,
};

/// Attempts of an update that loses a race with another update.
const UPDATE_ATTEMPTS: u32 = 3;

fn tenant_item(record: &TenantRecord, revision: u64) -> Result<Item, StoreError> {
    let t = &record.tenant;
    let mut item = key(tenant_pk(&t.id), TENANT_SK);
    item.insert(RECORD.into(), json(record)?);
    item.insert(SUMMARY.into(), json(t)?);
    item.insert(REVISION.into(), n(revision));
    item.insert(GSI1_PK.into(), s(TENANT_LIST));
    item.insert(GSI1_SK.into(), s(tenant_list_sk(&t.slug, &t.id)));
    Ok(item)
}

/// A uniqueness marker, with a copy of the record when lookups use it.
fn marker(pk: String, record: &TenantRecord, with_copy: bool) -> Result<Item, StoreError> {
    let mut item = key(pk, MARKER_SK);
    item.insert(TENANT_ID.into(), s(&record.tenant.id));
    if with_copy {
        item.insert(RECORD.into(), json(record)?);
    }
    Ok(item)
}

fn owned_by(tenant_id: &str) -> Condition {
    Condition::absent_or_equals(TENANT_ID, s(tenant_id))
}

fn tenants_counter(
    tx: &mut Transaction,
    tenant_id: &str,
    deltas: &[(&str, i64)],
) -> Result<(), StoreError> {
    let increments: Vec<(String, i64)> = deltas
        .iter()
        .filter(|(_, by)| *by != 0)
        .map(|(name, by)| (name.to_string(), *by))
        .collect();
    if increments.is_empty() {
        return Ok(());
    }
    add_increments(
        tx,
        &[GLOBAL_SCOPE.to_string()],
        shard_of(tenant_id),
        &increments,
    )
}

pub async fn create(
    client: &Client,
    table: &str,
    record: &TenantRecord,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let t = &record.tenant;
    let mut tx = Transaction::new(table);
    tx.put(tenant_item(record, 1)?, Some(Condition::absent()))?;
    tx.put(
        marker(slug_pk(&t.slug), record, false)?,
        Some(Condition::absent()),
    )?;
    tx.put(
        marker(domain_pk(&t.domain), record, true)?,
        Some(Condition::absent()),
    )?;
    for hash in record.active_key_hashes() {
        tx.put(
            marker(admin_key_pk(&hash), record, true)?,
            Some(Condition::absent()),
        )?;
    }
    let active = i64::from(t.status == TenantStatus::Active);
    tenants_counter(
        &mut tx,
        &t.id,
        &[(TENANTS_TOTAL, 1), (TENANTS_ACTIVE, active)],
    )?;
    tx.put(audit_item(audit)?, None)?;
    match tx.commit(client).await {
        Ok(()) => Ok(()),
        Err(TransactError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
            "tenant {}: its id, slug, domain or admin key is taken",
            t.id
        ))),
        Err(TransactError::Store(e)) => Err(e),
    }
}

/// The tenant item and its revision.
async fn current(
    client: &Client,
    table: &str,
    tenant_id: &str,
) -> Result<Option<(TenantRecord, u64)>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(tenant_pk(tenant_id), TENANT_SK)))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    out.item()
        .map(|item| {
            Ok((
                decode(item, RECORD)?,
                get_n(item, REVISION).unwrap_or(0) as u64,
            ))
        })
        .transpose()
}

pub async fn update(
    client: &Client,
    table: &str,
    tenant: &Tenant,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    update_with(client, table, &tenant.id, audit, |record| {
        record.tenant = tenant.clone();
        record.revision += 1;
    })
    .await
}

pub async fn update_config(
    client: &Client,
    table: &str,
    tenant_id: &str,
    config: &TenantConfig,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    update_with(client, table, tenant_id, audit, |record| {
        record.config = config.clone();
        record.revision += 1;
    })
    .await
}

/// Rewrites the tenant's record (and its copies) as `change` makes it,
/// reading again when another update won the race.
async fn update_with(
    client: &Client,
    table: &str,
    tenant_id: &str,
    audit: &AuditEntry,
    change: impl Fn(&mut TenantRecord),
) -> Result<(), StoreError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (before, revision) = current(client, table, tenant_id)
            .await?
            .ok_or_else(|| StoreError::Conflict(format!("no tenant {tenant_id}")))?;
        let mut after = before.clone();
        change(&mut after);
        let tx = update_transaction(table, &before, &after, revision, None, audit)?;
        match tx.commit(client).await {
            Ok(()) => return Ok(()),
            // The tenant item (position 0) changed since we read it: read again.
            Err(TransactError::ConditionFailed { failed }) if failed == [0] => continue,
            Err(TransactError::ConditionFailed { .. }) => {
                return Err(StoreError::Conflict(format!(
                    "tenant {tenant_id}: the new slug or domain is taken"
                )));
            }
            Err(TransactError::Store(e)) => return Err(e),
        }
    }
    Err(StoreError::Conflict(format!(
        "tenant {tenant_id} kept changing meanwhile"
    )))
}

/// Writes `change.record` when the stored one is still at its expected
/// revision (no retry: the caller decides on a conflict).
pub async fn replace(
    client: &Client,
    table: &str,
    change: &TenantReplacement,
) -> Result<(), StoreError> {
    let id = &change.record.tenant.id;
    let (before, revision) = current(client, table, id)
        .await?
        .ok_or_else(|| StoreError::Conflict(format!("no tenant {id}")))?;
    if before.revision != change.expected_revision {
        return Err(StoreError::Conflict(format!(
            "tenant {id} is at revision {}, not {}",
            before.revision, change.expected_revision
        )));
    }
    let tx = update_transaction(
        table,
        &before,
        &change.record,
        revision,
        change.superseded.as_ref(),
        &change.audit,
    )?;
    match tx.commit(client).await {
        Ok(()) => Ok(()),
        Err(TransactError::ConditionFailed { .. }) => Err(StoreError::Conflict(format!(
            "tenant {id} changed meanwhile, or a key or domain is taken"
        ))),
        Err(TransactError::Store(e)) => Err(e),
    }
}

/// Superseded settings versions, newest first.
pub async fn settings_versions(
    client: &Client,
    table: &str,
    tenant_id: &str,
) -> Result<Vec<SettingsVersion>, StoreError> {
    let mut versions = vec![];
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#sk", SK)
            .expression_attribute_values(":pk", s(tenant_pk(tenant_id)))
            .expression_attribute_values(":prefix", s(SETTINGS_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out.items() {
            versions.push(decode(item, BODY)?);
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(versions),
        }
    }
}

fn update_transaction(
    table: &str,
    before: &TenantRecord,
    after: &TenantRecord,
    revision: u64,
    superseded: Option<&SettingsVersion>,
    audit: &AuditEntry,
) -> Result<Transaction, StoreError> {
    let (old, new) = (&before.tenant, &after.tenant);
    let id = &new.id;
    let mut tx = Transaction::new(table);
    tx.put(
        tenant_item(after, revision + 1)?,
        Some(Condition::equals(REVISION, n(revision))),
    )?;
    if old.slug != new.slug {
        tx.put(
            marker(slug_pk(&new.slug), after, false)?,
            Some(Condition::absent()),
        )?;
        tx.delete(key(slug_pk(&old.slug), MARKER_SK), owned_by(id))?;
    }
    if old.domain != new.domain {
        tx.put(
            marker(domain_pk(&new.domain), after, true)?,
            Some(Condition::absent()),
        )?;
        tx.delete(key(domain_pk(&old.domain), MARKER_SK), owned_by(id))?;
    } else {
        tx.put(
            marker(domain_pk(&new.domain), after, true)?,
            Some(owned_by(id)),
        )?;
    }
    let active = after.active_key_hashes();
    for hash in &active {
        tx.put(marker(admin_key_pk(hash), after, true)?, Some(owned_by(id)))?;
    }
    for hash in before.active_key_hashes() {
        if !active.contains(&hash) {
            tx.delete(key(admin_key_pk(&hash), MARKER_SK), owned_by(id))?;
        }
    }
    if let Some(version) = superseded {
        let mut item = key(tenant_pk(id), settings_sk(version.stamp.version));
        item.insert(BODY.into(), json(version)?);
        tx.put(item, Some(Condition::absent()))?;
    }
    let was_active = i64::from(old.status == TenantStatus::Active);
    let is_active = i64::from(new.status == TenantStatus::Active);
    tenants_counter(&mut tx, id, &[(TENANTS_ACTIVE, is_active - was_active)])?;
    tx.put(audit_item(audit)?, None)?;
    Ok(tx)
}

/// The record behind a tenant item or a marker that carries a copy.
pub async fn by_key(
    client: &Client,
    table: &str,
    pk: String,
    sk: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(pk, sk)))
        .consistent_read(true)
        .projection_expression("#record")
        .expression_attribute_names("#record", RECORD)
        .send()
        .await
        .map_err(sdk_error)?;
    out.item().map(|item| decode(item, RECORD)).transpose()
}

pub async fn by_id(
    client: &Client,
    table: &str,
    tenant_id: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    by_key(client, table, tenant_pk(tenant_id), TENANT_SK).await
}

pub async fn by_domain(
    client: &Client,
    table: &str,
    domain: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    by_key(client, table, domain_pk(domain), MARKER_SK).await
}

pub async fn by_admin_key_hash(
    client: &Client,
    table: &str,
    key_hash: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    let record = by_key(client, table, admin_key_pk(key_hash), MARKER_SK).await?;
    Ok(record.filter(|r| r.active_key(key_hash).is_some()))
}

/// Every tenant, by slug, from GSI1 (eventually consistent: a tenant
/// created a moment ago may be missing for a moment).
pub async fn list(client: &Client, table: &str) -> Result<Vec<Tenant>, StoreError> {
    let mut tenants = vec![];
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1_PK)
            .expression_attribute_values(":pk", s(TENANT_LIST))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out.items() {
            tenants.push(decode(item, SUMMARY)?);
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return Ok(tenants),
        }
    }
}
