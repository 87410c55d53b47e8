//! One chat turn: collect → (refine → score), streamed as events.
//!
//! The turn takes a lease on the conversation (a guarded write that also
//! stores the user's message, so nothing the user sent is lost), runs the
//! model calls in a task that feeds a channel, and commits everything it
//! produced in one atomic change that releases the lease.

use std::panic::AssertUnwindSafe;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{App, AppError, AppResult, sessions};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::coaching::{ContextDoc, HistoryTurn, PhaseContext};
use crate::domain::conversation::{ConversationState, TurnError, TurnKind, Verdict};
use crate::domain::goal::{Goal, fit_goal_text, links_for_actions};
use crate::domain::ids::new_id;
use crate::domain::message::{Message, Role, Source, Usage};
use crate::domain::phase::{GoalType, Phase, Step};
use crate::domain::scoring::{CriterionScore, ScoreCard, score_card};
use crate::domain::session::{Session, SessionStatus};
use crate::domain::tenant::TenantRecord;
use crate::ports::chat_model::{CoachPurpose, ModelError, StreamPiece};
use crate::ports::state_store::{
    CounterDelta, Guarded, SessionChange, SessionSnapshot, StoreError,
};

/// The body of `POST /api/chat/{phase}/stream`.
#[derive(Debug, Clone, serde::Deserialize)]
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

#[derive(Debug, Clone, Copy, Serialize)]
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

    pub fn data(&self) -> Value {
        match self {
            ChatEvent::Start {
                phase,
                step,
                timestamp,
            } => json!({"phase": phase, "step": step, "timestamp": timestamp}),
            ChatEvent::Message {
                content,
                phase,
                step,
                chunk_index,
            } => {
                json!({"content": content, "phase": phase, "step": step, "chunk_index": chunk_index})
            }
            ChatEvent::State {
                phase,
                step,
                completion_percentage,
            } => {
                json!({"phase": phase, "step": step, "completion_percentage": completion_percentage})
            }
            ChatEvent::Refined {
                goal,
                phase,
                characters,
                version,
            } => {
                json!({"goal": goal, "phase": phase, "characters": characters, "version": version})
            }
            ChatEvent::Score {
                goal_id,
                phase,
                card,
            } => {
                let criteria: Vec<&CriterionScore> = card.criteria.iter().collect();
                json!({
                    "goal_id": goal_id, "phase": phase, "overall": card.overall, "criteria": criteria,
                    "feedback": card.feedback, "suggestions": card.suggestions,
                    "meets_threshold": card.meets_threshold, "threshold": card.threshold,
                })
            }
            ChatEvent::Complete {
                phase,
                step,
                full_response,
                chunks,
                tokens_used,
                latency_ms,
                timestamp,
                sources,
            } => json!({
                "phase": phase, "step": step, "full_response": full_response, "chunks": chunks,
                "tokens_used": TokensUsed::from(*tokens_used), "latency_ms": latency_ms, "timestamp": timestamp,
                "sources": sources,
            }),
            ChatEvent::Error { code, message } => json!({"code": code, "message": message}),
        }
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
    let SessionSnapshot {
        session,
        state,
        messages: mut history,
        goals,
        ..
    } = sessions::authorize_snapshot(&app, &tenant, &request.session_id, token).await?;
    let now = app.clock.now();
    let kind = state
        .plan_turn(phase, step, &request.message, now)
        .map_err(turn_error)?;

    let mut leased = state.clone();
    leased.begin_turn(new_id(), now);
    leased.version += 1;
    let user_message = Message {
        id: new_id(),
        session_id: session.id.clone(),
        tenant_id: session.tenant_id.clone(),
        role: Role::User,
        content: request.message.trim().to_string(),
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
    app.store.apply(change).await.map_err(|e| match e {
        StoreError::Conflict(_) => AppError::conflict(
            "turn_in_progress",
            "another message for this session is being processed",
        ),
        other => other.into(),
    })?;

    history.push(user_message);

    let (tx, rx) = mpsc::channel(64);
    let turn = Turn {
        app,
        tenant,
        session,
        history,
        goals,
        state: leased,
        kind,
        origin,
        out: Outbox::new(tx, phase, step),
    };
    tokio::spawn(turn.run());
    Ok(rx)
}

/// Sends events and keeps what the turn streamed.
struct Outbox {
    tx: mpsc::Sender<ChatEvent>,
    phase: Phase,
    step: Step,
    chunk_index: u32,
    full_response: String,
    usage: Usage,
    disconnected: bool,
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
            sources: vec![],
        }
    }

    async fn send(&mut self, event: ChatEvent) {
        if !self.disconnected && self.tx.send(event).await.is_err() {
            self.disconnected = true;
        }
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
}

/// What a scored attempt adds to the commit.
struct Scored {
    goal: Goal,
    verdict: Verdict,
}

impl Turn {
    async fn run(mut self) {
        let started = Instant::now();
        let leased_version = self.state.version;
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
        // A bug that panics mid-turn must still release the session.
        let outcome = match AssertUnwindSafe(self.drive(&mut change))
            .catch_unwind()
            .await
        {
            Ok(outcome) => outcome,
            Err(_) => {
                tracing::error!("a chat turn panicked");
                Err(Halt::Storage(AppError::internal(
                    "internal_error",
                    "the turn failed; please send the message again",
                )))
            }
        };
        let now = self.app.clock.now();
        let latency_ms = started.elapsed().as_millis() as u64;
        if let Err(halt) = &outcome {
            // Whatever was produced is dropped; the user's message stays stored.
            change = SessionChange::new(&self.session.tenant_id, &self.session.id);
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
                Halt::Disconnected => tracing::info!("client disconnected; turn cancelled"),
            }
        }
        let final_step = self.state.step;
        self.state.end_turn(now);
        self.state.version = leased_version + 1;
        change.state = Some(Guarded::replacing(leased_version, self.state.clone()));
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
        if let Err(e) = self.app.store.apply(change).await {
            tracing::error!(error = %e, "could not commit a chat turn");
            self.release_after_failed_commit(&leased, reply, now).await;
            let e: AppError = e.into();
            self.out
                .send(ChatEvent::Error {
                    code: "commit_failed".into(),
                    message: e.message,
                })
                .await;
            return;
        }
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

    /// When the turn's commit fails (storage fault, or the session changed
    /// meanwhile), releases the session as it was before the turn and keeps
    /// the reply row, so the next message is not refused until the lease
    /// expires. The turn's goal, if any, is lost; the user's message is not.
    async fn release_after_failed_commit(
        &self,
        leased: &ConversationState,
        reply: Message,
        now: DateTime<Utc>,
    ) {
        let mut released = leased.clone();
        released.abandon_step();
        released.end_turn(now);
        released.version = leased.version + 1;
        let mut change = SessionChange::new(&self.session.tenant_id, &self.session.id);
        change.state = Some(Guarded::replacing(leased.version, released));
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
        let app = self.app.clone();
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
        ctx.documents = self.retrieve(&ctx).await?;
        self.out.sources = ctx.documents.iter().map(ContextDoc::citation).collect();

        let goal_text = match self.kind {
            TurnKind::Collect => {
                let judged = app.model.judge_readiness(&ctx).await?;
                self.out.usage += judged.usage;
                let refine = self
                    .state
                    .record_collect(judged.value, self.tenant.config.max_collect_turns);
                self.stream_coach(&ctx, CoachPurpose::Collect { ready: refine }, Step::Collect)
                    .await?;
                if !refine {
                    return Ok(());
                }
                self.announce_state().await;
                let draft = self.state.draft_goal.clone();
                let refined = app.model.refine(&ctx, draft.as_deref()).await?;
                self.out.usage += refined.usage;
                let goal = fit_goal_text(&refined.value);
                if goal.is_empty() {
                    return Err(Halt::Model(ModelError::Malformed(
                        "the refined goal is empty".into(),
                    )));
                }
                goal
            }
            TurnKind::EditGoal => {
                self.state.start_edit();
                self.announce_state().await;
                fit_goal_text(ctx.latest_user_message())
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

        let scored = self.score(&ctx, &goal_text, version).await?;
        self.out
            .send(ChatEvent::Score {
                goal_id: scored.goal.id.clone(),
                phase,
                card: scored.goal.score_details.clone(),
            })
            .await;
        self.commit_score(change, &goals, scored, &ctx).await
    }

    async fn retrieve(&self, ctx: &PhaseContext) -> Result<Vec<ContextDoc>, Halt> {
        if !self.tenant.config.rag_enabled {
            return Ok(vec![]);
        }
        let query = ctx.user_text();
        let vectors = self.app.embedder.embed(&[query]).await?;
        let Some(vector) = vectors.into_iter().next() else {
            return Ok(vec![]);
        };
        let found = self
            .app
            .vectors
            .search(
                &self.tenant.tenant.id,
                self.tenant.config.categories(ctx.phase),
                &vector,
                self.app.settings.rag_top_k,
            )
            .await
            .map_err(AppError::from)?;
        Ok(found
            .into_iter()
            .filter(|f| f.similarity > 0.0)
            .map(|f| ContextDoc {
                source: f
                    .chunk
                    .metadata
                    .get("title")
                    .and_then(Value::as_str)
                    .unwrap_or("company document")
                    .to_string(),
                page: f
                    .chunk
                    .metadata
                    .get("page")
                    .and_then(Value::as_u64)
                    .map(|p| p as u32),
                section: f
                    .chunk
                    .metadata
                    .get("section")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                category: f.chunk.category,
                content: f.chunk.content,
                relevance: f.similarity,
            })
            .collect())
    }

    async fn stream_coach(
        &mut self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
        step: Step,
    ) -> Result<(), Halt> {
        let mut stream = self.app.model.coach(ctx, purpose).await?;
        while let Some(piece) = stream.next().await {
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
            }
        }
        Ok(())
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

    /// Scores an attempt, asking the model once more if its answer is unusable.
    async fn score(
        &mut self,
        ctx: &PhaseContext,
        goal: &str,
        version: u32,
    ) -> Result<Scored, Halt> {
        let phase = ctx.phase;
        let rubric = self.tenant.config.rubric(phase).cloned().ok_or_else(|| {
            Halt::Storage(AppError::internal(
                "rubric_missing",
                format!("no rubric for {phase}"),
            ))
        })?;
        let mut last_problem = String::new();
        for _attempt in 0..2 {
            let judged = match self.app.model.score(ctx, goal, &rubric).await {
                Ok(j) => j,
                Err(ModelError::Malformed(m)) => {
                    last_problem = m;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.out.usage += judged.usage;
            match score_card(&rubric, &judged.value, self.tenant.config.threshold) {
                Ok(card) => {
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
                    return Ok(Scored { goal, verdict });
                }
                Err(e) => last_problem = e.to_string(),
            }
        }
        Err(Halt::Model(ModelError::Malformed(format!(
            "the score could not be used: {last_problem}"
        ))))
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
                // Re-read the session so the commit guards the freshest version.
                let session = self
                    .app
                    .store
                    .session(&self.session.tenant_id, &self.session.id)
                    .await
                    .map_err(AppError::from)?
                    .unwrap_or_else(|| self.session.clone());
                let mut updated = session.clone();
                updated.completion_percentage = updated
                    .completion_percentage
                    .max(phase.completion_when_done());
                updated.updated_at = now;
                updated.last_accessed_at = now;
                updated.version += 1;
                change.counters.final_goals.push(goal.goal_type);
                change.counters.score_hundredths += (goal.score * 100.0).round() as i64;
                change.counters.completion_points +=
                    updated.completion_percentage as i64 - session.completion_percentage as i64;
                if next == Phase::Completed {
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
                    updated.status = SessionStatus::Completed;
                    updated.completed_at = Some(now);
                    change.counters.sessions_completed += 1;
                    change.counters.session_minutes += minutes;
                    change.audit.push(AuditEntry::new(
                        new_id(),
                        &self.session.tenant_id,
                        Some(&self.session.id),
                        self.session.actor(),
                        action::SESSION_COMPLETED,
                        ("session", &self.session.id),
                        json!({"goals_created": finals.len(), "duration_minutes": minutes, "avg_score": (avg * 100.0).round() / 100.0}),
                        &self.origin,
                        now,
                    ));
                }
                change.session = Some(Guarded::replacing(session.version, updated.clone()));
                self.session = updated;
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
                )
                .await?;
                self.announce_state().await;
            }
        }
        Ok(())
    }
}
