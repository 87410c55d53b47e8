//! Offboarding: the platform operator removes a tenant that leaves — its
//! sessions with everything in them, its documents (records, stored
//! originals, chunks and vectors), its settings, admin key, counters and
//! audit log. A dry run lists what would go. The job is idempotent and
//! resumable: every step deletes what is left, so a run that stopped is
//! finished by running it again. One record stays, outside the tenant:
//! `tenant.offboarded` under the pseudo-tenant [`PLATFORM_AUDIT_TENANT`],
//! with the counts the finishing run found and no personal data.

use serde::Serialize;
use serde_json::json;

use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::domain::tenant::TenantStatus;
use crate::ports::state_store::TenantInventory;

/// The audit log's partition for records about tenants that are gone.
pub const PLATFORM_AUDIT_TENANT: &str = "platform";

#[derive(Debug, Clone, Copy)]
pub struct OffboardOptions {
    pub dry_run: bool,
    /// Items deleted per store call.
    pub batch: u32,
    /// Stop after this many purge calls (`None`: until done); how tests
    /// interrupt a run.
    pub max_batches: Option<u32>,
}

impl Default for OffboardOptions {
    fn default() -> Self {
        OffboardOptions {
            dry_run: false,
            batch: 100,
            max_batches: None,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OffboardReport {
    pub tenant_id: String,
    pub dry_run: bool,
    /// What the state store held when the run started.
    pub before: TenantInventory,
    /// The stored originals (object keys) that go, or went.
    pub objects: Vec<String>,
    pub documents_removed: u64,
    pub items_deleted: u64,
    /// What is left (all zero once finished); `None` on a dry run.
    pub after: Option<TenantInventory>,
    pub finished: bool,
}

pub async fn offboard(
    app: &App,
    tenant_id: &str,
    options: OffboardOptions,
    actor: &str,
) -> AppResult<OffboardReport> {
    if tenant_id == PLATFORM_AUDIT_TENANT || !super::tenants::valid_tenant_id(tenant_id) {
        return Err(AppError::bad_request(
            "invalid_tenant_id",
            format!("{tenant_id:?} names no tenant"),
        ));
    }
    let before = app.store.tenant_inventory(tenant_id).await?;
    let documents = app.store.documents(tenant_id).await?;
    let prefix = format!("uploads/{tenant_id}/");
    let mut objects: Vec<String> = documents.iter().map(|d| d.object_key.clone()).collect();
    for key in app.objects.keys_under(&prefix).await?.unwrap_or_default() {
        if !objects.contains(&key) {
            objects.push(key);
        }
    }
    let mut report = OffboardReport {
        tenant_id: tenant_id.into(),
        dry_run: options.dry_run,
        before: before.clone(),
        objects: objects.clone(),
        documents_removed: 0,
        items_deleted: 0,
        after: None,
        finished: before.is_empty() && objects.is_empty(),
    };
    if options.dry_run || report.finished {
        return Ok(report);
    }
    // Nobody uses the tenant while it goes.
    if let Some(record) = app.store.tenant(tenant_id).await?
        && record.tenant.status == TenantStatus::Active
    {
        super::tenants::set_status(app, tenant_id, TenantStatus::Inactive).await?;
    }
    for document in &documents {
        app.vectors.delete_document(tenant_id, &document.id).await?;
        app.objects.delete(&document.object_key).await?;
        match app
            .store
            .delete_document(tenant_id, &document.id, document.revision)
            .await
        {
            Ok(()) => report.documents_removed += 1,
            // Replaced or removed meanwhile: the purge takes what is left.
            Err(crate::ports::state_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    for key in &objects {
        app.objects.delete(key).await?;
    }
    let mut batches = 0;
    loop {
        if options.max_batches.is_some_and(|max| batches >= max) {
            break;
        }
        let deleted = app.store.purge_tenant(tenant_id, options.batch).await?;
        batches += 1;
        report.items_deleted += deleted;
        if deleted == 0 {
            break;
        }
    }
    let after = app.store.tenant_inventory(tenant_id).await?;
    report.finished = after.is_empty();
    report.after = Some(after);
    if report.finished {
        let entry = AuditEntry::new(
            new_id(),
            PLATFORM_AUDIT_TENANT,
            None,
            actor,
            action::TENANT_OFFBOARDED,
            ("tenant", tenant_id),
            json!({
                "sessions": before.sessions,
                "documents": before.documents,
                "audit_entries": before.audit_entries,
                "objects": objects.len(),
                "items_deleted": report.items_deleted,
            }),
            &RequestOrigin::default(),
            app.clock.now(),
        );
        app.store.append_audit(&entry).await?;
    }
    Ok(report)
}
