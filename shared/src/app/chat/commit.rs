//! Commit: the turn's bookkeeping, stored in one atomic change that
//! releases the lease — the reply row (every turn has one: it carries the
//! tokens and latency the turn cost), the scored goal with its audit
//! entries, the session's progress, the counters and budget alerts. No
//! model call happens here.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::admission::AdmittedTurn;
use super::drafting::Scored;
use super::outbox::Outbox;
use crate::app::limits;
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::conversation::{ConversationState, Verdict};
use crate::domain::goal::{Goal, links_for_actions};
use crate::domain::grounding::QuantizedVector;
use crate::domain::ids::new_id;
use crate::domain::message::{Message, Role};
use crate::domain::phase::{GoalType, Phase, Step};
use crate::domain::session::{Session, SessionStatus};
use crate::ports::state_store::{Expect, Guarded, SessionChange, StoreError};

/// What a turn ended with, for the commit to store.
pub(super) struct Ending {
    /// The scored goal, when the turn finished with one.
    pub(super) scored: Option<Scored>,
    /// The embedding of this turn's retrieval query, kept for the phase's
    /// next turn.
    pub(super) next_query: Option<Vec<f32>>,
    /// The leased conversation as last stored (the lease keeper's): the
    /// version the commit guards.
    pub(super) stored: ConversationState,
    pub(super) at: DateTime<Utc>,
    pub(super) latency_ms: u64,
}

/// How a final goal moves the session on; applied to the session as
/// stored at commit time, so requests that changed it meanwhile (a resume,
/// a profile edit) do not make the turn fail.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Progress {
    completion: u8,
    completes: bool,
    at: DateTime<Utc>,
}

impl Progress {
    /// `session` moved on, and the completion points it gained.
    pub(crate) fn applied_to(self, session: &Session) -> (Session, i64) {
        let mut updated = session.clone();
        updated.completion_percentage = updated.completion_percentage.max(self.completion);
        updated.updated_at = self.at;
        updated.last_accessed_at = self.at;
        if self.completes {
            updated.status = SessionStatus::Completed;
            updated.completed_at = Some(self.at);
        }
        updated.version += 1;
        let points = updated.completion_percentage as i64 - session.completion_percentage as i64;
        (updated, points)
    }
}

/// Attempts at a turn's commit when only the session changed meanwhile.
const COMMIT_ATTEMPTS: u32 = 4;

/// Stores the turn and releases its lease; returns the step the
/// conversation rests at. When the commit fails (storage fault, or the
/// lease was lost), the session is released as it was before the turn and
/// the reply row kept, so the next message is not refused until the lease
/// expires; the turn's goal, if any, is lost, the user's message is not.
pub(super) async fn commit(
    turn: &mut AdmittedTurn,
    out: &Outbox,
    ending: Ending,
) -> Result<Step, StoreError> {
    let Ending {
        scored,
        next_query,
        stored,
        at: now,
        latency_ms,
    } = ending;
    let mut change = SessionChange::new(&turn.session.tenant_id, &turn.session.id);
    change.retention_days = Some(turn.tenant.config.retention_days);
    let goal = scored.as_ref().map(|s| s.goal.clone());
    let progress = scored.and_then(|scored| record_goal(turn, &mut change, scored));
    // The goals as they stand after the turn, for the phase's standing.
    turn.goals.extend(goal);
    if let Some(query) = next_query {
        turn.state
            .remember_query(turn.phase, QuantizedVector::new(&query));
    }
    let final_step = turn.state.step;
    turn.state.end_turn(now);
    turn.state.version = stored.version + 1;
    change.state = Some(Guarded::replacing(stored.version, turn.state.clone()));
    let reply = Message {
        id: new_id(),
        session_id: turn.session.id.clone(),
        tenant_id: turn.session.tenant_id.clone(),
        role: Role::Assistant,
        content: out.full_response.clone(),
        phase: turn.phase,
        step: final_step,
        tokens_prompt: out.usage.input,
        tokens_completion: out.usage.output,
        latency_ms,
        model_used: Some(turn.app.model.model_for(&turn.context_stub())),
        created_at: now,
        sources: out.sources.clone(),
    };
    change.messages.push(reply.clone());
    change.counters.messages += 1;
    change.counters.messages_day = Some(now.date_naive());
    change.counters.tokens = i64::from(out.usage.total());
    change.counters.month_of = Some(now.date_naive());
    change.budget = limits::budget_alerts(&turn.tenant, turn.tokens_before, &turn.session.id, now);
    let crossings =
        super::turn_metrics::budget_crossings(change.budget.as_ref(), change.counters.tokens);
    if let Err(e) = apply(turn, change, progress).await {
        tracing::error!(error = %e, "could not commit a chat turn");
        release_after_failed_commit(turn, &stored, reply, now).await;
        return Err(e);
    }
    super::turn_metrics::record_budget_crossings(&turn.tenant.tenant.id, &crossings);
    Ok(final_step)
}

/// The scored goal's bookkeeping: the goal, its audit entry, and when it
/// passed the counters, the session's completion (with the links between
/// the goals when it completes the session) and the progress to store.
fn record_goal(
    turn: &AdmittedTurn,
    change: &mut SessionChange,
    scored: Scored,
) -> Option<Progress> {
    let now = scored.at;
    let goal = scored.goal;
    let session = &turn.session;
    change.audit.push(AuditEntry::new(
        new_id(),
        &session.tenant_id,
        Some(&session.id),
        session.actor(),
        action::GOAL_SCORED,
        ("goal", &goal.id),
        json!({"score": goal.score, "meets_threshold": goal.is_final, "phase": goal.phase, "type": goal.goal_type, "version": goal.version}),
        &turn.origin,
        now,
    ));
    let Verdict::Passed { phase, next } = scored.verdict else {
        change.goals.push(goal);
        return None;
    };
    let progress = record_final(
        session,
        &turn.goals,
        &goal,
        (phase, next),
        &turn.origin,
        change,
    );
    change.goals.push(goal);
    Some(progress)
}

/// The bookkeeping of a goal that became final (passed, or kept below
/// threshold), `goal` not included: the counters, and when it completes
/// the session the links between its goals and the completion's audit
/// entry. `earlier`: the session's goals before it.
pub(crate) fn record_final(
    session: &Session,
    earlier: &[Goal],
    goal: &Goal,
    (phase, next): (Phase, Phase),
    origin: &RequestOrigin,
    change: &mut SessionChange,
) -> Progress {
    let now = goal.created_at;
    let completion = session
        .completion_percentage
        .max(phase.completion_when_done());
    change.counters.final_goals.push(goal.goal_type);
    change.counters.score_hundredths += (goal.score * 100.0).round() as i64;
    if goal.below_threshold {
        change.counters.goals_below_threshold += 1;
    }
    let completes = next == Phase::Completed;
    if completes {
        let find = |t: GoalType| {
            earlier
                .iter()
                .rev()
                .find(|g| g.is_final && g.goal_type == t)
        };
        change.links = links_for_actions(
            goal,
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
            origin,
            now,
        ));
    }
    Progress {
        completion,
        completes,
        at: now,
    }
}

/// Applies the turn's change. The conversation is guarded by the turn's
/// own lease, so a conflict there means the lease was lost. The session
/// is written only when the goal passed, on top of the session as stored
/// now; a conflict there means another request changed the session
/// (a resume, a profile edit) — nothing the turn's result depends on —
/// so it is read again and the commit retried.
async fn apply(
    turn: &AdmittedTurn,
    mut change: SessionChange,
    progress: Option<Progress>,
) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        if let Some(progress) = progress {
            move_session_on(turn, &mut change, progress).await?;
        }
        match turn.app.store.apply(change.clone()).await {
            Err(StoreError::Conflict(why))
                if attempt < COMMIT_ATTEMPTS
                    && progress.is_some()
                    && lease_still_held(turn, &change).await =>
            {
                tracing::debug!(%why, attempt, "the session changed during a turn; committing again");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn lease_still_held(turn: &AdmittedTurn, change: &SessionChange) -> bool {
    let Some(Guarded {
        expect: Expect::Version(expected),
        ..
    }) = &change.state
    else {
        return false;
    };
    matches!(
        turn.app.store.conversation(&turn.session.tenant_id, &turn.session.id).await,
        Ok(Some(stored)) if stored.version == *expected
    )
}

/// Writes the passing goal's progress onto the session as stored now.
async fn move_session_on(
    turn: &AdmittedTurn,
    change: &mut SessionChange,
    progress: Progress,
) -> Result<(), StoreError> {
    let session = turn
        .app
        .store
        .session(&turn.session.tenant_id, &turn.session.id)
        .await?
        .ok_or_else(|| StoreError::Conflict("the session is gone".into()))?;
    let (updated, points) = progress.applied_to(&session);
    change.counters.completion_points = points;
    change.session = Some(Guarded::replacing(session.version, updated));
    Ok(())
}

/// Releases the session as it was before the turn, keeping the reply row.
async fn release_after_failed_commit(
    turn: &AdmittedTurn,
    stored: &ConversationState,
    reply: Message,
    now: DateTime<Utc>,
) {
    let mut released = stored.clone();
    released.abandon_step();
    released.end_turn(now);
    released.version = stored.version + 1;
    let mut change = SessionChange::new(&turn.session.tenant_id, &turn.session.id);
    change.state = Some(Guarded::replacing(stored.version, released));
    change.counters.tokens = i64::from(reply.tokens_prompt + reply.tokens_completion);
    change.counters.month_of = Some(now.date_naive());
    change.budget = limits::budget_alerts(&turn.tenant, turn.tokens_before, &turn.session.id, now);
    change.messages.push(reply);
    change.counters.messages = 1;
    change.counters.messages_day = Some(now.date_naive());
    if let Err(e) = turn.app.store.apply(change).await {
        tracing::error!(error = %e, "could not release the session after a failed commit; its lease will expire");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::chat::test_support::{FIRST_ANSWER, Fixture, outbox};
    use crate::domain::scoring::ScoreCard;

    fn ending(turn: &AdmittedTurn, scored: Option<Scored>) -> Ending {
        Ending {
            scored,
            next_query: None,
            stored: turn.state.clone(),
            at: turn.app.clock.now(),
            latency_ms: 42,
        }
    }

    /// A goal for `turn`'s phase scored `overall`, as drafting leaves it.
    fn scored(turn: &mut AdmittedTurn, overall: f64, threshold: f64) -> Scored {
        let card = ScoreCard {
            overall,
            criteria: vec![],
            feedback: "f".into(),
            suggestions: vec![],
            meets_threshold: overall >= threshold,
            threshold,
        };
        let phase = turn.state.phase;
        let goal = Goal {
            id: new_id(),
            session_id: turn.session.id.clone(),
            tenant_id: turn.session.tenant_id.clone(),
            goal_type: phase.goal_type().unwrap(),
            phase,
            content: "Lead a team of 4 by June.".into(),
            score: overall,
            is_final: card.meets_threshold,
            below_threshold: false,
            version: 1,
            score_details: card.clone(),
            created_at: turn.app.clock.now(),
        };
        let verdict = turn.state.record_score(&card, &goal.content);
        Scored {
            goal,
            verdict,
            at: turn.app.clock.now(),
        }
    }

    #[tokio::test]
    async fn a_turn_s_reply_is_stored_and_its_lease_released() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let (mut out, _rx) = outbox(&turn);
        out.text("Which team?".into(), Step::Collect).await;
        out.usage.input = 7;
        let mut ending = ending(&turn, None);
        ending.next_query = Some(vec![0.5; fx.app.embedder.dimension()]);
        let leased_version = turn.state.version;
        assert_eq!(
            commit(&mut turn, &out, ending).await.unwrap(),
            Step::Collect
        );
        let stored = fx.conversation().await;
        assert!(stored.lease.is_none(), "released");
        assert_eq!(stored.version, leased_version + 1);
        assert!(
            stored.query_for(Phase::G4Future).is_some(),
            "the query is kept"
        );
        let messages = fx.app.store.messages(&fx.tenant.tenant.id, &fx.session_id);
        let reply = messages.await.unwrap().pop().unwrap();
        assert_eq!(reply.role, Role::Assistant);
        assert_eq!(reply.content, "Which team?");
        assert_eq!((reply.tokens_prompt, reply.latency_ms), (7, 42));
        assert_eq!(reply.model_used.as_deref(), Some("petraf-offline-1"));
    }

    #[tokio::test]
    async fn a_passing_goal_is_stored_audited_and_moves_the_session_on() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let (out, _rx) = outbox(&turn);
        let scored = scored(&mut turn, 8.0, 7.0);
        let goal_id = scored.goal.id.clone();
        let ending = ending(&turn, Some(scored));
        commit(&mut turn, &out, ending).await.unwrap();
        let goals = fx.app.store.goals(&fx.tenant.tenant.id, &fx.session_id);
        let (goals, _) = goals.await.unwrap();
        assert_eq!(goals.len(), 1);
        assert!(goals[0].id == goal_id && goals[0].is_final);
        let session = fx.app.store.session(&fx.tenant.tenant.id, &fx.session_id);
        let session = session.await.unwrap().unwrap();
        assert_eq!(
            session.completion_percentage,
            Phase::G4Future.completion_when_done()
        );
        assert_eq!(fx.conversation().await.phase, Phase::G6Values);
    }

    #[tokio::test]
    async fn only_a_passing_goal_counts_and_only_the_last_completes_the_session() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let mut change = SessionChange::default();
        let failed = scored(&mut turn, 5.0, 7.0);
        assert_eq!(record_goal(&turn, &mut change, failed), None);
        assert_eq!(change.goals.len(), 1, "a failed attempt is kept");
        assert!(change.counters.final_goals.is_empty());

        let mut change = SessionChange::default();
        let passed = scored(&mut turn, 8.0, 7.0);
        let progress = record_goal(&turn, &mut change, passed).unwrap();
        assert!(!progress.completes);
        assert_eq!(change.counters.final_goals, [GoalType::Future]);
        let actions: Vec<&str> = change.audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, [action::GOAL_SCORED]);

        turn.state.phase = Phase::G8Actions;
        let mut change = SessionChange::default();
        let last = scored(&mut turn, 9.0, 7.0);
        assert_eq!(
            last.verdict,
            Verdict::Passed {
                phase: Phase::G8Actions,
                next: Phase::Completed
            }
        );
        let progress = record_goal(&turn, &mut change, last).unwrap();
        assert!(progress.completes);
        assert_eq!(progress.completion, 100);
        assert_eq!(change.counters.sessions_completed, 1);
        let actions: Vec<&str> = change.audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(actions, [action::GOAL_SCORED, action::SESSION_COMPLETED]);
    }

    #[tokio::test]
    async fn a_commit_never_writes_over_a_lost_lease() {
        let fx = Fixture::new().await;
        let mut turn = fx.admit(FIRST_ANSWER).await.unwrap();
        let (mut out, _rx) = outbox(&turn);
        out.text("Which team?".into(), Step::Collect).await;
        let mut ending = ending(&turn, None);
        ending.stored.version -= 1; // Not the version stored: the lease is lost.
        assert!(matches!(
            commit(&mut turn, &out, ending).await,
            Err(StoreError::Conflict(_))
        ));
        let messages = fx.app.store.messages(&fx.tenant.tenant.id, &fx.session_id);
        assert_eq!(messages.await.unwrap().len(), 1, "only the user's message");
        assert!(
            fx.conversation().await.lease.is_some(),
            "left to whoever holds it"
        );
    }
}
