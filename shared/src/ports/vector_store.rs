//! The vector store: document chunks and their embeddings, per tenant.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state_store::{Expect, StateStore, StoreError};
use crate::domain::audit::AuditEntry;
use crate::domain::document::{DocumentRecord, LimitReached};
use crate::domain::tenant::DocumentLimits;

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

/// A document made searchable: its record, its chunks and the audit entry
/// of the change, written as one unit within the tenant's limits, if the
/// stored record is still `previous` (same revision; `None`: no record).
#[derive(Debug, Clone)]
pub struct DocumentCommit {
    pub record: DocumentRecord,
    pub chunks: Vec<ChunkRecord>,
    pub audit: AuditEntry,
    pub limits: DocumentLimits,
    /// The record this one replaces, as the writer read it.
    pub previous: Option<DocumentRecord>,
}

impl DocumentCommit {
    /// The guard of the record write.
    pub fn expect(&self) -> Expect {
        Expect::document(self.previous.as_ref())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The document does not fit in its tenant's library; nothing was written.
    #[error(transparent)]
    Limit(#[from] LimitReached),
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// most similar to `query` first. They come back without their
    /// embeddings (`embedding` is empty): a search answers passages, and the
    /// vectors would be most of its bytes (a coach turn asks for dozens of
    /// candidates, over the RDS Data API's 1 MB answers).
    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError>;

    /// Writes a document's record, chunks and audit entry if the stored
    /// record is still `commit.previous` (`Conflict` otherwise, with nothing
    /// written). This default writes them one after the other, the guarded
    /// record first (so of racing writers exactly one goes on), then the
    /// chunks (one atomic swap), then the audit entry; if the chunks fail,
    /// the record is put back. Limits are checked by the caller beforehand.
    /// A store that shares transactions with `state` (see
    /// [`StateStore::transaction_scope`]) commits all three at once and
    /// checks the guard and the limits inside that transaction.
    async fn commit_document(
        &self,
        state: &dyn StateStore,
        commit: DocumentCommit,
    ) -> Result<(), CommitError> {
        commit_in_sequence(self, state, commit).await
    }

    /// Removes a document's record, chunks and audits it, if the stored
    /// record is still at `record.revision` (`Conflict` otherwise, with
    /// nothing removed). The default removes the record first (the guard),
    /// then the chunks (putting the record back if that fails).
    async fn remove_document(
        &self,
        state: &dyn StateStore,
        record: &DocumentRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        remove_in_sequence(self, state, record, audit).await
    }
}

/// [`VectorStore::commit_document`] without a shared transaction: the
/// guarded record, then chunks, then the audit entry.
pub async fn commit_in_sequence<V: VectorStore + ?Sized>(
    vectors: &V,
    state: &dyn StateStore,
    commit: DocumentCommit,
) -> Result<(), CommitError> {
    let expect = commit.expect();
    let DocumentCommit {
        record,
        chunks,
        audit,
        previous,
        ..
    } = commit;
    state.put_document(&record, expect).await?;
    if let Err(e) = vectors
        .upsert_document(&record.tenant_id, &record.id, chunks)
        .await
    {
        let mine = Expect::document(Some(&record));
        let undone = match &previous {
            Some(previous) => state.put_document(previous, mine).await,
            None => {
                state
                    .delete_document(&record.tenant_id, &record.id, record.revision)
                    .await
            }
        };
        if let Err(undo) = undone {
            tracing::error!(document = %record.id, error = %undo, "a document record was left naming chunks that were not written");
        }
        return Err(e.into());
    }
    state.append_audit(&audit).await?;
    Ok(())
}

/// [`VectorStore::remove_document`] without a shared transaction.
pub async fn remove_in_sequence<V: VectorStore + ?Sized>(
    vectors: &V,
    state: &dyn StateStore,
    record: &DocumentRecord,
    audit: &AuditEntry,
) -> Result<(), StoreError> {
    state
        .delete_document(&record.tenant_id, &record.id, record.revision)
        .await?;
    if let Err(e) = vectors.delete_document(&record.tenant_id, &record.id).await {
        if let Err(undo) = state.put_document(record, Expect::Absent).await {
            tracing::error!(document = %record.id, error = %undo, "a removed document's chunks were left behind");
        }
        return Err(e);
    }
    state.append_audit(audit).await
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
