//! One chat turn: collect → (refine → score), streamed as events.
//!
//! The turn takes a lease on the conversation (a guarded write that also
//! stores the user's message, so nothing the user sent is lost), runs the
//! model calls in a task that feeds a channel, and commits everything it
//! produced in one atomic change that releases the lease.
//!
//! Taking the lease and running the turn happen in one task detached from
//! the client's request, so a disconnect cannot leave a lease with nothing
//! running. The lease is short and renewed while the turn runs, so a crash
//! locks a session for at most one lease term.
//! No model call waits in front of the coach's stream: the coach's collect
//! reply leads with its own readiness verdict, and a ready verdict (or a
//! refine forced by `max_collect_turns`) starts refining and scoring the
//! goal while the coach is still streaming. Events keep their order.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, Shared};
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::judging::Retrieved;
use super::lease::{LeaseKeeper, lease_term};
use super::turns::TurnTicket;
use super::{App, AppError, AppResult, judging, limits, sessions};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::coaching::{HistoryTurn, PhaseContext, Readiness};
use crate::domain::conversation::{ConversationState, TurnError, TurnKind, Verdict};
use crate::domain::goal::{Goal, fit_goal_text, links_for_actions};
use crate::domain::grounding::{QuantizedVector, citations};
use crate::domain::hygiene::{normalize_newlines, strip_invisible};
use crate::domain::ids::new_id;
use crate::domain::limits::Window;
use crate::domain::message::{Message, Role, Source, Usage};
use crate::domain::phase::{GoalType, Phase, Step};
use crate::domain::scoring::{Rubric, ScoreCard};
use crate::domain::session::{Session, SessionStatus};
use crate::domain::tenant::{CoachRetrieval, TenantRecord};
use crate::ports::chat_model::{ChatModel, CoachPurpose, ModelError, StreamPiece};
use crate::ports::state_store::{
    CounterDelta, Guarded, SessionChange, SessionSnapshot, StoreError,
};

/// The body of `POST /api/chat/{phase}/stream`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurnRequest {
    pub session_id: String,
    pub message: String,
    #[serde(default = "collect_step")]
    pub step: String,
    /// Client hints (previous_messages, previous_goal); informational only.
    #[serde(default)]
    pub context: Value,
}

fn collect_step() -> String {
    "collect".into()
}

#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct TokensUsed {
    pub input: u32,
    pub output: u32,
    pub total: u32,
}

impl From<Usage> for TokensUsed {
    fn from(u: Usage) -> Self {
        TokensUsed {
            input: u.input,
            output: u.output,
            total: u.total(),
        }
    }
}

/// The events a turn streams, in the order a client sees them.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatEvent {
    Start {
        phase: Phase,
        step: Step,
        timestamp: DateTime<Utc>,
    },
    Message {
        content: String,
        phase: Phase,
        step: Step,
        chunk_index: u32,
    },
    State {
        phase: Phase,
        step: Step,
        completion_percentage: u8,
    },
    Refined {
        goal: String,
        phase: Phase,
        characters: usize,
        version: u32,
    },
    Score {
        goal_id: String,
        phase: Phase,
        card: ScoreCard,
    },
    Complete {
        phase: Phase,
        step: Step,
        full_response: String,
        chunks: u32,
        tokens_used: Usage,
        latency_ms: u64,
        timestamp: DateTime<Utc>,
        /// The company-document passages the turn used.
        sources: Vec<Source>,
    },
    Error {
        code: String,
        message: String,
    },
}

impl ChatEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Start { .. } => "start",
            ChatEvent::Message { .. } => "message",
            ChatEvent::State { .. } => "state",
            ChatEvent::Refined { .. } => "refined",
            ChatEvent::Score { .. } => "score",
            ChatEvent::Complete { .. } => "complete",
            ChatEvent::Error { .. } => "error",
        }
    }

    /// The event's data, typed in [`super::chat_events`].
    pub fn data(&self) -> Value {
        use super::chat_events::*;
        let data = match self.clone() {
            ChatEvent::Start {
                phase,
                step,
                timestamp,
            } => serde_json::to_value(StartData {
                phase,
                step,
                timestamp,
            }),
            ChatEvent::Message {
                content,
                phase,
                step,
                chunk_index,
            } => serde_json::to_value(MessageData {
                content,
                phase,
                step,
                chunk_index,
            }),
            ChatEvent::State {
                phase,
                step,
                completion_percentage,
            } => serde_json::to_value(StateData {
                phase,
                step,
                completion_percentage,
            }),
            ChatEvent::Refined {
                goal,
                phase,
                characters,
                version,
            } => serde_json::to_value(RefinedData {
                goal,
                phase,
                characters,
                version,
            }),
            ChatEvent::Score {
                goal_id,
                phase,
                card,
            } => serde_json::to_value(ScoreData {
                goal_id,
                phase,
                card,
            }),
            ChatEvent::Complete {
                phase,
                step,
                full_response,
                chunks,
                tokens_used,
                latency_ms,
                timestamp,
                sources,
            } => serde_json::to_value(CompleteData {
                phase,
                step,
                full_response,
                chunks,
                tokens_used: TokensUsed::from(tokens_used),
                latency_ms,
                timestamp,
                sources,
            }),
            ChatEvent::Error { code, message } => {
                serde_json::to_value(StreamErrorData { code, message })
            }
        };
        data.expect("event data serializes")
    }
}

fn turn_error(e: TurnError) -> AppError {
    match e {
        TurnError::TurnInProgress => AppError::conflict(e.code(), e.to_string()),
        TurnError::SessionCompleted => AppError::conflict(e.code(), e.to_string()),
        TurnError::ProfileRequired => AppError::conflict(e.code(), e.to_string()),
        _ => AppError::bad_request(e.code(), e.to_string()),
    }
}

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
    let phase: Phase = phase
        .parse()
        .map_err(|e: crate::domain::phase::UnknownName| {
            AppError::bad_request("unknown_phase", e.to_string())
        })?;
    if !phase.is_conversational() {
        return Err(AppError::bad_request(
            "unknown_phase",
            format!("{phase} is not a conversation phase"),
        ));
    }
    let step: Step = request
        .step
        .parse()
        .map_err(|e: crate::domain::phase::UnknownName| {
            AppError::bad_request("unknown_step", e.to_string())
        })?;
    let ticket = app.turns.enter().ok_or_else(|| {
        AppError::unavailable(
            "shutting_down",
            "the server is restarting; send the message again in a moment",
        )
    })?;
    let token = token.map(str::to_string);
    let (ready_tx, ready_rx) = oneshot::channel();
    // Detached from this request: if the client goes away while the lease
    // is being taken, the turn still starts, finds nobody listening and
    // releases the session at once.
    tokio::spawn(async move {
        let (tx, rx) = mpsc::channel(64);
        let leased = lease_turn(
            app,
            tenant,
            phase,
            step,
            request,
            token.as_deref(),
            origin,
            tx,
        )
        .await;
        match leased {
            Ok(turn) => {
                // A failed send drops `rx`: the turn sees the client gone.
                let _ = ready_tx.send(Ok(rx));
                turn.run(ticket).await;
            }
            Err(e) => {
                let _ = ready_tx.send(Err(e));
            }
        }
    });
    ready_rx.await.unwrap_or_else(|_| {
        Err(AppError::internal(
            "internal_error",
            "the turn could not start; please send the message again",
        ))
    })
}

/// Authorizes the turn, then takes the lease with the user's message in one
/// guarded write.
#[allow(clippy::too_many_arguments)]
async fn lease_turn(
    app: App,
    tenant: TenantRecord,
    phase: Phase,
    step: Step,
    request: TurnRequest,
    token: Option<&str>,
    origin: RequestOrigin,
    events: mpsc::Sender<ChatEvent>,
) -> AppResult<Turn> {
    let SessionSnapshot {
        session,
        state,
        messages: mut history,
        goals,
        ..
    } = sessions::authorize_snapshot(&app, &tenant, &request.session_id, token).await?;
    let now = app.clock.now();
    let text = strip_invisible(&normalize_newlines(&request.message));
    let kind = state
        .plan_turn(phase, step, &text, now)
        .map_err(turn_error)?;
    let tokens_before = match within_limits(&app, &tenant, &history, phase).await {
        Ok(tokens) => tokens,
        Err(refused) => {
            limits::count_refusal(&app, &tenant.tenant.id, &refused).await;
            return Err(refused);
        }
    };

    let mut leased = state.clone();
    leased.begin_turn(new_id(), now, lease_term(&app));
    leased.version += 1;
    let user_message = Message {
        id: new_id(),
        session_id: session.id.clone(),
        tenant_id: session.tenant_id.clone(),
        role: Role::User,
        content: text.trim().to_string(),
        phase,
        step,
        tokens_prompt: 0,
        tokens_completion: 0,
        latency_ms: 0,
        model_used: None,
        created_at: now,
        sources: vec![],
    };
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.state = Some(Guarded::replacing(state.version, leased.clone()));
    change.messages.push(user_message.clone());
    change.counters = CounterDelta {
        messages: 1,
        messages_day: Some(now.date_naive()),
        ..Default::default()
    };
    change.charges.extend(limits::address_charge(
        limits::TURNS,
        &origin,
        tenant.config.limits.turns_per_address_per_minute,
        Window::Minute,
        now,
    ));
    if let Err(e) = app.store.apply(change.clone()).await {
        if let Some(refused) = limits::charge_refused(&e, &change.charges, now) {
            limits::count_refusal(&app, &tenant.tenant.id, &refused).await;
            return Err(refused);
        }
        return Err(match e {
            StoreError::Conflict(_) => AppError::conflict(
                "turn_in_progress",
                "another message for this session is being processed",
            ),
            other => other.into(),
        });
    }

    history.push(user_message);
    Ok(Turn {
        app,
        tenant,
        session,
        history,
        goals,
        state: leased,
        kind,
        origin,
        out: Outbox::new(events, phase, step),
        progress: None,
        tokens_before,
        next_query: None,
    })
}

/// The phase's turn cap and the month's budget; the month's tokens so far
/// when the tenant has a budget. A budget spent during a turn never stops
/// that turn: it is checked here, before the turn starts.
async fn within_limits(
    app: &App,
    tenant: &TenantRecord,
    history: &[Message],
    phase: Phase,
) -> AppResult<Option<i64>> {
    limits::check_turn_cap(tenant, history, phase)?;
    limits::check_budget(app, tenant).await
}

/// How a passing goal moves the session on; applied to the session as
/// stored at commit time, so requests that changed it meanwhile (a resume,
/// a profile edit) do not make the turn fail.
#[derive(Debug, Clone, Copy)]
struct Progress {
    completion: u8,
    completes: bool,
    at: DateTime<Utc>,
}

/// Attempts at a turn's commit when only the session changed meanwhile.
const COMMIT_ATTEMPTS: u32 = 4;

/// Sends events and keeps what the turn streamed.
struct Outbox {
    tx: mpsc::Sender<ChatEvent>,
    phase: Phase,
    step: Step,
    chunk_index: u32,
    full_response: String,
    usage: Usage,
    disconnected: bool,
    held: Option<Vec<ChatEvent>>,
    /// The passages retrieval gave this turn, cited in `complete`.
    sources: Vec<Source>,
}

impl Outbox {
    fn new(tx: mpsc::Sender<ChatEvent>, phase: Phase, step: Step) -> Self {
        Outbox {
            tx,
            phase,
            step,
            chunk_index: 0,
            full_response: String::new(),
            usage: Usage::default(),
            disconnected: false,
            held: None,
            sources: vec![],
        }
    }

    async fn send(&mut self, event: ChatEvent) {
        if let Some(held) = &mut self.held {
            held.push(event);
            return;
        }
        if !self.disconnected && self.tx.send(event).await.is_err() {
            self.disconnected = true;
        }
    }

    /// Holds back every later event until [`Outbox::release_held`]: what
    /// follows is a result the client may only see once it is stored.
    fn hold(&mut self) {
        self.held.get_or_insert_with(Vec::new);
    }

    async fn release_held(&mut self) {
        for event in self.held.take().unwrap_or_default() {
            self.send(event).await;
        }
    }

    fn discard_held(&mut self) {
        self.held = None;
    }

    async fn text(&mut self, content: String, step: Step) {
        self.chunk_index += 1;
        self.full_response.push_str(&content);
        let event = ChatEvent::Message {
            content,
            phase: self.phase,
            step,
            chunk_index: self.chunk_index,
        };
        self.send(event).await;
    }
}

/// Why a turn stopped early.
#[derive(Debug)]
enum Halt {
    Model(ModelError),
    Disconnected,
    ShuttingDown,
    Storage(AppError),
}

impl From<ModelError> for Halt {
    fn from(e: ModelError) -> Self {
        Halt::Model(e)
    }
}

impl From<AppError> for Halt {
    fn from(e: AppError) -> Self {
        Halt::Storage(e)
    }
}

struct Turn {
    app: App,
    tenant: TenantRecord,
    session: Session,
    /// The session's messages, the user's new one last.
    history: Vec<Message>,
    /// The session's goals before this turn.
    goals: Vec<Goal>,
    state: ConversationState,
    kind: TurnKind,
    origin: RequestOrigin,
    out: Outbox,
    /// Set when the turn's goal passed.
    progress: Option<Progress>,
    /// The month's tokens before this turn, when the tenant has a budget.
    tokens_before: Option<i64>,
    /// The embedding of this turn's retrieval query, kept for the phase's
    /// next turn.
    next_query: Option<Vec<f32>>,
}

/// What a scored attempt adds to the commit.
struct Scored {
    goal: Goal,
    verdict: Verdict,
}

/// A goal refined from the phase's answers, and scored when it could be.
struct Drafted {
    goal: Result<String, ModelError>,
    /// `None` when not scored (the refine failed, or the phase has no rubric).
    card: Option<Result<ScoreCard, ModelError>>,
    /// What the calls cost, failed ones included.
    usage: Usage,
}

type DraftFuture = Pin<Box<dyn Future<Output = Drafted> + Send>>;

/// Refining and scoring started ahead, while the coach still streams. It
/// runs inside the turn's task, so dropping it (the client left, the coach
/// failed) cancels its in-flight calls.
enum Ahead {
    Idle,
    Running(DraftFuture),
    Done(Drafted),
}

impl Ahead {
    /// Runs `work`, driving the pending draft meanwhile.
    async fn alongside<T>(&mut self, work: impl Future<Output = T>) -> T {
        let mut work = std::pin::pin!(work);
        loop {
            let Ahead::Running(draft) = self else {
                return work.await;
            };
            let drafted = tokio::select! {
                biased;
                out = &mut work => return out,
                drafted = draft => drafted,
            };
            *self = Ahead::Done(drafted);
        }
    }

    /// The draft, once it is done; `None` if none was started.
    async fn finish(self) -> Option<Drafted> {
        match self {
            Ahead::Idle => None,
            Ahead::Running(draft) => Some(draft.await),
            Ahead::Done(drafted) => Some(drafted),
        }
    }
}

/// The turn's own retrieval (the phase's answers, this message included),
/// running in a task of its own while the coach streams from the passages
/// the phase's remembered query found. Dropping it (the client left, the
/// turn failed) cancels its embedding call.
struct FreshRetrieval {
    result: Shared<BoxFuture<'static, Option<Retrieved>>>,
    _cancel: CancelOnDrop,
}

struct CancelOnDrop(tokio::task::AbortHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl FreshRetrieval {
    fn start(app: App, tenant: TenantRecord, phase: Phase, query: String) -> Self {
        let task =
            tokio::spawn(async move { judging::retrieve(&app, &tenant, phase, &query).await });
        let cancel = CancelOnDrop(task.abort_handle());
        let result = async move {
            match task.await {
                Ok(Ok(retrieved)) => Some(retrieved),
                Ok(Err(e)) => {
                    // The coach's passages stand in; the next turn tries again.
                    tracing::warn!(error = %e.message, "the turn's own retrieval failed");
                    None
                }
                Err(_) => None,
            }
        }
        .boxed()
        .shared();
        FreshRetrieval {
            result,
            _cancel: cancel,
        }
    }
}

/// Refines the phase's answers into a goal and scores it, grounded in the
/// turn's own retrieval when there is one.
async fn draft_goal(
    model: std::sync::Arc<dyn ChatModel>,
    mut ctx: PhaseContext,
    fresh: Option<Shared<BoxFuture<'static, Option<Retrieved>>>>,
    earlier_draft: Option<String>,
    rubric: Option<Rubric>,
    threshold: f64,
) -> Drafted {
    if let Some(fresh) = fresh
        && let Some(retrieved) = fresh.await
    {
        ctx.documents = retrieved.documents;
    }
    let mut usage = Usage::default();
    let goal = match model.refine(&ctx, earlier_draft.as_deref()).await {
        Ok(refined) => {
            usage += refined.usage;
            let goal = fit_goal_text(&refined.value);
            if goal.is_empty() {
                Err(ModelError::Malformed("the refined goal is empty".into()))
            } else {
                Ok(goal)
            }
        }
        Err(e) => Err(e),
    };
    let card = match (&goal, rubric) {
        (Ok(goal), Some(rubric)) => Some(
            judging::judge_goal(model.as_ref(), &ctx, goal, &rubric, threshold, &mut usage).await,
        ),
        _ => None,
    };
    Drafted { goal, card, usage }
}

impl Turn {
    async fn run(mut self, mut ticket: TurnTicket) {
        let started = Instant::now();
        let keeper = LeaseKeeper::start(&self.app, self.state.clone());
        let timestamp = self.app.clock.now();
        self.out
            .send(ChatEvent::Start {
                phase: self.out.phase,
                step: self.out.step,
                timestamp,
            })
            .await;

        let leased = self.state.clone();
        let mut change = SessionChange::new(&self.session.tenant_id, &self.session.id);
        let listener = self.out.tx.clone();
        let outcome = tokio::select! {
            // A bug that panics mid-turn must still release the session.
            driven = AssertUnwindSafe(self.drive(&mut change)).catch_unwind() => match driven {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::error!("a chat turn panicked");
                    Err(Halt::Storage(AppError::internal(
                        "internal_error",
                        "the turn failed; please send the message again",
                    )))
                }
            },
            // Nobody listens any more: stop now (dropping the model calls)
            // rather than at the next streamed piece.
            _ = listener.closed() => Err(Halt::Disconnected),
            _ = ticket.stop_requested() => Err(Halt::ShuttingDown),
        };
        drop(listener);
        let stored = keeper.stop().await;
        let now = self.app.clock.now();
        let latency_ms = started.elapsed().as_millis() as u64;
        if let Err(halt) = &outcome {
            // Whatever was produced is dropped; the user's message stays stored.
            change = SessionChange::new(&self.session.tenant_id, &self.session.id);
            self.progress = None;
            self.out.discard_held();
            self.state = leased.clone();
            self.state.abandon_step();
            match halt {
                Halt::Model(e) => {
                    tracing::warn!(session = %crate::domain::privacy::mask(&self.session.id), error = %e, "chat turn stopped by the model");
                    self.out
                        .send(ChatEvent::Error {
                            code: e.code().into(),
                            message: e.to_string(),
                        })
                        .await;
                }
                Halt::Storage(e) => {
                    self.out
                        .send(ChatEvent::Error {
                            code: e.code.into(),
                            message: e.message.clone(),
                        })
                        .await;
                }
                Halt::ShuttingDown => {
                    self.out
                        .send(ChatEvent::Error {
                            code: "shutting_down".into(),
                            message: "the server is restarting; send the message again in a moment"
                                .into(),
                        })
                        .await;
                }
                Halt::Disconnected => tracing::info!("client disconnected; turn cancelled"),
            }
        }
        if let Some(query) = self.next_query.take() {
            self.state
                .remember_query(self.out.phase, QuantizedVector::new(&query));
        }
        let final_step = self.state.step;
        self.state.end_turn(now);
        self.state.version = stored.version + 1;
        change.state = Some(Guarded::replacing(stored.version, self.state.clone()));
        // Every turn stores its assistant row, failed ones too (then with
        // whatever text streamed, maybe none): it carries the tokens and
        // latency the turn cost.
        let reply = Message {
            id: new_id(),
            session_id: self.session.id.clone(),
            tenant_id: self.session.tenant_id.clone(),
            role: Role::Assistant,
            content: self.out.full_response.clone(),
            phase: self.out.phase,
            step: final_step,
            tokens_prompt: self.out.usage.input,
            tokens_completion: self.out.usage.output,
            latency_ms,
            model_used: Some(self.app.model.model_for(&self.context_stub())),
            created_at: now,
            sources: self.out.sources.clone(),
        };
        change.messages.push(reply.clone());
        change.counters.messages += 1;
        change.counters.messages_day = Some(now.date_naive());
        let spent = i64::from(self.out.usage.total());
        change.counters.tokens = spent;
        change.counters.month_of = Some(now.date_naive());
        change.budget =
            limits::budget_alerts(&self.tenant, self.tokens_before, &self.session.id, now);
        if let Err(e) = self.commit(change).await {
            tracing::error!(error = %e, "could not commit a chat turn");
            self.release_after_failed_commit(&stored, reply, now).await;
            self.out.discard_held();
            let e: AppError = e.into();
            self.out
                .send(ChatEvent::Error {
                    code: "commit_failed".into(),
                    message: e.message,
                })
                .await;
            return;
        }
        self.out.release_held().await;
        if outcome.is_ok() {
            self.out
                .send(ChatEvent::Complete {
                    phase: self.out.phase,
                    step: final_step,
                    full_response: self.out.full_response.clone(),
                    chunks: self.out.chunk_index,
                    tokens_used: self.out.usage,
                    latency_ms,
                    timestamp: now,
                    sources: self.out.sources.clone(),
                })
                .await;
        }
    }

    /// Applies the turn's change. The conversation is guarded by the turn's
    /// own lease, so a conflict there means the lease was lost. The session
    /// is written only when the goal passed, on top of the session as stored
    /// now; a conflict there means another request changed the session
    /// (a resume, a profile edit) — nothing the turn's result depends on —
    /// so it is read again and the commit retried.
    async fn commit(&mut self, mut change: SessionChange) -> Result<(), StoreError> {
        let mut attempt = 1;
        loop {
            if let Some(progress) = self.progress {
                self.move_session_on(&mut change, progress).await?;
            }
            match self.app.store.apply(change.clone()).await {
                Err(StoreError::Conflict(why))
                    if attempt < COMMIT_ATTEMPTS
                        && self.progress.is_some()
                        && self.lease_still_held(&change).await =>
                {
                    tracing::debug!(%why, attempt, "the session changed during a turn; committing again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn lease_still_held(&self, change: &SessionChange) -> bool {
        let Some(Guarded {
            expect: crate::ports::state_store::Expect::Version(expected),
            ..
        }) = &change.state
        else {
            return false;
        };
        matches!(
            self.app.store.conversation(&self.session.tenant_id, &self.session.id).await,
            Ok(Some(stored)) if stored.version == *expected
        )
    }

    /// Writes the passing goal's progress onto the session as stored now.
    async fn move_session_on(
        &self,
        change: &mut SessionChange,
        progress: Progress,
    ) -> Result<(), StoreError> {
        let session = self
            .app
            .store
            .session(&self.session.tenant_id, &self.session.id)
            .await?
            .ok_or_else(|| StoreError::Conflict("the session is gone".into()))?;
        let mut updated = session.clone();
        updated.completion_percentage = updated.completion_percentage.max(progress.completion);
        updated.updated_at = progress.at;
        updated.last_accessed_at = progress.at;
        if progress.completes {
            updated.status = SessionStatus::Completed;
            updated.completed_at = Some(progress.at);
        }
        updated.version += 1;
        change.counters.completion_points =
            updated.completion_percentage as i64 - session.completion_percentage as i64;
        change.session = Some(Guarded::replacing(session.version, updated));
        Ok(())
    }

    /// When the turn's commit fails (storage fault, or the lease was lost),
    /// releases the session as it was before the turn and keeps the reply
    /// row, so the next message is not refused until the lease expires. The
    /// turn's goal, if any, is lost; the user's message is not.
    async fn release_after_failed_commit(
        &self,
        stored: &ConversationState,
        reply: Message,
        now: DateTime<Utc>,
    ) {
        let mut released = stored.clone();
        released.abandon_step();
        released.end_turn(now);
        released.version = stored.version + 1;
        let mut change = SessionChange::new(&self.session.tenant_id, &self.session.id);
        change.state = Some(Guarded::replacing(stored.version, released));
        change.counters.tokens = i64::from(reply.tokens_prompt + reply.tokens_completion);
        change.counters.month_of = Some(now.date_naive());
        change.budget =
            limits::budget_alerts(&self.tenant, self.tokens_before, &self.session.id, now);
        change.messages.push(reply);
        change.counters.messages = 1;
        change.counters.messages_day = Some(now.date_naive());
        if let Err(e) = self.app.store.apply(change).await {
            tracing::error!(error = %e, "could not release the session after a failed commit; its lease will expire");
        }
    }

    fn context_stub(&self) -> PhaseContext {
        PhaseContext {
            company: self.tenant.tenant.name.clone(),
            model: self.tenant.config.llm_model.clone(),
            profile: self.session.profile.clone(),
            phase: self.out.phase,
            prompts: self.tenant.config.prompts.clone(),
            history: vec![],
            documents: vec![],
            earlier_goals: vec![],
        }
    }

    async fn drive(&mut self, change: &mut SessionChange) -> Result<(), Halt> {
        let phase = self.out.phase;
        let goals = self.goals.clone();
        let mut ctx = self.context_stub();
        ctx.history = self
            .history
            .iter()
            .filter(|m| m.phase == phase)
            .map(|m| HistoryTurn {
                role: m.role,
                content: m.content.clone(),
            })
            .collect();
        ctx.earlier_goals = goals
            .iter()
            .filter(|g| g.is_final)
            .map(|g| (g.goal_type, g.content.clone()))
            .collect();
        let fresh = match (&self.kind, self.tenant.config.coach_retrieval) {
            (TurnKind::Collect, CoachRetrieval::Ahead) => self.ground_ahead(&mut ctx).await?,
            (TurnKind::Collect, CoachRetrieval::PerTurn) => {
                self.ground_per_turn(&mut ctx).await?;
                None
            }
            (TurnKind::EditGoal, _) => {
                self.ground_now(&mut ctx).await?;
                None
            }
        };
        self.out.sources = citations(&ctx.documents, &[]);

        let (goal_text, scored_ahead) = match self.kind {
            TurnKind::Collect => {
                let max_turns = self.tenant.config.max_collect_turns;
                let mut ahead = Ahead::Idle;
                let readiness = if self.state.next_collect_forces_refine(max_turns) {
                    // Refining is decided already: ask for no verdict, and
                    // draft the goal from the start of the coach's reply.
                    ahead = Ahead::Running(self.draft_goal(&ctx, fresh.as_ref()));
                    Readiness::Forced
                } else {
                    Readiness::Judge
                };
                let purpose = CoachPurpose::Collect { readiness };
                let said_ready = match self
                    .stream_coach(&ctx, purpose, Step::Collect, &mut ahead, fresh.as_ref())
                    .await
                {
                    Ok(ready) => ready,
                    Err(halt) => {
                        if let Ahead::Done(drafted) = &ahead {
                            self.out.usage += drafted.usage;
                        }
                        return Err(halt);
                    }
                };
                let coach_documents = ctx.documents.clone();
                if let Some(fresh) = &fresh
                    && let Some(retrieved) = fresh.result.clone().await
                {
                    // What follows (the goal, the advice) reads the passages
                    // this message found.
                    ctx.documents = retrieved.documents;
                    self.next_query = retrieved.query;
                }
                if !self.state.record_collect(said_ready, max_turns) {
                    return Ok(());
                }
                self.out.sources = citations(&coach_documents, &ctx.documents);
                self.announce_state().await;
                let drafted = match ahead.finish().await {
                    Some(drafted) => drafted,
                    None => self.draft_goal(&ctx, None).await,
                };
                self.out.usage += drafted.usage;
                (drafted.goal?, drafted.card)
            }
            TurnKind::EditGoal => {
                self.state.start_edit();
                self.announce_state().await;
                (fit_goal_text(ctx.latest_user_message()), None)
            }
        };
        let version = self.state.attempts + 1;
        self.out
            .send(ChatEvent::Refined {
                goal: goal_text.clone(),
                phase,
                characters: goal_text.chars().count(),
                version,
            })
            .await;
        self.state.start_scoring();
        self.announce_state().await;

        let card = match scored_ahead {
            Some(card) => card?,
            None => self.score_now(&ctx, &goal_text).await?,
        };
        let scored = self.record_scored(phase, card, &goal_text, version);
        if matches!(scored.verdict, Verdict::Passed { .. }) {
            // A final goal is announced only once it is stored.
            self.out.hold();
        }
        self.out
            .send(ChatEvent::Score {
                goal_id: scored.goal.id.clone(),
                phase,
                card: scored.goal.score_details.clone(),
            })
            .await;
        self.commit_score(change, &goals, scored, &ctx).await
    }

    /// Refining and scoring this phase's answers, as a task of its own.
    fn draft_goal(&self, ctx: &PhaseContext, fresh: Option<&FreshRetrieval>) -> DraftFuture {
        Box::pin(draft_goal(
            self.app.model.clone(),
            ctx.clone(),
            fresh.map(|f| f.result.clone()),
            self.state.draft_goal.clone(),
            self.tenant.config.rubric(ctx.phase).cloned(),
            self.tenant.config.threshold,
        ))
    }

    /// Grounds the coach's reply by this turn's own retrieval, waited for
    /// (the tenant chose `per_turn`). Should it fail, the remembered
    /// query's passages stand in, as they do under `ahead`: the turn goes
    /// on rather than end on a fault it can work around.
    async fn ground_per_turn(&mut self, ctx: &mut PhaseContext) -> Result<(), Halt> {
        let failed = match self.ground_now(ctx).await {
            Err(Halt::Storage(e)) => e,
            other => return other,
        };
        let Some(vector) = self.remembered_query(ctx.phase) else {
            return Err(Halt::Storage(failed));
        };
        tracing::warn!(error = %failed.message, "the turn's retrieval failed; the coach starts from the remembered query");
        self.ground_by_remembered(ctx, &vector).await?;
        Ok(())
    }

    /// The passages the remembered query finds, reranked by the latest message.
    async fn ground_by_remembered(
        &self,
        ctx: &mut PhaseContext,
        vector: &[f32],
    ) -> Result<(), Halt> {
        ctx.documents = judging::search_for_message(
            &self.app,
            &self.tenant,
            ctx.phase,
            vector,
            ctx.latest_user_message(),
        )
        .await?;
        Ok(())
    }

    /// The phase's query embedded before this turn, if it is usable.
    fn remembered_query(&self, phase: Phase) -> Option<Vec<f32>> {
        self.state
            .query_for(phase)
            .and_then(QuantizedVector::to_vec)
            .filter(|v| v.len() == self.app.embedder.dimension())
    }

    /// Grounds the coach's reply without an embedding call in front of it:
    /// the passages the phase's remembered query finds in the index now,
    /// reranked by the latest message's words, while the turn's own
    /// retrieval starts alongside. With no query
    /// remembered (a state stored before there were any, or the profile's
    /// embedding failed) the turn retrieves first.
    async fn ground_ahead(
        &mut self,
        ctx: &mut PhaseContext,
    ) -> Result<Option<FreshRetrieval>, Halt> {
        let Some(vector) = self.remembered_query(ctx.phase) else {
            self.ground_now(ctx).await?;
            return Ok(None);
        };
        let fresh = FreshRetrieval::start(
            self.app.clone(),
            self.tenant.clone(),
            ctx.phase,
            ctx.user_text(),
        );
        self.ground_by_remembered(ctx, &vector).await?;
        Ok(Some(fresh))
    }

    /// Retrieves by the phase's answers, this message included.
    async fn ground_now(&mut self, ctx: &mut PhaseContext) -> Result<(), Halt> {
        let retrieved =
            judging::retrieve(&self.app, &self.tenant, ctx.phase, &ctx.user_text()).await?;
        ctx.documents = retrieved.documents;
        self.next_query = retrieved.query;
        Ok(())
    }

    /// Streams a coach reply; returns whether it judged the answers ready.
    /// A ready verdict starts drafting the goal in `ahead`, which runs while
    /// the rest of the reply streams.
    async fn stream_coach(
        &mut self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
        step: Step,
        ahead: &mut Ahead,
        fresh: Option<&FreshRetrieval>,
    ) -> Result<bool, Halt> {
        let model = self.app.model.clone();
        let mut stream = ahead.alongside(model.coach(ctx, purpose)).await?;
        let mut said_ready = false;
        while let Some(piece) = ahead.alongside(stream.next()).await {
            match piece? {
                StreamPiece::Text(text) if !text.is_empty() => {
                    self.out.text(text, step).await;
                    if self.out.disconnected {
                        // Dropping the stream cancels the upstream call.
                        return Err(Halt::Disconnected);
                    }
                }
                StreamPiece::Text(_) => {}
                StreamPiece::Usage(usage) => self.out.usage += usage,
                StreamPiece::Verdict { ready } => {
                    said_ready = ready;
                    if ready && matches!(ahead, Ahead::Idle) {
                        *ahead = Ahead::Running(self.draft_goal(ctx, fresh));
                    }
                }
            }
        }
        Ok(said_ready)
    }

    async fn announce_state(&mut self) {
        let completion = self.session.completion_percentage;
        self.out
            .send(ChatEvent::State {
                phase: self.state.phase,
                step: self.state.step,
                completion_percentage: completion,
            })
            .await;
    }

    /// Scores an attempt that was not scored ahead (an edited goal).
    async fn score_now(&mut self, ctx: &PhaseContext, goal: &str) -> Result<ScoreCard, Halt> {
        let phase = ctx.phase;
        let rubric = self.tenant.config.rubric(phase).cloned().ok_or_else(|| {
            Halt::Storage(AppError::internal(
                "rubric_missing",
                format!("no rubric for {phase}"),
            ))
        })?;
        let mut usage = Usage::default();
        let card = judging::judge_goal(
            self.app.model.as_ref(),
            ctx,
            goal,
            &rubric,
            self.tenant.config.threshold,
            &mut usage,
        )
        .await;
        self.out.usage += usage;
        Ok(card?)
    }

    /// The scored attempt as a goal, and what its score does to the state.
    fn record_scored(&mut self, phase: Phase, card: ScoreCard, goal: &str, version: u32) -> Scored {
        let goal_type = phase.goal_type().expect("conversational phase");
        let goal = Goal {
            id: new_id(),
            session_id: self.session.id.clone(),
            tenant_id: self.session.tenant_id.clone(),
            goal_type,
            phase,
            content: goal.to_string(),
            score: card.overall,
            is_final: card.meets_threshold,
            version,
            score_details: card.clone(),
            created_at: self.app.clock.now(),
        };
        let verdict = self.state.record_score(&card, goal.content.as_str());
        Scored { goal, verdict }
    }

    async fn commit_score(
        &mut self,
        change: &mut SessionChange,
        earlier: &[Goal],
        scored: Scored,
        ctx: &PhaseContext,
    ) -> Result<(), Halt> {
        let now = self.app.clock.now();
        let goal = scored.goal;
        let card = goal.score_details.clone();
        change.audit.push(AuditEntry::new(
            new_id(),
            &self.session.tenant_id,
            Some(&self.session.id),
            self.session.actor(),
            action::GOAL_SCORED,
            ("goal", &goal.id),
            json!({"score": goal.score, "meets_threshold": goal.is_final, "phase": goal.phase, "type": goal.goal_type, "version": goal.version}),
            &self.origin,
            now,
        ));
        match scored.verdict {
            Verdict::Passed { phase, next } => {
                let session = &self.session;
                let completion = session
                    .completion_percentage
                    .max(phase.completion_when_done());
                change.counters.final_goals.push(goal.goal_type);
                change.counters.score_hundredths += (goal.score * 100.0).round() as i64;
                let completes = next == Phase::Completed;
                if completes {
                    let find = |t: GoalType| {
                        earlier
                            .iter()
                            .rev()
                            .find(|g| g.is_final && g.goal_type == t)
                    };
                    change.links = links_for_actions(
                        &goal,
                        find(GoalType::Future),
                        find(GoalType::Values),
                        new_id,
                        now,
                    );
                    let finals: Vec<f64> = earlier
                        .iter()
                        .filter(|g| g.is_final)
                        .map(|g| g.score)
                        .chain(std::iter::once(goal.score))
                        .collect();
                    let avg = finals.iter().sum::<f64>() / finals.len() as f64;
                    let minutes = (now - session.created_at).num_minutes().max(0);
                    change.counters.sessions_completed += 1;
                    change.counters.session_minutes += minutes;
                    change.audit.push(AuditEntry::new(
                        new_id(),
                        &session.tenant_id,
                        Some(&session.id),
                        session.actor(),
                        action::SESSION_COMPLETED,
                        ("session", &session.id),
                        json!({"goals_created": finals.len(), "duration_minutes": minutes, "avg_score": (avg * 100.0).round() / 100.0}),
                        &self.origin,
                        now,
                    ));
                }
                self.progress = Some(Progress {
                    completion,
                    completes,
                    at: now,
                });
                self.session.completion_percentage = completion;
                change.goals.push(goal);
                self.announce_state().await;
            }
            Verdict::Failed { .. } => {
                change.goals.push(goal.clone());
                self.stream_coach(
                    ctx,
                    CoachPurpose::Improve {
                        goal: goal.content.clone(),
                        card,
                    },
                    Step::Score,
                    &mut Ahead::Idle,
                    None,
                )
                .await?;
                self.announce_state().await;
            }
        }
        Ok(())
    }
}
