//! The server-sent events a chat turn streams: one enum wrapping one data
//! type per event. An event's `data` is the enum serialized (one
//! `to_value`), its name the variant's; the OpenAPI document describes each
//! data type from [`event_schemas`]. A new event is a data type, a variant,
//! its name and its line in [`event_schemas`] — all in this file.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::app::limits::PhaseStanding;
use crate::domain::message::{Source, Usage};
use crate::domain::phase::{Phase, Step};
use crate::domain::scoring::ScoreCard;

/// The events a turn streams, in the order a client sees them.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ChatEvent {
    Start(StartData),
    Message(MessageData),
    State(StateData),
    Refined(RefinedData),
    Score(ScoreData),
    Complete(CompleteData),
    Error(StreamErrorData),
}

impl ChatEvent {
    pub fn name(&self) -> &'static str {
        match self {
            ChatEvent::Start(_) => "start",
            ChatEvent::Message(_) => "message",
            ChatEvent::State(_) => "state",
            ChatEvent::Refined(_) => "refined",
            ChatEvent::Score(_) => "score",
            ChatEvent::Complete(_) => "complete",
            ChatEvent::Error(_) => "error",
        }
    }

    /// The event's data: the wrapped type, serialized.
    pub fn data(&self) -> Value {
        serde_json::to_value(self).expect("event data serializes")
    }
}

/// An event as the OpenAPI document describes it.
pub struct EventSchema {
    pub event: &'static str,
    /// The name of its data's schema.
    pub component: String,
    /// Its data's schema and those it refers to, named.
    pub schemas: Vec<(String, RefOr<Schema>)>,
}

/// Every event a turn may stream, described.
pub fn event_schemas() -> Vec<EventSchema> {
    vec![
        described::<StartData>("start"),
        described::<MessageData>("message"),
        described::<StateData>("state"),
        described::<RefinedData>("refined"),
        described::<ScoreData>("score"),
        described::<CompleteData>("complete"),
        described::<StreamErrorData>("error"),
    ]
}

fn described<T: ToSchema>(event: &'static str) -> EventSchema {
    let component = T::name().into_owned();
    let mut schemas = vec![(component.clone(), T::schema())];
    T::schemas(&mut schemas);
    EventSchema {
        event,
        component,
        schemas,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
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

/// `start`: the turn has begun.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StartData {
    pub phase: Phase,
    pub step: Step,
    pub timestamp: DateTime<Utc>,
}

/// `message`: one piece of the coach's streamed reply (`step: score` for
/// advice after a low score).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct MessageData {
    pub content: String,
    pub phase: Phase,
    pub step: Step,
    /// From 1.
    pub chunk_index: u32,
}

/// `state`: the conversation moved (sent at every transition).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StateData {
    pub phase: Phase,
    pub step: Step,
    #[schema(maximum = 100)]
    pub completion_percentage: u8,
}

/// `refined`: the answers refined into a SMART goal.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct RefinedData {
    pub goal: String,
    pub phase: Phase,
    /// At most 300.
    pub characters: usize,
    pub version: u32,
}

/// `score`: the goal scored against the tenant's rubric.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScoreData {
    pub goal_id: String,
    pub phase: Phase,
    #[serde(flatten)]
    pub card: ScoreCard,
}

/// `complete`: the turn is stored; the last event of a successful turn.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CompleteData {
    pub phase: Phase,
    pub step: Step,
    pub full_response: String,
    pub chunks: u32,
    pub tokens_used: TokensUsed,
    pub latency_ms: u64,
    pub timestamp: DateTime<Utc>,
    /// The company-document passages the turn used.
    pub sources: Vec<Source>,
    /// The phase the conversation now rests in: messages left before its
    /// cap, and the ways forward once its attempts ran out.
    #[serde(flatten)]
    pub standing: PhaseStanding,
}

/// `error`: a fault after the stream began; the user's message stays stored.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct StreamErrorData {
    pub code: String,
    pub message: String,
}

impl StreamErrorData {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        StreamErrorData {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One event of each kind, in stream order, stamped `at`: for the tests
/// that go through every event.
#[cfg(test)]
pub(crate) fn samples(at: DateTime<Utc>) -> Vec<ChatEvent> {
    use crate::domain::scoring::CriterionScore;
    let (phase, step) = (Phase::G4Future, Step::Collect);
    let card = ScoreCard {
        overall: 8.0,
        criteria: vec![CriterionScore {
            name: "specific".into(),
            score: 8.0,
            weight: 1.0,
            weighted_score: 8.0,
            reasoning: "clear".into(),
        }],
        feedback: "good".into(),
        suggestions: vec![],
        meets_threshold: true,
        threshold: 7.0,
    };
    let source = Source {
        title: "Framework".into(),
        category: "career_framework".into(),
        page: Some(2),
        section: None,
    };
    vec![
        ChatEvent::Start(StartData {
            phase,
            step,
            timestamp: at,
        }),
        ChatEvent::Message(MessageData {
            content: "Hi".into(),
            phase,
            step,
            chunk_index: 1,
        }),
        ChatEvent::State(StateData {
            phase,
            step,
            completion_percentage: 33,
        }),
        ChatEvent::Refined(RefinedData {
            goal: "Lead".into(),
            phase,
            characters: 4,
            version: 1,
        }),
        ChatEvent::Score(ScoreData {
            goal_id: "g".into(),
            phase,
            card,
        }),
        ChatEvent::Complete(CompleteData {
            phase,
            step,
            full_response: "Hi".into(),
            chunks: 1,
            tokens_used: Usage {
                input: 1,
                output: 2,
            }
            .into(),
            latency_ms: 5,
            timestamp: at,
            sources: vec![source],
            standing: PhaseStanding {
                turns_left: Some(12),
                draft_editable: false,
                next_steps: None,
            },
        }),
        ChatEvent::Error(StreamErrorData::new("model_unavailable", "later")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each event's name and data exactly as the wire carries them: the
    /// e2e tests, the browser tests and `openapi.json` depend on them.
    #[test]
    fn every_event_keeps_its_wire_format() {
        let expected = [
            (
                "start",
                r#"{"phase":"g4_future","step":"collect","timestamp":"2026-11-26T08:15:42Z"}"#,
            ),
            (
                "message",
                r#"{"content":"Hi","phase":"g4_future","step":"collect","chunk_index":1}"#,
            ),
            (
                "state",
                r#"{"phase":"g4_future","step":"collect","completion_percentage":33}"#,
            ),
            (
                "refined",
                r#"{"goal":"Lead","phase":"g4_future","characters":4,"version":1}"#,
            ),
            (
                "score",
                concat!(
                    r#"{"goal_id":"g","phase":"g4_future","overall":8.0,"criteria":[{"name":"specific","score":8.0,"weight":1.0,"weighted_score":8.0,"reasoning":"clear"}],"#,
                    r#""feedback":"good","suggestions":[],"meets_threshold":true,"threshold":7.0}"#
                ),
            ),
            (
                "complete",
                concat!(
                    r#"{"phase":"g4_future","step":"collect","full_response":"Hi","chunks":1,"#,
                    r#""tokens_used":{"input":1,"output":2,"total":3},"latency_ms":5,"#,
                    r#""timestamp":"2026-11-26T08:15:42Z","#,
                    r#""sources":[{"title":"Framework","category":"career_framework","page":2}],"turns_left":12,"draft_editable":false}"#
                ),
            ),
            ("error", r#"{"code":"model_unavailable","message":"later"}"#),
        ];
        let events = samples("2026-11-26T08:15:42Z".parse().unwrap());
        assert_eq!(events.len(), expected.len());
        for (event, (name, data)) in events.iter().zip(expected) {
            assert_eq!(event.name(), name);
            assert_eq!(event.data().to_string(), data, "{name}");
        }
    }
}
