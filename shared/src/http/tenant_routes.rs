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

#[derive(Debug, Serialize)]
struct PublicTenant {
    id: String,
    name: String,
    threshold: f64,
    max_collect_turns: u32,
    ui_flags: UiFlags,
}

async fn public_tenant(State(_): State<App>, TenantCtx(record): TenantCtx) -> Json<PublicTenant> {
    Json(PublicTenant {
        id: record.tenant.id,
        name: record.tenant.name,
        threshold: record.config.threshold,
        max_collect_turns: record.config.max_collect_turns,
        ui_flags: record.config.ui_flags,
    })
}
