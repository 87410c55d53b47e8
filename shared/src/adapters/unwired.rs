//! Stand-ins for the ports a process does not use. A Lambda function wires
//! only the adapters its routes call (its role grants nothing else); the
//! others are these, which name the configured adapter for `/api/health`
//! and refuse every call, so a wiring mistake is a clear 503, never a
//! silent fallback.

use async_trait::async_trait;

use crate::domain::coaching::PhaseContext;
use crate::domain::scoring::{Judgement, Rubric};
use crate::ports::chat_model::{CoachPurpose, Generated, ModelError, TextStream};
use crate::ports::object_store::StoredObject;
use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, ScoredChunk};
use crate::ports::{ChatModel, Embedder, ObjectStore, VectorStore};

/// A port this process does not serve; `name` is the adapter the
/// deployment configures for the processes that do.
#[derive(Debug, Clone, Copy)]
pub struct Unwired {
    pub name: &'static str,
}

impl Unwired {
    pub fn named(name: &'static str) -> Self {
        Unwired { name }
    }

    fn refusal(&self) -> String {
        format!("the {} adapter is not wired into this function", self.name)
    }

    fn store_error<T>(&self) -> Result<T, StoreError> {
        tracing::error!(
            adapter = self.name,
            "a route called a port this function does not wire"
        );
        Err(StoreError::Unavailable(self.refusal()))
    }

    fn model_error<T>(&self) -> Result<T, ModelError> {
        tracing::error!(
            adapter = self.name,
            "a route called a model this function does not wire"
        );
        Err(ModelError::Upstream(self.refusal()))
    }
}

#[async_trait]
impl VectorStore for Unwired {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn upsert_document(
        &self,
        _tenant_id: &str,
        _document_id: &str,
        _chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        self.store_error()
    }
    async fn delete_document(
        &self,
        _tenant_id: &str,
        _document_id: &str,
    ) -> Result<(), StoreError> {
        self.store_error()
    }
    async fn search(
        &self,
        _tenant_id: &str,
        _categories: &[String],
        _query: &[f32],
        _k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.store_error()
    }
}

#[async_trait]
impl ObjectStore for Unwired {
    fn name(&self) -> &'static str {
        self.name
    }
    async fn put(&self, _key: &str, _object: StoredObject) -> Result<(), StoreError> {
        self.store_error()
    }
    async fn get(&self, _key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.store_error()
    }
    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        self.store_error()
    }
}

#[async_trait]
impl ChatModel for Unwired {
    fn provider(&self) -> &'static str {
        self.name
    }
    fn model_for(&self, _ctx: &PhaseContext) -> String {
        self.name.to_string()
    }
    async fn coach(
        &self,
        _ctx: &PhaseContext,
        _purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        self.model_error()
    }
    async fn refine(
        &self,
        _ctx: &PhaseContext,
        _draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        self.model_error()
    }
    async fn score(
        &self,
        _ctx: &PhaseContext,
        _goal: &str,
        _rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        self.model_error()
    }
}

#[async_trait]
impl Embedder for Unwired {
    fn name(&self) -> &'static str {
        self.name
    }
    fn dimension(&self) -> usize {
        0
    }
    async fn embed(&self, _texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.model_error()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unwired_port_names_its_adapter_and_refuses_calls() {
        let port = Unwired::named("pgvector");
        assert_eq!(VectorStore::name(&port), "pgvector");
        assert!(matches!(
            port.search("t", &[], &[0.0], 3).await,
            Err(StoreError::Unavailable(m)) if m.contains("pgvector")
        ));
        assert!(matches!(
            port.embed(&["x".into()]).await,
            Err(ModelError::Upstream(_))
        ));
        assert!(port.get("k").await.is_err());
    }
}
