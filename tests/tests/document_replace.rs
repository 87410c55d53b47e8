//! Replacing a document is atomic for retrieval: whichever step fails, the
//! tenant's searches find the old version or the new one, never both and
//! never neither, and the record and stored originals stay consistent.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config;
use petraf_core::ports::chat_model::ModelError;
use petraf_core::ports::embedder::Embedder;
use petraf_core::ports::object_store::{ObjectStore, StoredObject};
use petraf_core::ports::state_store::StoreError;
use petraf_core::ports::vector_store::{ChunkRecord, ScoredChunk, VectorStore};
use petraf_tests::TestServer;
use petraf_tests::documents::upload_form;
use serde_json::Value;

/// Switches that make one adapter call fail while set.
#[derive(Default)]
struct Faults {
    embed: AtomicBool,
    upsert: AtomicBool,
    put_object: AtomicBool,
    delete_object: AtomicBool,
}

fn injected(flag: &AtomicBool) -> bool {
    flag.load(Ordering::SeqCst)
}

struct FlakyEmbedder(Arc<dyn Embedder>, Arc<Faults>);

#[async_trait]
impl Embedder for FlakyEmbedder {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn dimension(&self) -> usize {
        self.0.dimension()
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        if injected(&self.1.embed) {
            return Err(ModelError::Upstream("injected fault".into()));
        }
        self.0.embed(texts).await
    }
}

struct FlakyVectors(Arc<dyn VectorStore>, Arc<Faults>);

#[async_trait]
impl VectorStore for FlakyVectors {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    async fn upsert_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        if injected(&self.1.upsert) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        self.0.upsert_document(tenant_id, document_id, chunks).await
    }
    async fn delete_document(&self, tenant_id: &str, document_id: &str) -> Result<(), StoreError> {
        self.0.delete_document(tenant_id, document_id).await
    }
    async fn search(
        &self,
        tenant_id: &str,
        categories: &[String],
        query: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.0.search(tenant_id, categories, query, k).await
    }
}

struct FlakyObjects(Arc<dyn ObjectStore>, Arc<Faults>);

#[async_trait]
impl ObjectStore for FlakyObjects {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    async fn put(&self, key: &str, object: StoredObject) -> Result<(), StoreError> {
        if injected(&self.1.put_object) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        self.0.put(key, object).await
    }
    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        self.0.get(key).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        if injected(&self.1.delete_object) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        self.0.delete(key).await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        self.0.size(key).await
    }
}

const CATEGORY: &str = "leave_policy";
const V1: &str = "# Leave policy 2025\n\nEvery employee has twenty-five days of annual leave, booked through the orchid portal.\n";
const V2: &str = "# Leave policy 2026\n\nEvery employee has thirty days of annual leave, booked through the juniper portal.\n";

/// A replacement keeps its category: only the file is sent.
fn replacement_form(text: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name("leave.md"),
    )
}

/// Which versions the tenant's searches find right now.
async fn searchable(server: &TestServer, tenant: &str) -> (bool, bool) {
    let probe = server
        .app
        .embedder
        .embed(&["annual leave".into()])
        .await
        .unwrap();
    let found = server
        .app
        .vectors
        .search(tenant, &[CATEGORY.to_string()], &probe[0], 1000)
        .await
        .unwrap();
    let has = |word: &str| found.iter().any(|s| s.chunk.content.contains(word));
    (has("orchid"), has("juniper"))
}

fn files_under(dir: &std::path::Path) -> Vec<String> {
    let mut found = vec![];
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else if !path.to_string_lossy().ends_with(".meta.json") {
            found.push(path.file_name().unwrap().to_string_lossy().into_owned());
        }
    }
    found.sort();
    found
}

#[tokio::test]
async fn a_replacement_that_fails_midway_leaves_exactly_the_old_version() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    let faults = Arc::new(Faults::default());
    ports.embedder = Arc::new(FlakyEmbedder(ports.embedder, faults.clone()));
    ports.vectors = Arc::new(FlakyVectors(ports.vectors, faults.clone()));
    ports.objects = Arc::new(FlakyObjects(ports.objects, faults.clone()));
    let server = TestServer::with_ports(ports, dir).await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id.clone(), created.admin_key.clone());
    let client = server.client();
    let objects = server.data_dir.path().join("objects");

    let first = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload_form("leave.md", V1.as_bytes().to_vec(), CATEGORY))
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.json()["document_id"].as_str().unwrap().to_string();
    let path = format!("/api/admin/rag/documents/{tenant}/{id}");
    let original = client.get(&path).admin(&key).send().await.json();
    assert_eq!(searchable(&server, &tenant).await, (true, false));
    assert_eq!(files_under(&objects), ["leave.md"]);

    let replace = || async {
        client
            .put(&path)
            .admin(&key)
            .multipart(replacement_form(V2))
            .send()
            .await
    };
    for (step, flag) in [
        ("embedding", &faults.embed),
        ("storing the original", &faults.put_object),
        ("swapping the chunks", &faults.upsert),
    ] {
        flag.store(true, Ordering::SeqCst);
        let failed = replace().await;
        flag.store(false, Ordering::SeqCst);
        assert!(failed.status.is_server_error(), "{step}: {}", failed.text);
        assert!(!failed.code().is_empty(), "{step}: {}", failed.text);
        assert_eq!(
            searchable(&server, &tenant).await,
            (true, false),
            "{step}: only the old version is searched"
        );
        let record: Value = client.get(&path).admin(&key).send().await.json();
        assert_eq!(record, original, "{step}: the record is the old one");
        assert_eq!(
            files_under(&objects),
            ["leave.md"],
            "{step}: only the old original is kept"
        );
        let kept = server
            .app
            .objects
            .get(original["object_key"].as_str().unwrap())
            .await
            .unwrap()
            .expect("the old original");
        assert_eq!(
            kept.bytes,
            V1.as_bytes(),
            "{step}: the old original is intact"
        );
    }

    // Removing the old original fails: the replacement stands, and the old
    // file is merely left behind.
    faults.delete_object.store(true, Ordering::SeqCst);
    let replaced = replace().await;
    faults.delete_object.store(false, Ordering::SeqCst);
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let replaced = replaced.json();
    assert_eq!(replaced["revision"], 2);
    assert_eq!(replaced["status"], "indexed");
    assert_eq!(searchable(&server, &tenant).await, (false, true));
    assert_eq!(files_under(&objects), ["leave.md", "r2-leave.md"]);

    // The object-created event for the replacement's original (S3 sends
    // one) changes nothing: the request indexed it.
    let object_key = replaced["object_key"].as_str().unwrap().to_string();
    let reports = petraf_core::app::ingestion::ingest_event_keys(&server.app, &[object_key])
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    let after: Value = client.get(&path).admin(&key).send().await.json();
    assert_eq!(after, replaced, "the event changed the record");
    assert_eq!(searchable(&server, &tenant).await, (false, true));
}

/// Searches running while a replacement happens see one version each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_during_a_replacement_see_one_version() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id.clone(), created.admin_key.clone());
    let client = server.client();
    let first = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload_form("leave.md", V1.as_bytes().to_vec(), CATEGORY))
        .send()
        .await;
    let id = first.json()["document_id"].as_str().unwrap().to_string();

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (server_app, tenant, done) = (server.app.clone(), tenant.clone(), done.clone());
        tokio::spawn(async move {
            let probe = server_app
                .embedder
                .embed(&["annual leave".into()])
                .await
                .unwrap();
            let mut seen = vec![];
            loop {
                let finished = done.load(Ordering::SeqCst);
                let found = server_app
                    .vectors
                    .search(&tenant, &[CATEGORY.to_string()], &probe[0], 1000)
                    .await
                    .unwrap();
                let has = |w: &str| found.iter().any(|s| s.chunk.content.contains(w));
                seen.push((has("orchid"), has("juniper")));
                if finished {
                    return seen;
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let replaced = client
        .put(&format!("/api/admin/rag/documents/{tenant}/{id}"))
        .admin(&key)
        .multipart(replacement_form(V2))
        .send()
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    done.store(true, Ordering::SeqCst);
    let seen = watcher.await.unwrap();
    assert!(seen.len() > 1);
    assert!(
        seen.iter().all(|&(old, new)| old != new),
        "a search saw both versions or neither: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&(false, true)));
}
