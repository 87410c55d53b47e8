//! The tenants: one row each, unique by slug, domain and admin key, with
//! the platform's tenant counters moved in the same transaction.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::audit::insert_audit;
use super::counters::bump_counter;
use super::database::{db_error, from_json, to_json};
use crate::domain::audit::AuditEntry;
use crate::domain::settings::SettingsVersion;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord, TenantStatus};
use crate::ports::state_store::{
    GLOBAL_SCOPE, StoreError, TENANTS_ACTIVE, TENANTS_TOTAL, TenantReplacement,
};

pub(super) fn create(
    conn: &mut Connection,
    record: &TenantRecord,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let t = &record.tenant;
    tx.execute(
        "INSERT INTO tenants (id, slug, domain, admin_key_hash, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            t.id,
            t.slug,
            t.domain,
            record.admin_key_hash,
            to_json(record)?
        ],
    )
    .map_err(db_error)?;
    insert_active_keys(&tx, record)?;
    bump_counter(&tx, GLOBAL_SCOPE, TENANTS_TOTAL, 1)?;
    if t.status == TenantStatus::Active {
        bump_counter(&tx, GLOBAL_SCOPE, TENANTS_ACTIVE, 1)?;
    }
    insert_audit(&tx, audit)?;
    tx.commit().map_err(db_error)
}

/// The stored record of `tenant_id`; `Conflict` when there is none.
fn stored(tx: &Connection, tenant_id: &str) -> Result<TenantRecord, StoreError> {
    let body: Option<String> = tx
        .query_row("SELECT body FROM tenants WHERE id = ?1", [tenant_id], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db_error)?;
    from_json(&body.ok_or_else(|| StoreError::Conflict(format!("no tenant {tenant_id}")))?)
}

pub(super) fn update(
    conn: &mut Connection,
    tenant: Tenant,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let mut record = stored(&tx, &tenant.id)?;
    let was_active = record.tenant.status == TenantStatus::Active;
    let is_active = tenant.status == TenantStatus::Active;
    record.tenant = tenant;
    record.revision += 1;
    tx.execute(
        "UPDATE tenants SET slug = ?2, domain = ?3, body = ?4 WHERE id = ?1",
        params![
            record.tenant.id,
            record.tenant.slug,
            record.tenant.domain,
            to_json(&record)?
        ],
    )
    .map_err(db_error)?;
    if was_active != is_active {
        bump_counter(
            &tx,
            GLOBAL_SCOPE,
            TENANTS_ACTIVE,
            if is_active { 1 } else { -1 },
        )?;
    }
    insert_audit(&tx, audit)?;
    tx.commit().map_err(db_error)
}

pub(super) fn update_config(
    conn: &mut Connection,
    tenant_id: &str,
    config: TenantConfig,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let mut record = stored(&tx, tenant_id)?;
    record.config = config;
    record.revision += 1;
    tx.execute(
        "UPDATE tenants SET body = ?2 WHERE id = ?1",
        params![tenant_id, to_json(&record)?],
    )
    .map_err(db_error)?;
    insert_audit(&tx, audit)?;
    tx.commit().map_err(db_error)
}

fn insert_active_keys(tx: &Connection, record: &TenantRecord) -> Result<(), StoreError> {
    for hash in record.active_key_hashes() {
        tx.execute(
            "INSERT INTO tenant_admin_keys (key_hash, tenant_id) VALUES (?1, ?2)",
            params![hash, record.tenant.id],
        )
        .map_err(db_error)?;
    }
    Ok(())
}

pub(super) fn replace(conn: &mut Connection, change: &TenantReplacement) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db_error)?;
    let record = &change.record;
    let id = &record.tenant.id;
    let stored = stored(&tx, id)?;
    if stored.revision != change.expected_revision {
        return Err(StoreError::Conflict(format!(
            "tenant {id} is at revision {}, not {}",
            stored.revision, change.expected_revision
        )));
    }
    tx.execute(
        "UPDATE tenants SET slug = ?2, domain = ?3, body = ?4 WHERE id = ?1",
        params![
            id,
            record.tenant.slug,
            record.tenant.domain,
            to_json(record)?
        ],
    )
    .map_err(db_error)?;
    tx.execute("DELETE FROM tenant_admin_keys WHERE tenant_id = ?1", [id])
        .map_err(db_error)?;
    insert_active_keys(&tx, record)?;
    if let Some(version) = &change.superseded {
        tx.execute(
            "INSERT INTO tenant_settings_versions (tenant_id, version, body) VALUES (?1, ?2, ?3)",
            params![id, version.stamp.version, to_json(version)?],
        )
        .map_err(db_error)?;
    }
    let was_active = stored.tenant.status == TenantStatus::Active;
    let is_active = record.tenant.status == TenantStatus::Active;
    if was_active != is_active {
        bump_counter(
            &tx,
            GLOBAL_SCOPE,
            TENANTS_ACTIVE,
            if is_active { 1 } else { -1 },
        )?;
    }
    insert_audit(&tx, &change.audit)?;
    tx.commit().map_err(db_error)
}

/// The tenant whose active key hashes to `key_hash`.
pub(super) fn by_admin_key_hash(
    conn: &Connection,
    key_hash: &str,
) -> Result<Option<TenantRecord>, StoreError> {
    let body: Option<String> = conn
        .query_row(
            "SELECT body FROM tenants WHERE id IN
                (SELECT tenant_id FROM tenant_admin_keys WHERE key_hash = ?1)
             UNION ALL SELECT body FROM tenants WHERE admin_key_hash = ?1 LIMIT 1",
            [key_hash],
            |r| r.get(0),
        )
        .optional()
        .map_err(db_error)?;
    let record = body.map(|b| from_json::<TenantRecord>(&b)).transpose()?;
    Ok(record.filter(|r| r.active_key(key_hash).is_some()))
}

/// Superseded settings versions, newest first.
pub(super) fn settings_versions(
    conn: &Connection,
    tenant_id: &str,
) -> Result<Vec<SettingsVersion>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT body FROM tenant_settings_versions WHERE tenant_id = ?1 ORDER BY version DESC",
        )
        .map_err(db_error)?;
    let rows = stmt
        .query_map([tenant_id], |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
        .collect()
}

/// Every tenant, by slug.
pub(super) fn list(conn: &Connection) -> Result<Vec<Tenant>, StoreError> {
    let mut stmt = conn
        .prepare("SELECT body FROM tenants ORDER BY slug")
        .map_err(db_error)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    rows.map(|r| {
        r.map_err(db_error)
            .and_then(|b| from_json::<TenantRecord>(&b))
            .map(|t| t.tenant)
    })
    .collect()
}
