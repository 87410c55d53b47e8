//! A tenant's settings as one resource: read, merge-patched (checked
//! against who may change what), versioned and audited with the diff.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::tenants::{Admin, existing};
use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::domain::settings::{
    Editor, FIELDS, FieldChange, PatchRefusal, Patched, SettingsStamp, SettingsVersion,
    apply_patch, audit_changes, changes_between,
};
use crate::domain::tenant::{CoachRetrieval, TenantConfig, TenantRecord};
use crate::ports::state_store::{StoreError, TenantReplacement};

/// Attempts of a change that loses a race with another write of the tenant.
const ATTEMPTS: u32 = 3;

/// The settings in force, their version and who may change each field.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantSettings {
    pub tenant_id: String,
    /// Starts at 1 (the tenant's creation); every change adds one. Also the `ETag`.
    #[schema(minimum = 1)]
    pub version: u32,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// What this version changed from the one before (prompts summarised).
    pub changes: Vec<FieldChange>,
    pub settings: TenantConfig,
    /// Who may change each top-level setting.
    pub editable_by: BTreeMap<String, Editor>,
}

/// One version in the history, without its settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionSummary {
    #[schema(minimum = 1)]
    pub version: u32,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub changes: Vec<FieldChange>,
    /// Whether this is the version in force.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionList {
    pub tenant_id: String,
    /// Newest first; the first is the version in force.
    pub versions: Vec<VersionSummary>,
}

/// A version with the settings it held.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionDetail {
    #[serde(flatten)]
    pub summary: VersionSummary,
    pub settings: TenantConfig,
}

fn editable_by() -> BTreeMap<String, Editor> {
    FIELDS.iter().map(|(f, e)| (f.to_string(), *e)).collect()
}

fn changed_at(stamp: &SettingsStamp, record: &TenantRecord) -> DateTime<Utc> {
    stamp.changed_at.unwrap_or(record.tenant.created_at)
}

pub fn view(record: &TenantRecord) -> TenantSettings {
    TenantSettings {
        tenant_id: record.tenant.id.clone(),
        version: record.settings.version,
        changed_by: record.settings.changed_by.clone(),
        changed_at: changed_at(&record.settings, record),
        changes: record.settings.changes.clone(),
        settings: record.config.clone(),
        editable_by: editable_by(),
    }
}

fn summary(stamp: &SettingsStamp, record: &TenantRecord, current: bool) -> VersionSummary {
    VersionSummary {
        version: stamp.version,
        changed_by: stamp.changed_by.clone(),
        changed_at: changed_at(stamp, record),
        changes: stamp.changes.clone(),
        current,
    }
}

pub async fn settings(app: &App, admin: &Admin, tenant_id: &str) -> AppResult<TenantSettings> {
    admin.scope(Some(tenant_id))?;
    Ok(view(&existing(app, tenant_id).await?))
}

pub async fn versions(app: &App, admin: &Admin, tenant_id: &str) -> AppResult<VersionList> {
    admin.scope(Some(tenant_id))?;
    let record = existing(app, tenant_id).await?;
    let older = app.store.settings_versions(tenant_id).await?;
    let versions = std::iter::once(summary(&record.settings, &record, true))
        .chain(older.iter().map(|v| summary(&v.stamp, &record, false)))
        .collect();
    Ok(VersionList {
        tenant_id: tenant_id.to_string(),
        versions,
    })
}

pub async fn version(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    number: u32,
) -> AppResult<VersionDetail> {
    admin.scope(Some(tenant_id))?;
    let record = existing(app, tenant_id).await?;
    if number == record.settings.version {
        return Ok(VersionDetail {
            summary: summary(&record.settings, &record, true),
            settings: record.config.clone(),
        });
    }
    let older = app.store.settings_versions(tenant_id).await?;
    let kept = older
        .into_iter()
        .find(|v| v.stamp.version == number)
        .ok_or_else(|| {
            AppError::not_found(
                "version_not_found",
                format!("tenant {tenant_id} has no settings version {number}"),
            )
        })?;
    Ok(VersionDetail {
        summary: summary(&kept.stamp, &record, false),
        settings: kept.config,
    })
}

/// Who is changing settings, as what, recorded under which action.
pub struct SettingsChange<'a> {
    pub actor: &'a str,
    pub editor: Editor,
    pub action: &'static str,
    pub origin: &'a RequestOrigin,
    /// The version the caller last read (`If-Match`), when it named one.
    pub if_match: Option<u32>,
}

impl<'a> SettingsChange<'a> {
    pub fn by(admin: &Admin, actor: &'a str, origin: &'a RequestOrigin) -> Self {
        SettingsChange {
            actor,
            editor: match admin {
                Admin::Platform => Editor::Platform,
                Admin::Tenant { .. } => Editor::TenantAdmin,
            },
            action: action::TENANT_SETTINGS_CHANGED,
            origin,
            if_match: None,
        }
    }
}

pub fn refusal(e: PatchRefusal) -> AppError {
    match e {
        PatchRefusal::Invalid(m) => AppError::bad_request("invalid_settings", m),
        PatchRefusal::Unknown(m) => AppError::bad_request("unknown_setting", m),
        PatchRefusal::PlatformOnly(m) => AppError::forbidden("platform_admin_only", m),
    }
}

/// Applies a merge patch to the tenant's settings.
pub async fn update(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    patch: &Value,
    change: SettingsChange<'_>,
) -> AppResult<TenantSettings> {
    admin.scope(Some(tenant_id))?;
    let editor = change.editor;
    let record = change_settings(app, tenant_id, change, |config| {
        apply_patch(config, patch, editor).map_err(refusal)
    })
    .await?;
    Ok(view(&record))
}

/// Writes the config `edit` makes of the current one as a new version,
/// with its audit entry, in one write; reads again when another write of
/// the tenant won the race. No change: nothing is written.
pub async fn change_settings(
    app: &App,
    tenant_id: &str,
    change: SettingsChange<'_>,
    edit: impl Fn(&TenantConfig) -> AppResult<Patched>,
) -> AppResult<TenantRecord> {
    for attempt in 1..=ATTEMPTS {
        let record = existing(app, tenant_id).await?;
        if let Some(expected) = change.if_match
            && expected != record.settings.version
        {
            return Err(AppError::precondition_failed(
                "settings_changed",
                format!(
                    "the settings are at version {}, not {expected}: read them again",
                    record.settings.version
                ),
            ));
        }
        let patched = edit(&record.config)?;
        if patched.changes.is_empty() {
            return Ok(record);
        }
        let now = app.clock.now();
        let superseded = SettingsVersion {
            stamp: SettingsStamp {
                changed_at: Some(changed_at(&record.settings, &record)),
                ..record.settings.clone()
            },
            config: record.config.clone(),
        };
        let mut next = record.clone();
        next.config = patched.config;
        next.settings = SettingsStamp {
            version: record.settings.version + 1,
            changed_by: change.actor.to_string(),
            changed_at: Some(now),
            changes: patched.changes,
        };
        next.revision = record.revision + 1;
        let audit = AuditEntry::new(
            new_id(),
            tenant_id,
            None,
            change.actor,
            change.action,
            ("tenant", tenant_id),
            json!({"version": next.settings.version, "previous_version": record.settings.version}),
            change.origin,
            now,
        )
        .with_changes(audit_changes(&next.settings.changes));
        let replacement = TenantReplacement {
            expected_revision: record.revision,
            record: next.clone(),
            superseded: Some(superseded),
            audit,
        };
        match app.store.replace_tenant(&replacement).await {
            Ok(()) => return Ok(next),
            Err(StoreError::Conflict(_)) if attempt < ATTEMPTS => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::conflict(
        "conflict",
        "the tenant kept changing meanwhile; try again",
    ))
}

/// Who changes a tenant's config, and the audit action that records it.
pub(crate) struct ConfigChange<'a> {
    action: &'static str,
    actor: &'a str,
    origin: &'a RequestOrigin,
}

impl<'a> ConfigChange<'a> {
    pub(crate) fn new(action: &'static str, actor: &'a str, origin: &'a RequestOrigin) -> Self {
        ConfigChange {
            action,
            actor,
            origin,
        }
    }
}

/// Applies `edit` to the tenant's config and stores it as a new settings
/// version with its audit entry (the changes as `{path: {from, to}}`), in
/// one write; `edit` may refuse (then nothing is written). `edit` runs
/// again when another write of the tenant won the race.
pub(crate) async fn change_config(
    app: &App,
    tenant_id: &str,
    change: ConfigChange<'_>,
    edit: impl Fn(&mut TenantConfig) -> AppResult<()>,
) -> AppResult<TenantConfig> {
    let settings_change = SettingsChange {
        actor: change.actor,
        editor: Editor::Platform,
        action: change.action,
        origin: change.origin,
        if_match: None,
    };
    let record = change_settings(app, tenant_id, settings_change, |before| {
        let mut config = before.clone();
        edit(&mut config)?;
        config
            .validate()
            .map_err(|e| AppError::bad_request("invalid_settings", e.0))?;
        let changes = changes_between(before, &config);
        Ok(Patched { config, changes })
    })
    .await?;
    Ok(record.config)
}

/// Chooses what grounds the tenant's coach replies (the tenant's own call:
/// both ways make the same model calls, only their order differs); audited
/// with the choice before and after. Takes effect from the next turn.
pub async fn set_coach_retrieval(
    app: &App,
    tenant_id: &str,
    mode: CoachRetrieval,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<CoachRetrieval> {
    let change = ConfigChange::new(action::TENANT_CONFIG_CHANGED, actor, origin);
    change_config(app, tenant_id, change, |config| {
        config.coach_retrieval = mode;
        Ok(())
    })
    .await?;
    Ok(mode)
}
