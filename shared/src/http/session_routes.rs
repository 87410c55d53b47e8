//! `/api/session/*` and `/api/health`.

use axum::extract::{Path, Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::chat_routes;
use super::contract::{MessageId, SessionId};
use super::error::ErrorBody;
use super::extract::{ApiJson, OptionalJson, Origin, ResumeToken, TenantCtx};
use super::resume_cookie;
use crate::app::{App, AppError, AppResult, limits, sessions, transcript, way_forward};
use crate::domain::session::ProfileInput;

pub fn router() -> Router<App> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/session/create", post(create))
        .route("/api/session/resume", post(resume))
        .route("/api/session/cookie", delete(leave_this_browser))
        .route("/api/session/{id}/info", put(update_info))
        .route("/api/session/{id}/complete", post(complete))
        .route("/api/session/{id}/messages", get(messages))
        .route(
            "/api/session/{id}/phases/{phase}/keep-best",
            post(keep_best),
        )
        .route(
            "/api/session/{id}/phases/{phase}/start-over",
            post(start_over),
        )
}

/// `GET /api/health`: whether storage answers, and the adapter behind each service.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `healthy`, or `degraded` when the state store does not answer.
    #[schema(example = "healthy")]
    pub status: String,
    pub version: String,
    pub timestamp: DateTime<Utc>,
    pub services: HealthServices,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HealthServices {
    /// `healthy` or `unhealthy`.
    pub database: String,
    pub redis: String,
    pub openai: String,
    pub state_store: String,
    pub vector_store: String,
    pub object_store: String,
    pub chat_model: String,
    pub embedder: String,
}

/// Health: storage reachable, and the adapter behind each service.
#[utoipa::path(
    get, path = "/api/health", tag = "meta",
    responses(
        (status = 200, description = "Healthy", body = Health),
        (status = 503, description = "The state store does not answer (`status: degraded`)", body = Health),
    )
)]
async fn health(State(app): State<App>) -> Response {
    let database = match app.store.ping().await {
        Ok(()) => "healthy",
        Err(e) => {
            tracing::error!(error = %e, "health check: state store unreachable");
            "unhealthy"
        }
    };
    let healthy = database == "healthy";
    let configured = |yes: bool| if yes { "configured" } else { "not_configured" };
    let body = Health {
        status: if healthy { "healthy" } else { "degraded" }.into(),
        version: app.settings.version.clone(),
        timestamp: app.clock.now(),
        services: HealthServices {
            database: database.into(),
            redis: "not_configured".into(),
            openai: configured(app.model.provider() == "openai").into(),
            state_store: app.store.name().into(),
            vector_store: app.vectors.name().into(),
            object_store: app.objects.name().into(),
            chat_model: app.model.provider().into(),
            embedder: app.embedder.name().into(),
        },
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The (optional) body of `POST /api/session/create`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSession {
    /// Free-form client details kept with the session (`source`, `device`, …).
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!({"source": "web", "device": "desktop"}))]
    pub metadata: Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedSession {
    /// A ULID.
    pub session_id: String,
    /// Send as `Authorization: Bearer` (or rely on the cookie) on every session call.
    pub resume_token: String,
    pub expires_at: DateTime<Utc>,
    pub status: crate::domain::session::SessionStatus,
}

/// Create a session and its resume token.
#[utoipa::path(
    post, path = "/api/session/create", tag = "session", operation_id = "create_session",
    security(("tenant" = [])),
    request_body(content = Option<CreateSession>, description = "Optional; an empty body is `{}`"),
    responses(
        (status = 201, description = "The new session; the token is also set as the `resume_token` cookie",
            body = CreatedSession, headers(("Set-Cookie" = String, description = "`resume_token=…; Path=/; HttpOnly; SameSite=Strict; Secure` (host-only; no `Secure` for a loopback host)"))),
        (status = 400, description = "`invalid_json`, `invalid_body`, `invalid_metadata`", body = ErrorBody),
        (status = 429, description = "`rate_limited`: this address created the tenant's hourly number of sessions",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the window ends"))),
    )
)]
async fn create(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Origin(origin): Origin,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<CreateSession>,
) -> AppResult<Response> {
    let created = sessions::create(&app, &tenant, body.metadata, &origin).await?;
    let s = &created.session;
    let cookie = resume_cookie::issued(&created.resume_token, s.expires_at, s.created_at, &headers);
    let body = CreatedSession {
        session_id: s.id.clone(),
        resume_token: created.resume_token,
        expires_at: s.expires_at,
        status: s.status,
    };
    Ok((StatusCode::CREATED, [(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// Set the employee's profile.
#[utoipa::path(
    put, path = "/api/session/{id}/info", tag = "session", operation_id = "update_profile",
    params(("id" = SessionId, Path, description = "The session id")),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    request_body = ProfileInput,
    responses(
        (status = 200, description = "The session with its profile; phase `g4_future`, completion 10", body = sessions::SessionView),
        (status = 400, description = "`invalid_profile` (a field missing, too long or with control characters), `invalid_session_id`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "`session_completed`, `conflict`", body = ErrorBody),
    )
)]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Completed {
    pub success: bool,
    pub message: String,
}

/// Confirm a session whose three goals are final.
#[utoipa::path(
    post, path = "/api/session/{id}/complete", tag = "session", operation_id = "complete_session",
    params(("id" = SessionId, Path, description = "The session id")),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "Confirmed", body = Completed),
        (status = 400, description = "`invalid_session_id`", body = ErrorBody),
        (status = 409, description = "`session_incomplete` (a phase has no final goal), `session_completed`, `conflict`", body = ErrorBody),
    )
)]
async fn complete(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
) -> AppResult<Json<Completed>> {
    let session = sessions::authorize(&app, &tenant, &id, token.as_deref()).await?;
    sessions::complete(&app, &session).await?;
    Ok(Json(Completed {
        success: true,
        message: format!("Session {id} completed successfully"),
    }))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct MessagesQuery {
    /// The `next_cursor` of the previous page; absent: from the first message.
    #[param(value_type = Option<MessageId>)]
    cursor: Option<String>,
    /// Messages per page, 1-200 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    limit: Option<String>,
}

/// The session's conversation, oldest first, a page at a time.
#[utoipa::path(
    get, path = "/api/session/{id}/messages", tag = "session", operation_id = "session_messages",
    params(("id" = SessionId, Path, description = "The session id"), MessagesQuery),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "A page of messages in conversation order; an assistant turn that refined a goal carries it with its score", body = transcript::TranscriptPage),
        (status = 400, description = "`invalid_session_id`, `invalid_cursor` (not a message of this session), `invalid_limit` (outside 1-200), `invalid_query`", body = ErrorBody),
    )
)]
async fn messages(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(id): Path<String>,
    ResumeToken(token): ResumeToken,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<transcript::TranscriptPage>> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    let limit = transcript::parse_limit(query.limit.as_deref())?;
    let snapshot = sessions::authorize_snapshot(&app, &tenant, &id, token.as_deref()).await?;
    let mut page = transcript::page(&snapshot, query.cursor.as_deref(), limit)?;
    page.standing = limits::PhaseStanding::of(
        &tenant,
        &snapshot.session.id,
        &snapshot.state,
        &snapshot.messages,
        &snapshot.goals,
    );
    Ok(Json(page))
}

/// Keep the best-scoring draft of the current phase and move on.
///
/// Allowed once the phase's attempts ran out: its turn cap is reached, or
/// the employee had the tenant's `keep_best_after_attempts` scored attempts
/// below threshold. The draft becomes the phase's final goal, marked
/// `below_threshold: true`; the conversation moves on as after a pass.
#[utoipa::path(
    post, path = "/api/session/{id}/phases/{phase}/keep-best", tag = "session", operation_id = "keep_best_draft",
    params(
        ("id" = SessionId, Path, description = "The session id"),
        ("phase" = chat_routes::ChatPhase, Path, description = "The session's current phase"),
    ),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "The draft is final (audited `goal.kept_below_threshold`); the session is in the next phase", body = way_forward::WayForward),
        (status = 400, description = "`unknown_phase`, `invalid_session_id`", body = ErrorBody),
        (status = 409, description = "`attempts_left` (the phase still has attempts), `no_scored_draft`, `phase_not_current`, `session_completed`, `profile_required`, `turn_in_progress`, `conflict`", body = ErrorBody),
    )
)]
async fn keep_best(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path((id, phase)): Path<(String, String)>,
    ResumeToken(token): ResumeToken,
    Origin(origin): Origin,
) -> AppResult<Json<way_forward::WayForward>> {
    Ok(Json(
        way_forward::keep_best(&app, &tenant, &id, token.as_deref(), &phase, &origin).await?,
    ))
}

/// Start the current phase over once its attempts ran out.
///
/// The phase gets a fresh allowance (the turn cap counts messages from
/// here); the draft is cleared; earlier messages and drafts stay stored
/// (the best draft may still be kept later).
#[utoipa::path(
    post, path = "/api/session/{id}/phases/{phase}/start-over", tag = "session", operation_id = "start_phase_over",
    params(
        ("id" = SessionId, Path, description = "The session id"),
        ("phase" = chat_routes::ChatPhase, Path, description = "The session's current phase"),
    ),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    responses(
        (status = 200, description = "The phase starts over (audited `phase.restarted`)", body = way_forward::WayForward),
        (status = 400, description = "`unknown_phase`, `invalid_session_id`", body = ErrorBody),
        (status = 409, description = "`attempts_left` (the phase still has attempts), `phase_not_current`, `session_completed`, `profile_required`, `turn_in_progress`, `conflict`", body = ErrorBody),
    )
)]
async fn start_over(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path((id, phase)): Path<(String, String)>,
    ResumeToken(token): ResumeToken,
    Origin(origin): Origin,
) -> AppResult<Json<way_forward::WayForward>> {
    Ok(Json(
        way_forward::start_over(&app, &tenant, &id, token.as_deref(), &phase, &origin).await?,
    ))
}

/// The (optional) body of `POST /api/session/resume`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeSession {
    /// Else the `Authorization: Bearer` header or the `resume_token` cookie.
    pub resume_token: Option<String>,
}

/// Resume a session with its token (body, Bearer or cookie).
#[utoipa::path(
    post, path = "/api/session/resume", tag = "session", operation_id = "resume_session",
    security(("tenant" = []), ("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    request_body(content = Option<ResumeSession>, description = "Optional: the token here, or as Bearer or cookie"),
    responses(
        (status = 200, description = "The session; the cookie is set again",
            body = sessions::SessionView, headers(("Set-Cookie" = String, description = "`resume_token=…`"))),
        (status = 400, description = "`invalid_json`", body = ErrorBody),
        (status = 404, description = "`session_not_found`, `tenant_not_found`", body = ErrorBody),
    )
)]
async fn resume(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    ResumeToken(cookie_or_bearer): ResumeToken,
    Origin(origin): Origin,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<ResumeSession>,
) -> AppResult<Response> {
    let token = body
        .resume_token
        .filter(|t| !t.trim().is_empty())
        .or(cookie_or_bearer);
    let (view, token) = sessions::resume(&app, &tenant, token.as_deref(), &origin).await?;
    let cookie = resume_cookie::issued(&token, view.expires_at, app.clock.now(), &headers);
    Ok(([(SET_COOKIE, cookie)], Json(view)).into_response())
}

/// Leave this browser: removes the resume cookie, so that a shared computer
/// keeps no way back into the session. The session itself is untouched and
/// the resume link still works; no credential is needed to drop a cookie.
#[utoipa::path(
    delete, path = "/api/session/cookie", tag = "session", operation_id = "leave_this_browser",
    responses(
        (status = 204, description = "The cookie is removed (whether or not the browser had one)",
            headers(("Set-Cookie" = String, description = "`resume_token=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict` (and `Secure` off loopback)"))),
    )
)]
async fn leave_this_browser(headers: HeaderMap) -> Response {
    (
        StatusCode::NO_CONTENT,
        [(SET_COOKIE, resume_cookie::cleared(&headers))],
    )
        .into_response()
}
