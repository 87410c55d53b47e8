//! `/api/admin/*` but documents (`document_routes.rs`) and settings
//! (`settings_routes.rs`): stats, audit log, tenants.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::contract::{InstantOrDay, SessionId, TenantId};
use super::error::ErrorBody;

use super::extract::AdminAuth;
use crate::app::tenants::Admin;
use crate::app::{App, AppError, AppResult, admin, way_forward};
use crate::domain::tenant::Tenant;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/admin/stats/overview", get(stats))
        .route("/api/admin/audit-logs", get(audit_logs))
        .route("/api/admin/tenants", get(tenants))
        .route(
            "/api/admin/sessions/{session_id}/phases/{phase}/reopen",
            post(reopen_phase),
        )
}

/// The admin may act on `tenant_id`, and it exists.
pub(super) async fn admin_of_tenant(app: &App, admin: &Admin, tenant_id: &str) -> AppResult<()> {
    admin.scope(Some(tenant_id))?;
    match app.store.tenant(tenant_id).await? {
        Some(_) => Ok(()),
        None => Err(AppError::not_found(
            "tenant_not_found",
            format!("no tenant {tenant_id}"),
        )),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ScopeQuery {
    /// The platform key: one tenant's figures (else every tenant's). A
    /// tenant's key may name only its own.
    #[param(value_type = Option<TenantId>)]
    #[serde(default, deserialize_with = "tenant_id_param")]
    tenant_id: Option<String>,
}

/// Usage counters.
#[utoipa::path(
    get, path = "/api/admin/stats/overview", tag = "admin", operation_id = "stats_overview",
    params(ScopeQuery),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Usage counters", body = admin::StatsOverview),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
    )
)]
async fn stats(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    query: Result<Query<ScopeQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<admin::StatsOverview>> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    Ok(Json(
        admin::stats(&app, &admin, query.tenant_id.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AuditQueryParams {
    /// The platform key: one tenant's log. A tenant's key may name only its own.
    #[param(value_type = Option<TenantId>)]
    #[serde(default, deserialize_with = "tenant_id_param")]
    tenant_id: Option<String>,
    /// Only this session's entries.
    #[param(value_type = Option<SessionId>)]
    #[serde(default, deserialize_with = "session_id_param")]
    session_id: Option<String>,
    /// Only this action (`session.resumed`, `document.upload_failed`, …); any
    /// text is accepted, one that names no action matches no entry.
    action: Option<String>,
    /// Only this actor (an employee code as stored, `system_admin`,
    /// `tenant_admin`, …); any text is accepted.
    actor: Option<String>,
    /// From this instant (RFC 3339) or day (`2026-12-01`, from its start,
    /// UTC), inclusive; before `to`.
    #[param(value_type = Option<InstantOrDay>)]
    from: Option<String>,
    /// Up to this instant (RFC 3339, exclusive) or day (`2026-12-06`: the
    /// whole day, UTC); after `from`.
    #[param(value_type = Option<InstantOrDay>)]
    to: Option<String>,
    /// Entries a page (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
    /// From 1 (default 1) to 500, whatever the limit.
    #[param(minimum = 1, maximum = 500)]
    page: Option<u32>,
}

/// The audit trail.
#[utoipa::path(
    get, path = "/api/admin/audit-logs", tag = "admin",
    params(AuditQueryParams),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The audit trail, newest first, IPs masked", body = admin::AuditListing),
        (status = 400, description = "`invalid_query`, `invalid_page`, `invalid_limit`, `invalid_range`", body = ErrorBody),
    )
)]
async fn audit_logs(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    query: Result<Query<AuditQueryParams>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<admin::AuditListing>> {
    let Query(q) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    let given = |v: Option<String>| v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let filters = admin::AuditFilters {
        session_id: q.session_id,
        action: given(q.action),
        actor: given(q.actor),
        // A bound given empty is no instant: refused, not read as absent.
        from: q
            .from
            .map(|v| audit_bound(v.trim(), Bound::From))
            .transpose()?,
        to: q.to.map(|v| audit_bound(v.trim(), Bound::To)).transpose()?,
    };
    let listing = admin::audit_logs(
        &app,
        &admin,
        q.tenant_id.as_deref(),
        filters,
        q.page.unwrap_or(1),
        q.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(listing))
}

/// A `tenant_id` query parameter: a tenant id or absent, never empty or
/// malformed (`invalid_query`, as the document's pattern says).
fn tenant_id_param<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    id_param(d, crate::app::tenants::valid_tenant_id, "a tenant id")
}

/// A `session_id` query parameter: a ULID or absent.
fn session_id_param<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    id_param(d, crate::domain::ids::is_ulid, "a session id (a ULID)")
}

fn id_param<'de, D: serde::Deserializer<'de>>(
    d: D,
    valid: fn(&str) -> bool,
    what: &str,
) -> Result<Option<String>, D::Error> {
    let value = String::deserialize(d)?;
    if valid(&value) {
        Ok(Some(value))
    } else {
        Err(serde::de::Error::custom(format!("{value:?} is not {what}")))
    }
}

enum Bound {
    From,
    To,
}

/// An RFC 3339 instant, or a day (UTC): `from` its start, `to` its end.
fn audit_bound(value: &str, bound: Bound) -> AppResult<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(at.with_timezone(&Utc));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        AppError::bad_request(
            "invalid_query",
            format!("{value:?} is neither an RFC 3339 instant nor a day (2026-12-06)"),
        )
    })?;
    let day = match bound {
        Bound::From => day,
        Bound::To => day.succ_opt().unwrap_or(day),
    };
    Ok(day.and_time(NaiveTime::MIN).and_utc())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantList {
    pub tenants: Vec<Tenant>,
    pub total: usize,
}

/// Every tenant (platform key).
#[utoipa::path(
    get, path = "/api/admin/tenants", tag = "admin", operation_id = "list_tenants",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Every tenant", body = TenantList),
        (status = 403, description = "`platform_admin_only`: a tenant's key", body = ErrorBody),
    )
)]
async fn tenants(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
) -> AppResult<Json<TenantList>> {
    let tenants = admin::tenants(&app, &admin).await?;
    let total = tenants.len();
    Ok(Json(TenantList { tenants, total }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SessionTenantQuery {
    /// The session's tenant: required with the platform key; a tenant's
    /// key reaches only its own sessions.
    #[param(value_type = Option<TenantId>)]
    #[serde(default, deserialize_with = "tenant_id_param")]
    tenant_id: Option<String>,
}

/// Reopen a session's current phase (HR): a fresh allowance.
///
/// For an employee stuck in a phase: the turn cap counts messages from
/// here and the draft is cleared; earlier messages and drafts stay. Only
/// the session's current phase: a phase already final (passed or kept
/// below threshold) is not reopened, nor a completed session.
#[utoipa::path(
    post, path = "/api/admin/sessions/{session_id}/phases/{phase}/reopen", tag = "admin", operation_id = "reopen_phase",
    params(
        ("session_id" = SessionId, Path, description = "The session id (a ULID)"),
        ("phase" = super::chat_routes::ChatPhase, Path, description = "The session's current phase"),
        SessionTenantQuery,
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The phase is reopened (audited `phase.reopened` with the admin as actor)", body = way_forward::WayForward),
        (status = 400, description = "`unknown_phase`, `invalid_session_id`, `tenant_required` (the platform key names the tenant), `invalid_query`", body = ErrorBody),
        (status = 404, description = "`session_not_found` (also another tenant's session)", body = ErrorBody),
        (status = 409, description = "`phase_not_current`, `session_completed`, `profile_required`, `turn_in_progress`, `conflict`", body = ErrorBody),
    )
)]
async fn reopen_phase(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path((session_id, phase)): Path<(String, String)>,
    query: Result<Query<SessionTenantQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<way_forward::WayForward>> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    Ok(Json(
        way_forward::reopen(
            &app,
            &admin,
            query.tenant_id.as_deref(),
            &session_id,
            &phase,
            &origin,
        )
        .await?,
    ))
}
