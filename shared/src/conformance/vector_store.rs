use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::fixtures;
use super::unique;
use crate::domain::audit::action;
use crate::domain::document::{DocumentRecord, DocumentSource, DocumentStatus};
use crate::domain::tenant::DocumentLimits;
use crate::ports::state_store::{AuditQuery, StateStore, StoreError};
use crate::ports::vector_store::{ChunkRecord, CommitError, DocumentCommit, VectorStore};

/// A unit vector along `axis`, slightly tilted towards `tilt`.
fn direction(dimension: usize, axis: usize, tilt: usize, amount: f32) -> Vec<f32> {
    let mut v = vec![0.0; dimension];
    v[axis % dimension] = 1.0;
    v[tilt % dimension] += amount;
    v
}

fn chunk(
    tenant: &str,
    document: &str,
    index: u32,
    category: &str,
    embedding: Vec<f32>,
) -> ChunkRecord {
    ChunkRecord {
        id: format!("{document}-{index:05}"),
        tenant_id: tenant.into(),
        document_id: document.into(),
        chunk_index: index,
        category: category.into(),
        content: format!("{document} chunk {index}"),
        metadata: json!({"title": document, "chunk_index": index}),
        embedding,
        created_at: Utc::now(),
    }
}

/// Runs every vector-store promise against `store`, with vectors of `dimension`.
pub async fn vector_store(store: Arc<dyn VectorStore>, dimension: usize) {
    let store = store.as_ref();
    let (a, b) = (unique("t"), unique("t"));
    let d = dimension;
    store
        .upsert_document(
            &a,
            "doc1",
            vec![
                chunk(&a, "doc1", 0, "values", direction(d, 0, 1, 0.1)),
                chunk(&a, "doc1", 1, "values", direction(d, 0, 1, 0.5)),
                chunk(&a, "doc1", 2, "values", direction(d, 1, 0, 0.0)),
            ],
        )
        .await
        .unwrap();
    store
        .upsert_document(
            &a,
            "doc2",
            vec![chunk(
                &a,
                "doc2",
                0,
                "career_framework",
                direction(d, 0, 2, 0.05),
            )],
        )
        .await
        .unwrap();
    store
        .upsert_document(
            &b,
            "doc3",
            vec![chunk(&b, "doc3", 0, "values", direction(d, 0, 0, 0.0))],
        )
        .await
        .unwrap();

    let query = direction(d, 0, 0, 0.0);
    let found = store.search(&a, &[], &query, 3).await.unwrap();
    zero_vectors_score_zero(store, d).await;
    let ids: Vec<&str> = found.iter().map(|f| f.chunk.id.as_str()).collect();
    assert_eq!(
        ids,
        vec!["doc2-00000", "doc1-00000", "doc1-00001"],
        "most similar first, within the tenant"
    );
    assert!(found.windows(2).all(|w| w[0].similarity >= w[1].similarity));
    assert!(
        found.iter().all(|f| f.chunk.embedding.is_empty()),
        "a search answers passages, without their vectors"
    );
    assert!(
        (found[0].similarity - 0.9988).abs() < 0.01,
        "cosine similarity: {}",
        found[0].similarity
    );
    assert_eq!(found[1].chunk.metadata["title"], "doc1");
    assert_eq!(found[1].chunk.content, "doc1 chunk 0");

    let values = store
        .search(&a, &["values".to_string()], &query, 10)
        .await
        .unwrap();
    assert_eq!(
        values.len(),
        3,
        "the category filter keeps only values chunks"
    );
    assert!(values.iter().all(|f| f.chunk.category == "values"));
    let two_categories = store
        .search(
            &a,
            &["values".to_string(), "career_framework".to_string()],
            &query,
            10,
        )
        .await
        .unwrap();
    assert_eq!(two_categories.len(), 4);
    assert!(
        store
            .search(&a, &["nothing".to_string()], &query, 3)
            .await
            .unwrap()
            .is_empty()
    );

    let only_b = store.search(&b, &[], &query, 10).await.unwrap();
    assert_eq!(
        only_b.len(),
        1,
        "another tenant's chunks are never returned"
    );
    assert_eq!(only_b[0].chunk.tenant_id, b);

    // Re-upserting a document replaces its chunks; deleting removes them.
    store
        .upsert_document(
            &a,
            "doc1",
            vec![chunk(&a, "doc1", 0, "values", direction(d, 3, 3, 0.0))],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .search(&a, &["values".to_string()], &query, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    store
        .upsert_document(
            &a,
            "doc1",
            vec![chunk(&a, "doc1", 0, "values", direction(d, 3, 3, 0.0))],
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .search(&a, &["values".to_string()], &query, 10)
            .await
            .unwrap()
            .len(),
        1,
        "upsert is idempotent"
    );
    store.delete_document(&a, "doc1").await.unwrap();
    assert!(
        store
            .search(&a, &["values".to_string()], &query, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store.delete_document(&a, "doc1").await.unwrap();
    assert_eq!(
        store.search(&a, &[], &query, 10).await.unwrap().len(),
        1,
        "doc2 is untouched"
    );
}

fn document(tenant: &str, id: &str, chunks: u32) -> DocumentRecord {
    let now = Utc::now();
    DocumentRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        category: "values".into(),
        title: id.into(),
        filename: format!("{id}.md"),
        format: Some("markdown".into()),
        status: DocumentStatus::Indexed,
        failure: None,
        pages: None,
        chunks,
        bytes: 100,
        source: DocumentSource::Upload,
        content_hash: format!("hash-{id}"),
        object_key: format!("uploads/{tenant}/values/{id}/{id}.md"),
        revision: 1,
        metadata: json!({}),
        flagged_passages: vec![],
        created_at: now,
        updated_at: now,
    }
}

async fn audited(state: &dyn StateStore, tenant: &str, what: &str) -> usize {
    let page = state
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: None,
            page: 1,
            per_page: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    page.entries.iter().filter(|e| e.action == what).count()
}

/// A document's commit and removal through `vectors` beside `state`: the
/// record, the chunks and the audit entry all land, and all go.
pub async fn document_commits(
    vectors: Arc<dyn VectorStore>,
    state: Arc<dyn StateStore>,
    dimension: usize,
) {
    let (vectors, state) = (vectors.as_ref(), state.as_ref());
    let t = unique("t");
    state
        .create_tenant(
            &fixtures::tenant_record(&t),
            &fixtures::audit(&t, None, action::TENANT_CREATED),
        )
        .await
        .unwrap();
    let chunks = |n: u32| -> Vec<ChunkRecord> {
        (0..n)
            .map(|i| {
                chunk(
                    &t,
                    "doc",
                    i,
                    "values",
                    direction(dimension, i as usize, 0, 0.1),
                )
            })
            .collect()
    };
    let commit = |n: u32, revision: u32, previous: Option<DocumentRecord>| DocumentCommit {
        record: DocumentRecord {
            revision,
            ..document(&t, "doc", n)
        },
        chunks: chunks(n),
        audit: fixtures::audit(&t, None, action::RAG_DOCUMENT_UPLOADED),
        limits: DocumentLimits::default(),
        previous,
    };
    vectors
        .commit_document(state, commit(3, 1, None))
        .await
        .unwrap();
    let query = direction(dimension, 0, 0, 0.0);
    assert_eq!(vectors.search(&t, &[], &query, 10).await.unwrap().len(), 3);
    let first = state.document(&t, "doc").await.unwrap().unwrap();
    assert_eq!(first.chunks, 3);
    assert_eq!(audited(state, &t, action::RAG_DOCUMENT_UPLOADED).await, 1);
    assert!(
        matches!(
            vectors.commit_document(state, commit(1, 1, None)).await,
            Err(CommitError::Store(StoreError::Conflict(_)))
        ),
        "a new document over an existing one conflicts"
    );

    vectors
        .commit_document(state, commit(2, 2, Some(first.clone())))
        .await
        .unwrap();
    assert_eq!(
        vectors.search(&t, &[], &query, 10).await.unwrap().len(),
        2,
        "a new commit of a document replaces its chunks"
    );
    assert_eq!(state.document(&t, "doc").await.unwrap().unwrap().chunks, 2);
    assert_eq!(state.documents(&t).await.unwrap().len(), 1);
    // A writer that read revision 1 lost to the one above: nothing of it lands.
    assert!(matches!(
        vectors
            .commit_document(state, commit(4, 2, Some(first.clone())))
            .await,
        Err(CommitError::Store(StoreError::Conflict(_)))
    ));
    assert_eq!(vectors.search(&t, &[], &query, 10).await.unwrap().len(), 2);
    assert_eq!(state.document(&t, "doc").await.unwrap().unwrap().chunks, 2);
    assert_eq!(audited(state, &t, action::RAG_DOCUMENT_UPLOADED).await, 2);
    assert!(matches!(
        vectors
            .remove_document(
                state,
                &first,
                &fixtures::audit(&t, None, action::RAG_DOCUMENT_DELETED),
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        vectors.search(&t, &[], &query, 10).await.unwrap().len(),
        2,
        "a stale removal removes nothing"
    );
    assert_eq!(audited(state, &t, action::RAG_DOCUMENT_DELETED).await, 0);

    let record = state.document(&t, "doc").await.unwrap().unwrap();
    vectors
        .remove_document(
            state,
            &record,
            &fixtures::audit(&t, None, action::RAG_DOCUMENT_DELETED),
        )
        .await
        .unwrap();
    assert!(
        vectors
            .search(&t, &[], &query, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(state.document(&t, "doc").await.unwrap().is_none());
    assert_eq!(audited(state, &t, action::RAG_DOCUMENT_DELETED).await, 1);
}

/// A chunk embedded as the zero vector (a table cell of digits, to the
/// offline embedder) has no direction: its cosine distance is NaN, which
/// must neither break the search nor rank above a real match.
async fn zero_vectors_score_zero(store: &dyn VectorStore, d: usize) {
    let tenant = unique("t");
    store
        .upsert_document(
            &tenant,
            "doc1",
            vec![
                chunk(&tenant, "doc1", 0, "values", vec![0.0; d]),
                chunk(&tenant, "doc1", 1, "values", direction(d, 0, 1, 0.1)),
            ],
        )
        .await
        .unwrap();
    let found = store
        .search(&tenant, &[], &direction(d, 0, 0, 0.0), 2)
        .await
        .unwrap();
    // An HNSW index may leave a zero vector out altogether (pgvector does
    // not index it for cosine); a scan finds it, last.
    assert_eq!(found[0].chunk.id, "doc1-00001");
    for passage in &found[1..] {
        assert_eq!(passage.chunk.id, "doc1-00000");
        assert_eq!(passage.similarity, 0.0, "the zero vector scores 0");
    }
    store.delete_document(&tenant, "doc1").await.unwrap();
}
