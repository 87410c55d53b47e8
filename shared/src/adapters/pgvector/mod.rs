//! The production vector store: PostgreSQL with pgvector, one `rag_chunks`
//! table shared by every tenant. A `(tenant_id, category)` B-tree serves most
//! per-tenant searches exactly; when the planner picks the HNSW (cosine)
//! index instead, iterative index scans keep a tenant's filtered top-k full
//! however small its share of the rows (BENCHMARKS.md has the measurements).
//!
//! Two transports run the same SQL: the RDS Data API (no connection to
//! manage, for Lambdas outside the VPC) and, with feature `pgvector-direct`,
//! a direct connection pool (sqlx, `DATABASE_URL`).

mod data_api;
#[cfg(feature = "pgvector-direct")]
mod direct;
mod schema;
mod sql;
mod transport;

use std::sync::Arc;

use async_trait::async_trait;
#[cfg(feature = "pgvector-direct")]
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

pub use data_api::DataApiTarget;
use data_api::DataApiTransport;
#[cfg(feature = "pgvector-direct")]
use direct::{DirectTransport, store_error};
use transport::Transport;

use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, ScoredChunk, VectorStore, ensure_chunks_of};

/// The dimension of OpenAI's text-embedding-3-small and Titan v2 at 1536.
pub const DEFAULT_DIMENSION: usize = 1536;
/// pgvector's HNSW index takes `vector` columns of at most 2000 dimensions.
pub const MAX_INDEXED_DIMENSION: usize = 2000;
/// A Lambda serves one request at a time: a few connections are plenty.
#[cfg(feature = "pgvector-direct")]
const MAX_CONNECTIONS: u32 = 4;

#[derive(Clone)]
pub struct PgVectorStore {
    transport: Arc<dyn Transport>,
    dimension: usize,
}

impl PgVectorStore {
    /// A store on a direct connection; connects on first use.
    #[cfg(feature = "pgvector-direct")]
    pub fn connect_lazy(options: PgConnectOptions, dimension: usize) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_lazy_with(options);
        Self::from_pool(pool, dimension)
    }

    /// A store on an existing pool (tests pick a schema through its options).
    #[cfg(feature = "pgvector-direct")]
    pub fn from_pool(pool: PgPool, dimension: usize) -> Self {
        PgVectorStore {
            transport: Arc::new(DirectTransport::new(pool)),
            dimension,
        }
    }

    /// A store reached through the RDS Data API.
    pub fn data_api(
        client: aws_sdk_rdsdata::Client,
        target: DataApiTarget,
        dimension: usize,
    ) -> Self {
        PgVectorStore {
            transport: Arc::new(DataApiTransport::new(client, target)),
            dimension,
        }
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Creates or updates the schema (idempotent), and checks that the
    /// table holds vectors of this store's dimension.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        schema::migrate(self.transport.as_ref(), self.dimension).await
    }

    fn check_dimension(&self, vector: &[f32], what: &str) -> Result<(), StoreError> {
        if vector.len() == self.dimension {
            Ok(())
        } else {
            Err(StoreError::Unavailable(format!(
                "{what} has {} dimensions, the pgvector store holds {} (PETRAF_EMBEDDING_DIMENSION)",
                vector.len(),
                self.dimension
            )))
        }
    }
}

/// Parses a `postgres://` URL into connect options.
#[cfg(feature = "pgvector-direct")]
pub fn parse_database_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Unavailable(
            "expected a postgres:// or postgresql:// URL".into(),
        ));
    }
    url.parse::<PgConnectOptions>().map_err(store_error)
}

/// Counts the RDS Data API calls a store's work would cost, whatever its
/// transport (the cost benchmark runs the direct one on a local PostgreSQL).
#[cfg(feature = "conformance")]
#[derive(Debug, Clone, Default)]
pub struct DataApiCallCounter(Arc<std::sync::atomic::AtomicU64>);

#[cfg(feature = "conformance")]
impl DataApiCallCounter {
    pub fn calls(&self) -> u64 {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(feature = "conformance")]
struct CountingTransport {
    inner: Arc<dyn Transport>,
    counter: DataApiCallCounter,
}

#[cfg(feature = "conformance")]
#[async_trait]
impl Transport for CountingTransport {
    async fn transaction(
        &self,
        statements: Vec<transport::Statement>,
    ) -> Result<Vec<transport::Row>, StoreError> {
        self.counter.0.fetch_add(
            data_api::calls_for(&statements),
            std::sync::atomic::Ordering::Relaxed,
        );
        self.inner.transaction(statements).await
    }
}

#[cfg(feature = "conformance")]
impl PgVectorStore {
    /// This store, counting the Data API calls its transactions would make.
    pub fn counting_data_api_calls(self) -> (Self, DataApiCallCounter) {
        let counter = DataApiCallCounter::default();
        let store = PgVectorStore {
            transport: Arc::new(CountingTransport {
                inner: self.transport,
                counter: counter.clone(),
            }),
            dimension: self.dimension,
        };
        (store, counter)
    }
}

#[async_trait]
impl VectorStore for PgVectorStore {
    fn name(&self) -> &'static str {
        "pgvector"
    }

    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        ensure_chunks_of(tenant_id, document_id, &chunks)?;
        for chunk in &chunks {
            self.check_dimension(&chunk.embedding, &format!("chunk {}", chunk.id))?;
        }
        let mut work = vec![sql::delete_document(tenant_id, document_id)];
        work.extend(chunks.into_iter().map(sql::insert_chunk));
        self.transport.transaction(work).await.map(|_| ())
    }

    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError> {
        self.transport
            .transaction(vec![sql::delete_document(tenant_id, document_id)])
            .await
            .map(|_| ())
    }

    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.check_dimension(query, "the query")?;
        if k == 0 {
            return Ok(vec![]);
        }
        let rows = self
            .transport
            .transaction(sql::search(tenant_id, categories, query, k))
            .await?;
        rows.iter().map(sql::scored_chunk).collect()
    }
}
