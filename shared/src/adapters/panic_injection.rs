//! A chat model that panics mid-reply when the employee's message holds a
//! given phrase: fault injection for the end-to-end test of the deployed
//! artifacts, which must show that a panic inside a turn is caught there
//! (an SSE `error`, the session released) and not only in test builds.
//!
//! Only `PETRAF_TEST_PANIC_PHRASE` with the offline model turns it on
//! (`config`); the SAM template sets neither, and a real model with the
//! variable set refuses to start, so production never reaches it.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;

use crate::domain::coaching::PhaseContext;
use crate::domain::scoring::{Judgement, Rubric};
use crate::ports::ChatModel;
use crate::ports::chat_model::{CoachPurpose, Generated, ModelError, StreamPiece, TextStream};

pub struct PanicOnPhrase {
    inner: Arc<dyn ChatModel>,
    phrase: String,
}

impl PanicOnPhrase {
    pub fn new(inner: Arc<dyn ChatModel>, phrase: String) -> Self {
        PanicOnPhrase { inner, phrase }
    }
}

#[async_trait]
impl ChatModel for PanicOnPhrase {
    fn provider(&self) -> &'static str {
        self.inner.provider()
    }

    fn model_for(&self, ctx: &PhaseContext) -> String {
        self.inner.model_for(ctx)
    }

    /// The reply streams until its first text, then the stream panics.
    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        let reply = self.inner.coach(ctx, purpose).await?;
        if !ctx.latest_user_message().contains(&self.phrase) {
            return Ok(reply);
        }
        let pieces = futures::stream::unfold((reply, false), |(mut reply, texted)| async move {
            if texted {
                panic!("injected panic (PETRAF_TEST_PANIC_PHRASE)");
            }
            let piece = reply.next().await?;
            let texted = matches!(piece, Ok(StreamPiece::Text(_)));
            Some((piece, (reply, texted)))
        });
        Ok(Box::pin(pieces))
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
        self.inner.score(ctx, goal, rubric).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::embedded::OfflineModel;
    use crate::conformance::sarah_context;
    use crate::domain::coaching::{HistoryTurn, Readiness};
    use crate::domain::message::Role;

    fn model() -> PanicOnPhrase {
        PanicOnPhrase::new(Arc::new(OfflineModel), "PANIC-NOW".into())
    }

    fn collect() -> CoachPurpose {
        CoachPurpose::Collect {
            readiness: Readiness::Judge,
        }
    }

    async fn drain(stream: TextStream) -> Vec<StreamPiece> {
        stream.map(|p| p.unwrap()).collect().await
    }

    #[tokio::test]
    async fn without_the_phrase_the_reply_is_the_inner_models() {
        let ctx = sarah_context();
        let ours = drain(model().coach(&ctx, collect()).await.unwrap()).await;
        let inner = drain(OfflineModel.coach(&ctx, collect()).await.unwrap()).await;
        assert_eq!(ours, inner);
        assert_eq!(model().provider(), OfflineModel.provider());
    }

    #[tokio::test]
    async fn with_the_phrase_the_stream_panics_after_its_first_text() {
        let mut ctx = sarah_context();
        ctx.history.push(HistoryTurn {
            role: Role::User,
            content: "please PANIC-NOW".into(),
        });
        let mut stream = model().coach(&ctx, collect()).await.unwrap();
        let polled = tokio::spawn(async move {
            let mut seen = vec![];
            while let Some(piece) = stream.next().await {
                seen.push(piece.unwrap());
            }
            seen
        })
        .await;
        assert!(polled.unwrap_err().is_panic());
    }
}
