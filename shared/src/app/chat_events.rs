//! The data of each server-sent event a chat turn streams: one type per
//! event, serialized as the event's `data` and described in the OpenAPI
//! document from the same type.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::chat::TokensUsed;
use crate::domain::message::Source;
use crate::domain::phase::{Phase, Step};
use crate::domain::scoring::ScoreCard;

/// `start`: the turn has begun.
#[derive(Debug, Serialize, ToSchema)]
pub struct StartData {
    pub phase: Phase,
    pub step: Step,
    pub timestamp: DateTime<Utc>,
}

/// `message`: one piece of the coach's streamed reply (`step: score` for
/// advice after a low score).
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageData {
    pub content: String,
    pub phase: Phase,
    pub step: Step,
    /// From 1.
    pub chunk_index: u32,
}

/// `state`: the conversation moved (sent at every transition).
#[derive(Debug, Serialize, ToSchema)]
pub struct StateData {
    pub phase: Phase,
    pub step: Step,
    #[schema(maximum = 100)]
    pub completion_percentage: u8,
}

/// `refined`: the answers refined into a SMART goal.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefinedData {
    pub goal: String,
    pub phase: Phase,
    /// At most 300.
    pub characters: usize,
    pub version: u32,
}

/// `score`: the goal scored against the tenant's rubric.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScoreData {
    pub goal_id: String,
    pub phase: Phase,
    #[serde(flatten)]
    pub card: ScoreCard,
}

/// `complete`: the turn is stored; the last event of a successful turn.
#[derive(Debug, Serialize, ToSchema)]
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
}

/// `error`: a fault after the stream began; the user's message stays stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamErrorData {
    pub code: String,
    pub message: String,
}

/// Every event a turn may stream: its name and its data's schema name
/// (each listed among the document's components).
pub fn event_schemas() -> Vec<(&'static str, String)> {
    vec![
        ("start", StartData::name().into_owned()),
        ("message", MessageData::name().into_owned()),
        ("state", StateData::name().into_owned()),
        ("refined", RefinedData::name().into_owned()),
        ("score", ScoreData::name().into_owned()),
        ("complete", CompleteData::name().into_owned()),
        ("error", StreamErrorData::name().into_owned()),
    ]
}
