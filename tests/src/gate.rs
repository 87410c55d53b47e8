//! A chat model that stops at a chosen call until the test lets it go, so a
//! test can act while a turn is half-way (crash it, race it, shut down).

use std::sync::Arc;

use async_trait::async_trait;
use petraf_core::domain::coaching::PhaseContext;
use petraf_core::domain::scoring::{Judgement, Rubric};
use petraf_core::ports::chat_model::{ChatModel, CoachPurpose, Generated, ModelError, TextStream};
use tokio::sync::Semaphore;

/// Where the model stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatePoint {
    /// Before the coach replies (the first model call of every turn).
    Coach,
    /// Before scoring a refined goal.
    Score,
}

#[derive(Debug)]
pub struct Gate {
    entered: Semaphore,
    open: Semaphore,
}

impl Gate {
    /// Waits until a turn reached the gate.
    pub async fn entered(&self) {
        self.entered.acquire().await.expect("gate").forget();
    }

    /// Lets `n` waiting (or future) calls through.
    pub fn open(&self, n: usize) {
        self.open.add_permits(n);
    }

    async fn pass(&self) {
        self.entered.add_permits(1);
        self.open.acquire().await.expect("gate").forget();
    }
}

pub struct GatedModel {
    inner: Arc<dyn ChatModel>,
    at: GatePoint,
    gate: Arc<Gate>,
}

impl GatedModel {
    pub fn new(inner: Arc<dyn ChatModel>, at: GatePoint) -> (Arc<Self>, Arc<Gate>) {
        let gate = Arc::new(Gate {
            entered: Semaphore::new(0),
            open: Semaphore::new(0),
        });
        let model = Arc::new(GatedModel {
            inner,
            at,
            gate: gate.clone(),
        });
        (model, gate)
    }
}

#[async_trait]
impl ChatModel for GatedModel {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn model_for(&self, ctx: &PhaseContext) -> String {
        self.inner.model_for(ctx)
    }

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        if self.at == GatePoint::Coach {
            self.gate.pass().await;
        }
        self.inner.coach(ctx, purpose).await
    }

    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        self.inner.refine(ctx, draft).await
    }

    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        if self.at == GatePoint::Score {
            self.gate.pass().await;
        }
        self.inner.score(ctx, goal, rubric).await
    }
}
