//! `GET /api/tenant`: what a frontend needs to present the tenant (its name,
//! passing score and which profile fields to show), never its prompts or keys.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::extract::TenantCtx;
use crate::app::App;
use crate::domain::tenant::UiFlags;

pub fn router() -> Router<App> {
    Router::new().route("/api/tenant", get(public_tenant))
}

/// The tenant as a frontend presents it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PublicTenant {
    pub id: String,
    pub name: String,
    pub threshold: f64,
    pub max_collect_turns: u32,
    pub ui_flags: UiFlags,
    /// Days a session is kept after its last activity (what employees are told).
    pub retention_days: u32,
}

/// The tenant's public face.
#[utoipa::path(
    get, path = "/api/tenant", tag = "tenant",
    security(("tenant" = [])),
    responses((status = 200, description = "The tenant's name, passing score and profile fields", body = PublicTenant))
)]
async fn public_tenant(State(_): State<App>, TenantCtx(record): TenantCtx) -> Json<PublicTenant> {
    Json(PublicTenant {
        id: record.tenant.id,
        name: record.tenant.name,
        threshold: record.config.threshold,
        max_collect_turns: record.config.max_collect_turns,
        ui_flags: record.config.ui_flags,
        retention_days: record.config.retention_days,
    })
}
