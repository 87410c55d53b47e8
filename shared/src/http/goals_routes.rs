//! `GET /api/goals/session/{id}` and its export as PDF or Markdown.

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ResumeToken, TenantCtx};
use crate::app::export::{self, ExportFormat};
use crate::app::goals::{self, SessionGoals};
use crate::app::{App, AppError, AppResult};

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/goals/session/{id}", get(session_goals))
        .route("/api/goals/session/{id}/export", get(export_goals))
}

#[derive(Debug, Deserialize)]
struct GoalsQuery {
    final_only: Option<String>,
}

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

#[derive(Debug, Deserialize)]
struct ExportQuery {
    format: Option<String>,
}

/// The final goals as a download (`format=pdf`, the default, or `md`).
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
