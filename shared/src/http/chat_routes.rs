//! `POST /api/chat/{phase}/stream`: a chat turn as server-sent events.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::post;
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::ReceiverStream;

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
