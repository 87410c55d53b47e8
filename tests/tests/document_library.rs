//! A tenant's document library on the embedded default: limits refuse an
//! upload with nothing stored, an upload writes only its own rows whatever
//! other tenants hold, and an upload cut off before its commit leaves no
//! stored original after a restart.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use petraf_core::adapters::embedded::SqliteVectorStore;
use petraf_core::app::ingestion::{self, DocumentUpload};
use petraf_core::app::tenants::{NewTenant, demo_tenant};
use petraf_core::app::{App, documents};
use petraf_core::config;
use petraf_core::domain::audit::{AuditEntry, RequestOrigin};
use petraf_core::domain::document::DocumentRecord;
use petraf_core::ports::state_store::{StateStore, StoreError};
use petraf_core::ports::vector_store::{
    ChunkRecord, CommitError, DocumentCommit, ScoredChunk, VectorStore,
};
use petraf_tests::documents::upload_form;
use petraf_tests::{PLATFORM_KEY, TestServer};
use serde_json::{Value, json};

/// A Markdown document of `paragraphs` paragraphs about `topic`.
fn text(topic: &str, paragraphs: usize) -> String {
    (0..paragraphs)
        .map(|p| {
            format!(
                "{topic} paragraph {p}: our teams plan, build and review their {topic} work \
                 every quarter, share what they learned with each other, and measure the \
                 outcome against the goals they set at the start of the year together."
            )
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn tenant(slug: &str) -> NewTenant {
    NewTenant {
        id: Some(slug.into()),
        slug: slug.into(),
        domain: format!("{slug}.example.com"),
        ..demo_tenant()
    }
}

async fn upload(
    client: &petraf_tests::Client,
    tenant: &str,
    key: &str,
    name: &str,
    body: &str,
) -> petraf_tests::Reply {
    client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(key)
        .multipart(upload_form(name, body.as_bytes().to_vec(), "values"))
        .send()
        .await
}

/// Every file under the data directory's stored originals.
fn stored_files(server: &TestServer) -> Vec<String> {
    let root = server.data_dir.path().join("objects");
    let mut found = vec![];
    let mut pending = vec![root.clone()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(&root).unwrap().display().to_string());
            }
        }
    }
    found.sort();
    found
}

async fn chunk_count(app: &App, tenant: &str) -> usize {
    let probe = app.embedder.embed(&["teams".into()]).await.unwrap();
    app.vectors
        .search(tenant, &[], &probe[0], 1_000_000)
        .await
        .unwrap()
        .len()
}

async fn audit_actions(app: &App, tenant: &str) -> Vec<String> {
    app.store
        .audit_log(&petraf_core::ports::state_store::AuditQuery {
            tenant_id: Some(tenant.into()),
            session_id: None,
            page: 1,
            per_page: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .entries
        .into_iter()
        .map(|e| e.action)
        .collect()
}

#[tokio::test]
async fn the_platform_admin_sets_limits_and_uploads_beyond_them_are_refused_with_nothing_stored() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(tenant("acme")).await;
    let key = created.admin_key;
    let client = server.client();
    let settings = "/api/admin/tenants/acme/settings";
    let set_limits = |key: &str, limits: Value| {
        client
            .request(reqwest::Method::PATCH, settings)
            .admin(key)
            .json(&json!({ "document_limits": limits }))
    };

    let defaults = client.get(settings).admin(&key).send().await;
    assert_eq!(defaults.status, 200, "{}", defaults.text);
    assert_eq!(
        defaults.json()["settings"]["document_limits"],
        json!({"max_documents": 200, "max_chunks": 50000})
    );
    let by_tenant = set_limits(&key, json!({"max_documents": 1000, "max_chunks": 1000000}))
        .send()
        .await;
    assert_eq!(
        by_tenant.status, 403,
        "a tenant admin cannot raise its own limits"
    );
    assert_eq!(by_tenant.code(), "platform_admin_only");
    let zero = set_limits(PLATFORM_KEY, json!({"max_documents": 0, "max_chunks": 10}))
        .send()
        .await;
    assert_eq!(
        (zero.status.as_u16(), zero.code().as_str()),
        (400, "invalid_settings")
    );

    let set = set_limits(
        PLATFORM_KEY,
        json!({"max_documents": 1, "max_chunks": 1000}),
    )
    .send()
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        set.json()["settings"]["document_limits"],
        json!({"max_documents": 1, "max_chunks": 1000})
    );
    assert!(
        audit_actions(&server.app, "acme")
            .await
            .contains(&"tenant.settings_changed".to_string())
    );

    let first = text("career", 3);
    let ok = upload(&client, "acme", &key, "career.md", &first).await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let first_chunks = ok.json()["chunks_created"].as_u64().unwrap() as usize;
    set_limits(
        PLATFORM_KEY,
        json!({"max_documents": 1, "max_chunks": first_chunks + 1}),
    )
    .send()
    .await;
    let files_before = stored_files(&server);
    let audit_before = audit_actions(&server.app, "acme").await;

    // One document is the most this tenant keeps.
    let second = upload(&client, "acme", &key, "values.md", &text("values", 2)).await;
    assert_eq!(second.status, 409, "{}", second.text);
    assert_eq!(second.code(), "document_limit_reached");
    assert!(
        second.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 1 documents")
    );

    // A replacement keeps the count, but its chunks must fit too.
    let id = ok.json()["document_id"].as_str().unwrap().to_string();
    let bigger = text("career growth", 40);
    let replaced = client
        .put(&format!("/api/admin/rag/documents/acme/{id}"))
        .admin(&key)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(bigger.clone().into_bytes()).file_name("career-v2.md"),
        ))
        .send()
        .await;
    assert_eq!(replaced.status, 413, "{}", replaced.text);
    assert_eq!(replaced.code(), "chunk_limit_reached");

    // With room for documents, the chunk limit still holds.
    set_limits(
        PLATFORM_KEY,
        json!({"max_documents": 5, "max_chunks": first_chunks + 1}),
    )
    .send()
    .await;
    let too_many_chunks = upload(&client, "acme", &key, "big.md", &bigger).await;
    assert_eq!(too_many_chunks.status, 413, "{}", too_many_chunks.text);
    assert_eq!(too_many_chunks.code(), "chunk_limit_reached");

    // Nothing of the refused uploads was kept: no record, no chunk, no
    // original, no audit entry but the refusal's (issue 22).
    let listed = client
        .get("/api/admin/rag/documents/acme")
        .admin(&key)
        .send()
        .await
        .json();
    assert_eq!(listed["total"], 1);
    assert_eq!(listed["documents"][0]["revision"], 1);
    assert_eq!(chunk_count(&server.app, "acme").await, first_chunks);
    assert_eq!(stored_files(&server), files_before);
    let audit_after = audit_actions(&server.app, "acme").await;
    let refusals = audit_after
        .iter()
        .filter(|a| *a == "rag.upload_failed")
        .count();
    assert_eq!(
        refusals, 3,
        "the refused uploads and replace: {audit_after:?}"
    );
    assert_eq!(
        audit_after.len(),
        audit_before.len() + 1 + refusals,
        "else only the last limits change was audited"
    );
}

/// Uploads one document for `tenant` through the HTTP path; returns the
/// rows the embedded store wrote meanwhile and the document's chunk count.
async fn rows_written_by_upload(
    server: &TestServer,
    vectors: &SqliteVectorStore,
    tenant: &str,
    key: &str,
    body: &str,
) -> (u64, u64) {
    let before = vectors.rows_written();
    let reply = upload(&server.client(), tenant, key, "small.md", body).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let chunks = reply.json()["chunks_created"].as_u64().unwrap();
    (vectors.rows_written() - before, chunks)
}

#[tokio::test]
async fn an_upload_writes_its_own_rows_only_whatever_other_tenants_hold() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    let vectors = Arc::new(SqliteVectorStore::open(&dir.path().join("state.db")).unwrap());
    ports.vectors = vectors.clone();
    let server = TestServer::with_ports(ports, dir).await;
    let small = server.create_tenant(tenant("small")).await;
    let big = server.create_tenant(tenant("big")).await;

    let (alone, chunks) = rows_written_by_upload(
        &server,
        &vectors,
        "small",
        &small.admin_key,
        &text("mentoring", 2),
    )
    .await;
    assert_eq!(
        alone,
        chunks + 2,
        "its chunks, its record and its audit entry"
    );

    // Another tenant fills the store with thousands of chunks.
    for n in 0..10 {
        let reply = upload(
            &server.client(),
            "big",
            &big.admin_key,
            &format!("handbook-{n}.md"),
            &text(&format!("handbook {n}"), 800),
        )
        .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
    assert!(chunk_count(&server.app, "big").await >= 2_000);

    let (beside_big, chunks) = rows_written_by_upload(
        &server,
        &vectors,
        "small",
        &small.admin_key,
        &text("coaching", 2),
    )
    .await;
    assert_eq!(
        beside_big,
        chunks + 2,
        "nothing of the other tenant's data is rewritten"
    );
}

/// A vector store whose commits never finish: the process "dies" while
/// the upload waits on it.
struct CommitNeverReturns(Arc<dyn VectorStore>);

#[async_trait]
impl VectorStore for CommitNeverReturns {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    async fn upsert_document(
        &self,
        t: &str,
        d: &str,
        chunks: Vec<ChunkRecord>,
    ) -> Result<(), StoreError> {
        self.0.upsert_document(t, d, chunks).await
    }
    async fn delete_document(&self, t: &str, d: &str) -> Result<(), StoreError> {
        self.0.delete_document(t, d).await
    }
    async fn search(
        &self,
        t: &str,
        c: &[String],
        q: &[f32],
        k: usize,
    ) -> Result<Vec<ScoredChunk>, StoreError> {
        self.0.search(t, c, q, k).await
    }
    async fn commit_document(
        &self,
        _state: &dyn StateStore,
        _commit: DocumentCommit,
    ) -> Result<(), CommitError> {
        std::future::pending().await
    }
    async fn remove_document(
        &self,
        state: &dyn StateStore,
        record: &DocumentRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.0.remove_document(state, record, audit).await
    }
}

#[tokio::test]
async fn an_upload_cut_off_before_its_commit_leaves_no_original_after_a_restart() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(tenant("acme")).await;
    let kept = upload(
        &server.client(),
        "acme",
        &created.admin_key,
        "kept.md",
        &text("kept", 2),
    )
    .await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    let kept_chunks = kept.json()["chunks_created"].as_u64().unwrap() as usize;
    let committed_files = stored_files(&server);
    assert_eq!(committed_files.len(), 2, "the original and its metadata");

    // The same data directory, with a store that never commits: the upload
    // writes its original, then "the process dies" while it waits.
    let dir = server.data_dir.path().to_path_buf();
    let mut ports = config::embedded_ports(&dir).unwrap();
    ports.vectors = Arc::new(CommitNeverReturns(ports.vectors));
    let dying = config::services(ports, server.app.secrets.clone(), server.app.clock.clone());
    let upload = DocumentUpload {
        tenant_id: "acme".into(),
        category: "values".into(),
        filename: "lost.md".into(),
        bytes: text("lost", 2).into_bytes(),
        metadata: json!({}),
    };
    let cut = tokio::time::timeout(
        Duration::from_millis(500),
        ingestion::ingest_upload(&dying, upload, "admin", &RequestOrigin::default()),
    )
    .await;
    assert!(cut.is_err(), "the upload never finished");
    drop(dying);
    let orphaned: Vec<String> = stored_files(&server)
        .into_iter()
        .filter(|f| !committed_files.contains(f))
        .collect();
    assert_eq!(orphaned.len(), 2, "the original was written: {orphaned:?}");

    // Restart: the sweep removes the original nothing committed, and only it.
    let restarted = config::services(
        config::embedded_ports(&dir).unwrap(),
        server.app.secrets.clone(),
        server.app.clock.clone(),
    );
    let removed = documents::remove_uncommitted_objects(&restarted)
        .await
        .unwrap();
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0].ends_with("/lost.md"));
    assert_eq!(stored_files(&server), committed_files);
    let listed = documents::list(&restarted, "acme").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].filename, "kept.md");
    assert_eq!(chunk_count(&restarted, "acme").await, kept_chunks);
    assert!(
        documents::remove_uncommitted_objects(&restarted)
            .await
            .unwrap()
            .is_empty(),
        "a second sweep finds nothing"
    );
}
