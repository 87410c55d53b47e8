//! Every phase can end: how many messages a phase has left before its cap,
//! when its attempts have run out, and the ways forward then — keep the
//! best-scoring draft (final, marked below threshold), or start the step
//! over with a fresh allowance. Pure: counts from what the caller read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::conversation::{ConversationState, Verdict};
pub use super::conversation::{PhaseRestart, RestartReason};
use super::goal::Goal;
use super::message::{Message, Role};
use super::phase::{Phase, Step};

/// What the employee may do next when a phase's attempts ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NextAction {
    /// Keep the best-scoring draft as the phase's final goal and move on.
    KeepBest,
    /// Clear the draft and give the phase a fresh allowance.
    StartOver,
}

impl NextAction {
    /// The last path segment of its endpoint.
    pub fn path_segment(self) -> &'static str {
        match self {
            NextAction::KeepBest => "keep-best",
            NextAction::StartOver => "start-over",
        }
    }
}

/// A way forward as the API states it: what, and the request that does it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NextStep {
    pub action: NextAction,
    #[schema(example = "POST")]
    pub method: String,
    /// Relative to the API's origin.
    #[schema(example = "/api/session/01JD8X2Z7Q9V3K4M5N6P7R8S9T/phases/g4_future/keep-best")]
    pub href: String,
}

impl NextStep {
    pub fn new(action: NextAction, session_id: &str, phase: Phase) -> Self {
        NextStep {
            action,
            method: "POST".into(),
            href: format!(
                "/api/session/{session_id}/phases/{phase}/{}",
                action.path_segment()
            ),
        }
    }
}

/// Where a phase stands against its limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempts {
    /// The most messages the employee may send in the phase (per allowance).
    pub cap: u32,
    /// Messages sent since the phase began or was last restarted.
    pub used: u32,
    /// Scored attempts below threshold since then.
    pub low_scores: u32,
    /// Scored attempts below threshold after which the employee may keep
    /// the best draft (0: only the cap ends the attempts).
    pub keep_best_after: u32,
    /// Whether the phase has a scored draft to keep.
    pub has_scored_draft: bool,
}

impl Attempts {
    /// Reads a phase's standing from the conversation and its messages.
    pub fn of(
        state: &ConversationState,
        history: &[Message],
        goals: &[Goal],
        cap: u32,
        keep_best_after: u32,
    ) -> Self {
        let phase = state.phase;
        Attempts {
            cap,
            used: user_messages_since_restart(state, history, phase),
            low_scores: state.consecutive_low_scores,
            keep_best_after,
            has_scored_draft: best_attempt(goals, phase).is_some(),
        }
    }

    /// Messages the employee may still send in the phase.
    pub fn turns_left(&self) -> u32 {
        self.cap.saturating_sub(self.used)
    }

    /// The cap is reached, or enough scored attempts fell short.
    pub fn ran_out(&self) -> bool {
        self.used >= self.cap
            || (self.keep_best_after > 0 && self.low_scores >= self.keep_best_after)
    }

    /// The ways forward open now: none while attempts are left; else keep
    /// best (when there is a scored draft) and start over.
    pub fn ways_forward(&self) -> Vec<NextAction> {
        if !self.ran_out() {
            return vec![];
        }
        let mut ways = vec![];
        if self.has_scored_draft {
            ways.push(NextAction::KeepBest);
        }
        ways.push(NextAction::StartOver);
        ways
    }

    /// The ways forward as the API states them.
    pub fn next_steps(&self, session_id: &str, phase: Phase) -> Vec<NextStep> {
        self.ways_forward()
            .into_iter()
            .map(|a| NextStep::new(a, session_id, phase))
            .collect()
    }
}

/// The user's messages in `phase` since its last restart.
pub fn user_messages_since_restart(
    state: &ConversationState,
    history: &[Message],
    phase: Phase,
) -> u32 {
    let all = user_messages_in(history, phase);
    let before = state
        .restart
        .as_ref()
        .filter(|r| r.phase == phase)
        .map_or(0, |r| r.user_messages_before);
    all.saturating_sub(before)
}

fn user_messages_in(history: &[Message], phase: Phase) -> u32 {
    let count = history
        .iter()
        .filter(|m| m.role == Role::User && m.phase == phase)
        .count();
    u32::try_from(count).unwrap_or(u32::MAX)
}

/// The phase's best-scoring attempt not yet final: the highest score, the
/// latest of equals.
pub fn best_attempt(goals: &[Goal], phase: Phase) -> Option<&Goal> {
    goals
        .iter()
        .filter(|g| g.phase == phase && !g.is_final)
        .fold(None, |best: Option<&Goal>, g| match best {
            Some(b) if b.score > g.score => Some(b),
            _ => Some(g),
        })
}

/// Why a way forward is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WayForwardError {
    #[error("fill in the profile before the conversation starts")]
    ProfileRequired,
    #[error("the session is completed")]
    SessionCompleted,
    #[error("the session is in phase {current}, not {requested}")]
    PhaseNotCurrent { current: Phase, requested: Phase },
    #[error("another message for this session is being processed")]
    TurnInProgress,
    #[error(
        "this step still has attempts left ({turns_left} messages); keep trying, or ask HR to reopen it"
    )]
    AttemptsLeft { turns_left: u32 },
    #[error("this step has no scored draft to keep yet; send your answer first")]
    NoScoredDraft,
}

impl WayForwardError {
    pub fn code(&self) -> &'static str {
        match self {
            WayForwardError::ProfileRequired => "profile_required",
            WayForwardError::SessionCompleted => "session_completed",
            WayForwardError::PhaseNotCurrent { .. } => "phase_not_current",
            WayForwardError::TurnInProgress => "turn_in_progress",
            WayForwardError::AttemptsLeft { .. } => "attempts_left",
            WayForwardError::NoScoredDraft => "no_scored_draft",
        }
    }
}

/// The checks every way forward makes: `phase` is the session's current
/// conversation phase and no turn runs.
pub fn check_current(
    state: &ConversationState,
    phase: Phase,
    now: DateTime<Utc>,
) -> Result<(), WayForwardError> {
    match state.phase {
        Phase::G2Basic => return Err(WayForwardError::ProfileRequired),
        Phase::Completed => return Err(WayForwardError::SessionCompleted),
        _ => {}
    }
    if phase != state.phase {
        return Err(WayForwardError::PhaseNotCurrent {
            current: state.phase,
            requested: phase,
        });
    }
    if state.turn_in_progress(now) {
        return Err(WayForwardError::TurnInProgress);
    }
    Ok(())
}

/// Whether the employee may keep the best draft of `phase` now.
pub fn check_keep_best(
    state: &ConversationState,
    phase: Phase,
    attempts: &Attempts,
    now: DateTime<Utc>,
) -> Result<(), WayForwardError> {
    check_current(state, phase, now)?;
    if !attempts.ran_out() {
        return Err(WayForwardError::AttemptsLeft {
            turns_left: attempts.turns_left(),
        });
    }
    if !attempts.has_scored_draft {
        return Err(WayForwardError::NoScoredDraft);
    }
    Ok(())
}

/// Whether the employee may start `phase` over now: once its attempts ran
/// out (before then there is nothing to start over from but turns left).
pub fn check_start_over(
    state: &ConversationState,
    phase: Phase,
    attempts: &Attempts,
    now: DateTime<Utc>,
) -> Result<(), WayForwardError> {
    check_current(state, phase, now)?;
    if !attempts.ran_out() {
        return Err(WayForwardError::AttemptsLeft {
            turns_left: attempts.turns_left(),
        });
    }
    Ok(())
}

/// The best attempt stored again as the phase's final goal, marked below
/// threshold (a new row: stored goals are never rewritten).
pub fn kept_goal(best: &Goal, id: String, now: DateTime<Utc>) -> Goal {
    Goal {
        id,
        is_final: true,
        below_threshold: true,
        created_at: now,
        ..best.clone()
    }
}

impl ConversationState {
    /// The best draft is kept: the conversation moves on as a pass does.
    pub fn keep_best(&mut self, now: DateTime<Utc>) -> Verdict {
        let verdict = self.move_on();
        self.updated_at = now;
        verdict
    }

    /// The current phase gets a fresh allowance: its earlier messages no
    /// longer count against the cap, its draft and low scores are cleared.
    pub fn restart_phase(
        &mut self,
        history: &[Message],
        reason: RestartReason,
        now: DateTime<Utc>,
    ) {
        let phase = self.phase;
        self.restart = Some(PhaseRestart {
            phase,
            user_messages_before: user_messages_in(history, phase),
            reason,
            at: now,
        });
        self.step = Step::Collect;
        self.collect_turns = 0;
        self.consecutive_low_scores = 0;
        self.draft_goal = None;
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::phase::GoalType;
    use crate::domain::scoring::ScoreCard;

    fn now() -> DateTime<Utc> {
        "2026-12-06T09:00:00Z".parse().unwrap()
    }

    fn state(phase: Phase) -> ConversationState {
        let mut s = ConversationState::new("s", "t", now());
        s.phase = phase;
        s
    }

    fn message(role: Role, phase: Phase) -> Message {
        Message {
            id: crate::domain::ids::new_id(),
            session_id: "s".into(),
            tenant_id: "t".into(),
            role,
            content: "x".into(),
            phase,
            step: Step::Collect,
            tokens_prompt: 0,
            tokens_completion: 0,
            latency_ms: 0,
            model_used: None,
            created_at: now(),
            sources: vec![],
        }
    }

    fn goal(phase: Phase, version: u32, score: f64) -> Goal {
        Goal {
            id: format!("g{version}"),
            session_id: "s".into(),
            tenant_id: "t".into(),
            goal_type: phase.goal_type().unwrap(),
            phase,
            content: format!("draft {version}"),
            score,
            is_final: false,
            below_threshold: false,
            version,
            score_details: ScoreCard {
                overall: score,
                criteria: vec![],
                feedback: String::new(),
                suggestions: vec![],
                meets_threshold: false,
                threshold: 9.0,
            },
            created_at: now(),
        }
    }

    fn attempts(used: u32, low_scores: u32, drafted: bool) -> Attempts {
        Attempts {
            cap: 13,
            used,
            low_scores,
            keep_best_after: 3,
            has_scored_draft: drafted,
        }
    }

    #[test]
    fn attempts_run_out_at_the_cap_or_after_enough_low_scores() {
        assert!(!attempts(12, 2, true).ran_out());
        assert_eq!(attempts(12, 2, true).turns_left(), 1);
        assert!(attempts(13, 0, true).ran_out());
        assert!(attempts(4, 3, true).ran_out());
        assert_eq!(attempts(14, 0, true).turns_left(), 0);
        let never_by_scores = Attempts {
            keep_best_after: 0,
            ..attempts(4, 30, true)
        };
        assert!(!never_by_scores.ran_out(), "0: only the cap");
    }

    #[test]
    fn the_ways_forward_open_only_when_attempts_ran_out() {
        assert!(attempts(3, 1, true).ways_forward().is_empty());
        assert_eq!(
            attempts(13, 1, true).ways_forward(),
            [NextAction::KeepBest, NextAction::StartOver]
        );
        assert_eq!(
            attempts(13, 0, false).ways_forward(),
            [NextAction::StartOver],
            "nothing to keep"
        );
        let steps = attempts(13, 1, true).next_steps("S1", Phase::G6Values);
        assert_eq!(steps[0].href, "/api/session/S1/phases/g6_values/keep-best");
        assert_eq!(steps[1].href, "/api/session/S1/phases/g6_values/start-over");
        assert_eq!(
            serde_json::to_value(&steps[0]).unwrap(),
            serde_json::json!({"action": "keep_best", "method": "POST", "href": "/api/session/S1/phases/g6_values/keep-best"})
        );
    }

    #[test]
    fn the_cap_counts_the_users_messages_since_the_last_restart() {
        let mut s = state(Phase::G4Future);
        let mut history: Vec<Message> = (0..5)
            .flat_map(|_| {
                [
                    message(Role::User, Phase::G4Future),
                    message(Role::Assistant, Phase::G4Future),
                ]
            })
            .collect();
        history.push(message(Role::User, Phase::G6Values));
        assert_eq!(
            user_messages_since_restart(&s, &history, Phase::G4Future),
            5
        );
        s.consecutive_low_scores = 2;
        s.draft_goal = Some("draft".into());
        s.restart_phase(&history, RestartReason::StartedOver, now());
        assert_eq!(
            user_messages_since_restart(&s, &history, Phase::G4Future),
            0
        );
        assert_eq!(
            (s.consecutive_low_scores, s.draft_goal.as_deref()),
            (0, None)
        );
        history.push(message(Role::User, Phase::G4Future));
        assert_eq!(
            user_messages_since_restart(&s, &history, Phase::G4Future),
            1
        );
        assert_eq!(
            user_messages_since_restart(&s, &history, Phase::G6Values),
            1,
            "another phase's restart does not count"
        );
        let read: ConversationState =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(read.restart, s.restart, "the restart is stored");
    }

    #[test]
    fn the_best_attempt_is_the_highest_score_the_latest_of_equals() {
        let goals = [
            goal(Phase::G4Future, 1, 5.0),
            goal(Phase::G4Future, 2, 6.5),
            goal(Phase::G4Future, 3, 6.5),
            goal(Phase::G4Future, 4, 4.0),
            goal(Phase::G6Values, 1, 8.0),
        ];
        assert_eq!(best_attempt(&goals, Phase::G4Future).unwrap().version, 3);
        assert!(best_attempt(&goals, Phase::G8Actions).is_none());
        let kept = kept_goal(&goals[2], "k".into(), now());
        assert!(kept.is_final && kept.below_threshold);
        assert_eq!((kept.version, kept.score), (3, 6.5));
        assert_eq!(kept.goal_type, GoalType::Future);
    }

    #[test]
    fn keep_best_is_refused_with_a_reason_until_attempts_ran_out() {
        let s = state(Phase::G4Future);
        let check = |s: &ConversationState, phase, a: Attempts| {
            check_keep_best(s, phase, &a, now()).map_err(|e| e.code())
        };
        assert_eq!(
            check(&s, Phase::G4Future, attempts(2, 1, true)),
            Err("attempts_left")
        );
        assert_eq!(
            check(&s, Phase::G4Future, attempts(13, 0, false)),
            Err("no_scored_draft")
        );
        assert_eq!(
            check(&s, Phase::G6Values, attempts(13, 1, true)),
            Err("phase_not_current")
        );
        assert_eq!(check(&s, Phase::G4Future, attempts(13, 1, true)), Ok(()));
        assert_eq!(
            check(
                &state(Phase::Completed),
                Phase::G8Actions,
                attempts(13, 1, true)
            ),
            Err("session_completed")
        );
        let mut leased = state(Phase::G4Future);
        leased.begin_turn("l".into(), now(), chrono::Duration::seconds(20));
        assert_eq!(
            check(&leased, Phase::G4Future, attempts(13, 1, true)),
            Err("turn_in_progress")
        );
        assert_eq!(
            check_start_over(&s, Phase::G4Future, &attempts(2, 0, false), now())
                .map_err(|e| e.code()),
            Err("attempts_left")
        );
        assert!(check_start_over(&s, Phase::G4Future, &attempts(13, 0, false), now()).is_ok());
    }

    #[test]
    fn keeping_the_best_moves_on_like_a_pass() {
        let mut s = state(Phase::G8Actions);
        s.consecutive_low_scores = 3;
        s.attempts = 3;
        s.draft_goal = Some("d".into());
        assert_eq!(
            s.keep_best(now()),
            Verdict::Passed {
                phase: Phase::G8Actions,
                next: Phase::Completed
            }
        );
        assert_eq!(
            (s.phase, s.attempts, s.draft_goal),
            (Phase::Completed, 0, None)
        );
    }
}
