//! The embedded vector store: exact cosine search in memory, saved to a
//! JSON file under the data directory so uploads survive restarts.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::RwLock;

use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, ScoredChunk, VectorStore, cosine, ensure_chunks_of};

#[derive(Clone, Default)]
pub struct MemoryVectorStore {
    chunks: Arc<RwLock<HashMap<String, Vec<ChunkRecord>>>>,
    file: Option<PathBuf>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl MemoryVectorStore {
    /// A store that lives only as long as the process.
    pub fn in_memory() -> Self {
        Self::default()
    }

    /// A store kept in `file` (loaded now if it exists).
    pub fn persistent(file: PathBuf) -> Result<Self, StoreError> {
        let mut by_tenant: HashMap<String, Vec<ChunkRecord>> = HashMap::new();
        if file.exists() {
            let text = std::fs::read_to_string(&file).map_err(unavailable)?;
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let chunk: ChunkRecord = serde_json::from_str(line).map_err(unavailable)?;
                by_tenant
                    .entry(chunk.tenant_id.clone())
                    .or_default()
                    .push(chunk);
            }
        }
        Ok(MemoryVectorStore {
            chunks: Arc::new(RwLock::new(by_tenant)),
            file: Some(file),
        })
    }

    /// How many chunks the store holds, across tenants.
    pub async fn chunk_count(&self) -> usize {
        self.chunks.read().await.values().map(Vec::len).sum()
    }

    /// Writes the whole index, atomically (write then rename).
    async fn save(&self, chunks: &HashMap<String, Vec<ChunkRecord>>) -> Result<(), StoreError> {
        let Some(file) = &self.file else {
            return Ok(());
        };
        let mut out = String::new();
        for chunk in chunks.values().flatten() {
            out.push_str(&serde_json::to_string(chunk).map_err(unavailable)?);
            out.push('\n');
        }
        if let Some(dir) = file.parent() {
            tokio::fs::create_dir_all(dir).await.map_err(unavailable)?;
        }
        let tmp = file.with_extension("tmp");
        tokio::fs::write(&tmp, out).await.map_err(unavailable)?;
        tokio::fs::rename(&tmp, file).await.map_err(unavailable)
    }
}

#[async_trait]
impl VectorStore for MemoryVectorStore {
    fn name(&self) -> &'static str {
        "embedded-memory"
    }

    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        ensure_chunks_of(tenant_id, document_id, &chunks)?;
        let mut all = self.chunks.write().await;
        let tenant = all.entry(tenant_id.to_string()).or_default();
        tenant.retain(|c| c.document_id != document_id);
        tenant.extend(chunks);
        self.save(&all).await
    }

    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError> {
        let mut all = self.chunks.write().await;
        if let Some(tenant) = all.get_mut(tenant_id) {
            tenant.retain(|c| c.document_id != document_id);
        }
        self.save(&all).await
    }

    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let all = self.chunks.read().await;
        let Some(tenant) = all.get(tenant_id) else {
            return Ok(vec![]);
        };
        let mut scored: Vec<ScoredChunk> = tenant
            .iter()
            .filter(|c| categories.is_empty() || categories.contains(&c.category))
            .map(|c| ScoredChunk {
                similarity: cosine(&c.embedding, query),
                chunk: c.clone(),
            })
            .collect();
        scored.sort_by(|a, b| {
            b.similarity
                .total_cmp(&a.similarity)
                .then_with(|| a.chunk.id.cmp(&b.chunk.id))
        });
        scored.truncate(k);
        Ok(scored)
    }
}
