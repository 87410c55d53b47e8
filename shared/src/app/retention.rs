//! Retention (GDPR art. 5(1)(e)): each tenant keeps a session
//! `retention_days` after its last activity, then deletes it with
//! everything derived from it. DynamoDB's TTL deletes the session item by
//! itself; the sweep here deletes every expired session whole, on any
//! store, and is what `petraf serve` runs periodically on the embedded
//! store (and `petraf retention sweep` runs once).

use serde::Serialize;
use serde_json::json;

use super::settings::{ConfigChange, change_config};
use super::tenants::existing;
use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::domain::tenant::Retention;
use crate::ports::state_store::{CounterDelta, SessionErasure};

/// The actor of a deletion by retention.
pub const RETENTION_ACTOR: &str = "retention";

/// Sessions read per page of the sweep.
const PAGE: u32 = 100;

pub async fn retention_days(app: &App, tenant_id: &str) -> AppResult<u32> {
    Ok(existing(app, tenant_id).await?.config.retention_days)
}

/// Sets the tenant's retention; audited with the value before and after.
/// Sessions already past the new period go at the next sweep.
pub async fn set_retention_days(
    app: &App,
    tenant_id: &str,
    days: u32,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<u32> {
    Retention::validate(days).map_err(|e| AppError::bad_request("invalid_retention", e.0))?;
    let change = ConfigChange::new(action::TENANT_RETENTION_CHANGED, actor, origin);
    change_config(app, tenant_id, change, |config| {
        config.retention_days = days;
        Ok(())
    })
    .await?;
    Ok(days)
}

/// What one sweep deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    pub tenants: u64,
    pub sessions_deleted: u64,
}

/// Deletes every session, of every tenant, whose last activity is older
/// than its tenant's retention; each recorded `session.retention_expired`
/// (no personal data) and counted in `sessions_expired_by_retention`.
pub async fn sweep(app: &App) -> AppResult<SweepReport> {
    let mut report = SweepReport::default();
    for tenant in app.store.list_tenants().await? {
        let Some(record) = app.store.tenant(&tenant.id).await? else {
            continue;
        };
        report.tenants += 1;
        report.sessions_deleted +=
            sweep_tenant(app, &tenant.id, record.config.retention_days).await?;
    }
    Ok(report)
}

async fn sweep_tenant(app: &App, tenant_id: &str, days: u32) -> AppResult<u64> {
    let mut deleted = 0;
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .sessions_page(tenant_id, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last().map(|s| s.id.clone()) else {
            return Ok(deleted);
        };
        let now = app.clock.now();
        for session in page {
            let last_activity = session.last_accessed_at.max(session.updated_at);
            if !Retention::has_expired(days, last_activity, now) {
                continue;
            }
            let erasure = SessionErasure {
                tenant_id: tenant_id.into(),
                session_id: session.id.clone(),
                audit: AuditEntry::new(
                    new_id(),
                    tenant_id,
                    Some(&session.id),
                    RETENTION_ACTOR,
                    action::SESSION_RETENTION_EXPIRED,
                    ("session", &session.id),
                    json!({"retention_days": days, "last_activity_day": last_activity.date_naive()}),
                    &RequestOrigin::default(),
                    now,
                ),
                counters: super::erasure::counters_of_deletion(
                    &session,
                    CounterDelta {
                        sessions_expired_by_retention: 1,
                        ..Default::default()
                    },
                ),
            };
            if app.store.erase_session(&erasure).await?.is_some() {
                deleted += 1;
            }
        }
        after = Some(last);
    }
}

/// Runs [`sweep`] now and every `every` until the process ends; a failed
/// sweep is logged and tried again at the next tick.
pub async fn sweep_periodically(app: App, every: std::time::Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sweep(&app).await {
            Ok(report) if report.sessions_deleted > 0 => tracing::info!(
                sessions_deleted = report.sessions_deleted,
                tenants = report.tenants,
                "retention sweep"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e.message, "retention sweep failed; retrying at the next tick")
            }
        }
    }
}
