//! The data-protection routes: an employee erases or exports their session
//! with its resume token; a tenant admin erases sessions and exports the
//! tenant's data; retention is set per tenant.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use utoipa::ToSchema;

use super::admin_routes::admin_of_tenant;
use super::contract::{SessionId, TenantId};
use super::error::ErrorBody;
use super::extract::{AdminAuth, ApiJson, ResumeToken, TenantCtx};
use super::resume_cookie;
use crate::app::data_export::{self, EmployeeExport};
use crate::app::erasure::{self, ErasureReport, ErasureRequest};
use crate::app::{App, AppError, AppResult, sessions};

/// The employee's routes (the session function).
pub fn session_router() -> Router<App> {
    Router::new()
        .route("/api/session/{id}", delete(erase_own_session))
        .route("/api/session/{id}/export", get(export_own_session))
}

/// The tenant admin's routes (the admin function).
pub fn admin_router() -> Router<App> {
    Router::new()
        .route(
            "/api/admin/tenants/{tenant_id}/erasures",
            post(erase_sessions),
        )
        .route("/api/admin/tenants/{tenant_id}/export", get(export_tenant))
        .route(
            "/api/admin/tenants/{tenant_id}/retention",
            get(get_retention).put(set_retention),
        )
}

/// Erase my session: everything stored about it, for good.
#[utoipa::path(
    delete, path = "/api/session/{id}", tag = "session", operation_id = "erase_session",
    params(("id" = SessionId, Path, description = "The session id")),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "Erased: the session, its conversation, goals and links are gone, its audit entries masked (`session.erased` recorded); the cookie is removed",
            body = ErasureReport, headers(("Set-Cookie" = String, description = "`resume_token=; Max-Age=0`"))),
        (status = 400, description = "`invalid_session_id`", body = ErrorBody),
        (status = 404, description = "`session_not_found`: erased already", body = ErrorBody),
    )
)]
async fn erase_own_session(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    headers: HeaderMap,
    ResumeToken(token): ResumeToken,
) -> AppResult<Response> {
    let session = sessions::authorize(&app, &tenant, &id, token.as_deref()).await?;
    let erased = erasure::erase_session(&app, &session, erasure::EMPLOYEE_ACTOR, "employee")
        .await?
        .ok_or_else(|| AppError::not_found("session_not_found", "no such session"))?;
    let report = ErasureReport {
        erased_sessions: vec![session.id],
        erased,
    };
    Ok((
        [(SET_COOKIE, resume_cookie::cleared(&headers))],
        Json(report),
    )
        .into_response())
}

/// My data: the session, the whole conversation and every goal, as JSON.
#[utoipa::path(
    get, path = "/api/session/{id}/export", tag = "session", operation_id = "export_session",
    params(("id" = SessionId, Path, description = "The session id")),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "Everything stored about the session (an attachment)", body = EmployeeExport,
            headers(("Content-Disposition" = String, description = "`attachment; filename=\"petraf-session-{id}.json\"`"))),
        (status = 400, description = "`invalid_session_id`", body = ErrorBody),
        (status = 404, description = "`session_not_found`", body = ErrorBody),
    )
)]
async fn export_own_session(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
) -> AppResult<Response> {
    let snapshot = sessions::authorize_snapshot(&app, &tenant, &id, token.as_deref()).await?;
    let export = data_export::employee_export(&app, &snapshot)?;
    let disposition = format!(
        "attachment; filename=\"petraf-session-{}.json\"",
        snapshot.session.id
    );
    Ok((
        [(
            CONTENT_DISPOSITION,
            HeaderValue::from_str(&disposition).expect("a ULID is a valid header value"),
        )],
        Json(export),
    )
        .into_response())
}

/// Erase sessions of the tenant: one by id, or every session of an employee code.
#[utoipa::path(
    post, path = "/api/admin/tenants/{tenant_id}/erasures", tag = "admin", operation_id = "erase_sessions",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    request_body = ErasureRequest,
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The sessions erased (none when the code matched none); each recorded `session.erased` with the admin as actor and no personal data", body = ErasureReport),
        (status = 400, description = "`invalid_erasure` (not exactly one of the two), `invalid_session_id`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `tenant_not_found`", body = ErrorBody),
    )
)]
async fn erase_sessions(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
    ApiJson(request): ApiJson<ErasureRequest>,
) -> AppResult<Json<ErasureReport>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    Ok(Json(
        erasure::erase_for_admin(&app, &admin, &tenant_id, request).await?,
    ))
}

/// The tenant's data as newline-delimited JSON, streamed.
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/export", tag = "admin", operation_id = "export_tenant",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "One JSON object a line, `{\"type\", \"data\"}`: the tenant first, then each session and its goals, the documents' records (with the object keys of their originals), the audit log newest first, and `end` with the counts (a body without it was cut short). Recorded `tenant.data_exported`.",
            content_type = "application/x-ndjson", body = data_export::ExportLine),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn export_tenant(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Response> {
    admin.scope(Some(&tenant_id))?;
    let lines = data_export::tenant_export(&app, &admin, &tenant_id, &origin).await?;
    let body = tokio_stream::wrappers::ReceiverStream::new(lines)
        .map(|line| line.map_err(|e| std::io::Error::other(format!("{}: {}", e.code, e.message))));
    let mut headers = HeaderMap::new();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-ndjson"),
    );
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_str(&format!(
            "attachment; filename=\"petraf-{tenant_id}.ndjson\""
        ))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
    );
    Ok((headers, Body::from_stream(body)).into_response())
}

/// How long a tenant keeps a session after its last activity.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RetentionSetting {
    /// Days after a session's last activity before it is deleted with
    /// everything derived from it (30–3650; default 365).
    #[schema(minimum = 30, maximum = 3650)]
    pub retention_days: u32,
}

/// The tenant's retention period: its own admin may read it.
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/retention", tag = "admin", operation_id = "get_retention",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The retention in force", body = RetentionSetting),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn get_retention(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<RetentionSetting>> {
    admin.scope(Some(&tenant_id))?;
    Ok(Json(RetentionSetting {
        retention_days: crate::app::retention::retention_days(&app, &tenant_id).await?,
    }))
}

/// Sets the tenant's retention period; its own admin may.
#[utoipa::path(
    put, path = "/api/admin/tenants/{tenant_id}/retention", tag = "admin", operation_id = "set_retention",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    request_body = RetentionSetting,
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The retention now in force (audited `tenant.retention_changed`)", body = RetentionSetting),
        (status = 400, description = "`invalid_retention`: outside 30–3650 days; `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn set_retention(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
    ApiJson(setting): ApiJson<RetentionSetting>,
) -> AppResult<Json<RetentionSetting>> {
    admin.scope(Some(&tenant_id))?;
    let days = crate::app::retention::set_retention_days(
        &app,
        &tenant_id,
        setting.retention_days,
        &admin.actor(),
        &origin,
    )
    .await?;
    Ok(Json(RetentionSetting {
        retention_days: days,
    }))
}
