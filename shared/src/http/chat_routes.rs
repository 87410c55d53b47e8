//! `POST /api/chat/{phase}/stream`: a chat turn as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::post;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;

use super::error::ErrorBody;
use super::extract::{ApiJson, Origin, ResumeToken, TenantCtx};
use crate::app::chat::{self, ChatEvent, TurnRequest};
use crate::app::{App, AppResult};

pub fn router() -> Router<App> {
    Router::new().route("/api/chat/{phase}/stream", post(stream))
}

fn to_sse(event: ChatEvent) -> Result<Event, Infallible> {
    Ok(Event::default()
        .event(event.name())
        .data(event.data().to_string()))
}

/// The phases a chat turn may name.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // A schema only: the handler parses the path itself.
pub enum ChatPhase {
    G4Future,
    G6Values,
    G8Actions,
}

/// One chat turn, streamed.
///
/// Each event's data schema is named in the 200 response's `x-sse-events`.
#[utoipa::path(
    post, path = "/api/chat/{phase}/stream", tag = "chat", operation_id = "chat_turn",
    params(("phase" = ChatPhase, Path, description = "The conversation; must be the session's current phase")),
    security(("tenant" = [], "resume_token" = []), ("tenant" = [], "resume_cookie" = [])),
    request_body = TurnRequest,
    responses(
        (status = 200, description = "One chat turn as server-sent events: `start`, `message`…, then `refined` and `score` when a goal is drafted, `state` at each transition, `complete` (or `error`); `complete` tells the messages left in the phase (`turns_left`) and, once its attempts ran out, the ways forward (`next_steps`)",
            content_type = "text/event-stream", body = String),
        (status = 400, description = "`unknown_phase`, `unknown_step`, `invalid_session_id`, `empty_message`, `message_too_long`, `goal_too_long`, `invalid_characters`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 409, description = "The session's state refuses the turn: `phase_mismatch` (not its current phase), `step_mismatch`, `nothing_to_edit` (`refine` with no draft), `turn_in_progress` (another message of this session is being answered), `session_completed`, `profile_required`", body = ErrorBody),
        (status = 429, description = "`rate_limited` (this address's turns per minute; `Retry-After`), `turn_limit_reached` (this phase's turn cap; the body's `error.next_steps` names the ways forward: `keep_best` when the phase has a scored draft, and `start_over`), `token_budget_exhausted` (the tenant's monthly budget; `Retry-After`: the next month)",
            body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds until the limit's window ends; absent for `turn_limit_reached`"))),
        (status = 503, description = "The model is unavailable", body = ErrorBody),
    )
)]
async fn stream(
    State(app): State<App>,
    TenantCtx(tenant): TenantCtx,
    Path(phase): Path<String>,
    ResumeToken(token): ResumeToken,
    Origin(origin): Origin,
    ApiJson(request): ApiJson<TurnRequest>,
) -> AppResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let events = chat::start_turn(app, tenant, &phase, request, token.as_deref(), origin).await?;
    let stream = ReceiverStream::new(events).map(to_sse);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
