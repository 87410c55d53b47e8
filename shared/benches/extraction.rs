//! Document extraction: pages per second of the isolated worker against
//! poppler's `pdftotext` on the same files in the same run, the worker's
//! peak memory, and the end-to-end time to index the 218-page PDF
//! (extract, chunk, embed with the offline embedder, store), with the
//! number of embedding calls. Results and the command: BENCHMARKS.md.
//!
//! `pdftotext` comes from Debian's `poppler-utils`; without it that column
//! is left empty.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use petraf_core::app::ingestion::{DocumentUpload, ingest_upload};
use petraf_core::app::tenants::{create_tenant, demo_tenant};
use petraf_core::app::{App, Services, Settings};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::extraction::worker::{self, run_worker};
use petraf_core::extraction::{DocumentFormat, Limits};
use petraf_core::ports::chat_model::ModelError;
use petraf_core::ports::{Embedder, SystemClock};

const RUNS: usize = 5;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/documents/gen")
}

fn median(mut xs: Vec<Duration>) -> Duration {
    xs.sort();
    xs[xs.len() / 2]
}

fn pdftotext(path: &Path) -> Option<Duration> {
    let mut times = vec![];
    for _ in 0..RUNS {
        let started = Instant::now();
        let status = std::process::Command::new("pdftotext")
            .arg(path)
            .arg("/dev/null")
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
        times.push(started.elapsed());
    }
    Some(median(times))
}

/// The offline embedder, counting its calls.
struct Counting {
    inner: Arc<dyn Embedder>,
    calls: AtomicUsize,
}

#[async_trait]
impl Embedder for Counting {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn dimension(&self) -> usize {
        self.inner.dimension()
    }
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.embed(texts).await
    }
}

fn main() {
    worker::run_if_worker();
    let exe = std::env::current_exe().expect("bench executable");
    let limits = Limits::default();
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pdf"))
        .collect();
    names.sort();
    println!(
        "| file | pages | worker median ms | pages/s | pdftotext median ms | pages/s | worker ÷ pdftotext | peak worker RSS MiB |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let (mut ratio_log_sum, mut ratio_count) = (0.0f64, 0usize);
    for name in &names {
        let path = fixtures().join(name);
        let bytes = std::fs::read(&path).unwrap();
        let mut times = vec![];
        let (mut pages, mut peak, mut outcome) = (0u32, 0u64, String::from("ok"));
        for _ in 0..RUNS {
            let started = Instant::now();
            let reply = run_worker(&exe, DocumentFormat::Pdf, &bytes, &limits).expect("worker");
            times.push(started.elapsed());
            peak = peak.max(reply.peak_rss_kib);
            match reply.outcome {
                Ok(doc) => pages = doc.pages.unwrap_or(0),
                Err(e) => outcome = format!("{e:?}").chars().take(30).collect(),
            }
        }
        let ours = median(times);
        let theirs = pdftotext(&path);
        let rate = |d: Duration| {
            if pages == 0 {
                "—".to_string()
            } else {
                format!("{:.0}", pages as f64 / d.as_secs_f64())
            }
        };
        let ratio = theirs.map(|t| ours.as_secs_f64() / t.as_secs_f64());
        if let (Some(r), true) = (ratio, pages > 0) {
            ratio_log_sum += r.ln();
            ratio_count += 1;
        }
        println!(
            "| {name}{} | {pages} | {:.1} | {} | {} | {} | {} | {:.0} |",
            if outcome == "ok" {
                String::new()
            } else {
                format!(" ({outcome})")
            },
            ours.as_secs_f64() * 1e3,
            rate(ours),
            theirs.map_or("—".into(), |t| format!("{:.1}", t.as_secs_f64() * 1e3)),
            theirs.map_or("—".into(), rate),
            ratio.map_or("—".into(), |r| format!("{r:.2}×")),
            peak as f64 / 1024.0,
        );
    }
    if ratio_count > 0 {
        println!(
            "\nGeometric mean, worker ÷ pdftotext over the {ratio_count} files with text: {:.2}×",
            (ratio_log_sum / ratio_count as f64).exp()
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(end_to_end());
}

/// Indexes the 218-page PDF through the admin upload's use case on the
/// embedded adapters (fresh each run, so nothing is deduplicated).
async fn end_to_end() {
    let bytes = std::fs::read(fixtures().join("lo-big-218p.pdf")).unwrap();
    let mut times = vec![];
    let (mut chunks, mut calls) = (0, 0);
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let ports = petraf_core::config::embedded_ports(dir.path()).unwrap();
        let counting = Arc::new(Counting {
            inner: ports.embedder,
            calls: AtomicUsize::new(0),
        });
        let env: std::collections::HashMap<&'static str, String> = [(
            "PETRAF_JWT_SECRET",
            "bench-secret-bench-secret-bench-secret-01".to_string(),
        )]
        .into();
        let app: App = Arc::new(Services {
            store: ports.store,
            vectors: ports.vectors,
            objects: ports.objects,
            model: ports.model,
            embedder: counting.clone(),
            clock: Arc::new(SystemClock),
            secrets: petraf_core::config::secrets(&env, dir.path()).unwrap(),
            settings: Settings::default(),
        });
        let tenant = create_tenant(&app, demo_tenant()).await.unwrap();
        let started = Instant::now();
        let report = ingest_upload(
            &app,
            DocumentUpload {
                tenant_id: tenant.record.tenant.id.clone(),
                category: "handbook".into(),
                filename: "lo-big-218p.pdf".into(),
                bytes: bytes.clone(),
                metadata: serde_json::json!({}),
            },
            "bench",
            &RequestOrigin::default(),
        )
        .await
        .unwrap();
        times.push(started.elapsed());
        chunks = report.chunks_created;
        calls = counting.calls.load(Ordering::SeqCst);
    }
    println!(
        "\nEnd to end, lo-big-218p.pdf (218 pages): median {:.2} s over 3 runs; {chunks} chunks, {calls} embedding calls ({:.2} per 100 chunks)",
        median(times).as_secs_f64(),
        calls as f64 * 100.0 / chunks as f64
    );
}
