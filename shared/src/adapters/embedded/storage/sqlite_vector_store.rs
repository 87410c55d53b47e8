//! The embedded vector store: document chunks in the state's SQLite
//! database, one row per chunk, the tenant leading every key.
//!
//! An upload writes only its own document's rows, so it costs the same
//! whatever other tenants hold; a search reads only its tenant's vectors and
//! ranks them exactly in Rust (a tenant holds thousands of chunks, not
//! millions: see the limits on the tenant config). When the state store is
//! the same database, a document's chunks, record and audit entry commit in
//! one transaction, with the tenant's limits checked inside it.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params, params_from_iter};

use super::sqlite_state_store::{
    db_error, delete_document_row, from_json, insert_audit, open_database, put_document_row,
    to_json, unavailable,
};
use crate::domain::audit::AuditEntry;
use crate::domain::document::{DocumentRecord, LibraryUsage, admit};
use crate::ports::state_store::{StateStore, StoreError};
use crate::ports::vector_store::{
    ChunkRecord, CommitError, DocumentCommit, ScoredChunk, VectorStore, commit_in_sequence,
    ensure_chunks_of, remove_in_sequence,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS chunks (
    tenant_id TEXT NOT NULL, document_id TEXT NOT NULL, chunk_index INTEGER NOT NULL,
    id TEXT NOT NULL, category TEXT NOT NULL, content TEXT NOT NULL, metadata TEXT NOT NULL,
    created_at TEXT NOT NULL, norm REAL NOT NULL, embedding BLOB NOT NULL,
    UNIQUE (tenant_id, document_id, chunk_index));
CREATE INDEX IF NOT EXISTS chunks_by_category ON chunks (tenant_id, category);
";

#[derive(Clone)]
pub struct SqliteVectorStore {
    conn: Arc<Mutex<Connection>>,
    /// The database file, canonical, as the state store names its scope.
    file: String,
}

impl SqliteVectorStore {
    /// Opens (creating if needed) the chunk table in the database at `path`,
    /// the state store's file on the embedded default.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (conn, file) = open_database(path)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(SqliteVectorStore {
            conn: Arc::new(Mutex::new(conn)),
            file,
        })
    }

    /// Moves the chunks of an earlier version's vector file (one JSON chunk
    /// a line) into the database, then renames the file `*.imported`, so
    /// an upgraded data directory keeps its documents searchable. Returns
    /// how many chunks came in (0 when there is no such file).
    pub fn import_legacy_file(&self, file: &Path) -> Result<usize, StoreError> {
        let text = match std::fs::read_to_string(file) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(unavailable(e)),
        };
        let mut by_document: std::collections::BTreeMap<(String, String), Vec<ChunkRecord>> =
            Default::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let chunk: ChunkRecord = from_json(line)?;
            by_document
                .entry((chunk.tenant_id.clone(), chunk.document_id.clone()))
                .or_default()
                .push(chunk);
        }
        let mut conn = self
            .conn
            .lock()
            .map_err(|_| unavailable("vector store lock poisoned"))?;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db_error)?;
        let mut imported = 0;
        for ((tenant_id, document_id), chunks) in &by_document {
            write_chunks(&tx, tenant_id, document_id, chunks)?;
            imported += chunks.len();
        }
        tx.commit().map_err(db_error)?;
        let mut done = file.as_os_str().to_os_string();
        done.push(".imported");
        std::fs::rename(file, done).map_err(unavailable)?;
        Ok(imported)
    }

    /// Rows inserted, updated or deleted through this store since it
    /// opened (SQLite's own count): shows what a write touched.
    pub fn rows_written(&self) -> u64 {
        self.conn.lock().map(|c| c.total_changes()).unwrap_or(0)
    }

    /// Whether `state` commits to this store's database.
    fn shares_transactions_with(&self, state: &dyn StateStore) -> bool {
        state.transaction_scope().as_deref() == Some(self.file.as_str())
    }

    async fn run<T: Send + 'static, E: From<StoreError> + Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<T, E> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| unavailable("vector store lock poisoned"))?;
            work(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }
}

fn encode(embedding: &[f32]) -> Vec<u8> {
    embedding.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn decode(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn norm(v: &[f32]) -> f32 {
    v.iter().map(|x| x * x).sum::<f32>().sqrt()
}

/// The dot product of `query` with a vector stored as little-endian bytes.
fn dot_stored(query: &[f32], stored: &[u8]) -> f32 {
    query
        .iter()
        .zip(stored.chunks_exact(4))
        .map(|(q, b)| q * f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .sum()
}

/// Replaces a document's chunks with `chunks`, touching no other rows.
fn write_chunks(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
    chunks: &[ChunkRecord],
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM chunks WHERE tenant_id = ?1 AND document_id = ?2",
        params![tenant_id, document_id],
    )
    .map_err(db_error)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT INTO chunks (tenant_id, document_id, chunk_index, id, category, content,
                 metadata, created_at, norm, embedding)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(db_error)?;
    for c in chunks {
        insert
            .execute(params![
                c.tenant_id,
                c.document_id,
                c.chunk_index,
                c.id,
                c.category,
                c.content,
                to_json(&c.metadata)?,
                c.created_at.to_rfc3339(),
                norm(&c.embedding),
                encode(&c.embedding),
            ])
            .map_err(db_error)?;
    }
    Ok(())
}

/// What the tenant's library holds besides `document_id`.
fn usage_besides(
    tx: &Connection,
    tenant_id: &str,
    document_id: &str,
) -> Result<LibraryUsage, StoreError> {
    let count = |sql: &str| -> Result<u64, StoreError> {
        tx.query_row(sql, params![tenant_id, document_id], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(db_error)
    };
    Ok(LibraryUsage {
        documents: count("SELECT COUNT(*) FROM documents WHERE tenant_id = ?1 AND id != ?2")?,
        chunks: count("SELECT COUNT(*) FROM chunks WHERE tenant_id = ?1 AND document_id != ?2")?,
    })
}

/// The `k` best (similarity, rowid) pairs of the tenant's chunks.
fn rank(
    conn: &Connection,
    tenant_id: &str,
    categories: &[String],
    query: &[f32],
    k: usize,
) -> Result<Vec<(f32, i64)>, StoreError> {
    let query_norm = norm(query);
    if k == 0 {
        return Ok(vec![]);
    }
    let mut sql = String::from("SELECT rowid, norm, embedding FROM chunks WHERE tenant_id = ?1");
    if !categories.is_empty() {
        let marks = vec!["?"; categories.len()].join(", ");
        sql.push_str(&format!(" AND category IN ({marks})"));
    }
    let mut stmt = conn.prepare_cached(&sql).map_err(db_error)?;
    let args = std::iter::once(tenant_id).chain(categories.iter().map(String::as_str));
    let mut rows = stmt.query(params_from_iter(args)).map_err(db_error)?;
    // Best first; ties keep the earlier row (its document's chunk order).
    let mut best: Vec<(f32, i64)> = Vec::with_capacity(k + 1);
    while let Some(row) = rows.next().map_err(db_error)? {
        let rowid: i64 = row.get(0).map_err(db_error)?;
        let stored_norm: f64 = row.get(1).map_err(db_error)?;
        let bytes = row
            .get_ref(2)
            .map_err(db_error)?
            .as_blob()
            .map_err(|e| unavailable(format!("corrupt chunk embedding: {e}")))?;
        let denominator = stored_norm as f32 * query_norm;
        let similarity = if denominator == 0.0 {
            0.0
        } else {
            dot_stored(query, bytes) / denominator
        };
        if best.len() == k && similarity <= best[k - 1].0 {
            continue;
        }
        let at = best.partition_point(|(s, _)| *s >= similarity);
        best.insert(at, (similarity, rowid));
        best.truncate(k);
    }
    Ok(best)
}

fn chunk_at(conn: &Connection, rowid: i64) -> Result<Option<ChunkRecord>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, tenant_id, document_id, chunk_index, category, content, metadata,
                created_at, embedding FROM chunks WHERE rowid = ?1",
        )
        .map_err(db_error)?;
    let row = stmt
        .query_row([rowid], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, Vec<u8>>(8)?,
            ))
        })
        .optional()
        .map_err(db_error)?;
    let Some((id, tenant_id, document_id, chunk_index, category, content, meta, at, bytes)) = row
    else {
        return Ok(None);
    };
    Ok(Some(ChunkRecord {
        id,
        tenant_id,
        document_id,
        chunk_index,
        category,
        content,
        metadata: from_json(&meta)?,
        embedding: decode(&bytes),
        created_at: DateTime::parse_from_rfc3339(&at)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| unavailable(format!("corrupt chunk time: {e}")))?,
    }))
}

#[async_trait]
impl VectorStore for SqliteVectorStore {
    fn name(&self) -> &'static str {
        "embedded-sqlite"
    }

    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        ensure_chunks_of(tenant_id, document_id, &chunks)?;
        let (tenant_id, document_id) = (tenant_id.to_string(), document_id.to_string());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            write_chunks(&tx, &tenant_id, &document_id, &chunks)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError> {
        let (tenant_id, document_id) = (tenant_id.to_string(), document_id.to_string());
        self.run(move |conn| {
            conn.execute(
                "DELETE FROM chunks WHERE tenant_id = ?1 AND document_id = ?2",
                params![tenant_id, document_id],
            )
            .map(drop)
            .map_err(db_error)
        })
        .await
    }

    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        let (tenant_id, categories, query) =
            (tenant_id.to_string(), categories.to_vec(), query.to_vec());
        self.run(move |conn| {
            let best = rank(conn, &tenant_id, &categories, &query, k)?;
            let mut found = Vec::with_capacity(best.len());
            for (similarity, rowid) in best {
                if let Some(mut chunk) = chunk_at(conn, rowid)? {
                    // As every adapter answers a search: passages, no vectors.
                    chunk.embedding = Vec::new();
                    found.push(ScoredChunk { chunk, similarity });
                }
            }
            Ok(found)
        })
        .await
    }

    async fn commit_document(
        &self,
        state: &dyn StateStore,
        commit: DocumentCommit,
    ) -> Result<(), CommitError> {
        if !self.shares_transactions_with(state) {
            return commit_in_sequence(self, state, commit).await;
        }
        let expect = commit.expect();
        let DocumentCommit {
            record,
            chunks,
            audit,
            limits,
            ..
        } = commit;
        ensure_chunks_of(&record.tenant_id, &record.id, &chunks)?;
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            put_document_row(&tx, &record, expect)?;
            let others = usage_besides(&tx, &record.tenant_id, &record.id)?;
            admit(&limits, others, chunks.len())?;
            write_chunks(&tx, &record.tenant_id, &record.id, &chunks)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(db_error)?;
            Ok::<_, CommitError>(())
        })
        .await
    }

    async fn remove_document(
        &self,
        state: &dyn StateStore,
        record: &DocumentRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        if !self.shares_transactions_with(state) {
            return remove_in_sequence(self, state, record, audit).await;
        }
        let (tenant_id, document_id, revision, audit) = (
            record.tenant_id.clone(),
            record.id.clone(),
            record.revision,
            audit.clone(),
        );
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            delete_document_row(&tx, &tenant_id, &document_id, revision)?;
            tx.execute(
                "DELETE FROM chunks WHERE tenant_id = ?1 AND document_id = ?2",
                params![tenant_id, document_id],
            )
            .map_err(db_error)?;
            insert_audit(&tx, &audit)?;
            tx.commit().map_err(db_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_earlier_vector_file_is_imported_once() {
        let dir = tempfile::tempdir().unwrap();
        let legacy = dir.path().join("vectors.jsonl");
        let chunk = |tenant: &str, document: &str, index: u32| ChunkRecord {
            id: format!("{document}-{index}"),
            tenant_id: tenant.into(),
            document_id: document.into(),
            chunk_index: index,
            category: "values".into(),
            content: format!("{document} {index}"),
            metadata: serde_json::json!({"title": document}),
            embedding: vec![1.0, index as f32],
            created_at: Utc::now(),
        };
        let lines: Vec<String> = [
            chunk("a", "d1", 0),
            chunk("a", "d1", 1),
            chunk("b", "d2", 0),
        ]
        .iter()
        .map(|c| serde_json::to_string(c).unwrap())
        .collect();
        std::fs::write(&legacy, lines.join("\n")).unwrap();
        let store = SqliteVectorStore::open(&dir.path().join("state.db")).unwrap();
        assert_eq!(store.import_legacy_file(&legacy).unwrap(), 3);
        assert!(!legacy.exists());
        assert!(dir.path().join("vectors.jsonl.imported").exists());
        assert_eq!(store.import_legacy_file(&legacy).unwrap(), 0);
        let found = store.search("a", &[], &[1.0, 0.0], 10).await.unwrap();
        assert_eq!(found.len(), 2);
        let mut expected = chunk("a", "d1", 0).with_time(found[0].chunk.created_at);
        expected.embedding = Vec::new();
        assert_eq!(found[0].chunk, expected, "a search answers without vectors");
        // The vectors came along: [1, 0] and [1, 1] against the query [1, 0].
        assert!((found[0].similarity - 1.0).abs() < 1e-5);
        assert!((found[1].similarity - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3);
        assert_eq!(
            store.search("b", &[], &[1.0, 0.0], 10).await.unwrap().len(),
            1
        );
    }

    impl ChunkRecord {
        fn with_time(mut self, at: DateTime<Utc>) -> Self {
            self.created_at = at;
            self
        }
    }

    #[test]
    fn embeddings_round_trip_through_their_bytes() {
        let v = vec![0.5, -1.25, 3.0e-7, f32::MAX];
        assert_eq!(decode(&encode(&v)), v);
        assert_eq!(dot_stored(&[1.0, 2.0, 0.0, 0.0], &encode(&v)), 0.5 - 2.5);
    }
}
