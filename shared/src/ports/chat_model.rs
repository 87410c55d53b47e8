//! The chat model: coach replies (streamed, a collect reply leading with
//! its readiness verdict), refinement, scoring.

use std::pin::Pin;

use async_trait::async_trait;
use futures::Stream;

use crate::domain::coaching::PhaseContext;
pub use crate::domain::coaching::Readiness;
use crate::domain::message::Usage;
use crate::domain::scoring::{Judgement, Rubric, ScoreCard};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ModelError {
    #[error("the model service is rate limiting")]
    RateLimited,
    #[error("the model service timed out")]
    Timeout,
    #[error("the model service failed: {0}")]
    Upstream(String),
    #[error("the model's answer could not be used: {0}")]
    Malformed(String),
}

impl ModelError {
    pub fn code(&self) -> &'static str {
        match self {
            ModelError::RateLimited => "model_rate_limited",
            ModelError::Timeout => "model_timeout",
            ModelError::Upstream(_) => "model_unavailable",
            ModelError::Malformed(_) => "model_malformed_output",
        }
    }
}

/// A model result with what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated<T> {
    pub value: T,
    pub usage: Usage,
}

/// A piece of a streamed reply.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamPiece {
    Text(String),
    /// Whether the employee's answers hold enough for a SMART goal: once,
    /// before any text, in a collect reply that judges readiness. A reply
    /// whose model gave no usable verdict says `ready: false`.
    Verdict {
        ready: bool,
    },
    /// Reported once, usually at the end.
    Usage(Usage),
}

pub type TextStream = Pin<Box<dyn Stream<Item = Result<StreamPiece, ModelError>> + Send>>;

/// Why the coach speaks.
#[derive(Debug, Clone)]
pub enum CoachPurpose {
    /// Reply to the employee's latest message, judging readiness (the
    /// stream leads with a [`StreamPiece::Verdict`]) or wrapping up because
    /// the turn refines regardless (no verdict).
    Collect { readiness: Readiness },
    /// Explain what would raise a score that fell short.
    Improve { goal: String, card: ScoreCard },
}

#[async_trait]
pub trait ChatModel: Send + Sync {
    /// The provider's name, as `/api/health` reports it.
    fn provider(&self) -> &'static str;

    /// The model id a call with this context uses (stored with messages).
    fn model_for(&self, ctx: &PhaseContext) -> String;

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError>;

    /// A SMART goal from the phase's answers (the caller enforces the length).
    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError>;

    /// Per-criterion scores; the caller computes the total.
    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError>;
}
