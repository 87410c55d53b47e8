//! `GET /api/admin/metrics`: `petraf serve`'s operational metrics in Prometheus' text
//! format, for the platform admin key only (tenants' ids are labels). On
//! Lambda the same numbers go to CloudWatch as Embedded Metric Format lines.

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;

use super::extract::AdminAuth;
use crate::app::{App, AppResult};
use crate::telemetry::metrics;

pub fn router() -> Router<App> {
    Router::new().route("/api/admin/metrics", get(prometheus))
}

/// Counts and timings since the process started.
#[utoipa::path(
    get, path = "/api/admin/metrics", tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Prometheus text exposition format (version 0.0.4). Served by `petraf serve` only: on AWS the same metrics are in CloudWatch (namespace `Petraf`) and this path answers 404", content_type = "text/plain", body = String),
        (status = 401, description = "No or an unknown admin key", body = super::error::ErrorBody),
        (status = 403, description = "A tenant admin key: only the platform admin key reads metrics", body = super::error::ErrorBody)
    )
)]
pub(super) async fn prometheus(AdminAuth(admin, _): AdminAuth) -> AppResult<impl IntoResponse> {
    admin.require_platform("reads the metrics")?;
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics::render_prometheus(),
    ))
}
