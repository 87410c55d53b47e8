//! Every fixture of `tests/fixtures/documents/` (the project's copy of
//! `../shared/fixtures/documents/`) through the admin upload on the embedded
//! default, with the outcome the fixtures' README gives.

use std::time::{Duration, Instant};

use petraf_core::app::tenants::demo_tenant;
use petraf_core::ports::vector_store::ChunkRecord;
use petraf_tests::TestServer;
use petraf_tests::documents::{five_gram_overlap, read_fixture, upload_form, word_f1};

/// What an upload of a fixture must give.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Indexed; with a truth file, its words are found (F1 ≥ 0.97).
    Indexed,
    /// Refused with this status and code.
    Refused(u16, &'static str),
    /// Refused with a 4xx (hostile files: any clear refusal will do).
    Refused4xx,
    /// Cut-short files: what can be read is indexed, or a clear refusal.
    IndexedOrRefused,
}

use Want::*;

const FIXTURES: &[(&str, Want)] = &[
    ("gen/latex-2col-type1.pdf", Indexed),
    ("gen/latex-2col-noToUnicode.pdf", Indexed),
    ("gen/latex-2col-type3bitmap.pdf", Indexed),
    ("gen/lo-report.pdf", Indexed),
    ("gen/lo-big-218p.pdf", Indexed),
    ("gen/lo-report-objstm-linearized.pdf", Indexed),
    ("gen/enc-aes256-emptyuser.pdf", Indexed),
    ("gen/enc-aes128-emptyuser.pdf", Indexed),
    ("gen/enc-rc4-128-emptyuser.pdf", Indexed),
    ("gen/enc-rc4-40-emptyuser.pdf", Indexed),
    (
        "gen/enc-aes256-userpw.pdf",
        Refused(422, "password_protected"),
    ),
    ("gen/scanned-image-only.pdf", Refused(422, "no_text_layer")),
    ("gen/text-as-outlines.pdf", Refused(422, "no_text_layer")),
    ("hostile/trunc-50pct.pdf", IndexedOrRefused),
    ("hostile/trunc-95pct.pdf", IndexedOrRefused),
    ("hostile/bitflip-s1.pdf", IndexedOrRefused),
    ("hostile/bitflip-s2.pdf", IndexedOrRefused),
    ("hostile/bitflip-s3.pdf", IndexedOrRefused),
    ("hostile/garbage-with-header.pdf", Refused4xx),
    ("hostile/empty.pdf", Refused(400, "empty_document")),
    ("hostile/not-a-pdf.pdf", Refused(415, "format_mismatch")),
    ("hostile/pagetree-cycle.pdf", Refused4xx),
    ("hostile/deep-nesting.pdf", Refused4xx),
    ("hostile/deep-content.pdf", Refused4xx),
    ("hostile/flate-bomb-1GiB.pdf", Refused4xx),
    ("hostile/huge-size-count.pdf", Refused4xx),
    ("hostile/xobject-self-ref.pdf", Refused4xx),
    ("hostile/length-lie.pdf", Refused4xx),
    ("office/pandoc-report.docx", Indexed),
    ("office/libreoffice-report.docx", Indexed),
    ("office/pandoc-big.docx", Indexed),
    ("office/docx-features.docx", Indexed),
    ("office/pandoc-report.pptx", Indexed),
    ("office/lo-table.xlsx", Indexed),
    ("office/pandoc-report.odt", Indexed),
    ("office/docx-zipbomb-600MB.docx", Refused4xx),
    ("office/docx-billion-laughs.docx", Refused4xx),
    ("office/docx-truncated.docx", Refused4xx),
    ("office/docx-not-a-zip.docx", Refused4xx),
    ("web/pandoc-report.html", Indexed),
    ("web/report.md", Indexed),
    (
        "web/deep-nesting-100k.html",
        Refused(413, "document_too_large"),
    ),
    (
        "web/unclosed-tags-50k.html",
        Refused(413, "document_too_large"),
    ),
];

/// The word F1 every file's extraction must reach against its truth.
const MIN_F1: f64 = 0.97;

/// The text a fixture was made from: `x.truth.txt` beside `x.pdf`, or
/// `x.docx.truth.txt` beside other formats. The ODT was made by pandoc from
/// the same source as the DOCX, which carries the truth.
fn truth_of(path: &str) -> Option<std::path::PathBuf> {
    let path = path.replace("pandoc-report.odt", "pandoc-report.docx");
    [
        format!("{}.truth.txt", path.trim_end_matches(".pdf")),
        format!("{path}.truth.txt"),
    ]
    .into_iter()
    .map(|p| petraf_tests::documents::fixture(&p))
    .find(|p| p.exists())
}

/// A category per fixture, so each file's chunks can be read back alone.
fn category_of(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

/// Every chunk indexed under `category`, in document order.
async fn indexed_chunks(server: &TestServer, tenant: &str, category: &str) -> Vec<ChunkRecord> {
    let probe = server
        .app
        .embedder
        .embed(&["company".into()])
        .await
        .unwrap();
    let mut found: Vec<ChunkRecord> = server
        .app
        .vectors
        .search(tenant, &[category.to_string()], &probe[0], 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.chunk)
        .collect();
    found.sort_by_key(|c| c.chunk_index);
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_gets_the_outcome_its_readme_gives() {
    let listed: Vec<String> = ["gen", "hostile", "office", "web"]
        .iter()
        .flat_map(|dir| {
            std::fs::read_dir(petraf_tests::documents::fixture(dir))
                .unwrap()
                .map(move |e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        })
        .filter(|p| !p.ends_with(".truth.txt"))
        .collect();
    for path in &listed {
        assert!(
            FIXTURES.iter().any(|(p, _)| p == path),
            "fixture {path} has no expected outcome"
        );
    }

    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let tenant = created.record.tenant.id.clone();
    let client = server.client();
    let upload_path = format!("/api/admin/rag/upload/{tenant}");
    let mut report = vec![];
    let mut problems = vec![];
    let mut indexed = 0;
    for (path, want) in FIXTURES {
        let filename = path.rsplit('/').next().unwrap();
        let category = category_of(path);
        let started = Instant::now();
        let reply = client
            .post(&upload_path)
            .admin(&created.admin_key)
            .multipart(upload_form(filename, read_fixture(path), &category))
            .send()
            .await;
        let took = started.elapsed();
        let status = reply.status.as_u16();
        let chunks = indexed_chunks(&server, &tenant, &category).await;
        match (want, status) {
            (Indexed | IndexedOrRefused, 200) => {
                assert_eq!(reply.json()["chunks_created"], chunks.len(), "{path}");
                assert!(!chunks.is_empty(), "{path}: nothing indexed");
                indexed += 1;
            }
            (Refused(s, code), _) => {
                if (status, reply.code()) != (*s, code.to_string()) {
                    problems.push(format!(
                        "{path}: expected {s} {code}, got {status} {}",
                        reply.text
                    ));
                }
            }
            (Refused4xx | IndexedOrRefused, 400..=499) => {
                assert!(!reply.code().is_empty(), "{path}: {}", reply.text);
            }
            _ => problems.push(format!(
                "{path}: expected {want:?}, got {status} {}",
                reply.text
            )),
        }
        if status != 200 {
            assert!(chunks.is_empty(), "{path}: a refused document left chunks");
            // Hostile files are answered within 10 s.
            assert!(took < Duration::from_secs(10), "{path} took {took:?}");
        }
        let text = chunks
            .iter()
            .map(|c| c.content.as_str())
            .collect::<Vec<_>>()
            .join("\n\n");
        let truth = truth_of(path);
        let (f1, grams) = match (&truth, status) {
            (Some(truth), 200) => {
                let truth = std::fs::read_to_string(truth).unwrap();
                (word_f1(&text, &truth), five_gram_overlap(&text, &truth))
            }
            _ => (f64::NAN, f64::NAN),
        };
        report.push(format!(
            "{path:45} {status} {:>22} {:>5} chunks  F1 {f1:.3}  5-gram {grams:.3}  {:>6} ms",
            reply.code(),
            chunks.len(),
            took.as_millis()
        ));
        if matches!(want, Indexed) && truth.is_some() && f1 < MIN_F1 {
            problems.push(format!("{path}: word F1 {f1:.3} < {MIN_F1}"));
            let dump = std::env::temp_dir().join(format!("petraf-extracted-{category}.txt"));
            std::fs::write(&dump, &text).unwrap();
        }
        for chunk in &chunks {
            assert!(
                chunk.metadata["title"]
                    .as_str()
                    .is_some_and(|t| !t.is_empty()),
                "{path}: chunk without title"
            );
            if path.ends_with(".pdf") {
                assert!(
                    chunk.metadata["page"].as_u64().is_some_and(|p| p >= 1),
                    "{path}: chunk without page"
                );
            }
        }
    }
    eprintln!("{}", report.join("\n"));
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Word: every marker but the tracked deletion.
    let features =
        indexed_chunks(&server, &tenant, &category_of("office/docx-features.docx")).await;
    let text: String = features
        .iter()
        .map(|c| c.content.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    for marker in [
        "FOOTNOTEMARK",
        "HEADERMARK",
        "FOOTERMARK",
        "INSERTEDMARK",
        "VMLBOXMARK",
        "DMLBOXMARK",
        "TABLECELLMARK",
    ] {
        assert!(
            text.contains(marker),
            "{marker} missing from docx-features: {text}"
        );
    }
    assert!(
        !text.contains("DELETEDMARK"),
        "the tracked deletion was indexed"
    );

    // Markdown and HTML chunks know their section; the PDF its title.
    let md = indexed_chunks(&server, &tenant, &category_of("web/report.md")).await;
    assert!(
        md.iter().all(|c| c.metadata["section"].is_string()),
        "markdown chunks carry sections"
    );

    // The server is unharmed, and only indexed documents were stored.
    let health = client.get("/api/health").send().await;
    assert_eq!(health.status, 200, "{}", health.text);
    let stored = walk_files(&server.data_dir.path().join("objects"));
    assert_eq!(stored, indexed, "objects stored vs documents indexed");
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .map(|p| {
                    if p.is_dir() {
                        walk_files(&p)
                    } else {
                        usize::from(!p.to_string_lossy().ends_with(".meta.json"))
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

async fn documents_of(
    client: &petraf_tests::Client,
    tenant: &str,
    key: &str,
) -> Vec<serde_json::Value> {
    let reply = client
        .get(&format!("/api/admin/rag/documents/{tenant}"))
        .admin(key)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["documents"].as_array().unwrap().clone()
}

/// A session with its profile, ready to chat.
async fn sarah(client: &petraf_tests::Client, tenant: &str) -> (String, String) {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let reply = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(&serde_json::json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (id, token)
}

/// The `sources` of a turn's `complete` event.
async fn cited_sources(
    client: &petraf_tests::Client,
    tenant: &str,
    session: &(String, String),
) -> Vec<serde_json::Value> {
    let reply = petraf_tests::journey::chat(
        client,
        tenant,
        &session.1,
        "g4_future",
        &session.0,
        petraf_tests::journey::G4_FIRST,
    )
    .await;
    let events = reply.events();
    let (_, complete) = events
        .iter()
        .find(|(name, _)| name == "complete")
        .unwrap_or_else(|| panic!("no complete event: {}", reply.text));
    complete["sources"].as_array().expect("sources").clone()
}

#[tokio::test]
async fn documents_are_listed_idempotent_replaced_deleted_and_cited() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id.clone(), created.admin_key.clone());
    let client = server.client();
    let pdf = std::fs::read(format!(
        "{}/fixtures/company_career_framework.pdf",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let upload = |bytes: Vec<u8>| {
        upload_form("company_career_framework.pdf", bytes, "career_framework").text(
            "metadata",
            r#"{"title":"Engineering Career Framework 2025","version":"1.0"}"#,
        )
    };

    // The same bytes twice: one document, one set of chunks.
    let first = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload(pdf.clone()))
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    assert_eq!(first["status"], "indexed");
    assert_eq!(first["pages"], 1);
    assert_eq!(first["already_indexed"], false, "{first}");
    let second = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload(pdf.clone()))
        .send()
        .await
        .json();
    assert_eq!(second["document_id"], first["document_id"]);
    assert_eq!(second["message"], "Document already indexed");
    assert_eq!(second["already_indexed"], true, "{second}");
    let id = first["document_id"].as_str().unwrap().to_string();
    let listed = documents_of(&client, &tenant, &key).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    let doc = &listed[0];
    assert_eq!(doc["status"], "indexed");
    assert_eq!(doc["title"], "Engineering Career Framework 2025");
    assert_eq!(doc["format"], "pdf");
    assert_eq!(doc["source"], "upload");
    assert_eq!(doc["bytes"], pdf.len());
    assert_eq!(doc["content_hash"].as_str().unwrap().len(), 64);
    assert_eq!(doc["chunks"], first["chunks_created"]);
    let chunks = indexed_chunks(&server, &tenant, "career_framework").await;
    assert_eq!(
        chunks.len() as u64,
        first["chunks_created"].as_u64().unwrap()
    );

    // A turn cites what it used: title, category and page; the reply keeps it.
    let session = sarah(&client, &tenant).await;
    let sources = cited_sources(&client, &tenant, &session).await;
    assert!(!sources.is_empty(), "no sources cited");
    assert_eq!(sources[0]["title"], "Engineering Career Framework 2025");
    assert_eq!(sources[0]["category"], "career_framework");
    assert_eq!(sources[0]["page"], 1);
    let stored = server
        .app
        .store
        .messages(&tenant, &session.0)
        .await
        .unwrap();
    let reply = stored
        .iter()
        .rev()
        .find(|m| m.role == petraf_core::domain::message::Role::Assistant)
        .unwrap();
    assert_eq!(reply.sources.len(), sources.len());
    assert_eq!(reply.sources[0].page, Some(1));

    // An unreadable replacement leaves the old version in place.
    let path = format!("/api/admin/rag/documents/{tenant}/{id}");
    let bad = client
        .put(&path)
        .admin(&key)
        .multipart(
            reqwest::multipart::Form::new().part(
                "file",
                reqwest::multipart::Part::bytes(read_fixture("gen/scanned-image-only.pdf"))
                    .file_name("scan.pdf"),
            ),
        )
        .send()
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.code()),
        (422, "no_text_layer".into())
    );
    assert_eq!(
        indexed_chunks(&server, &tenant, "career_framework").await,
        chunks
    );

    // A replacement swaps the text; its section is cited from now on.
    let v2 = "# Career Framework 2026\n\n## Staff Engineer\n\nStaff engineers mentor senior engineers, lead a team of teams and own the zephyr platform roadmap for distributed systems.\n";
    let replaced = client
        .put(&path)
        .admin(&key)
        .multipart(
            reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(v2.as_bytes().to_vec())
                        .file_name("framework-2026.md"),
                )
                .text(
                    "metadata",
                    r#"{"title":"Engineering Career Framework 2026"}"#,
                ),
        )
        .send()
        .await;
    assert_eq!(replaced.status, 200, "{}", replaced.text);
    let replaced = replaced.json();
    assert_eq!(replaced["revision"], 2);
    assert_eq!(replaced["format"], "markdown");
    assert_eq!(replaced["id"], id);
    let now_indexed = indexed_chunks(&server, &tenant, "career_framework").await;
    let text: String = now_indexed.iter().map(|c| c.content.clone()).collect();
    assert!(text.contains("zephyr platform"), "{text}");
    assert!(
        !text.contains("AWS Solutions Architect"),
        "old text still indexed: {text}"
    );
    assert_eq!(documents_of(&client, &tenant, &key).await.len(), 1);
    let sources = cited_sources(&client, &tenant, &session).await;
    assert_eq!(sources[0]["title"], "Engineering Career Framework 2026");
    assert_eq!(sources[0]["section"], "Career Framework 2026");

    // Another tenant's admin cannot see or touch it.
    let acme = server
        .create_tenant(petraf_core::app::tenants::NewTenant {
            id: None,
            slug: "acme".into(),
            name: "Acme Inc".into(),
            domain: "acme.petraf.com".into(),
            admin_email: "hr@acme.com".into(),
            contact_name: None,
            config: petraf_core::domain::tenant::TenantConfig::defaults(),
        })
        .await;
    let r = client.delete(&path).admin(&acme.admin_key).send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_tenant".into())
    );

    // Deleted: gone from retrieval at once, from the list, audited.
    let r = client.delete(&path).admin(&key).send().await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        indexed_chunks(&server, &tenant, "career_framework")
            .await
            .is_empty()
    );
    let r = client.get(&path).admin(&key).send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "document_not_found".into())
    );
    assert!(documents_of(&client, &tenant, &key).await.is_empty());
    assert!(cited_sources(&client, &tenant, &session).await.is_empty());
    let audit = client
        .get("/api/admin/audit-logs?limit=200")
        .admin(&key)
        .send()
        .await
        .json();
    let actions: Vec<&str> = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    for action in [
        "rag.document_uploaded",
        "rag.document_replaced",
        "rag.document_deleted",
    ] {
        assert!(
            actions.contains(&action),
            "{action} not audited: {actions:?}"
        );
    }
    assert_eq!(
        walk_files(&server.data_dir.path().join("objects")),
        0,
        "the original is gone"
    );
}

/// The same bytes uploaded again under another title are said to be
/// already indexed: the answer names the document already there, and the
/// library still holds one document with its first title.
#[tokio::test]
async fn a_repeated_upload_answers_already_indexed_with_the_first_title() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id.clone(), created.admin_key.clone());
    let client = server.client();
    let bytes = b"# Mentoring\n\nEvery new engineer pairs with a mentor.\n".to_vec();
    let upload = |title: &str| {
        upload_form("mentoring.md", bytes.clone(), "policies")
            .text("metadata", format!(r#"{{"title":"{title}"}}"#))
    };
    let first = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload("Mentoring"))
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    assert_eq!(first["already_indexed"], false, "{first}");
    let again = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .multipart(upload("Mentoring v2"))
        .send()
        .await;
    assert_eq!(again.status, 200, "{}", again.text);
    let again = again.json();
    assert_eq!(again["already_indexed"], true, "{again}");
    assert_eq!(again["document_id"], first["document_id"]);
    assert_eq!(again["title"], "Mentoring", "the first title stays");
    let listed = documents_of(&client, &tenant, &key).await;
    let mentoring: Vec<_> = listed
        .iter()
        .filter(|d| d["filename"] == "mentoring.md")
        .collect();
    assert_eq!(mentoring.len(), 1, "{listed:?}");
    assert_eq!(mentoring[0]["title"], "Mentoring");
    assert_eq!(mentoring[0]["revision"], 1);
}

/// The worker's limits end runaway extractions as typed failures: a small
/// stack overflowed by deep nesting, too little memory, too little time.
#[tokio::test]
async fn the_workers_limits_turn_crashes_and_runaways_into_typed_failures() {
    use petraf_core::extraction::worker::run_worker;
    use petraf_core::extraction::{DocumentFormat, ExtractFailure, Limits};
    let worker = petraf_tests::extract_worker();
    let run = |fixture: &str, limits: Limits| {
        let reply = run_worker(
            &worker,
            DocumentFormat::Pdf,
            &read_fixture(fixture),
            &limits,
        )
        .expect("the worker runs");
        reply.outcome.expect_err("a limit should stop it")
    };
    let started = Instant::now();
    let crashed = run(
        "hostile/deep-nesting.pdf",
        Limits {
            stack_bytes: 256 << 10,
            ..Limits::default()
        },
    );
    assert!(matches!(crashed, ExtractFailure::Corrupt(_)), "{crashed:?}");
    let starved = run(
        "gen/lo-big-218p.pdf",
        Limits {
            memory_bytes: 48 << 20,
            ..Limits::default()
        },
    );
    assert!(
        matches!(
            starved,
            ExtractFailure::TooLarge(_) | ExtractFailure::Corrupt(_)
        ),
        "{starved:?}"
    );
    let slow = run(
        "gen/lo-big-218p.pdf",
        Limits {
            wall_millis: 50,
            ..Limits::default()
        },
    );
    assert_eq!(
        slow,
        ExtractFailure::TooLarge("reading it took longer than 0.05 s".into())
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The offline embedder, counting its calls.
struct CountingEmbedder(
    std::sync::Arc<dyn petraf_core::ports::embedder::Embedder>,
    std::sync::atomic::AtomicUsize,
);

#[async_trait::async_trait]
impl petraf_core::ports::embedder::Embedder for CountingEmbedder {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn dimension(&self) -> usize {
        self.0.dimension()
    }
    async fn embed(
        &self,
        texts: &[String],
    ) -> Result<Vec<Vec<f32>>, petraf_core::ports::chat_model::ModelError> {
        self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.0.embed(texts).await
    }
}

/// A large document is embedded in batches: at most one call per 100 chunks.
#[tokio::test]
async fn embedding_calls_are_batched() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = petraf_core::config::embedded_ports(dir.path()).unwrap();
    let counter = std::sync::Arc::new(CountingEmbedder(
        ports.embedder,
        std::sync::atomic::AtomicUsize::new(0),
    ));
    ports.embedder = counter.clone();
    let server = TestServer::with_ports(ports, dir).await;
    let created = server.create_tenant(demo_tenant()).await;
    let tenant = created.record.tenant.id.clone();
    let handbook: String = (1..=800)
        .map(|i| format!("## Policy {i}\n\nSection {i} of the handbook explains how requests are filed, reviewed and approved by the people team, with examples for every office and a contact for questions.\n\n"))
        .collect();
    let before = counter.1.load(std::sync::atomic::Ordering::SeqCst);
    let reply = server
        .client()
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&created.admin_key)
        .multipart(upload_form(
            "handbook.md",
            handbook.into_bytes(),
            "handbook",
        ))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let chunks = reply.json()["chunks_created"].as_u64().unwrap() as usize;
    let calls = counter.1.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(chunks > 200, "{chunks} chunks");
    assert!(
        calls <= chunks.div_ceil(100),
        "{calls} embedding calls for {chunks} chunks"
    );
}
