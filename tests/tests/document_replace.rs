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
use petraf_core::ports::state_store::{AuditQuery, StateStore, StoreError};
use petraf_core::ports::vector_store::{ChunkRecord, ScoredChunk, VectorStore};
use petraf_tests::TestServer;
use petraf_tests::cases::Expect::Refused;
use petraf_tests::documents::upload_form;
use petraf_tests::moto::moto_state_store;
use serde_json::Value;

/// Switches that make one adapter call fail while set, and gates that
/// hold calls (to force an interleaving of concurrent requests).
#[derive(Default)]
struct Faults {
    embed: AtomicBool,
    upsert: AtomicBool,
    put_object: AtomicBool,
    delete_object: AtomicBool,
    embed_gate: Gate,
    delete_gate: Gate,
}

/// Holds the calls that arrive while it is armed (for one key, or any),
/// until released.
struct Gate {
    armed_for: std::sync::Mutex<Option<Option<String>>>,
    arrived: std::sync::atomic::AtomicUsize,
    open: tokio::sync::Semaphore,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            armed_for: Default::default(),
            arrived: Default::default(),
            open: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Gate {
    fn arm(&self, key: Option<&str>) {
        *self.armed_for.lock().unwrap() = Some(key.map(str::to_string));
    }

    async fn pass(&self, key: &str) {
        let held = match &*self.armed_for.lock().unwrap() {
            Some(None) => true,
            Some(Some(only)) => only == key,
            None => false,
        };
        if held {
            self.arrived.fetch_add(1, Ordering::SeqCst);
            self.open.acquire().await.unwrap().forget();
        }
    }

    /// Waits until `n` calls are held (at most 10 s).
    async fn holds(&self, n: usize) -> bool {
        for _ in 0..1000 {
            if self.arrived.load(Ordering::SeqCst) >= n {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    fn held(&self) -> usize {
        self.arrived.load(Ordering::SeqCst)
    }

    fn release(&self) {
        *self.armed_for.lock().unwrap() = None;
        self.open.add_permits(1000);
    }
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
        self.1.embed_gate.pass("").await;
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
        self.1.delete_gate.pass(key).await;
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

async fn upload_v1(client: &petraf_tests::Client, tenant: &str, key: &str) -> petraf_tests::Reply {
    client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(key)
        .multipart(upload_form("leave.md", V1.as_bytes().to_vec(), CATEGORY))
        .send()
        .await
}

/// The demo tenant with V1 uploaded: (tenant id, admin key, the document's path).
async fn v1_uploaded(server: &TestServer) -> (String, String, String) {
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id.clone(), created.admin_key.clone());
    let first = upload_v1(&server.client(), &tenant, &key).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let id = first.json()["document_id"].as_str().unwrap().to_string();
    let path = format!("/api/admin/rag/documents/{tenant}/{id}");
    (tenant, key, path)
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
    let (server, faults) = gated_server(None).await;
    let (tenant, key, path) = v1_uploaded(&server).await;
    let client = server.client();
    let objects = server.data_dir.path().join("objects");
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
    let files = files_under(&objects);
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], "leave.md");
    assert!(
        files[1].starts_with("r2-") && files[1].ends_with("-leave.md"),
        "the new revision's own key: {files:?}"
    );

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
    let (tenant, key, path) = v1_uploaded(&server).await;
    let client = server.client();

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
        .put(&path)
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

/// A server whose embedder, vectors and objects have fault switches and
/// gates, on the embedded state store or `store`.
async fn gated_server(store: Option<Arc<dyn StateStore>>) -> (TestServer, Arc<Faults>) {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    if let Some(store) = store {
        ports.store = store;
    }
    let faults = Arc::new(Faults::default());
    ports.embedder = Arc::new(FlakyEmbedder(ports.embedder, faults.clone()));
    ports.vectors = Arc::new(FlakyVectors(ports.vectors, faults.clone()));
    ports.objects = Arc::new(FlakyObjects(ports.objects, faults.clone()));
    (TestServer::with_ports(ports, dir).await, faults)
}

/// A replace of the document at `path` with `text`, run in its own task
/// on a second client of the same server.
fn spawn_replace(
    client: &petraf_tests::Client,
    path: &str,
    key: &str,
    text: &'static str,
) -> tokio::task::JoinHandle<petraf_tests::Reply> {
    let another = petraf_tests::Client {
        http: client.http.clone(),
        base: client.base.clone(),
    };
    let (path, key) = (path.to_string(), key.to_string());
    tokio::spawn(async move {
        another
            .put(&path)
            .admin(&key)
            .multipart(replacement_form(text))
            .send()
            .await
    })
}

/// Every listed document's original is stored, and nothing else is.
async fn library_matches_objects(server: &TestServer, tenant: &str) -> Vec<Value> {
    let records = server.app.store.documents(tenant).await.unwrap();
    for record in &records {
        assert!(
            server
                .app
                .objects
                .get(&record.object_key)
                .await
                .unwrap()
                .is_some(),
            "{} is listed ({:?}) but its original {} is gone",
            record.id,
            record.status,
            record.object_key
        );
    }
    let mut named: Vec<String> = records
        .iter()
        .map(|r| r.object_key.rsplit('/').next().unwrap().to_string())
        .collect();
    named.sort();
    assert_eq!(
        files_under(&server.data_dir.path().join("objects")),
        named,
        "stored originals that no record names"
    );
    records
        .iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

async fn replaced_entries(server: &TestServer, tenant: &str) -> Vec<Value> {
    let log = server
        .app
        .store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: None,
            page: 1,
            per_page: 200,
            ..Default::default()
        })
        .await
        .unwrap();
    log.entries
        .iter()
        .filter(|e| e.action == "rag.document_replaced")
        .map(|e| e.payload.clone())
        .collect()
}

const V3: &str = "# Leave policy 2026b\n\nEvery employee has thirty-two days of annual leave, booked through the walnut portal.\n";

/// Two replaces of one revision at once: one wins (revision 2), the other
/// gets 409 and leaves nothing: no second revision 2, no audit entry, no
/// stored file. Then `If-Match` guards a replace by the revision.
async fn two_replaces_at_once(store: Option<Arc<dyn StateStore>>) {
    let (server, faults) = gated_server(store).await;
    let (tenant, key, path) = v1_uploaded(&server).await;
    let client = server.client();

    // Both read revision 1 and are held at embedding until both got there.
    faults.embed_gate.arm(None);
    let racers = [
        spawn_replace(&client, &path, &key, V2),
        spawn_replace(&client, &path, &key, V3),
    ];
    assert!(
        faults.embed_gate.holds(2).await,
        "both replaces reached embedding"
    );
    faults.embed_gate.release();
    let mut replies = vec![];
    for racer in racers {
        replies.push(racer.await.unwrap());
    }
    let statuses: Vec<u16> = replies.iter().map(|r| r.status.as_u16()).collect();
    let won: Vec<&petraf_tests::Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "exactly one replace wins: {statuses:?}");
    let lost = replies.iter().find(|r| r.status != 200).unwrap();
    lost.check(
        "the replace that lost the race",
        Refused(409, "document_changed"),
    );
    let winner = won[0].json();
    assert_eq!(winner["revision"], 2);
    let records = library_matches_objects(&server, &tenant).await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["content_hash"], winner["content_hash"]);
    let audited = replaced_entries(&server, &tenant).await;
    assert_eq!(
        audited.len(),
        1,
        "one audit entry per revision: {audited:?}"
    );
    assert_eq!(audited[0]["revision"], 2);
    let (old, v2, v3) = (
        searchable(&server, &tenant).await.0,
        winner["content_hash"] == petraf_core::domain::document::content_hash(V2.as_bytes()),
        winner["content_hash"] == petraf_core::domain::document::content_hash(V3.as_bytes()),
    );
    assert!(!old && (v2 != v3), "the winner's version alone is searched");

    // GET names the revision; If-Match with an old one is refused, the
    // current one goes through.
    let current = client.get(&path).admin(&key).send().await;
    assert_eq!(
        current.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some("\"2\"")
    );
    let stale = client
        .put(&path)
        .admin(&key)
        .header("If-Match", "\"1\"")
        .multipart(replacement_form(V1))
        .send()
        .await;
    stale.check(
        "a replace with an old If-Match",
        Refused(412, "revision_mismatch"),
    );
    let bad = client
        .delete(&path)
        .admin(&key)
        .header("If-Match", "2")
        .send()
        .await;
    bad.check(
        "a delete with an unquoted If-Match",
        Refused(400, "invalid_if_match"),
    );
    // `null` is JSON but no metadata object: refused, not read as "keep".
    let null_metadata = client
        .put(&path)
        .admin(&key)
        .multipart(replacement_form(V1).text("metadata", "null"))
        .send()
        .await;
    null_metadata.check(
        "a replace whose metadata is null",
        Refused(400, "invalid_metadata"),
    );
    let fresh = client
        .put(&path)
        .admin(&key)
        .header("If-Match", "\"2\"")
        .multipart(replacement_form(V1))
        .send()
        .await;
    assert_eq!(fresh.status, 200, "{}", fresh.text);
    assert_eq!(
        fresh.headers.get("etag").and_then(|v| v.to_str().ok()),
        Some("\"3\"")
    );
    let stale_delete = client
        .delete(&path)
        .admin(&key)
        .header("If-Match", "\"2\"")
        .send()
        .await;
    assert_eq!(stale_delete.status, 412, "{}", stale_delete.text);
    assert_eq!(library_matches_objects(&server, &tenant).await.len(), 1);
    let deleted = client
        .delete(&path)
        .admin(&key)
        .header("If-Match", "\"3\"")
        .send()
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    assert!(library_matches_objects(&server, &tenant).await.is_empty());
}

/// A replace that read revision 1 while the document was deleted and
/// uploaded again: the replace loses (409) and changes nothing, and the
/// library never names an original that is gone.
async fn delete_and_upload_racing_a_replace(store: Option<Arc<dyn StateStore>>) {
    let (server, faults) = gated_server(store).await;
    let (tenant, key, path) = v1_uploaded(&server).await;
    let client = server.client();
    let original: Value = client.get(&path).admin(&key).send().await.json();
    let original_key = original["object_key"].as_str().unwrap().to_string();

    // The replace reads revision 1 and is held before it writes anything.
    faults.embed_gate.arm(None);
    let replacer = spawn_replace(&client, &path, &key, V2);
    assert!(
        faults.embed_gate.holds(1).await,
        "the replace reached embedding"
    );
    let deleted = client.delete(&path).admin(&key).send().await;
    assert_eq!(deleted.status, 200, "{}", deleted.text);
    // From now on, removing the first original is held: a replace that
    // went on would remove it after the upload below stored it again.
    faults.delete_gate.arm(Some(&original_key));
    faults.embed_gate.release();
    // The replace either finishes or gets to removing the first original.
    for _ in 0..1000 {
        if replacer.is_finished() || faults.delete_gate.held() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let again = upload_v1(&client, &tenant, &key).await;
    assert_eq!(again.status, 200, "{}", again.text);
    faults.delete_gate.release();
    let replaced = replacer.await.unwrap();
    replaced.check(
        "the replace that read a deleted revision",
        Refused(409, "document_changed"),
    );
    let records = library_matches_objects(&server, &tenant).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["revision"], 1);
    assert_eq!(records[0]["status"], "indexed");
    assert!(replaced_entries(&server, &tenant).await.is_empty());
    assert_eq!(searchable(&server, &tenant).await, (true, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replaces_at_once_on_the_embedded_store() {
    two_replaces_at_once(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_racing_delete_and_upload_on_the_embedded_store() {
    delete_and_upload_racing_a_replace(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replaces_at_once_on_dynamodb() {
    if let Some(store) = moto_store().await {
        two_replaces_at_once(Some(store)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_racing_delete_and_upload_on_dynamodb() {
    if let Some(store) = moto_store().await {
        delete_and_upload_racing_a_replace(Some(store)).await;
    }
}

/// A DynamoDB state store on moto's server; `None` (the test is skipped)
/// without it.
async fn moto_store() -> Option<Arc<dyn StateStore>> {
    let store = moto_state_store("petraf-documents", None).await?;
    Some(Arc::new(store))
}
