//! The turn's driver: admission, then grounding and drafting while the
//! lease keeper renews the lease, then the commit.
//!
//! Admitting the turn and running it happen in one task detached from the
//! client's request, so a disconnect cannot leave a lease with nothing
//! running. Whatever stops the turn early (the model, the client leaving,
//! a shutdown, a panic), the commit still runs: it releases the session
//! and keeps the user's message and the reply row.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use super::admission::{self, AdmittedTurn, TurnRequest};
use super::commit::{self, Ending};
use super::drafting::{self, Scored};
use super::events::{ChatEvent, CompleteData, StartData, StreamErrorData};
use super::grounding;
use super::halt::Halt;
use super::lease_keeper::LeaseKeeper;
use super::outbox::Outbox;
use super::turn_metrics::{self, TurnReport};
use crate::app::turns::TurnTicket;
use crate::app::{App, AppError, AppResult, limits};
use crate::domain::audit::RequestOrigin;
use crate::domain::conversation::ConversationState;
use crate::domain::grounding::citations;
use crate::domain::tenant::TenantRecord;

/// Validates a turn, takes the session's lease, stores the user's message
/// and starts the turn. Errors here are plain HTTP errors; once this
/// returns, everything arrives as events.
pub async fn start_turn(
    app: App,
    tenant: TenantRecord,
    phase: &str,
    request: TurnRequest,
    token: Option<&str>,
    origin: RequestOrigin,
) -> AppResult<mpsc::Receiver<ChatEvent>> {
    let (phase, step) = admission::parse_target(phase, &request.step)?;
    let ticket = admission::enter(&app)?;
    let token = token.map(str::to_string);
    let (ready_tx, ready_rx) = oneshot::channel();
    // Detached from this request: if the client goes away while the lease
    // is being taken, the turn still starts, finds nobody listening and
    // releases the session at once.
    tokio::spawn(
        async move {
            let (tx, rx) = mpsc::channel(64);
            let admitted =
                admission::admit(app, tenant, phase, step, request, token.as_deref(), origin).await;
            match admitted {
                Ok(turn) => {
                    // A failed send drops `rx`: the turn sees the client gone.
                    let _ = ready_tx.send(Ok(rx));
                    run(turn, tx, ticket).await;
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                }
            }
        }
        // Still the request's: its logs name it, its subsegments nest in it.
        .in_current_span(),
    );
    ready_rx.await.unwrap_or_else(|_| {
        Err(AppError::internal(
            "internal_error",
            "the turn could not start; please send the message again",
        ))
    })
}

/// Runs an admitted turn to its commit, streaming its events to `events`.
async fn run(mut turn: AdmittedTurn, events: mpsc::Sender<ChatEvent>, mut ticket: TurnTicket) {
    let started = Instant::now();
    let keeper = LeaseKeeper::start(&turn.app, turn.state.clone());
    let mut out = Outbox::new(events, turn.phase);
    let start = StartData {
        phase: turn.phase,
        step: turn.step,
        timestamp: turn.app.clock.now(),
    };
    out.send(ChatEvent::Start(start)).await;

    let leased = turn.state.clone();
    let listener = out.listener();
    let mut next_query = None;
    let steps = ground_and_draft(&mut turn, &mut out, &mut next_query);
    let outcome = supervised(steps, listener, &mut ticket).await;
    let stored = keeper.stop().await;
    let at = turn.app.clock.now();
    let latency_ms = started.elapsed().as_millis() as u64;
    let finished = outcome.is_ok();
    let mut halted = None;
    let scored = match outcome {
        Ok(scored) => scored,
        Err(halt) => {
            halted = Some(halt);
            abandon(&mut turn, &mut out, leased, halted.as_ref()).await;
            None
        }
    };
    let verdict = scored.as_ref().map(|s| s.verdict);
    let ending = Ending {
        scored,
        next_query,
        stored,
        at,
        latency_ms,
    };
    let committed = commit::commit(&mut turn, &out, ending).await;
    turn_metrics::record(TurnReport {
        tenant_id: &turn.tenant.tenant.id,
        provider: turn.app.model.provider(),
        phase: turn.phase.as_str(),
        outcome: turn_metrics::outcome(halted.as_ref(), verdict, committed.is_ok()),
        first_text_ms: out.first_text_ms,
        duration_ms: latency_ms,
        usage: out.usage,
    });
    match committed {
        Ok(step) if finished => {
            out.release_held().await;
            let complete = CompleteData {
                phase: turn.phase,
                step,
                full_response: out.full_response.clone(),
                chunks: out.chunk_index,
                tokens_used: out.usage.into(),
                latency_ms,
                timestamp: at,
                sources: out.sources.clone(),
                standing: limits::PhaseStanding::of(
                    &turn.tenant,
                    &turn.session.id,
                    &turn.state,
                    &turn.history,
                    &turn.goals,
                ),
            };
            out.send(ChatEvent::Complete(complete)).await;
        }
        Ok(_) => out.release_held().await,
        Err(e) => {
            out.discard_held();
            let e: AppError = e.into();
            let failed = StreamErrorData::new("commit_failed", e.message);
            out.send(ChatEvent::Error(failed)).await;
        }
    }
}

/// The steps between admission and commit: the passages, then the model
/// calls. What they produce waits in `turn`, `out` and `next_query` for
/// the commit.
async fn ground_and_draft(
    turn: &mut AdmittedTurn,
    out: &mut Outbox,
    next_query: &mut Option<Vec<f32>>,
) -> Result<Option<Scored>, Halt> {
    let mut ctx = turn.coaching_context();
    let fresh = grounding::ground(turn, &mut ctx, next_query).await?;
    out.sources = citations(&ctx.documents, &[]);
    drafting::draft(turn, out, ctx, fresh, next_query).await
}

/// Runs `steps` until they end, the client stops listening (dropping the
/// model calls at once rather than at the next streamed piece) or the
/// process asks running turns to stop. A bug that panics mid-turn still
/// ends in a halt, so the session is released.
async fn supervised<T>(
    steps: impl Future<Output = Result<T, Halt>>,
    listener: mpsc::Sender<ChatEvent>,
    ticket: &mut TurnTicket,
) -> Result<T, Halt> {
    tokio::select! {
        driven = AssertUnwindSafe(steps).catch_unwind() => match driven {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!("a chat turn panicked");
                Err(Halt::Storage(AppError::internal(
                    "internal_error",
                    "the turn failed; please send the message again",
                )))
            }
        },
        _ = listener.closed() => Err(Halt::Disconnected),
        _ = ticket.stop_requested() => Err(Halt::ShuttingDown),
    }
}

/// Drops whatever the halted steps produced (the user's message stays
/// stored), logs why the turn stopped and tells the client if it listens.
async fn abandon(
    turn: &mut AdmittedTurn,
    out: &mut Outbox,
    leased: ConversationState,
    halt: Option<&Halt>,
) {
    let Some(halt) = halt else { return };
    out.discard_held();
    turn.state = leased;
    turn.state.abandon_step();
    match halt {
        Halt::Model(e) => {
            tracing::warn!(session = %crate::domain::privacy::mask(&turn.session.id), error = %e, "chat turn stopped by the model")
        }
        Halt::Disconnected => tracing::info!("client disconnected; turn cancelled"),
        Halt::Storage(_) | Halt::ShuttingDown => {}
    }
    if let Some(event) = halt.event() {
        out.send(event).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::chat::test_support::{
        FIRST_ANSWER, Fixture, READY_ANSWER, down, names, rewired,
    };
    use crate::domain::message::Role;
    use crate::domain::phase::Phase;

    async fn turn(fx: &Fixture, message: &str) -> Vec<ChatEvent> {
        let mut rx = start_turn(
            fx.app.clone(),
            fx.tenant.clone(),
            "g4_future",
            fx.request(message),
            Some(&fx.token),
            RequestOrigin::default(),
        )
        .await
        .unwrap();
        let mut events = vec![];
        while let Some(event) = rx.recv().await {
            events.push(event);
        }
        events
    }

    #[tokio::test]
    async fn a_turn_streams_its_reply_then_completes_stored() {
        let fx = Fixture::new().await;
        let events = turn(&fx, FIRST_ANSWER).await;
        assert_eq!(names(&events), ["start", "message", "complete"]);
        let Some(ChatEvent::Complete(complete)) = events.last() else {
            unreachable!()
        };
        assert!(fx.conversation().await.lease.is_none(), "released");
        let messages = fx.app.store.messages(&fx.tenant.tenant.id, &fx.session_id);
        let messages = messages.await.unwrap();
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant]);
        assert_eq!(messages[1].content, complete.full_response);
    }

    #[tokio::test]
    async fn a_passing_goal_is_announced_once_stored() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.threshold = 0.0;
        let events = turn(&fx, READY_ANSWER).await;
        assert_eq!(
            names(&events),
            [
                "start", "message", "state", "refined", "state", "score", "state", "complete"
            ]
        );
        assert_eq!(fx.conversation().await.phase, Phase::G6Values);
    }

    #[tokio::test]
    async fn a_model_fault_ends_in_an_error_and_releases_the_session() {
        let mut fx = Fixture::new().await;
        fx.app = rewired(&fx.app, |ports| ports.model = down());
        let events = turn(&fx, FIRST_ANSWER).await;
        assert_eq!(names(&events), ["start", "error"]);
        let stored = fx.conversation().await;
        assert!(stored.lease.is_none());
        assert_eq!(stored.step, crate::domain::phase::Step::Collect);
        let messages = fx.app.store.messages(&fx.tenant.tenant.id, &fx.session_id);
        assert_eq!(
            messages.await.unwrap().len(),
            2,
            "the user's and the reply row"
        );
    }

    #[tokio::test]
    async fn a_shutting_down_process_refuses_new_turns() {
        let fx = Fixture::new().await;
        fx.app
            .turns
            .shut_down(std::time::Duration::ZERO, std::time::Duration::ZERO)
            .await;
        let refused = start_turn(
            fx.app.clone(),
            fx.tenant.clone(),
            "g4_future",
            fx.request(FIRST_ANSWER),
            Some(&fx.token),
            RequestOrigin::default(),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(refused.code, "shutting_down");
    }
}
