//! Admission: the request parsed, the session authorized, the turn cap and
//! the token budget checked, then the lease taken in one guarded write that
//! also stores the user's message, so nothing the user sent is lost. What
//! comes out is an [`AdmittedTurn`]; errors here are plain HTTP errors.

use serde_json::Value;

use super::lease_keeper::lease_term;
use crate::app::turns::TurnTicket;
use crate::app::{App, AppError, AppResult, limits, sessions};
use crate::domain::audit::RequestOrigin;
use crate::domain::coaching::{HistoryTurn, PhaseContext};
use crate::domain::conversation::{ConversationState, TurnError, TurnKind};
use crate::domain::goal::Goal;
use crate::domain::hygiene::{MessageText, normalize_newlines, strip_invisible};
use crate::domain::ids::SessionId;
use crate::domain::ids::new_id;
use crate::domain::limits::Window;
use crate::domain::message::{MAX_USER_MESSAGE_CHARS, Message, Role};
use crate::domain::phase::{Phase, Step, UnknownName};
use crate::domain::session::Session;
use crate::domain::tenant::TenantRecord;
use crate::ports::state_store::{
    CounterDelta, Guarded, SessionChange, SessionSnapshot, StoreError,
};

/// The body of `POST /api/chat/{phase}/stream`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TurnRequest {
    /// The session the token is for.
    #[schema(value_type = SessionId)]
    pub session_id: String,
    #[schema(value_type = MessageText)]
    pub message: String,
    /// `collect` (the default): a message for the coach; `refine`: an edited
    /// goal, once an attempt has fallen short.
    #[serde(default = "collect_step")]
    #[schema(value_type = StepName)]
    pub step: String,
    /// Client hints (previous_messages, previous_goal): any JSON, accepted
    /// and ignored.
    #[serde(default)]
    pub context: Value,
}

/// The steps a client may ask for.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // A schema only: `parse_target` reads the step.
pub enum StepName {
    Collect,
    Refine,
}

fn collect_step() -> String {
    "collect".into()
}

/// A turn let in: its session leased with the user's message stored, and
/// what the later steps read. The steps move `state` on; the commit stores it.
pub(super) struct AdmittedTurn {
    pub(super) app: App,
    pub(super) tenant: TenantRecord,
    pub(super) session: Session,
    /// The session's messages, the user's new one last.
    pub(super) history: Vec<Message>,
    /// The session's goals before this turn.
    pub(super) goals: Vec<Goal>,
    /// The conversation as leased.
    pub(super) state: ConversationState,
    pub(super) kind: TurnKind,
    pub(super) phase: Phase,
    /// The step the client asked for.
    pub(super) step: Step,
    pub(super) origin: RequestOrigin,
    /// The month's tokens before this turn, when the tenant has a budget.
    pub(super) tokens_before: Option<i64>,
}

impl AdmittedTurn {
    /// The turn's context with no conversation or passages: which model
    /// serves the tenant, for whom.
    pub(super) fn context_stub(&self) -> PhaseContext {
        PhaseContext {
            company: self.tenant.tenant.name.clone(),
            model: self.tenant.config.llm_model.clone(),
            profile: self.session.profile.clone(),
            phase: self.phase,
            prompts: self.tenant.config.prompts.clone(),
            history: vec![],
            documents: vec![],
            earlier_goals: vec![],
        }
    }

    /// What the coach reads: this phase's messages and the goals already
    /// final. Grounding adds the passages.
    pub(super) fn coaching_context(&self) -> PhaseContext {
        let mut ctx = self.context_stub();
        ctx.history = self
            .history
            .iter()
            .filter(|m| m.phase == self.phase)
            .map(|m| HistoryTurn {
                role: m.role,
                content: m.content.clone(),
            })
            .collect();
        ctx.earlier_goals = self
            .goals
            .iter()
            .filter(|g| g.is_final)
            .map(|g| (g.goal_type, g.content.clone()))
            .collect();
        ctx
    }
}

/// The conversation phase a turn names and the step it asks for.
pub(super) fn parse_target(phase: &str, step: &str) -> AppResult<(Phase, Step)> {
    let phase: Phase = phase
        .parse()
        .map_err(|e: UnknownName| AppError::bad_request("unknown_phase", e.to_string()))?;
    if !phase.is_conversational() {
        return Err(AppError::bad_request(
            "unknown_phase",
            format!("{phase} is not a conversation phase"),
        ));
    }
    let step: Step = step
        .parse()
        .map_err(|e: UnknownName| AppError::bad_request("unknown_step", e.to_string()))?;
    Ok((phase, step))
}

/// A place among the process's running turns; refused once it shuts down.
pub(super) fn enter(app: &App) -> AppResult<TurnTicket> {
    app.turns.enter().ok_or_else(|| {
        AppError::unavailable(
            "shutting_down",
            "the server is restarting; send the message again in a moment",
        )
    })
}

/// A well-formed turn the session's state refuses is `409` (the same
/// request may succeed in another state); a malformed one is `400`.
fn turn_error(e: TurnError) -> AppError {
    match e {
        TurnError::TurnInProgress
        | TurnError::SessionCompleted
        | TurnError::ProfileRequired
        | TurnError::PhaseMismatch { .. }
        | TurnError::StepMismatch { .. }
        | TurnError::NothingToEdit => AppError::conflict(e.code(), e.to_string()),
        TurnError::EmptyMessage
        | TurnError::ForbiddenCharacter(_)
        | TurnError::MessageTooLong
        | TurnError::GoalTooLong => AppError::bad_request(e.code(), e.to_string()),
    }
}

/// Authorizes the turn, then takes the lease with the user's message in one
/// guarded write.
pub(super) async fn admit(
    app: App,
    tenant: TenantRecord,
    phase: Phase,
    step: Step,
    request: TurnRequest,
    token: Option<&str>,
    origin: RequestOrigin,
) -> AppResult<AdmittedTurn> {
    let snapshot = sessions::authorize_snapshot(&app, &tenant, &request.session_id, token).await?;
    let now = app.clock.now();
    // Counted as sent too, so that the documented `maxLength` is the limit.
    if request.message.chars().count() > MAX_USER_MESSAGE_CHARS {
        return Err(turn_error(TurnError::MessageTooLong));
    }
    let text = strip_invisible(&normalize_newlines(&request.message));
    let kind = snapshot
        .state
        .plan_turn(phase, step, &text, now)
        .map_err(turn_error)?;
    let tokens_before = match within_limits(&app, &tenant, &snapshot).await {
        Ok(tokens) => tokens,
        Err(refused) => {
            limits::count_refusal(&app, &tenant.tenant.id, &refused).await;
            return Err(refused);
        }
    };
    let SessionSnapshot {
        session,
        state,
        messages: mut history,
        goals,
        ..
    } = snapshot;

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
    Ok(AdmittedTurn {
        app,
        tenant,
        session,
        history,
        goals,
        state: leased,
        kind,
        phase,
        step,
        origin,
        tokens_before,
    })
}

/// The phase's turn cap and the month's budget; the month's tokens so far
/// when the tenant has a budget. A budget spent during a turn never stops
/// that turn: it is checked here, before the turn starts.
async fn within_limits(
    app: &App,
    tenant: &TenantRecord,
    snapshot: &SessionSnapshot,
) -> AppResult<Option<i64>> {
    limits::check_turn_cap(tenant, snapshot)?;
    limits::check_budget(app, tenant).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::ErrorKind;
    use crate::app::chat::test_support::Fixture;

    #[test]
    fn only_a_conversation_phase_and_a_known_step_are_a_target() {
        assert_eq!(
            parse_target("g4_future", "collect").unwrap(),
            (Phase::G4Future, Step::Collect)
        );
        let code = |phase, step| parse_target(phase, step).unwrap_err().code;
        assert_eq!(code("g9_nowhere", "collect"), "unknown_phase");
        assert_eq!(code("g2_basic", "collect"), "unknown_phase");
        assert_eq!(code("g4_future", "dance"), "unknown_step");
    }

    #[tokio::test]
    async fn admission_leases_the_session_and_stores_the_cleaned_message() {
        let fx = Fixture::new().await;
        let turn = fx
            .admit("I want to lead\r\na\u{200B} team.  ")
            .await
            .unwrap();
        assert_eq!(turn.kind, TurnKind::Collect);
        let latest = turn.history.last().unwrap();
        assert_eq!(
            (latest.role, latest.content.as_str()),
            (Role::User, "I want to lead\na team.")
        );
        let stored = fx.conversation().await;
        assert_eq!(stored.version, turn.state.version, "the lease is stored");
        assert!(stored.lease.is_some(), "the session is leased");
        let messages = fx.app.store.messages(&fx.tenant.tenant.id, &fx.session_id);
        assert_eq!(messages.await.unwrap().last().unwrap().id, latest.id);
        let ctx = turn.coaching_context();
        assert_eq!(ctx.latest_user_message(), "I want to lead\na team.");
    }

    #[tokio::test]
    async fn a_second_turn_is_refused_while_the_first_holds_the_lease() {
        let fx = Fixture::new().await;
        let _first = fx.admit("I want to lead a team.").await.unwrap();
        let refused = fx.admit("Hello?").await.err().unwrap();
        assert_eq!(refused.kind, ErrorKind::Conflict);
        assert_eq!(refused.code, "turn_in_progress");
    }

    #[tokio::test]
    async fn a_spent_turn_cap_refuses_before_the_lease() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.max_collect_turns = 0;
        fx.tenant.config.limits.extra_turns_per_phase = 0;
        let refused = fx.admit("I want to lead a team.").await.err().unwrap();
        assert_eq!(refused.code, "turn_limit_reached");
        let ways: Vec<_> = refused.next_steps.iter().map(|s| s.action).collect();
        assert_eq!(
            ways,
            [crate::domain::way_forward::NextAction::StartOver],
            "no draft to keep yet"
        );
        assert!(fx.conversation().await.lease.is_none());
    }
}
