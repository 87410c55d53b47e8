//! The offline model and embedder, counting the tokens a production model
//! would bill. Input: the exact prompts the Bedrock and OpenAI adapters
//! send (`domain::prompts`), at 4 characters a token. Output: the offline
//! model's reply at 4 characters a token (its replies are about a real
//! coach's length; a real scorer's JSON adds some). The offline model's own
//! input count is only the employee's words, so it is not used.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::StreamExt;
use petraf_core::domain::coaching::PhaseContext;
use petraf_core::domain::prompts::{
    PromptMessage, coach_messages, improvement_messages, refine_messages, score_messages,
};
use petraf_core::domain::scoring::{Judgement, Rubric};
use petraf_core::ports::chat_model::{
    ChatModel, CoachPurpose, Generated, ModelError, StreamPiece, TextStream,
};
use petraf_core::ports::embedder::Embedder;

/// Tokens at 4 characters each, as the offline model counts them.
pub fn tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4)
}

fn prompt_tokens(messages: &[PromptMessage]) -> u64 {
    messages.iter().map(|m| tokens(&m.content)).sum()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelCounts {
    pub chat_calls: u64,
    pub chat_input_tokens: u64,
    pub chat_output_tokens: u64,
    pub embed_calls: u64,
    pub embed_tokens: u64,
}

#[derive(Debug, Clone, Default)]
pub struct ModelMeter(Arc<Mutex<ModelCounts>>);

impl ModelMeter {
    pub fn take(&self) -> ModelCounts {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    pub fn peek(&self) -> ModelCounts {
        self.0.lock().unwrap().clone()
    }

    fn chat(&self, input: u64, output: u64) {
        let mut counts = self.0.lock().unwrap();
        counts.chat_calls += 1;
        counts.chat_input_tokens += input;
        counts.chat_output_tokens += output;
    }

    fn output(&self, output: u64) {
        self.0.lock().unwrap().chat_output_tokens += output;
    }
}

/// A chat model that counts what `inner` is asked and answers.
pub struct MeteredModel {
    pub inner: Arc<dyn ChatModel>,
    pub meter: ModelMeter,
}

#[async_trait]
impl ChatModel for MeteredModel {
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
        let prompt = match &purpose {
            CoachPurpose::Collect { readiness } => coach_messages(ctx, *readiness),
            CoachPurpose::Improve { goal, card } => improvement_messages(ctx, goal, card),
        };
        self.meter.chat(prompt_tokens(&prompt), 0);
        let meter = self.meter.clone();
        let stream = self.inner.coach(ctx, purpose).await?;
        Ok(Box::pin(stream.inspect(move |piece| {
            if let Ok(StreamPiece::Usage(usage)) = piece {
                meter.output(u64::from(usage.output));
            }
        })))
    }

    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        let input = prompt_tokens(&refine_messages(ctx, draft));
        let made = self.inner.refine(ctx, draft).await?;
        self.meter.chat(input, u64::from(made.usage.output));
        Ok(made)
    }

    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        let input = prompt_tokens(&score_messages(ctx, goal, rubric));
        let made = self.inner.score(ctx, goal, rubric).await?;
        self.meter.chat(input, u64::from(made.usage.output));
        Ok(made)
    }
}

/// An embedder that counts the tokens of what `inner` embeds.
pub struct MeteredEmbedder {
    pub inner: Arc<dyn Embedder>,
    pub meter: ModelMeter,
}

#[async_trait]
impl Embedder for MeteredEmbedder {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        {
            let mut counts = self.meter.0.lock().unwrap();
            counts.embed_calls += 1;
            counts.embed_tokens += texts.iter().map(|t| tokens(t)).sum::<u64>();
        }
        self.inner.embed(texts).await
    }
}
