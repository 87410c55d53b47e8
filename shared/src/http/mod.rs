//! The HTTP layer: one axum router per route group, served alike by the
//! Lambda functions and by `petraf serve`.

pub mod admin_routes;
pub mod chat_routes;
pub mod contract;
pub mod cors;
pub mod document_routes;
pub mod error;
pub mod extract;
pub mod goals_routes;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod metrics_routes;
pub mod openapi;
pub mod privacy_routes;
#[cfg(test)]
mod readme_routes;
mod request_span;
mod resume_cookie;
pub mod server;
pub mod session_routes;
pub mod settings_routes;
pub mod tenant_routes;
pub mod web;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::Response;
use tracing::Instrument;

use crate::app::App;

/// JSON bodies are small; uploads set their own limit.
pub const JSON_BODY_LIMIT: usize = 64 * 1024;

/// A route group and the layers every group shares.
fn finish(routes: Router<App>, app: App) -> Router {
    routes
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(DefaultBodyLimit::max(JSON_BODY_LIMIT))
        .layer(middleware::from_fn(access_log))
        .layer(middleware::from_fn_with_state(app.clone(), cors::cors))
        .with_state(app)
}

/// `GET /api/openapi.json`. Only the session function serves it (API
/// Gateway routes the path there), so only its package carries the
/// document's generation: every schema's builder code.
fn openapi_route() -> Router<App> {
    Router::new().route(
        "/api/openapi.json",
        axum::routing::get(openapi::openapi_json),
    )
}

/// Sessions, health and the OpenAPI document (the session function).
pub fn session_api(app: App) -> Router {
    finish(
        session_routes::router()
            .merge(tenant_routes::router())
            .merge(privacy_routes::session_router())
            .merge(openapi_route()),
        app,
    )
}

/// The streaming chat (the chat-stream function).
pub fn chat_api(app: App) -> Router {
    finish(chat_routes::router(), app)
}

pub fn goals_api(app: App) -> Router {
    finish(goals_routes::router(), app)
}

/// The admin console's API (the admin function): documents, stats, audit
/// log, tenants.
pub fn admin_api(app: App) -> Router {
    finish(
        admin_routes::router()
            .merge(settings_routes::router())
            .merge(document_routes::router())
            .merge(privacy_routes::admin_router()),
        app,
    )
}

/// Every route group in one router (`petraf serve`).
pub fn full_api(app: App) -> Router {
    let routes = session_routes::router()
        .merge(tenant_routes::router())
        .merge(chat_routes::router())
        .merge(goals_routes::router())
        .merge(admin_routes::router())
        .merge(settings_routes::router())
        .merge(document_routes::router())
        .merge(privacy_routes::session_router())
        .merge(privacy_routes::admin_router())
        .merge(metrics_routes::router())
        .merge(openapi_route());
    finish(routes, app)
}

/// One JSON log line a request, naming the route template, never the path
/// (paths carry session ids). The request runs in a span carrying its id
/// (answered as `X-Request-Id`) and, once known, its tenant: every line it
/// logs carries both.
async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string());
    let request_id = request_span::request_id(request.headers());
    let span = request_span::span(&request_id);
    let mut response = next.run(request).instrument(span.clone()).await;
    request_span::answer_with_id(&mut response, &request_id);
    let _in_span = span.enter();
    tracing::info!(
        method = %method,
        route = route.as_deref().unwrap_or("unmatched"),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}
