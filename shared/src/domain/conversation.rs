//! The conversation state machine.
//!
//! `g2_basic` (profile) → `g4_future` → `g6_values` → `g8_actions` →
//! `completed`; each conversational phase runs collect → refine → score.
//! At rest a conversational phase is always in `collect`: refine and score
//! happen inside the turn that triggers them, and a failed score returns to
//! `collect` with the attempt kept as a draft the client may edit (a turn
//! with step `refine`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::goal::MAX_GOAL_CHARS;
use super::grounding::{PhaseQuery, QuantizedVector};
use super::message::MAX_USER_MESSAGE_CHARS;
use super::phase::{Phase, Step};
use super::scoring::ScoreCard;

/// How long a turn's lease lasts unless renewed: a running turn renews it
/// (a heartbeat), so this bounds how long a crashed process keeps a
/// session locked.
pub const DEFAULT_TURN_LEASE_SECONDS: i64 = 20;

/// Marks a turn in progress so a concurrent one is refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnLease {
    pub id: String,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationState {
    pub session_id: String,
    pub tenant_id: String,
    pub phase: Phase,
    pub step: Step,
    pub retry_count: u32,
    pub consecutive_low_scores: u32,
    pub last_score: Option<f64>,
    /// Collect turns since the phase began or since the last scored attempt.
    pub collect_turns: u32,
    /// Goal versions produced in the current phase.
    pub attempts: u32,
    /// The last attempt that fell short, which the client may edit.
    pub draft_goal: Option<String>,
    pub lease: Option<TurnLease>,
    /// What each unfinished phase's next turn retrieves its passages by.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub queries: Vec<PhaseQuery>,
    /// The current phase's last fresh allowance (start over, HR reopen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<PhaseRestart>,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Why a phase was given a fresh allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestartReason {
    /// The employee started the step over.
    StartedOver,
    /// An HR admin reopened the phase.
    Reopened,
}

/// The last fresh allowance a phase was given: the turn cap counts the
/// user's messages after it (earlier messages stay stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseRestart {
    pub phase: Phase,
    /// The user's messages in the phase before the restart.
    pub user_messages_before: u32,
    pub reason: RestartReason,
    pub at: DateTime<Utc>,
}

/// What a validated turn will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnKind {
    /// A message for the coach; it may lead on to refine and score.
    Collect,
    /// An edited goal text, scored directly.
    EditGoal,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TurnError {
    #[error("fill in the profile (PUT /api/session/{{id}}/info) before the conversation starts")]
    ProfileRequired,
    #[error("the session is completed")]
    SessionCompleted,
    #[error("the session is in phase {expected}, not {requested}")]
    PhaseMismatch { expected: Phase, requested: Phase },
    #[error("the session expects step {expected}, not {requested}")]
    StepMismatch { expected: Step, requested: Step },
    #[error("there is no refined goal to edit in this phase yet")]
    NothingToEdit,
    #[error("another message for this session is being processed")]
    TurnInProgress,
    #[error("the message is empty")]
    EmptyMessage,
    #[error(
        "the message contains {0:?}: control characters (other than newline and tab), bidirectional overrides, tag characters, interlinear annotations, noncharacters, runs of variation selectors and more than 8 combining marks on one character are not accepted"
    )]
    ForbiddenCharacter(char),
    #[error("the message is longer than {MAX_USER_MESSAGE_CHARS} characters")]
    MessageTooLong,
    #[error("an edited goal must be at most {MAX_GOAL_CHARS} characters")]
    GoalTooLong,
}

impl TurnError {
    /// A stable code for API clients.
    pub fn code(&self) -> &'static str {
        match self {
            TurnError::ProfileRequired => "profile_required",
            TurnError::SessionCompleted => "session_completed",
            TurnError::PhaseMismatch { .. } => "phase_mismatch",
            TurnError::StepMismatch { .. } => "step_mismatch",
            TurnError::NothingToEdit => "nothing_to_edit",
            TurnError::TurnInProgress => "turn_in_progress",
            TurnError::EmptyMessage => "empty_message",
            TurnError::ForbiddenCharacter(_) => "invalid_characters",
            TurnError::MessageTooLong => "message_too_long",
            TurnError::GoalTooLong => "goal_too_long",
        }
    }
}

/// The outcome of scoring an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The goal is final; the conversation moved on to `next`.
    Passed { phase: Phase, next: Phase },
    /// The attempt stays a draft; the phase is collecting again.
    Failed { phase: Phase },
}

impl ConversationState {
    pub fn new(session_id: &str, tenant_id: &str, now: DateTime<Utc>) -> Self {
        ConversationState {
            session_id: session_id.to_string(),
            tenant_id: tenant_id.to_string(),
            phase: Phase::G2Basic,
            step: Step::Collect,
            retry_count: 0,
            consecutive_low_scores: 0,
            last_score: None,
            collect_turns: 0,
            attempts: 0,
            draft_goal: None,
            lease: None,
            queries: vec![],
            restart: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    pub fn turn_in_progress(&self, now: DateTime<Utc>) -> bool {
        self.lease.as_ref().is_some_and(|l| l.expires_at > now)
    }

    /// Checks that a turn for `phase`/`step` fits the current state.
    pub fn plan_turn(
        &self,
        phase: Phase,
        step: Step,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<TurnKind, TurnError> {
        if text.trim().is_empty() {
            return Err(TurnError::EmptyMessage);
        }
        if text.chars().count() > MAX_USER_MESSAGE_CHARS {
            return Err(TurnError::MessageTooLong);
        }
        if let Some(c) = super::hygiene::forbidden_in_message(text) {
            return Err(TurnError::ForbiddenCharacter(c));
        }
        match self.phase {
            Phase::G2Basic => return Err(TurnError::ProfileRequired),
            Phase::Completed => return Err(TurnError::SessionCompleted),
            _ => {}
        }
        if phase != self.phase {
            return Err(TurnError::PhaseMismatch {
                expected: self.phase,
                requested: phase,
            });
        }
        if self.turn_in_progress(now) {
            return Err(TurnError::TurnInProgress);
        }
        match step {
            Step::Collect => Ok(TurnKind::Collect),
            Step::Refine if self.draft_goal.is_some() => {
                if text.trim().chars().count() > MAX_GOAL_CHARS {
                    Err(TurnError::GoalTooLong)
                } else {
                    Ok(TurnKind::EditGoal)
                }
            }
            Step::Refine => Err(TurnError::NothingToEdit),
            Step::Score => Err(TurnError::StepMismatch {
                expected: self.step,
                requested: step,
            }),
        }
    }

    /// Takes the session for one turn, for `lease` unless renewed.
    pub fn begin_turn(&mut self, lease_id: String, now: DateTime<Utc>, lease: Duration) {
        self.lease = Some(TurnLease {
            id: lease_id,
            expires_at: now + lease,
        });
        self.touch(now);
    }

    /// Extends the running turn's lease to `now + lease`; false when no
    /// lease is held (nothing to renew).
    pub fn renew_lease(&mut self, now: DateTime<Utc>, lease: Duration) -> bool {
        match &mut self.lease {
            Some(l) => {
                l.expires_at = now + lease;
                true
            }
            None => false,
        }
    }

    /// Releases the session at the end of a turn, whatever happened in it.
    pub fn end_turn(&mut self, now: DateTime<Utc>) {
        self.lease = None;
        self.touch(now);
    }

    /// The profile is filled: the conversation can start.
    pub fn complete_profile(&mut self, now: DateTime<Utc>) {
        if self.phase == Phase::G2Basic {
            self.phase = Phase::G4Future;
            self.step = Step::Collect;
            self.touch(now);
        }
    }

    /// The query embedding `phase`'s next turn retrieves by, if known.
    pub fn query_for(&self, phase: Phase) -> Option<&QuantizedVector> {
        self.queries
            .iter()
            .find(|q| q.phase == phase)
            .map(|q| &q.vector)
    }

    /// Keeps `vector` as what `phase` retrieves by next, unless the
    /// conversation has left that phase behind (its goal passed).
    pub fn remember_query(&mut self, phase: Phase, vector: QuantizedVector) {
        // Phases are declared in the order the conversation goes through them.
        if !phase.is_conversational() || (phase as u8) < (self.phase as u8) {
            return;
        }
        match self.queries.iter_mut().find(|q| q.phase == phase) {
            Some(q) => q.vector = vector,
            None => self.queries.push(PhaseQuery { phase, vector }),
        }
    }

    /// Whether the next collect turn refines whatever the model judges: it
    /// is the last one `max_collect_turns` allows.
    pub fn next_collect_forces_refine(&self, max_collect_turns: u32) -> bool {
        self.collect_turns + 1 >= max_collect_turns
    }

    /// Records a collect reply; returns whether the turn goes on to refine.
    /// The model's judgement decides, capped by `max_collect_turns`.
    pub fn record_collect(&mut self, model_says_ready: bool, max_collect_turns: u32) -> bool {
        self.collect_turns += 1;
        let refine = model_says_ready || self.collect_turns >= max_collect_turns;
        if refine {
            self.step = Step::Refine;
        }
        refine
    }

    /// An edited goal skips collect and goes straight to scoring.
    pub fn start_edit(&mut self) {
        self.step = Step::Refine;
    }

    /// The refined goal is ready to be scored.
    pub fn start_scoring(&mut self) {
        self.step = Step::Score;
    }

    /// Applies a score to the current attempt (`goal` is its text).
    pub fn record_score(&mut self, card: &ScoreCard, goal: &str) -> Verdict {
        let phase = self.phase;
        self.attempts += 1;
        self.last_score = Some(card.overall);
        self.collect_turns = 0;
        self.step = Step::Collect;
        if card.meets_threshold {
            self.move_on()
        } else {
            self.retry_count += 1;
            self.consecutive_low_scores += 1;
            self.draft_goal = Some(goal.to_string());
            Verdict::Failed { phase }
        }
    }

    /// The phase's goal is final (passed, or its best draft kept): the
    /// conversation moves on to the next phase, fresh.
    pub(super) fn move_on(&mut self) -> Verdict {
        let phase = self.phase;
        self.queries.retain(|q| q.phase != phase);
        self.phase = phase.next();
        self.step = Step::Collect;
        self.collect_turns = 0;
        self.retry_count = 0;
        self.consecutive_low_scores = 0;
        self.attempts = 0;
        self.draft_goal = None;
        self.restart = None;
        Verdict::Passed {
            phase,
            next: self.phase,
        }
    }

    /// A turn that failed midway leaves the state as it was at rest.
    pub fn abandon_step(&mut self) {
        if self.phase.is_conversational() {
            self.step = Step::Collect;
        }
    }

    fn touch(&mut self, now: DateTime<Utc>) {
        self.updated_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2025-01-10T09:00:00Z".parse().unwrap()
    }

    fn card(overall: f64) -> ScoreCard {
        ScoreCard {
            overall,
            criteria: vec![],
            feedback: String::new(),
            suggestions: vec![],
            meets_threshold: overall >= 7.0,
            threshold: 7.0,
        }
    }

    fn in_phase(phase: Phase) -> ConversationState {
        let mut s = ConversationState::new("s", "t", now());
        s.phase = phase;
        s
    }

    fn vector(x: f32) -> QuantizedVector {
        QuantizedVector::new(&[x, 1.0])
    }

    #[test]
    fn each_unfinished_phase_keeps_one_query_until_its_goal_passes() {
        let mut s = in_phase(Phase::G4Future);
        s.remember_query(Phase::G4Future, vector(0.1));
        s.remember_query(Phase::G6Values, vector(0.2));
        s.remember_query(Phase::G4Future, vector(0.3));
        s.remember_query(Phase::G2Basic, vector(0.4));
        assert_eq!(s.queries.len(), 2);
        assert_eq!(s.query_for(Phase::G4Future), Some(&vector(0.3)));
        s.record_score(&card(8.0), "goal");
        assert_eq!(
            s.query_for(Phase::G4Future),
            None,
            "a passed phase drops its query"
        );
        s.remember_query(Phase::G4Future, vector(0.5));
        assert_eq!(s.query_for(Phase::G4Future), None, "and takes none back");
        assert_eq!(s.query_for(Phase::G6Values), Some(&vector(0.2)));
        s.record_score(&card(3.0), "goal");
        assert_eq!(
            s.query_for(Phase::G6Values),
            Some(&vector(0.2)),
            "a failed score keeps it"
        );
    }

    #[test]
    fn a_state_stored_before_queries_existed_still_reads() {
        let mut json = serde_json::to_value(in_phase(Phase::G4Future)).unwrap();
        assert!(json.get("queries").is_none(), "no queries, no field");
        json.as_object_mut().unwrap().remove("queries");
        let read: ConversationState = serde_json::from_value(json).unwrap();
        assert!(read.queries.is_empty());
    }

    #[test]
    fn a_new_session_waits_for_the_profile() {
        let s = ConversationState::new("s", "t", now());
        assert_eq!((s.phase, s.step), (Phase::G2Basic, Step::Collect));
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "hi", now()),
            Err(TurnError::ProfileRequired)
        );
    }

    #[test]
    fn the_profile_opens_g4_and_only_once() {
        let mut s = ConversationState::new("s", "t", now());
        s.complete_profile(now());
        assert_eq!((s.phase, s.step), (Phase::G4Future, Step::Collect));
        s.phase = Phase::G6Values;
        s.complete_profile(now());
        assert_eq!(
            s.phase,
            Phase::G6Values,
            "a later profile edit must not rewind the conversation"
        );
    }

    #[test]
    fn collect_keeps_collecting_until_the_model_is_satisfied() {
        let mut s = in_phase(Phase::G4Future);
        assert!(!s.record_collect(false, 3));
        assert_eq!(s.step, Step::Collect);
        assert!(s.record_collect(true, 3));
        assert_eq!(s.step, Step::Refine);
    }

    #[test]
    fn max_collect_turns_caps_the_conversation() {
        let mut s = in_phase(Phase::G4Future);
        assert!(!s.next_collect_forces_refine(3));
        assert!(!s.record_collect(false, 3));
        assert!(!s.next_collect_forces_refine(3));
        assert!(!s.record_collect(false, 3));
        assert!(
            s.next_collect_forces_refine(3),
            "known before the third turn"
        );
        assert!(s.record_collect(false, 3));
        assert_eq!(s.step, Step::Refine);
    }

    #[test]
    fn a_passing_score_moves_through_every_phase_to_completed() {
        let mut s = in_phase(Phase::G4Future);
        for (phase, next) in [
            (Phase::G4Future, Phase::G6Values),
            (Phase::G6Values, Phase::G8Actions),
            (Phase::G8Actions, Phase::Completed),
        ] {
            assert!(s.record_collect(true, 3));
            s.start_scoring();
            assert_eq!(s.step, Step::Score);
            assert_eq!(
                s.record_score(&card(9.2), "goal"),
                Verdict::Passed { phase, next }
            );
            assert_eq!((s.phase, s.step), (next, Step::Collect));
            assert_eq!(
                (s.retry_count, s.consecutive_low_scores, s.attempts),
                (0, 0, 0)
            );
            assert_eq!(s.last_score, Some(9.2));
        }
        assert_eq!(
            s.plan_turn(Phase::G8Actions, Step::Collect, "more", now()),
            Err(TurnError::SessionCompleted)
        );
    }

    #[test]
    fn a_failing_score_returns_to_collect_with_a_draft() {
        let mut s = in_phase(Phase::G4Future);
        s.record_collect(true, 3);
        s.start_scoring();
        assert_eq!(
            s.record_score(&card(3.4), "vague"),
            Verdict::Failed {
                phase: Phase::G4Future
            }
        );
        assert_eq!((s.phase, s.step), (Phase::G4Future, Step::Collect));
        assert_eq!(
            (
                s.retry_count,
                s.consecutive_low_scores,
                s.attempts,
                s.collect_turns
            ),
            (1, 1, 1, 0)
        );
        assert_eq!(s.draft_goal.as_deref(), Some("vague"));
        s.record_collect(true, 3);
        s.record_score(&card(5.0), "still vague");
        assert_eq!(
            (s.retry_count, s.consecutive_low_scores, s.attempts),
            (2, 2, 2)
        );
    }

    #[test]
    fn an_edit_needs_a_draft_and_is_scored_directly() {
        let mut s = in_phase(Phase::G4Future);
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Refine, "my goal", now()),
            Err(TurnError::NothingToEdit)
        );
        s.record_collect(true, 3);
        s.record_score(&card(2.0), "draft");
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Refine, "my goal", now()),
            Ok(TurnKind::EditGoal)
        );
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Refine, &"x".repeat(301), now()),
            Err(TurnError::GoalTooLong)
        );
        s.start_edit();
        s.start_scoring();
        assert!(matches!(
            s.record_score(&card(8.0), "my goal"),
            Verdict::Passed { .. }
        ));
        assert_eq!(s.draft_goal, None);
    }

    #[test]
    fn mismatched_phases_and_steps_are_refused() {
        let s = in_phase(Phase::G4Future);
        assert_eq!(
            s.plan_turn(Phase::G6Values, Step::Collect, "hi", now()),
            Err(TurnError::PhaseMismatch {
                expected: Phase::G4Future,
                requested: Phase::G6Values
            })
        );
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Score, "hi", now()),
            Err(TurnError::StepMismatch {
                expected: Step::Collect,
                requested: Step::Score
            })
        );
    }

    #[test]
    fn empty_and_oversized_messages_are_refused() {
        let s = in_phase(Phase::G4Future);
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "  \n", now()),
            Err(TurnError::EmptyMessage)
        );
        assert_eq!(
            s.plan_turn(
                Phase::G4Future,
                Step::Collect,
                &"a".repeat(MAX_USER_MESSAGE_CHARS + 1),
                now()
            ),
            Err(TurnError::MessageTooLong)
        );
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "goal\u{202E}txet", now()),
            Err(TurnError::ForbiddenCharacter('\u{202E}'))
        );
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "a\0b", now()),
            Err(TurnError::ForbiddenCharacter('\0'))
        );
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "goal\u{E0069}", now()),
            Err(TurnError::ForbiddenCharacter('\u{E0069}'))
        );
    }

    #[test]
    fn a_lease_blocks_other_turns_until_it_ends_or_expires() {
        let mut s = in_phase(Phase::G4Future);
        let lease = Duration::seconds(DEFAULT_TURN_LEASE_SECONDS);
        s.begin_turn("lease".into(), now(), lease);
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "hi", now()),
            Err(TurnError::TurnInProgress)
        );
        let later = now() + lease + Duration::seconds(1);
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "hi", later),
            Ok(TurnKind::Collect)
        );
        s.end_turn(now());
        assert_eq!(
            s.plan_turn(Phase::G4Future, Step::Collect, "hi", now()),
            Ok(TurnKind::Collect)
        );
    }

    #[test]
    fn a_renewed_lease_outlives_its_first_term() {
        let mut s = in_phase(Phase::G4Future);
        let lease = Duration::seconds(10);
        assert!(!s.renew_lease(now(), lease), "no lease, nothing to renew");
        s.begin_turn("lease".into(), now(), lease);
        let renewed_at = now() + Duration::seconds(8);
        assert!(s.renew_lease(renewed_at, lease));
        assert!(s.turn_in_progress(now() + Duration::seconds(15)));
        assert!(!s.turn_in_progress(renewed_at + lease));
    }

    #[test]
    fn an_abandoned_turn_returns_to_collect() {
        let mut s = in_phase(Phase::G6Values);
        s.record_collect(true, 3);
        s.start_scoring();
        s.abandon_step();
        assert_eq!((s.phase, s.step), (Phase::G6Values, Step::Collect));
    }
}
