//! The conformance suites against the embedded adapters.

use std::sync::Arc;

use petraf_core::adapters::embedded::{
    HashingEmbedder, LocalObjectStore, MemoryVectorStore, OfflineModel, SqliteStateStore,
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
async fn memory_vector_store_conforms_in_memory_and_on_disk() {
    conformance::vector_store(Arc::new(MemoryVectorStore::in_memory()), 16).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vectors.jsonl");
    conformance::vector_store(
        Arc::new(MemoryVectorStore::persistent(file.clone()).unwrap()),
        16,
    )
    .await;
    let reloaded = MemoryVectorStore::persistent(file).unwrap();
    assert_eq!(
        reloaded.chunk_count().await,
        2,
        "the chunks left by the suite persist across restarts"
    );
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
