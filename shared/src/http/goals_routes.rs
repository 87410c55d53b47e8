//! `GET /api/goals/session/{id}` and its export as PDF or Markdown.

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::contract::SessionId;
use super::error::ErrorBody;
use super::extract::{ResumeToken, TenantCtx};
use crate::app::export::{self, ExportFormat};
use crate::app::goals::{self, SessionGoals};
use crate::app::{App, AppError, AppResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/goals/session/{id}", get(session_goals))
        .route("/api/goals/session/{id}/export", get(export_goals))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct GoalsQuery {
    /// `true` (the default): only the final goal of each phase; `false`: every version.
    #[param(value_type = Option<bool>)]
    final_only: Option<String>,
}

/// A session's goals, their links and a summary.
#[utoipa::path(
    get, path = "/api/goals/session/{id}", tag = "goals", operation_id = "session_goals",
    params(("id" = SessionId, Path, description = "The session id"), GoalsQuery),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "The session's goals with their links and a summary", body = SessionGoals),
        (status = 400, description = "`invalid_query`, `invalid_session_id`", body = ErrorBody),
    )
)]
async fn session_goals(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
    query: Result<Query<GoalsQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<SessionGoals>> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    let final_only = match query.final_only.as_deref() {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(AppError::bad_request(
                "invalid_query",
                format!("final_only must be true or false, not '{other}'"),
            ));
        }
    };
    let snapshot =
        crate::app::sessions::authorize_snapshot(&app, &tenant, &id, token.as_deref()).await?;
    Ok(Json(goals::session_goals(&app, &snapshot, final_only)))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// `pdf` (the default) or `md`.
    #[param(value_type = Option<ExportFormatName>)]
    format: Option<String>,
}

/// The export formats.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // A schema only: `ExportFormat::parse` reads the query.
pub enum ExportFormatName {
    Pdf,
    Md,
}

/// The final goals as a download (`format=pdf`, the default, or `md`).
#[utoipa::path(
    get, path = "/api/goals/session/{id}/export", tag = "goals", operation_id = "export_goals",
    params(("id" = SessionId, Path, description = "The session id"), ExportQuery),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "The final goals as a download (`Content-Disposition: attachment`)",
            content((String = "application/pdf"), (String = "text/markdown"))),
        (status = 400, description = "`invalid_format`, `invalid_query`, `invalid_session_id`", body = ErrorBody),
    )
)]
async fn export_goals(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
    query: Result<Query<ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Response> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    let format = ExportFormat::parse(query.format.as_deref())
        .ok_or_else(|| AppError::bad_request("invalid_format", "format must be pdf or md"))?;
    let snapshot =
        crate::app::sessions::authorize_snapshot(&app, &tenant, &id, token.as_deref()).await?;
    let goals = goals::session_goals(&app, &snapshot, true);
    let file = export::export(&tenant.tenant.name, &goals, format);
    let disposition = format!("attachment; filename=\"{}\"", file.filename);
    Ok((
        [
            (CONTENT_TYPE, file.content_type.to_string()),
            (CONTENT_DISPOSITION, disposition),
            (CACHE_CONTROL, "no-store".to_string()),
        ],
        file.body,
    )
        .into_response())
}
