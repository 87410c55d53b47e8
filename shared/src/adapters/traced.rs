//! The model, the embedder and the vector search, each call in a span of
//! its own ([`xray::TARGET`]): what X-Ray shows as a subsegment beside the
//! AWS SDK's own store calls. Everything else is passed through untouched.
//!
//! [`xray::TARGET`]: crate::telemetry::xray::TARGET

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures::Stream;
use tracing::{Instrument, Span};

use crate::domain::audit::AuditEntry;
use crate::domain::coaching::PhaseContext;
use crate::domain::document::DocumentRecord;
use crate::domain::scoring::{Judgement, Rubric};
use crate::ports::chat_model::{CoachPurpose, Generated, ModelError, StreamPiece, TextStream};
use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, CommitError, DocumentCommit, ScoredChunk};
use crate::ports::{ChatModel, Embedder, Ports, StateStore, VectorStore};
use crate::telemetry::xray::TARGET;

/// Every call of `ports`' model, embedder and vector search in its span.
pub fn traced(ports: Ports) -> Ports {
    Ports {
        model: Arc::new(TracedModel(ports.model)),
        embedder: Arc::new(TracedEmbedder(ports.embedder)),
        vectors: Arc::new(TracedVectors(ports.vectors)),
        ..ports
    }
}

fn model_span(provider: &'static str, call: &'static str) -> Span {
    tracing::info_span!(target: TARGET, "model", provider, call, error = tracing::field::Empty)
}

/// Marks `span` failed when `result` is an error, and passes it on.
fn noted<T, E: std::fmt::Display>(span: &Span, result: Result<T, E>) -> Result<T, E> {
    if let Err(e) = &result {
        span.record("error", tracing::field::display(e));
    }
    result
}

struct TracedModel(Arc<dyn ChatModel>);

#[async_trait]
impl ChatModel for TracedModel {
    fn provider(&self) -> &'static str {
        self.0.provider()
    }

    fn model_for(&self, ctx: &PhaseContext) -> String {
        self.0.model_for(ctx)
    }

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        let span = model_span(self.0.provider(), "coach");
        let stream = self.0.coach(ctx, purpose).instrument(span.clone()).await;
        // The span lasts as long as the reply streams.
        noted(&span, stream).map(|inner| Box::pin(SpannedStream { inner, span }) as TextStream)
    }

    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        let span = model_span(self.0.provider(), "refine");
        let refined = self.0.refine(ctx, draft).instrument(span.clone()).await;
        noted(&span, refined)
    }

    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        let span = model_span(self.0.provider(), "score");
        let scored = self
            .0
            .score(ctx, goal, rubric)
            .instrument(span.clone())
            .await;
        noted(&span, scored)
    }
}

/// A streamed reply holding its span until it ends or is dropped.
struct SpannedStream {
    inner: TextStream,
    span: Span,
}

impl Stream for SpannedStream {
    type Item = Result<StreamPiece, ModelError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let polled = this.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            this.span.record("error", tracing::field::display(e));
        }
        polled
    }
}

struct TracedEmbedder(Arc<dyn Embedder>);

#[async_trait]
impl Embedder for TracedEmbedder {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn dimension(&self) -> usize {
        self.0.dimension()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let span = tracing::info_span!(
            target: TARGET, "embedding",
            provider = self.0.name(), texts = texts.len(), error = tracing::field::Empty,
        );
        let embedded = self.0.embed(texts).instrument(span.clone()).await;
        noted(&span, embedded)
    }
}

struct TracedVectors(Arc<dyn VectorStore>);

#[async_trait]
impl VectorStore for TracedVectors {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        self.0.upsert_document(tenant_id, document_id, chunks).await
    }

    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError> {
        self.0.delete_document(tenant_id, document_id).await
    }

    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let span = tracing::info_span!(
            target: TARGET, "vector_search",
            store = self.0.name(), k, error = tracing::field::Empty,
        );
        let found = self
            .0
            .search(tenant_id, categories, query, k)
            .instrument(span.clone())
            .await;
        noted(&span, found)
    }

    // The store's own transactions, not the defaults: passed through whole.
    async fn commit_document(
        &self,
        state: &dyn StateStore,
        commit: DocumentCommit,
    ) -> Result<(), CommitError> {
        self.0.commit_document(state, commit).await
    }

    async fn remove_document(
        &self,
        state: &dyn StateStore,
        record: &DocumentRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.remove_document(state, record, audit).await
    }
}
