//! A session's conversation read back: paged, in conversation order, each
//! assistant turn with the goal it refined and scored.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::limits::PhaseStanding;
use super::{AppError, AppResult};
use crate::domain::goal::Goal;
use crate::domain::ids::is_ulid;
use crate::domain::message::{Message, Role, Source};
use crate::domain::phase::{Phase, Step};
use crate::ports::state_store::SessionSnapshot;

/// Messages per page when the request names no limit.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest page a request may ask for.
pub const MAX_LIMIT: usize = 200;

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TranscriptMessage {
    /// A ULID; pass the last one of a page as `cursor` for the next.
    pub id: String,
    pub phase: Phase,
    /// The step the message was sent in (user) or the turn ended at (assistant).
    pub step: Step,
    pub role: Role,
    pub text: String,
    pub created_at: DateTime<Utc>,
    /// The goal this assistant turn refined and scored, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<TurnGoal>,
    /// The company-document passages an assistant reply drew on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
}

/// The refined goal of an assistant turn and its score.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TurnGoal {
    pub goal_id: String,
    pub refined_goal: String,
    /// The attempt number within the phase, from 1.
    pub version: u32,
    #[schema(example = 7.45)]
    pub score: f64,
    pub threshold: f64,
    pub meets_threshold: bool,
}

/// One page of a session's conversation, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TranscriptPage {
    pub session_id: String,
    pub messages: Vec<TranscriptMessage>,
    /// The cursor of the next page; absent on the last one.
    pub next_cursor: Option<String>,
    /// The current phase: messages left before its cap, and the ways
    /// forward once its attempts ran out.
    #[serde(flatten)]
    pub standing: PhaseStanding,
}

/// Reads `limit` as the query sent it: absent means [`DEFAULT_LIMIT`].
pub fn parse_limit(limit: Option<&str>) -> AppResult<usize> {
    let Some(raw) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(AppError::bad_request(
            "invalid_limit",
            format!("limit must be a whole number within 1-{MAX_LIMIT}"),
        )),
    }
}

fn invalid_cursor(why: &str) -> AppError {
    AppError::bad_request("invalid_cursor", why.to_string())
}

/// The page of the authorized session's conversation after `cursor` (the
/// id of the last message of the previous page; none: from the start).
pub fn page(
    snapshot: &SessionSnapshot,
    cursor: Option<&str>,
    limit: usize,
) -> AppResult<TranscriptPage> {
    let messages = &snapshot.messages;
    // An empty cursor is no message id: refused, not read as the first page.
    let start = match cursor {
        None => 0,
        Some(c) if !is_ulid(c) => {
            return Err(invalid_cursor(
                "cursor must be a message id (next_cursor of the previous page)",
            ));
        }
        Some(c) => {
            messages
                .iter()
                .position(|m| m.id == c)
                .ok_or_else(|| invalid_cursor("the cursor names no message of this session"))?
                + 1
        }
    };
    let goals = goals_by_reply(messages, &snapshot.goals);
    let end = (start + limit).min(messages.len());
    let page: Vec<TranscriptMessage> = (start..end)
        .map(|i| view(&messages[i], goals.get(&i).copied()))
        .collect();
    let next_cursor = (end < messages.len())
        .then(|| page.last().map(|m| m.id.clone()))
        .flatten();
    Ok(TranscriptPage {
        session_id: snapshot.session.id.clone(),
        messages: page,
        next_cursor,
        standing: PhaseStanding::default(),
    })
}

fn view(message: &Message, goal: Option<&Goal>) -> TranscriptMessage {
    TranscriptMessage {
        id: message.id.clone(),
        phase: message.phase,
        step: message.step,
        role: message.role,
        text: message.content.clone(),
        created_at: message.created_at,
        goal: goal.map(|g| TurnGoal {
            goal_id: g.id.clone(),
            refined_goal: g.content.clone(),
            version: g.version,
            score: g.score,
            threshold: g.score_details.threshold,
            meets_threshold: g.score_details.meets_threshold,
        }),
        sources: message.sources.clone(),
    }
}

/// Which assistant reply (by index) each goal came with. A goal is stored
/// in its turn's commit, beside the reply, but names no message: it was
/// drafted after the turn's user message and before its reply (turns of one
/// session never overlap), so its turn is the one whose user message and
/// reply bracket its time. When several turns share one instant, later
/// goals go with later turns, newest first: a phase's first turns collect,
/// its last ones refine.
fn goals_by_reply<'g>(messages: &[Message], goals: &'g [Goal]) -> HashMap<usize, &'g Goal> {
    let mut claimed: HashMap<usize, &Goal> = HashMap::new();
    for goal in goals.iter().rev() {
        let brackets = |i: usize| {
            let reply = &messages[i];
            let asked = messages[..i]
                .iter()
                .rev()
                .find(|m| m.role == Role::User && m.phase == reply.phase);
            reply.role == Role::Assistant
                && reply.phase == goal.phase
                && reply.created_at >= goal.created_at
                && asked.is_none_or(|m| m.created_at <= goal.created_at)
                && !claimed.contains_key(&i)
        };
        if let Some(i) = (0..messages.len()).rev().find(|&i| brackets(i)) {
            claimed.insert(i, goal);
        }
    }
    claimed
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::ids::new_id;
    use crate::domain::phase::GoalType;
    use crate::domain::scoring::ScoreCard;
    use crate::domain::session::{Session, SessionStatus};

    fn at(minute: i64) -> DateTime<Utc> {
        "2025-01-10T09:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::minutes(minute)
    }

    fn message(role: Role, phase: Phase, minute: i64) -> Message {
        Message {
            id: new_id(),
            session_id: "s".into(),
            tenant_id: "t".into(),
            role,
            content: format!("{role:?} at {minute}"),
            phase,
            step: Step::Collect,
            tokens_prompt: 0,
            tokens_completion: 0,
            latency_ms: 0,
            model_used: None,
            created_at: at(minute),
            sources: vec![],
        }
    }

    fn goal(phase: Phase, minute: i64, version: u32) -> Goal {
        Goal {
            id: new_id(),
            session_id: "s".into(),
            tenant_id: "t".into(),
            goal_type: GoalType::Future,
            phase,
            content: format!("goal {version}"),
            score: 6.0,
            is_final: false,
            below_threshold: false,
            version,
            score_details: ScoreCard {
                overall: 6.0,
                criteria: vec![],
                feedback: String::new(),
                suggestions: vec![],
                meets_threshold: false,
                threshold: 7.0,
            },
            created_at: at(minute),
        }
    }

    fn session() -> Session {
        Session {
            id: "s".into(),
            tenant_id: "t".into(),
            status: SessionStatus::Active,
            profile: Default::default(),
            completion_percentage: 10,
            user_agent_hash: None,
            ip_hash: None,
            resume_token_hash: String::new(),
            metadata: serde_json::json!({}),
            expires_at: at(60),
            created_at: at(0),
            updated_at: at(0),
            last_accessed_at: at(0),
            completed_at: None,
            version: 1,
        }
    }

    #[test]
    fn a_goal_goes_with_the_reply_of_its_turn() {
        let f = Phase::G4Future;
        let messages = vec![
            message(Role::User, f, 0),
            message(Role::Assistant, f, 0),
            message(Role::User, f, 1),
            message(Role::Assistant, f, 1),
            message(Role::User, f, 2),
            message(Role::Assistant, f, 2),
        ];
        let goals = vec![goal(f, 1, 1), goal(f, 2, 2)];
        let by_reply = goals_by_reply(&messages, &goals);
        assert_eq!(by_reply.len(), 2);
        assert_eq!(by_reply[&3].version, 1);
        assert_eq!(by_reply[&5].version, 2);

        // One instant for every turn (a clock that stands still).
        let still: Vec<Message> = (0..6)
            .map(|i| {
                message(
                    if i % 2 == 0 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    f,
                    0,
                )
            })
            .collect();
        let goals = vec![goal(f, 0, 1), goal(f, 0, 2)];
        let by_reply = goals_by_reply(&still, &goals);
        assert_eq!((by_reply[&3].version, by_reply[&5].version), (1, 2));
        assert!(!by_reply.contains_key(&1));
    }

    #[test]
    fn pages_follow_their_cursor_and_bad_input_is_refused() {
        let f = Phase::G4Future;
        let messages: Vec<Message> = (0..5)
            .map(|i| {
                message(
                    if i % 2 == 0 {
                        Role::User
                    } else {
                        Role::Assistant
                    },
                    f,
                    i,
                )
            })
            .collect();
        let snapshot = SessionSnapshot {
            session: session(),
            state: crate::domain::conversation::ConversationState::new("s", "t", at(0)),
            messages: messages.clone(),
            goals: vec![],
            links: vec![],
        };
        let first = page(&snapshot, None, 2).unwrap();
        assert_eq!(first.messages.len(), 2);
        assert_eq!(first.next_cursor.as_deref(), Some(messages[1].id.as_str()));
        let second = page(&snapshot, first.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(second.messages[0].id, messages[2].id);
        let last = page(&snapshot, second.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(last.messages.len(), 1);
        assert_eq!(last.next_cursor, None);
        for bad in ["nope", ""] {
            assert_eq!(
                page(&snapshot, Some(bad), 2).unwrap_err().code,
                "invalid_cursor"
            );
        }
        assert_eq!(
            page(&snapshot, Some(&new_id()), 2).unwrap_err().code,
            "invalid_cursor"
        );
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        for bad in ["0", "201", "-1", "ten", ""] {
            assert_eq!(
                parse_limit(Some(bad)).unwrap_err().code,
                "invalid_limit",
                "{bad}"
            );
        }
    }
}
