//! The embedded document library (chunks in SQLite beside the state):
//! upload time with 0 and with 100,000 chunks of other tenants in the
//! store, filtered top-3 search at 100,000 chunks over 50 tenants, and the
//! process's memory after the load.
//!
//!   cargo bench -p petraf-core --bench embedded_library
//!
//! `PETRAF_BENCH_DIMENSION` (default 384, the embedded embedder's) sets the
//! vector size. Embeddings are synthetic but clustered like real ones (one
//! of 200 topic directions plus noise); queries are near a topic.

use std::time::{Duration, Instant};

use chrono::Utc;
use petraf_core::app::ingestion::{DocumentUpload, ingest_upload};
use petraf_core::app::tenants::{NewTenant, create_tenant, demo_tenant};
use petraf_core::config;
use petraf_core::domain::audit::{AuditEntry, RequestOrigin};
use petraf_core::domain::document::{DocumentRecord, DocumentSource, DocumentStatus};
use petraf_core::domain::tenant::DocumentLimits;
use petraf_core::ports::SystemClock;
use petraf_core::ports::vector_store::{ChunkRecord, DocumentCommit};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;

const TENANTS: usize = 50;
const CHUNKS: usize = 100_000;
const CHUNKS_PER_DOCUMENT: usize = 100;
const TOPICS: usize = 200;
const QUERIES: usize = 400;
const UPLOADS: usize = 30;
const CATEGORIES: [&str; 4] = ["values", "career_framework", "competencies", "policies"];

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn gaussian(rng: &mut StdRng) -> f32 {
    let (u1, u2): (f32, f32) = (rng.gen_range(f32::EPSILON..1.0), rng.r#gen());
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn near(rng: &mut StdRng, topic: &[f32], spread: f32) -> Vec<f32> {
    let scale = spread / (topic.len() as f32).sqrt();
    unit(topic.iter().map(|x| x + scale * gaussian(rng)).collect())
}

fn tenant_id(t: usize) -> String {
    format!("bench-tenant-{t:02}")
}

fn record(tenant: &str, id: &str, chunks: usize) -> DocumentRecord {
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
        chunks: chunks as u32,
        bytes: 0,
        source: DocumentSource::Upload,
        content_hash: String::new(),
        object_key: format!("uploads/{tenant}/values/{id}/{id}.md"),
        revision: 1,
        metadata: json!({}),
        flagged_passages: vec![],
        created_at: now,
        updated_at: now,
    }
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(f64::NAN)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

fn summary(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 1.0)
    )
}

/// Times `UPLOADS` uploads of one small Markdown document through the whole
/// ingestion path (extraction, chunking, embedding, original, commit).
async fn small_uploads(app: &petraf_core::app::App, round: &str) -> Vec<Duration> {
    let mut times = vec![];
    for n in 0..UPLOADS {
        let upload = DocumentUpload {
            tenant_id: "probe".into(),
            category: "values".into(),
            filename: format!("note-{round}-{n}.md"),
            bytes: format!(
                "# Note {round} {n}\n\nWe value learning, ownership and candour.\n\n\
                 Every engineer mentors someone each quarter ({round}, {n})."
            )
            .into_bytes(),
            metadata: json!({}),
        };
        let started = Instant::now();
        ingest_upload(app, upload, "bench", &RequestOrigin::default())
            .await
            .expect("upload");
        times.push(started.elapsed());
    }
    times
}

fn main() {
    let dimension: usize = std::env::var("PETRAF_BENCH_DIMENSION")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(384);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(run(dimension));
}

async fn run(dimension: usize) {
    let dir = tempfile::tempdir().unwrap();
    let ports = config::embedded_ports(dir.path()).unwrap();
    let env = config::test_env(&[("PETRAF_JWT_SECRET", &"b".repeat(48))]);
    let app = config::services(
        ports,
        config::secrets(&env, dir.path()).unwrap(),
        std::sync::Arc::new(SystemClock),
    );
    let generous = DocumentLimits {
        max_documents: 10_000,
        max_chunks: 1_000_000,
    };
    for id in std::iter::once("probe".to_string()).chain((0..TENANTS).map(tenant_id)) {
        let mut new: NewTenant = demo_tenant();
        new.id = Some(id.clone());
        new.slug = id.clone();
        new.domain = format!("{id}.example.com");
        new.config.document_limits = generous;
        create_tenant(&app, new).await.unwrap();
    }
    println!(
        "embedded library, {dimension} dimensions, data in {}",
        dir.path().display()
    );
    println!("RSS at start: {:.1} MiB", rss_mib());

    let empty = small_uploads(&app, "empty").await;
    println!("small upload, 0 other chunks:        {}", summary(empty));

    let mut rng = StdRng::seed_from_u64(7);
    let topics: Vec<Vec<f32>> = (0..TOPICS)
        .map(|_| unit((0..dimension).map(|_| gaussian(&mut rng)).collect()))
        .collect();
    let started = Instant::now();
    let per_tenant = CHUNKS / TENANTS;
    for t in 0..TENANTS {
        let tenant = tenant_id(t);
        for d in 0..per_tenant / CHUNKS_PER_DOCUMENT {
            let document = format!("doc-{t:02}-{d:03}");
            let category = CATEGORIES[rng.gen_range(0..CATEGORIES.len())];
            let chunks: Vec<ChunkRecord> = (0..CHUNKS_PER_DOCUMENT)
                .map(|i| {
                    let topic = &topics[rng.gen_range(0..TOPICS)];
                    ChunkRecord {
                        id: format!("{document}-{i:05}"),
                        tenant_id: tenant.clone(),
                        document_id: document.clone(),
                        chunk_index: i as u32,
                        category: category.into(),
                        content: format!("{document} passage {i}: ").repeat(12),
                        metadata: json!({"title": document, "chunk_index": i}),
                        embedding: near(&mut rng, topic, 0.6),
                        created_at: Utc::now(),
                    }
                })
                .collect();
            let commit = DocumentCommit {
                record: record(&tenant, &document, chunks.len()),
                chunks,
                audit: AuditEntry::new(
                    document.clone(),
                    &tenant,
                    None,
                    "bench",
                    "rag.document_uploaded",
                    ("rag_corpus", &document),
                    json!({}),
                    &RequestOrigin::default(),
                    Utc::now(),
                ),
                limits: generous,
                previous: None,
            };
            app.vectors
                .commit_document(app.store.as_ref(), commit)
                .await
                .unwrap();
        }
    }
    println!(
        "loaded {CHUNKS} chunks over {TENANTS} tenants ({per_tenant} each) in {:.1} s; database {:.0} MiB",
        started.elapsed().as_secs_f64(),
        std::fs::metadata(dir.path().join("state.db"))
            .map(|m| m.len() as f64 / 1048576.0)
            .unwrap_or(f64::NAN)
    );
    println!("RSS after load: {:.1} MiB", rss_mib());

    let full = small_uploads(&app, "full").await;
    println!("small upload, {CHUNKS} other chunks: {}", summary(full));

    for (label, filtered) in [("filtered (1 category)", true), ("unfiltered", false)] {
        let mut times = vec![];
        let mut short = 0;
        for _ in 0..QUERIES {
            let tenant = tenant_id(rng.gen_range(0..TENANTS));
            let topic = rng.gen_range(0..TOPICS);
            let query = near(&mut rng, &topics[topic], 0.3);
            let categories: Vec<String> = if filtered {
                vec![CATEGORIES[rng.gen_range(0..CATEGORIES.len())].to_string()]
            } else {
                vec![]
            };
            let started = Instant::now();
            let found = app
                .vectors
                .search(&tenant, &categories, &query, 3)
                .await
                .unwrap();
            times.push(started.elapsed());
            if found.len() < 3 {
                short += 1;
            }
        }
        println!(
            "top-3 search, {label}: {} ({short} of {QUERIES} queries found fewer than 3)",
            summary(times)
        );
    }
    println!("RSS after searches: {:.1} MiB", rss_mib());
}
