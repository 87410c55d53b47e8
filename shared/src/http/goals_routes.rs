//! `GET /api/goals/session/{id}`.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::extract::{ResumeToken, TenantCtx};
use crate::app::goals::{self, SessionGoals};
use crate::app::{App, AppError, AppResult};

pub fn router() -> Router<App> {
    Router::new().route("/api/goals/session/{id}", get(session_goals))
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
