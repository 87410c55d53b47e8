//! Tenants: creation, resolution and admin authentication.

use rand::Rng;
use rand::distributions::Alphanumeric;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::{App, AppError, AppResult};
use crate::domain::admin_keys::{AdminKey, key_prefix};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::domain::resume_token::hash_token;
use crate::domain::tenant::{
    Tenant, TenantConfig, TenantRecord, TenantStatus, validate_domain, validate_email,
    validate_slug,
};

/// What `petraf tenant create` asks for.
#[derive(Debug, Clone)]
pub struct NewTenant {
    pub id: Option<String>,
    pub slug: String,
    pub name: String,
    pub domain: String,
    pub admin_email: String,
    pub contact_name: Option<String>,
    pub config: TenantConfig,
}

/// A created tenant and its admin key, shown once.
#[derive(Debug, Clone)]
pub struct CreatedTenant {
    pub record: TenantRecord,
    pub admin_key: String,
}

/// A new admin key: `admin_sk_{slug prefix}_{40 random characters}`.
pub fn generate_admin_key(slug: &str) -> String {
    let prefix: String = slug.chars().take_while(|c| *c != '-').take(16).collect();
    let random: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(40)
        .map(char::from)
        .collect();
    format!("admin_sk_{prefix}_{random}")
}

/// Tenant ids are 1-64 letters, digits or '-' (ULIDs and UUIDs fit).
pub fn valid_tenant_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// Constant-time comparison of two hex digests.
pub fn digests_match(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

pub async fn create_tenant(app: &App, new: NewTenant) -> AppResult<CreatedTenant> {
    let invalid = |e: crate::domain::settings_error::SettingsError| {
        AppError::bad_request("invalid_tenant", e.0)
    };
    validate_slug(&new.slug).map_err(invalid)?;
    validate_domain(&new.domain).map_err(invalid)?;
    validate_email(&new.admin_email).map_err(invalid)?;
    new.config.validate().map_err(invalid)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_request(
            "invalid_tenant",
            "name must be 1-200 characters",
        ));
    }
    let id = new.id.unwrap_or_else(new_id);
    if !valid_tenant_id(&id) {
        return Err(AppError::bad_request(
            "invalid_tenant",
            "id must be 1-64 letters, digits or '-'",
        ));
    }
    let now = app.clock.now();
    let admin_key = generate_admin_key(&new.slug);
    let tenant = Tenant {
        id: id.clone(),
        slug: new.slug.clone(),
        name: name.to_string(),
        domain: new.domain.clone(),
        status: TenantStatus::Active,
        contact_email: new.admin_email.clone(),
        contact_name: new.contact_name,
        created_at: now,
        updated_at: now,
    };
    let record = TenantRecord::new(
        tenant,
        new.config,
        AdminKey {
            prefix: key_prefix(&admin_key),
            hash: hash_token(&admin_key),
            created_at: now,
            created_by: "tenant creation".into(),
            revoked_at: None,
            revoked_by: None,
        },
    );
    let audit = AuditEntry::new(
        new_id(),
        &id,
        None,
        "system_admin",
        action::TENANT_CREATED,
        ("tenant", &id),
        json!({"slug": new.slug, "name": name, "domain": new.domain}),
        &RequestOrigin::default(),
        now,
    );
    app.store
        .create_tenant(&record, &audit)
        .await
        .map_err(|e| match e {
            crate::ports::state_store::StoreError::Conflict(_) => AppError::conflict(
                "tenant_exists",
                "a tenant with this id, slug or domain already exists",
            ),
            other => other.into(),
        })?;
    Ok(CreatedTenant { record, admin_key })
}

pub async fn set_status(app: &App, tenant_id: &str, status: TenantStatus) -> AppResult<Tenant> {
    let record =
        app.store.tenant(tenant_id).await?.ok_or_else(|| {
            AppError::not_found("tenant_not_found", format!("no tenant {tenant_id}"))
        })?;
    let mut tenant = record.tenant;
    let before = tenant.status;
    tenant.status = status;
    tenant.updated_at = app.clock.now();
    let audit = AuditEntry::new(
        new_id(),
        tenant_id,
        None,
        "system_admin",
        action::TENANT_STATUS_CHANGED,
        ("tenant", tenant_id),
        json!({"status": status}),
        &RequestOrigin::default(),
        tenant.updated_at,
    )
    .with_changes(json!({"status": {"from": before, "to": status}}));
    app.store.update_tenant(&tenant, &audit).await?;
    Ok(tenant)
}

/// The tenant's record, or `404 tenant_not_found`.
pub async fn existing_tenant(app: &App, tenant_id: &str) -> AppResult<TenantRecord> {
    existing(app, tenant_id).await
}

/// The tenant's record, or `404 tenant_not_found`.
pub(crate) async fn existing(app: &App, tenant_id: &str) -> AppResult<TenantRecord> {
    app.store
        .tenant(tenant_id)
        .await?
        .ok_or_else(|| AppError::not_found("tenant_not_found", format!("no tenant {tenant_id}")))
}

/// Finds the tenant a request is for: `X-Tenant-ID` first, else the host.
pub async fn resolve(
    app: &App,
    tenant_header: Option<&str>,
    host: Option<&str>,
) -> AppResult<TenantRecord> {
    let record = match (tenant_header, host) {
        (Some(id), _) if valid_tenant_id(id.trim()) => app.store.tenant(id.trim()).await?,
        (Some(_), _) => None,
        (None, Some(host)) => {
            let domain = host
                .trim()
                .rsplit_once(':')
                .map(|(h, _)| h)
                .unwrap_or(host.trim())
                .to_ascii_lowercase();
            app.store.tenant_by_domain(&domain).await?
        }
        (None, None) => None,
    };
    let record = record.ok_or_else(|| {
        AppError::not_found(
            "tenant_not_found",
            "no tenant matches X-Tenant-ID or the Host header",
        )
    })?;
    if record.tenant.status != TenantStatus::Active {
        return Err(AppError::forbidden(
            "tenant_inactive",
            "this tenant is not active",
        ));
    }
    Ok(record)
}

/// Who an admin key belongs to.
#[derive(Debug, Clone)]
pub enum Admin {
    Platform,
    /// A tenant's key: the tenant and which of its keys.
    Tenant {
        record: Box<TenantRecord>,
        key: Box<AdminKey>,
    },
}

impl Admin {
    /// The name the audit log records: a tenant key by its contact (the
    /// key's prefix goes in the entry's `actor_key`, from the request).
    pub fn actor(&self) -> String {
        match self {
            Admin::Platform => "platform_admin".into(),
            Admin::Tenant { record, .. } => record.tenant.contact_email.clone(),
        }
    }

    /// The hash of the tenant key in use (none for the platform key).
    pub fn key_hash(&self) -> Option<&str> {
        match self {
            Admin::Platform => None,
            Admin::Tenant { key, .. } => Some(&key.hash),
        }
    }

    /// Only the platform admin may `what` (e.g. "lists tenants").
    pub fn require_platform(&self, what: &str) -> AppResult<()> {
        match self {
            Admin::Platform => Ok(()),
            Admin::Tenant { .. } => Err(AppError::forbidden(
                "platform_admin_only",
                format!("only the platform admin key {what}"),
            )),
        }
    }

    /// The tenant this admin may act on, given the one a request names.
    pub fn scope(&self, requested: Option<&str>) -> AppResult<Option<String>> {
        match (self, requested) {
            (Admin::Platform, requested) => Ok(requested.map(str::to_string)),
            (Admin::Tenant { record, .. }, Some(t)) if t != record.tenant.id => {
                Err(AppError::forbidden(
                    "forbidden_tenant",
                    "this admin key belongs to another tenant",
                ))
            }
            (Admin::Tenant { record, .. }, _) => Ok(Some(record.tenant.id.clone())),
        }
    }
}

/// The platform key, or an active key of an active tenant; a revoked key
/// is refused from the moment its revocation is written (every request
/// reads the tenant record strongly consistently).
pub async fn authenticate_admin(app: &App, key: Option<&str>) -> AppResult<Admin> {
    let key = key.filter(|k| !k.trim().is_empty()).ok_or_else(|| {
        AppError::unauthorized("missing_admin_key", "send the admin key in X-Admin-Key")
    })?;
    let hash = hash_token(key.trim());
    if let Some(platform) = &app.secrets.platform_admin_key_hash
        && digests_match(platform, &hash)
    {
        return Ok(Admin::Platform);
    }
    let found = app.store.tenant_by_admin_key_hash(&hash).await?;
    let found = found.and_then(|record| {
        let key = record
            .keys()
            .into_iter()
            .find(|k| k.is_active() && digests_match(&k.hash, &hash))?;
        Some((record, key))
    });
    match found {
        Some((record, key)) => {
            if record.tenant.status != TenantStatus::Active {
                return Err(AppError::forbidden(
                    "tenant_inactive",
                    "this tenant is not active",
                ));
            }
            Ok(Admin::Tenant {
                record: Box::new(record),
                key: Box::new(key),
            })
        }
        None => Err(AppError::unauthorized(
            "invalid_admin_key",
            "the admin key is not valid",
        )),
    }
}

/// The walkthrough's demo tenant, created on the first start of an empty
/// data directory.
pub const DEMO_TENANT_ID: &str = "550e8400-e29b-41d4-a716-446655440000";

pub fn demo_tenant() -> NewTenant {
    NewTenant {
        id: Some(DEMO_TENANT_ID.into()),
        slug: "sunrise-corp".into(),
        name: "Sunrise Corporation".into(),
        domain: "sunrise.petraf.com".into(),
        admin_email: "john.davis@sunrisecorp.com".into(),
        contact_name: Some("John Davis".into()),
        config: TenantConfig::defaults(),
    }
}
