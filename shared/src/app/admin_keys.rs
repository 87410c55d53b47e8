//! A tenant's admin keys: listed by prefix and dates, created (the key
//! shown once, its hash stored), revoked at once.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::tenants::{Admin, existing, generate_admin_key};
use super::{App, AppError, AppResult};
use crate::domain::admin_keys::{
    AdminKey, KeyRefusal, MAX_ACTIVE_KEYS, add_key, key_prefix, revoke_key,
};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::domain::resume_token::hash_token;
use crate::domain::tenant::TenantRecord;
use crate::ports::state_store::{StoreError, TenantReplacement};

/// Attempts of a change that loses a race with another write of the tenant.
const ATTEMPTS: u32 = 3;

/// A key as listed: never its text nor its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    /// `admin_sk_{slug}_` and six characters; `initial` for a tenant's first
    /// key created before keys could be rotated.
    #[schema(min_length = 1, max_length = 100, pattern = "^[A-Za-z0-9_-]+$")]
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub active: bool,
    /// The key this request was made with.
    pub in_use: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyList {
    pub tenant_id: String,
    /// Active keys first, then revoked ones, newest first within each.
    pub keys: Vec<KeyInfo>,
    #[schema(minimum = 1)]
    pub max_active: usize,
}

/// A new key: `key` is shown this once and never again.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    #[schema(pattern = "^admin_sk_[a-z0-9]*_[A-Za-z0-9]{40}$")]
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

fn info(key: &AdminKey, in_use: Option<&str>) -> KeyInfo {
    KeyInfo {
        prefix: key.prefix.clone(),
        created_at: key.created_at,
        created_by: key.created_by.clone(),
        revoked_at: key.revoked_at,
        revoked_by: key.revoked_by.clone(),
        active: key.is_active(),
        in_use: in_use == Some(key.hash.as_str()),
    }
}

pub async fn list(app: &App, admin: &Admin, tenant_id: &str) -> AppResult<KeyList> {
    admin.scope(Some(tenant_id))?;
    let record = existing(app, tenant_id).await?;
    let mut keys: Vec<KeyInfo> = record
        .keys()
        .iter()
        .map(|k| info(k, admin.key_hash()))
        .collect();
    keys.sort_by(|a, b| {
        b.active
            .cmp(&a.active)
            .then(b.created_at.cmp(&a.created_at))
    });
    Ok(KeyList {
        tenant_id: tenant_id.to_string(),
        keys,
        max_active: MAX_ACTIVE_KEYS,
    })
}

fn refused(e: KeyRefusal) -> AppError {
    match e {
        KeyRefusal::TooMany => AppError::conflict(
            "too_many_keys",
            format!("a tenant holds at most {MAX_ACTIVE_KEYS} active keys: revoke one first"),
        ),
        KeyRefusal::NotFound(p) => AppError::not_found("key_not_found", format!("no key {p}")),
        KeyRefusal::AlreadyRevoked(p) => {
            AppError::conflict("key_revoked", format!("key {p} is already revoked"))
        }
        KeyRefusal::LastKey => AppError::conflict(
            "last_key",
            "this is the tenant's only active key: create another one before revoking it",
        ),
    }
}

pub async fn create(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    origin: &RequestOrigin,
) -> AppResult<CreatedKey> {
    admin.scope(Some(tenant_id))?;
    let actor = admin.actor();
    let mut made: Option<(String, AdminKey)> = None;
    write_keys(app, tenant_id, |record, now| {
        let text = generate_admin_key(&record.tenant.slug);
        let key = AdminKey {
            prefix: key_prefix(&text),
            hash: hash_token(&text),
            created_at: now,
            created_by: actor.clone(),
            revoked_at: None,
            revoked_by: None,
        };
        let mut keys = record.keys();
        if keys.iter().any(|k| k.prefix == key.prefix) {
            return Err(AppError::conflict(
                "conflict",
                "a key with this prefix exists: try again",
            ));
        }
        add_key(&mut keys, key.clone()).map_err(refused)?;
        record.admin_keys = keys;
        made = Some((text, key.clone()));
        Ok(AuditEntry::new(
            new_id(),
            tenant_id,
            None,
            &actor,
            action::ADMIN_KEY_CREATED,
            ("admin_key", &key.prefix),
            json!({"prefix": key.prefix}),
            origin,
            now,
        ))
    })
    .await?;
    let (key, stored) = made.ok_or_else(|| AppError::internal("internal_error", "no key"))?;
    Ok(CreatedKey {
        key,
        info: info(&stored, None),
    })
}

pub async fn revoke(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    prefix: &str,
    origin: &RequestOrigin,
) -> AppResult<KeyInfo> {
    admin.scope(Some(tenant_id))?;
    let actor = admin.actor();
    let mut revoked: Option<AdminKey> = None;
    write_keys(app, tenant_id, |record, now| {
        let mut keys = record.keys();
        let key = revoke_key(&mut keys, prefix, admin.key_hash(), &actor, now).map_err(refused)?;
        record.admin_keys = keys;
        revoked = Some(key);
        Ok(AuditEntry::new(
            new_id(),
            tenant_id,
            None,
            &actor,
            action::ADMIN_KEY_REVOKED,
            ("admin_key", prefix),
            json!({"prefix": prefix}),
            origin,
            now,
        ))
    })
    .await?;
    let key = revoked.ok_or_else(|| AppError::internal("internal_error", "no key"))?;
    Ok(info(&key, admin.key_hash()))
}

/// Changes the tenant's keys as `edit` does and writes the record with
/// `edit`'s audit entry; reads again when another write won the race.
async fn write_keys(
    app: &App,
    tenant_id: &str,
    mut edit: impl FnMut(&mut TenantRecord, DateTime<Utc>) -> AppResult<AuditEntry>,
) -> AppResult<()> {
    for attempt in 1..=ATTEMPTS {
        let record = existing(app, tenant_id).await?;
        let mut next = record.clone();
        let audit = edit(&mut next, app.clock.now())?;
        next.revision = record.revision + 1;
        let replacement = TenantReplacement {
            expected_revision: record.revision,
            record: next,
            superseded: None,
            audit,
        };
        match app.store.replace_tenant(&replacement).await {
            Ok(()) => return Ok(()),
            Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "conflict",
        "the tenant kept changing meanwhile; try again",
    ))
}
