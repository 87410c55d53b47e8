//! The vector store: document chunks and their embeddings, per tenant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state_store::StoreError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkRecord {
    pub id: String,
    pub tenant_id: String,
    pub document_id: String,
    pub chunk_index: u32,
    pub category: String,
    pub content: String,
    pub metadata: serde_json::Value,
    pub embedding: Vec<f32>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoredChunk {
    pub chunk: ChunkRecord,
    /// Cosine similarity, 1 for identical directions.
    pub similarity: f32,
}

#[async_trait]
pub trait VectorStore: Send + Sync {
    fn name(&self) -> &'static str;

    /// Replaces every chunk of a document with `chunks` (idempotent).
    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError>;

    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError>;

    /// The `k` chunks of the tenant, within `categories` (all when empty),
    /// most similar to `query` first.
    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError>;
}

/// An upsert's chunks must all belong to the document it names.
pub fn ensure_chunks_of(
    tenant_id: &str,
    document_id: &str,
    chunks: &[ChunkRecord],
) -> Result<(), StoreError> {
    match chunks
        .iter()
        .find(|c| c.tenant_id != tenant_id || c.document_id != document_id)
    {
        Some(foreign) => Err(StoreError::Conflict(format!(
            "chunk {} belongs to another document",
            foreign.id
        ))),
        None => Ok(()),
    }
}

/// Cosine similarity; 0 when either vector is all zeros.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (x, y) in a.iter().zip(b) {
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na.sqrt() * nb.sqrt())
    }
}
