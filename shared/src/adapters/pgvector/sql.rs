//! The store's SQL, one text for every transport, and the mapping of its
//! rows back to chunks.

use chrono::{DateTime, Utc};

use super::transport::{Cell, Param, Row, Statement};
use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, ScoredChunk};

pub(crate) const DELETE_DOCUMENT: &str =
    "DELETE FROM rag_chunks WHERE tenant_id = :tenant_id AND document_id = :document_id";

pub(crate) const INSERT_CHUNK: &str = "INSERT INTO rag_chunks \
     (tenant_id, id, document_id, chunk_index, category, content, metadata, embedding, created_at) \
     VALUES (:tenant_id, :id, :document_id, CAST(:chunk_index AS integer), :category, :content, \
     CAST(:metadata AS jsonb), CAST(:embedding AS vector), CAST(:created_at AS timestamptz))";

/// When the planner serves a search from the HNSW index, a plain scan stops
/// after `ef_search` (40) candidates of all tenants and filters most away;
/// an iterative scan keeps going until `k` rows pass the tenant and category
/// filter. (A larger `ef_search` bought no recall: see BENCHMARKS.md.)
pub(crate) const ITERATIVE_SCAN: &str = "SET LOCAL hnsw.iterative_scan = strict_order";

pub(crate) fn search_sql(filter_categories: bool) -> String {
    let category = if filter_categories {
        " AND category = ANY(CAST(:categories AS text[]))"
    } else {
        ""
    };
    // The inner query is a bare `ORDER BY distance LIMIT k` over the table,
    // which the HNSW index can serve. The outer one renders the k winners
    // only: in a single query, PostgreSQL would render every candidate row
    // (a 1536-float vector as text) before sorting; the answer leaves the
    // vectors out altogether. Every column comes back
    // as text, bigint or float8, which both transports decode alike. A zero
    // vector's cosine distance is NaN, which JSON (the Data API) cannot
    // carry: such a chunk scores 0.
    format!(
        "SELECT c.id, c.tenant_id, c.document_id, CAST(c.chunk_index AS bigint), c.category, \
         c.content, CAST(c.metadata AS text), \
         CAST(EXTRACT(EPOCH FROM c.created_at) * 1000000 AS bigint), \
         COALESCE(NULLIF(1 - nearest.distance, CAST('NaN' AS float8)), 0) \
         FROM (SELECT tenant_id, id, embedding <=> CAST(:query AS vector) AS distance \
         FROM rag_chunks WHERE tenant_id = :tenant_id{category} \
         ORDER BY distance LIMIT :k) AS nearest \
         JOIN rag_chunks c ON c.tenant_id = nearest.tenant_id AND c.id = nearest.id \
         ORDER BY nearest.distance"
    )
}

pub(crate) fn delete_document(tenant_id: &str, document_id: &str) -> Statement {
    Statement::new(DELETE_DOCUMENT)
        .bind("tenant_id", Param::Text(tenant_id.into()))
        .bind("document_id", Param::Text(document_id.into()))
}

pub(crate) fn insert_chunk(chunk: ChunkRecord) -> Statement {
    Statement::new(INSERT_CHUNK)
        .bind("tenant_id", Param::Text(chunk.tenant_id))
        .bind("id", Param::Text(chunk.id))
        .bind("document_id", Param::Text(chunk.document_id))
        .bind("chunk_index", Param::Int(chunk.chunk_index.into()))
        .bind("category", Param::Text(chunk.category))
        .bind("content", Param::Text(chunk.content))
        .bind("metadata", Param::Text(chunk.metadata.to_string()))
        .bind("embedding", Param::Vector(chunk.embedding))
        .bind("created_at", Param::Text(chunk.created_at.to_rfc3339()))
}

/// The search statements: the scan settings, then the query.
pub(crate) fn search(
    tenant_id: &str,
    categories: &[String],
    query: &[f32],
    k: usize,
) -> Vec<Statement> {
    let filter_categories = !categories.is_empty();
    let mut select = Statement::new(search_sql(filter_categories))
        .bind("query", Param::Vector(query.to_vec()))
        .bind("tenant_id", Param::Text(tenant_id.into()));
    if filter_categories {
        select = select.bind("categories", Param::TextList(categories.to_vec()));
    }
    let select = select.bind("k", Param::Int(k.min(i64::MAX as usize) as i64));
    vec![Statement::new(ITERATIVE_SCAN), select]
}

fn malformed(what: &str) -> StoreError {
    StoreError::Unavailable(format!("pgvector: unexpected search row: {what}"))
}

fn text(cell: &Cell, what: &str) -> Result<String, StoreError> {
    match cell {
        Cell::Text(t) => Ok(t.clone()),
        _ => Err(malformed(what)),
    }
}

fn int(cell: &Cell, what: &str) -> Result<i64, StoreError> {
    match cell {
        Cell::Int(n) => Ok(*n),
        _ => Err(malformed(what)),
    }
}

/// A row of [`search_sql`] as a scored chunk.
pub(crate) fn scored_chunk(row: &Row) -> Result<ScoredChunk, StoreError> {
    let [
        id,
        tenant_id,
        document_id,
        chunk_index,
        category,
        content,
        metadata,
        created_at_micros,
        similarity,
    ] = row.as_slice()
    else {
        return Err(malformed(&format!("{} columns", row.len())));
    };
    let similarity = match similarity {
        Cell::Float(f) => *f as f32,
        _ => return Err(malformed("similarity")),
    };
    let micros = int(created_at_micros, "created_at")?;
    let created_at =
        DateTime::<Utc>::from_timestamp_micros(micros).ok_or_else(|| malformed("created_at"))?;
    Ok(ScoredChunk {
        chunk: ChunkRecord {
            id: text(id, "id")?,
            tenant_id: text(tenant_id, "tenant_id")?,
            document_id: text(document_id, "document_id")?,
            chunk_index: u32::try_from(int(chunk_index, "chunk_index")?)
                .map_err(|_| malformed("chunk_index"))?,
            category: text(category, "category")?,
            content: text(content, "content")?,
            metadata: serde_json::from_str(&text(metadata, "metadata")?)
                .map_err(|_| malformed("metadata"))?,
            embedding: Vec::new(),
            created_at,
        },
        similarity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_filters_by_tenant_and_categories_and_orders_by_distance() {
        let with = search_sql(true);
        assert!(with.contains(
            "WHERE tenant_id = :tenant_id AND category = ANY(CAST(:categories AS text[]))"
        ));
        assert!(with.contains("ORDER BY distance LIMIT :k) AS nearest"));
        assert!(with.ends_with("ORDER BY nearest.distance"));
        assert!(!search_sql(false).contains(":categories"));
        assert!(
            !with.contains("embedding AS text"),
            "no vectors in the answer"
        );
    }
}
