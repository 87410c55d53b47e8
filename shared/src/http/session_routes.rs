//! `/api/session/*` and `/api/health`.

use axum::extract::{Path, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiJson, OptionalJson, Origin, RESUME_COOKIE, ResumeToken, TenantCtx};
use crate::app::{App, AppResult, sessions};
use crate::domain::session::ProfileInput;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/session/create", post(create))
        .route("/api/session/resume", post(resume))
        .route("/api/session/{id}/info", put(update_info))
        .route("/api/session/{id}/complete", post(complete))
}

/// `resume_token` cookie: HttpOnly, Secure, SameSite=Lax, for the token's life.
fn resume_cookie(token: &str, expires_at: DateTime<Utc>, now: DateTime<Utc>) -> HeaderValue {
    let max_age = (expires_at - now).num_seconds().max(0);
    HeaderValue::from_str(&format!(
        "{RESUME_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; Secure; SameSite=Lax"
    ))
    .expect("JWTs and numbers are valid header characters")
}

async fn health(State(app): State<App>) -> Response {
    let database = match app.store.ping().await {
        Ok(()) => "healthy",
        Err(e) => {
            tracing::error!(error = %e, "health check: state store unreachable");
            "unhealthy"
        }
    };
    let healthy = database == "healthy";
    let body = json!({
        "status": if healthy { "healthy" } else { "degraded" },
        "version": app.settings.version,
        "timestamp": app.clock.now(),
        "services": {
            "database": database,
            "redis": "not_configured",
            "openai": if app.model.provider() == "openai" { "configured" } else { "not_configured" },
            "state_store": app.store.name(),
            "vector_store": app.vectors.name(),
            "object_store": app.objects.name(),
            "chat_model": app.model.provider(),
            "embedder": app.embedder.name(),
        }
    });
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    metadata: Value,
}

async fn create(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Origin(origin): Origin,
    OptionalJson(body): OptionalJson<CreateBody>,
) -> AppResult<Response> {
    let created = sessions::create(&app, &tenant, body.metadata, &origin).await?;
    let s = &created.session;
    let cookie = resume_cookie(&created.resume_token, s.expires_at, s.created_at);
    let body = json!({
        "session_id": s.id,
        "resume_token": created.resume_token,
        "expires_at": s.expires_at,
        "status": s.status,
    });
    Ok((StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(body)).into_response())
}

async fn update_info(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
    Origin(origin): Origin,
    ApiJson(input): ApiJson<ProfileInput>,
) -> AppResult<Json<sessions::SessionView>> {
    let session = sessions::authorize(&app, &tenant, &id, token.as_deref()).await?;
    Ok(Json(
        sessions::update_info(&app, &tenant, session, input, &origin).await?,
    ))
}

async fn complete(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
) -> AppResult<Json<Value>> {
    let session = sessions::authorize(&app, &tenant, &id, token.as_deref()).await?;
    sessions::complete(&app, &session).await?;
    Ok(Json(
        json!({"success": true, "message": format!("Session {id} completed successfully")}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResumeBody {
    resume_token: Option<String>,
}

async fn resume(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    ResumeToken(cookie_or_bearer): ResumeToken,
    Origin(origin): Origin,
    OptionalJson(body): OptionalJson<ResumeBody>,
) -> AppResult<Response> {
    let token = body
        .resume_token
        .filter(|t| !t.trim().is_empty())
        .or(cookie_or_bearer);
    let (view, token) = sessions::resume(&app, &tenant, token.as_deref(), &origin).await?;
    let cookie = resume_cookie(&token, view.expires_at, app.clock.now());
    Ok(([(SET_COOKIE, cookie)], Json(view)).into_response())
}
