//! Drafting: every model call of a turn. The coach's reply streams; when
//! the answers are ready the goal is refined and scored, and a goal that
//! falls short gets the coach's advice. No model call waits in front of the
//! coach's stream: its collect reply leads with its own readiness verdict,
//! and a ready verdict (or a refine forced by `max_collect_turns`) starts
//! refining and scoring while the coach is still streaming. Events keep
//! their order.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::admission::AdmittedTurn;
use super::events::{ChatEvent, RefinedData, ScoreData, StateData};
use super::grounding::{FreshRetrieval, SharedRetrieval};
use super::halt::Halt;
use super::outbox::Outbox;
use crate::app::{AppError, judging};
use crate::domain::coaching::{PhaseContext, Readiness};
use crate::domain::conversation::{TurnKind, Verdict};
use crate::domain::goal::{Goal, fit_goal_text};
use crate::domain::grounding::citations;
use crate::domain::ids::new_id;
use crate::domain::message::Usage;
use crate::domain::phase::Step;
use crate::domain::scoring::{Rubric, ScoreCard};
use crate::ports::chat_model::{ChatModel, CoachPurpose, ModelError, StreamPiece};

/// A scored attempt: the goal as it will be stored and what its score did
/// to the conversation.
pub(super) struct Scored {
    pub(super) goal: Goal,
    pub(super) verdict: Verdict,
    /// When the score was in: the time its bookkeeping carries.
    pub(super) at: DateTime<Utc>,
}

/// Streams the coach's reply and, when the answers are ready (or the turn
/// edits the goal), refines and scores the goal; a goal that falls short
/// gets the coach's advice. `None`: the coach asks for more.
pub(super) async fn draft(
    turn: &mut AdmittedTurn,
    out: &mut Outbox,
    mut ctx: PhaseContext,
    fresh: Option<FreshRetrieval>,
    next_query: &mut Option<Vec<f32>>,
) -> Result<Option<Scored>, Halt> {
    let phase = turn.phase;
    let (goal_text, scored_ahead) = match turn.kind {
        TurnKind::Collect => {
            match collect(turn, out, &mut ctx, fresh.as_ref(), next_query).await? {
                Some(drafted) => drafted,
                None => return Ok(None),
            }
        }
        TurnKind::EditGoal => {
            turn.state.start_edit();
            announce_state(turn, out).await;
            (fit_goal_text(ctx.latest_user_message()), None)
        }
    };
    let version = turn.state.attempts + 1;
    out.send(ChatEvent::Refined(RefinedData {
        goal: goal_text.clone(),
        phase,
        characters: goal_text.chars().count(),
        version,
    }))
    .await;
    turn.state.start_scoring();
    announce_state(turn, out).await;

    let card = match scored_ahead {
        Some(card) => card?,
        None => score_now(turn, out, &ctx, &goal_text).await?,
    };
    let (goal, verdict) = record_score(turn, card, &goal_text, version);
    if matches!(verdict, Verdict::Passed { .. }) {
        // A final goal is announced only once it is stored.
        out.hold();
    }
    out.send(ChatEvent::Score(ScoreData {
        goal_id: goal.id.clone(),
        phase,
        card: goal.score_details.clone(),
    }))
    .await;
    let scored = Scored {
        goal,
        verdict,
        at: turn.app.clock.now(),
    };
    match scored.verdict {
        Verdict::Passed { phase, .. } => {
            let session = &mut turn.session;
            session.completion_percentage = session
                .completion_percentage
                .max(phase.completion_when_done());
        }
        Verdict::Failed { .. } => advise(turn, out, &ctx, &scored.goal).await?,
    }
    announce_state(turn, out).await;
    Ok(Some(scored))
}

/// A refined goal, and its score when it was scored ahead.
type GoalAndCard = (String, Option<Result<ScoreCard, ModelError>>);

/// The collect reply, then, when it goes on to refine, the refined goal
/// and its score if it was scored ahead. `None`: the coach asks for more.
async fn collect(
    turn: &mut AdmittedTurn,
    out: &mut Outbox,
    ctx: &mut PhaseContext,
    fresh: Option<&FreshRetrieval>,
    next_query: &mut Option<Vec<f32>>,
) -> Result<Option<GoalAndCard>, Halt> {
    let max_turns = turn.tenant.config.max_collect_turns;
    let mut ahead = Ahead::Idle;
    let readiness = if turn.state.next_collect_forces_refine(max_turns) {
        // Refining is decided already: ask for no verdict, and
        // draft the goal from the start of the coach's reply.
        ahead = Ahead::Running(draft_goal(turn, ctx, fresh));
        Readiness::Forced
    } else {
        Readiness::Judge
    };
    let purpose = CoachPurpose::Collect { readiness };
    let said_ready =
        match stream_coach(turn, out, ctx, purpose, Step::Collect, &mut ahead, fresh).await {
            Ok(ready) => ready,
            Err(halt) => {
                if let Ahead::Done(drafted) = &ahead {
                    out.usage += drafted.usage;
                }
                return Err(halt);
            }
        };
    let coach_documents = ctx.documents.clone();
    if let Some(fresh) = fresh
        && let Some(retrieved) = fresh.finish().await
    {
        // What follows (the goal, the advice) reads the passages
        // this message found.
        ctx.documents = retrieved.documents;
        *next_query = retrieved.query;
    }
    if !turn.state.record_collect(said_ready, max_turns) {
        return Ok(None);
    }
    out.sources = citations(&coach_documents, &ctx.documents);
    announce_state(turn, out).await;
    let drafted = match ahead.finish().await {
        Some(drafted) => drafted,
        None => draft_goal(turn, ctx, None).await,
    };
    out.usage += drafted.usage;
    Ok(Some((drafted.goal?, drafted.card)))
}

/// Streams a coach reply; returns whether it judged the answers ready.
/// A ready verdict starts drafting the goal in `ahead`, which runs while
/// the rest of the reply streams.
async fn stream_coach(
    turn: &AdmittedTurn,
    out: &mut Outbox,
    ctx: &PhaseContext,
    purpose: CoachPurpose,
    step: Step,
    ahead: &mut Ahead,
    fresh: Option<&FreshRetrieval>,
) -> Result<bool, Halt> {
    let model = turn.app.model.clone();
    let mut stream = ahead.alongside(model.coach(ctx, purpose)).await?;
    let mut said_ready = false;
    while let Some(piece) = ahead.alongside(stream.next()).await {
        match piece? {
            StreamPiece::Text(text) if !text.is_empty() => {
                out.text(text, step).await;
                if out.disconnected {
                    // Dropping the stream cancels the upstream call.
                    return Err(Halt::Disconnected);
                }
            }
            StreamPiece::Text(_) => {}
            StreamPiece::Usage(usage) => out.usage += usage,
            StreamPiece::Verdict { ready } => {
                said_ready = ready;
                if ready && matches!(ahead, Ahead::Idle) {
                    *ahead = Ahead::Running(draft_goal(turn, ctx, fresh));
                }
            }
        }
    }
    Ok(said_ready)
}

/// The coach's advice on a goal that fell short, streamed as `step: score`.
async fn advise(
    turn: &AdmittedTurn,
    out: &mut Outbox,
    ctx: &PhaseContext,
    goal: &Goal,
) -> Result<(), Halt> {
    let purpose = CoachPurpose::Improve {
        goal: goal.content.clone(),
        card: goal.score_details.clone(),
    };
    stream_coach(turn, out, ctx, purpose, Step::Score, &mut Ahead::Idle, None).await?;
    Ok(())
}

async fn announce_state(turn: &AdmittedTurn, out: &mut Outbox) {
    out.send(ChatEvent::State(StateData {
        phase: turn.state.phase,
        step: turn.state.step,
        completion_percentage: turn.session.completion_percentage,
    }))
    .await;
}

/// Scores an attempt that was not scored ahead (an edited goal).
async fn score_now(
    turn: &AdmittedTurn,
    out: &mut Outbox,
    ctx: &PhaseContext,
    goal: &str,
) -> Result<ScoreCard, Halt> {
    let phase = ctx.phase;
    let rubric = turn.tenant.config.rubric(phase).cloned().ok_or_else(|| {
        Halt::Storage(AppError::internal(
            "rubric_missing",
            format!("no rubric for {phase}"),
        ))
    })?;
    let mut usage = Usage::default();
    let card = judging::judge_goal(
        turn.app.model.as_ref(),
        ctx,
        goal,
        &rubric,
        turn.tenant.config.threshold,
        &mut usage,
    )
    .await;
    out.usage += usage;
    Ok(card?)
}

/// The scored attempt as a goal, and what its score does to the state.
fn record_score(
    turn: &mut AdmittedTurn,
    card: ScoreCard,
    goal: &str,
    version: u32,
) -> (Goal, Verdict) {
    let phase = turn.phase;
    let goal = Goal {
        id: new_id(),
        session_id: turn.session.id.clone(),
        tenant_id: turn.session.tenant_id.clone(),
        goal_type: phase.goal_type().expect("conversational phase"),
        phase,
        content: goal.to_string(),
        score: card.overall,
        is_final: card.meets_threshold,
        below_threshold: false,
        version,
        score_details: card.clone(),
        created_at: turn.app.clock.now(),
    };
    let verdict = turn.state.record_score(&card, goal.content.as_str());
    (goal, verdict)
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

/// Refining and scoring this phase's answers, as a task of its own.
fn draft_goal(
    turn: &AdmittedTurn,
    ctx: &PhaseContext,
    fresh: Option<&FreshRetrieval>,
) -> DraftFuture {
    Box::pin(refine_and_score(
        turn.app.model.clone(),
        ctx.clone(),
        fresh.map(FreshRetrieval::shared),
        turn.state.draft_goal.clone(),
        turn.tenant.config.rubric(ctx.phase).cloned(),
        turn.tenant.config.threshold,
    ))
}

/// Refines the phase's answers into a goal and scores it, grounded in the
/// turn's own retrieval when there is one.
async fn refine_and_score(
    model: Arc<dyn ChatModel>,
    mut ctx: PhaseContext,
    fresh: Option<SharedRetrieval>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::chat::test_support::{
        FIRST_ANSWER, Fixture, READY_ANSWER, down, names, outbox, rewired, sent,
    };
    use crate::domain::phase::Phase;

    /// Drafts `turn` after grounding it as the driver does.
    async fn drafted(turn: &mut AdmittedTurn, out: &mut Outbox) -> Result<Option<Scored>, Halt> {
        let mut ctx = turn.coaching_context();
        let mut next_query = None;
        let fresh = super::super::grounding::ground(turn, &mut ctx, &mut next_query).await?;
        draft(turn, out, ctx, fresh, &mut next_query).await
    }

    fn steps_of_messages(events: &[ChatEvent]) -> Vec<Step> {
        events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Message(m) => Some(m.step),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn a_vague_answer_gets_the_coach_s_question_and_no_goal() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let (mut out, mut rx) = outbox(&turn);
        assert!(drafted(&mut turn, &mut out).await.unwrap().is_none());
        assert_eq!(names(&sent(&mut rx)), ["message"]);
        assert!(out.full_response.contains('?'), "{}", out.full_response);
        assert!(out.usage.total() > 0, "the reply's cost is kept");
        assert_eq!(
            (turn.state.step, turn.state.collect_turns),
            (Step::Collect, 1)
        );
    }

    #[tokio::test]
    async fn a_ready_answer_is_refined_and_scored_and_a_pass_is_held_until_stored() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.threshold = 0.0;
        let mut turn = fx.admit(READY_ANSWER).await.unwrap();
        let (mut out, mut rx) = outbox(&turn);
        let scored = drafted(&mut turn, &mut out).await.unwrap().unwrap();
        assert_eq!(
            scored.verdict,
            Verdict::Passed {
                phase: Phase::G4Future,
                next: Phase::G6Values
            }
        );
        assert!(scored.goal.is_final && !scored.goal.content.is_empty());
        let before = sent(&mut rx);
        assert_eq!(names(&before), ["message", "state", "refined", "state"]);
        let Some(ChatEvent::Refined(refined)) = before.iter().find(|e| e.name() == "refined")
        else {
            unreachable!()
        };
        assert_eq!(refined.goal, scored.goal.content);
        out.release_held().await;
        let held = sent(&mut rx);
        assert_eq!(names(&held), ["score", "state"]);
        let ChatEvent::State(moved) = &held[1] else {
            unreachable!()
        };
        assert_eq!(
            (moved.phase, moved.completion_percentage),
            (Phase::G6Values, Phase::G4Future.completion_when_done())
        );
    }

    #[tokio::test]
    async fn a_goal_that_falls_short_gets_the_coach_s_advice_as_step_score() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.threshold = 10.0;
        let mut turn = fx.admit(READY_ANSWER).await.unwrap();
        let (mut out, mut rx) = outbox(&turn);
        let scored = drafted(&mut turn, &mut out).await.unwrap().unwrap();
        assert!(matches!(scored.verdict, Verdict::Failed { .. }));
        let events = sent(&mut rx);
        assert_eq!(
            names(&events),
            [
                "message", "state", "refined", "state", "score", "message", "state"
            ]
        );
        let steps = steps_of_messages(&events);
        assert_eq!(steps.first(), Some(&Step::Collect));
        assert_eq!(steps.last(), Some(&Step::Score), "the advice");
        assert_eq!(
            turn.state.draft_goal.as_deref(),
            Some(scored.goal.content.as_str())
        );
    }

    #[tokio::test]
    async fn an_edited_goal_is_scored_without_a_coach_reply() {
        let mut fx = Fixture::new().await;
        fx.tenant.config.threshold = 0.0;
        let goal = "Lead a team of 4 developers on the payment platform by June 2026.";
        let mut turn = fx.admit(goal).await.unwrap();
        turn.kind = TurnKind::EditGoal;
        let (mut out, mut rx) = outbox(&turn);
        let scored = drafted(&mut turn, &mut out).await.unwrap().unwrap();
        assert_eq!(scored.goal.content, goal);
        assert_eq!(names(&sent(&mut rx)), ["state", "refined", "state"]);
        assert!(out.full_response.is_empty());
    }

    #[tokio::test]
    async fn a_failing_model_halts_the_turn() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(READY_ANSWER).await.unwrap();
        turn.app = rewired(&turn.app, |ports| ports.model = down());
        let (mut out, mut rx) = outbox(&turn);
        let halted = drafted(&mut turn, &mut out).await;
        assert!(matches!(halted, Err(Halt::Model(_))));
        assert!(sent(&mut rx).is_empty());
    }
}
