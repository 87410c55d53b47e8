//! The conformance suites against the embedded adapters.

use std::sync::Arc;

use petraf_core::adapters::embedded::{
    HashingEmbedder, LocalObjectStore, OfflineModel, SqliteStateStore, SqliteVectorStore,
};
use petraf_core::conformance;

#[tokio::test]
async fn sqlite_state_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStateStore::open(&dir.path().join("state.db")).unwrap();
    conformance::state_store(Arc::new(store)).await;
}

#[tokio::test]
async fn sqlite_state_store_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    conformance::state_store(Arc::new(SqliteStateStore::open(&path).unwrap())).await;
    let reopened = SqliteStateStore::open(&path).unwrap();
    use petraf_core::ports::StateStore;
    assert!(
        !reopened.list_tenants().await.unwrap().is_empty(),
        "tenants persist across opens"
    );
}

#[tokio::test]
async fn sqlite_vector_store_conforms_and_keeps_its_chunks_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let vectors = SqliteVectorStore::open(&path).unwrap();
    conformance::vector_store(Arc::new(vectors.clone()), 16).await;
    // One transaction with the state store on the same file...
    let state = SqliteStateStore::open(&path).unwrap();
    conformance::document_commits(Arc::new(vectors), Arc::new(state), 16).await;
    // ...and the same promises, in sequence, beside a state store elsewhere.
    let elsewhere = SqliteStateStore::open(&dir.path().join("other.db")).unwrap();
    let vectors = SqliteVectorStore::open(&path).unwrap();
    conformance::document_commits(Arc::new(vectors), Arc::new(elsewhere), 16).await;

    use petraf_core::ports::VectorStore;
    let reopened = SqliteVectorStore::open(&path).unwrap();
    let mut left = 0;
    for tenant in tenants_with_chunks(&path) {
        left += reopened
            .search(&tenant, &[], &[1.0; 16], 100)
            .await
            .unwrap()
            .len();
    }
    assert_eq!(left, 2, "the chunks left by the suite persist across opens");
}

/// The tenants that hold chunks in the database at `path`.
fn tenants_with_chunks(path: &std::path::Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT DISTINCT tenant_id FROM chunks")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn local_object_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    conformance::object_store(Arc::new(LocalObjectStore::new(dir.path().to_path_buf()))).await;
}

#[tokio::test]
async fn offline_model_and_hashing_embedder_conform() {
    conformance::chat_model(Arc::new(OfflineModel)).await;
    conformance::embedder(Arc::new(HashingEmbedder::new(384))).await;
}
