//! Does the coach lose grounding when its passages come from the phase's
//! remembered query (the profile's, then the answers before this message)
//! instead of a retrieval for this message? Not a timing: for every turn of
//! simulated conversations it compares the passages the coach now starts
//! from with the ones a per-turn retrieval would have found, and reports the
//! recall (the share of the per-turn passages the coach still had), for
//! the remembered query's passages as they are and reranked by the latest
//! message's words (`domain::grounding::rerank`).
//!
//! Conversations: each labelled goal draft of `shared/eval/goal-drafts.jsonl`
//! (the eval set), told as an employee would, one clause a message. Knowledge bases: the walkthrough's four documents
//! (`tests/fixtures/*.md`), then the same with a long unrelated report in
//! every category as distractors. Embeddings: the embedded default's
//! hashing embedder, the remembered query stored quantized as the state
//! keeps it.
//!
//! Run: `cargo bench --profile dev --workspace --all-features --bench grounding`

use std::path::Path;

use petraf_core::app::ingestion::{DocumentUpload, ingest_upload};
use petraf_core::app::judging::{embed_queries, retrieve, search_for_message, search_nearest};
use petraf_core::app::{App, tenants};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::coaching::ContextDoc;
use petraf_core::domain::grounding::{
    LEXICAL_WEIGHT, QuantizedVector, RERANK_POOL_FACTOR, profile_query, recall, rerank,
    rerank_weighted,
};
use petraf_core::domain::phase::Phase;
use petraf_core::domain::session::EmployeeProfile;
use petraf_core::domain::tenant::TenantRecord;
use petraf_core::ports::SystemClock;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
const DRAFTS_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/eval/goal-drafts.jsonl");

const DISTRACTOR: &str = "Operations Report";

const DOCUMENTS: [(&str, &str, &str); 4] = [
    (
        "career_framework",
        "career_framework.md",
        "Engineering Career Framework",
    ),
    ("values", "values_and_culture.md", "Company Values"),
    (
        "performance_guidelines",
        "performance_guidelines.md",
        "Performance Review Guidelines",
    ),
    (
        "engineering_guidelines",
        "engineering_guidelines.md",
        "Engineering Best Practices",
    ),
];

async fn app_with_tenant(dir: &Path) -> (App, TenantRecord) {
    let ports = petraf_core::config::embedded_ports(dir).unwrap();
    let env = petraf_core::config::test_env(&[(
        "PETRAF_JWT_SECRET",
        "bench-secret-bench-secret-bench-secret-01",
    )]);
    let app = petraf_core::config::services(
        ports,
        petraf_core::config::secrets(&env, dir).unwrap(),
        std::sync::Arc::new(SystemClock),
    );
    let created = tenants::create_tenant(&app, tenants::demo_tenant())
        .await
        .unwrap();
    (app, created.record)
}

async fn upload(
    app: &App,
    tenant: &TenantRecord,
    category: &str,
    filename: &str,
    text: String,
    title: &str,
) {
    let upload = DocumentUpload {
        tenant_id: tenant.tenant.id.clone(),
        category: category.into(),
        filename: filename.into(),
        bytes: text.into_bytes(),
        metadata: json!({"title": title}),
    };
    ingest_upload(app, upload, "bench", &RequestOrigin::default())
        .await
        .unwrap();
}

/// A draft as the messages an employee would send: one clause each.
fn told(goal: &str) -> Vec<String> {
    goal.split([',', ';', ':', '.'])
        .map(str::trim)
        .filter(|c| c.split_whitespace().count() >= 2)
        .map(str::to_string)
        .collect()
}

/// What one way of grounding the coach kept, against the per-turn retrieval.
#[derive(Default)]
struct Kept {
    recall_sum: f64,
    identical: usize,
    /// Passages from the walkthrough's documents (not the distractor).
    useful: usize,
}

impl Kept {
    fn add(&mut self, used: &[ContextDoc], fresh: &[ContextDoc]) {
        let r = recall(used, fresh);
        self.recall_sum += r;
        if r == 1.0 {
            self.identical += 1;
        }
        self.useful += useful(used);
    }

    fn cells(&self, turns: f64) -> String {
        format!(
            "recall {:.3} all kept {:>5.1}% useful {:.2}",
            self.recall_sum / turns,
            100.0 * self.identical as f64 / turns,
            self.useful as f64 / turns,
        )
    }
}

/// Per-turn sums for the remembered query alone, the remembered query
/// reranked by the latest message's words as shipped, the same at other
/// lexical weights and pool sizes, and the per-turn retrieval they are
/// measured against.
#[derive(Default)]
struct Tally {
    turns: usize,
    remembered: Kept,
    reranked: Kept,
    /// Useful passages at the lexical weights of `WEIGHTS`.
    useful_by_weight: [usize; WEIGHTS.len()],
    /// Useful passages, and the share of the per-turn passages among the
    /// candidates (the most reranking can recover), at `POOL_FACTORS`.
    useful_by_pool: [usize; POOL_FACTORS.len()],
    held_by_pool: [f64; POOL_FACTORS.len()],
    useful_fresh: usize,
    /// How long the shipped rerank took, each turn.
    rerank_time: Vec<std::time::Duration>,
}

/// Lexical weights and pool sizes tried besides the ones shipped, to show
/// how much the result depends on them.
const WEIGHTS: [f64; 5] = [0.0, 0.25, LEXICAL_WEIGHT, 0.75, 1.0];
const POOL_FACTORS: [usize; 4] = [1, 4, RERANK_POOL_FACTOR, 16];

fn useful(docs: &[ContextDoc]) -> usize {
    docs.iter().filter(|d| d.source != DISTRACTOR).count()
}

fn per_turn(sums: impl IntoIterator<Item = f64>, turns: f64) -> String {
    sums.into_iter()
        .map(|s| format!("{:.2}", s / turns))
        .collect::<Vec<_>>()
        .join(" / ")
}

impl Tally {
    /// `nearest`: the candidates of the largest pool, nearest first.
    fn add(
        &mut self,
        nearest: &[ContextDoc],
        message: &str,
        keep: usize,
        reranked: &[ContextDoc],
        fresh: &[ContextDoc],
    ) {
        self.turns += 1;
        let remembered: Vec<ContextDoc> = nearest
            .iter()
            .take(keep)
            .filter(|d| d.relevance > 0.0)
            .cloned()
            .collect();
        self.remembered.add(&remembered, fresh);
        self.reranked.add(reranked, fresh);
        let pool = |factor: usize| nearest[..nearest.len().min(keep * factor)].to_vec();
        let candidates = pool(RERANK_POOL_FACTOR);
        let started = std::time::Instant::now();
        let kept = rerank(candidates, message, keep);
        self.rerank_time.push(started.elapsed());
        assert_eq!(kept, reranked, "the bench reranks as the turn does");
        for (i, weight) in WEIGHTS.into_iter().enumerate() {
            let kept = rerank_weighted(pool(RERANK_POOL_FACTOR), message, keep, weight);
            self.useful_by_weight[i] += useful(&kept);
        }
        for (i, factor) in POOL_FACTORS.into_iter().enumerate() {
            self.useful_by_pool[i] += useful(&rerank(pool(factor), message, keep));
            self.held_by_pool[i] += recall(&pool(factor), fresh);
        }
        self.useful_fresh += useful(fresh);
    }

    fn lines(&self, what: &str) -> Vec<String> {
        let turns = self.turns.max(1) as f64;
        let mut times = self.rerank_time.clone();
        times.sort();
        let micros = |p: f64| {
            let i = ((times.len().max(1) - 1) as f64 * p).round() as usize;
            times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1e6)
        };
        let useful_by_weight = self.useful_by_weight.map(|u| u as f64);
        let useful_by_pool = self.useful_by_pool.map(|u| u as f64);
        vec![
            format!(
                "{what:<24} turns={:<3} per-turn retrieval: useful {:.2}",
                self.turns,
                self.useful_fresh as f64 / turns,
            ),
            format!("    remembered           {}", self.remembered.cells(turns)),
            format!(
                "    remembered + rerank  {} (rerank p50 {:.0} us, p99 {:.0} us)",
                self.reranked.cells(turns),
                micros(0.5),
                micros(0.99)
            ),
            format!(
                "    useful at lexical weight {WEIGHTS:?}: {}",
                per_turn(useful_by_weight, turns)
            ),
            format!(
                "    pool of top_k x {POOL_FACTORS:?}: useful {}, holds {} of the per-turn passages",
                per_turn(useful_by_pool, turns),
                per_turn(self.held_by_pool, turns)
            ),
        ]
    }
}

async fn measure(app: &App, tenant: &TenantRecord, drafts: &[(Phase, String)]) -> Vec<String> {
    let profile = EmployeeProfile {
        position: Some("Software Engineer".into()),
        department: Some("Engineering".into()),
        grade: Some("L4".into()),
        ..Default::default()
    };
    let keep = app.settings.rag_top_k;
    let (mut all_first, mut all_later) = (Tally::default(), Tally::default());
    let mut lines = vec![];
    for phase in Phase::CONVERSATIONAL {
        let (mut first, mut later) = (Tally::default(), Tally::default());
        let purpose = profile_query(&profile, tenant.config.prompts.for_phase(phase));
        let profile_vector = embed_queries(app, tenant, &[purpose])
            .await
            .unwrap()
            .unwrap();
        let mut remembered = QuantizedVector::new(&profile_vector[0]);
        for (_, draft) in drafts.iter().filter(|(p, _)| *p == phase) {
            let answers = told(draft);
            for n in 1..=answers.len() {
                let vector = remembered.to_vec().unwrap();
                let message = &answers[n - 1];
                let widest = keep * POOL_FACTORS.iter().max().unwrap();
                let nearest = search_nearest(app, tenant, phase, &vector, widest)
                    .await
                    .unwrap();
                let reranked = search_for_message(app, tenant, phase, &vector, message)
                    .await
                    .unwrap();
                let fresh = retrieve(app, tenant, phase, &answers[..n].join("\n"))
                    .await
                    .unwrap();
                for tally in if n == 1 {
                    [&mut first, &mut all_first]
                } else {
                    [&mut later, &mut all_later]
                } {
                    tally.add(&nearest, message, keep, &reranked, &fresh.documents);
                }
                remembered = QuantizedVector::new(&fresh.query.unwrap());
            }
            remembered = QuantizedVector::new(&profile_vector[0]);
        }
        lines.extend(first.lines(&format!("{phase} first message")));
        lines.extend(later.lines(&format!("{phase} later")));
    }
    lines.extend(all_first.lines("all phases, first"));
    lines.extend(all_later.lines("all phases, later"));
    lines
}

fn main() {
    let drafts: Vec<(Phase, String)> = std::fs::read_to_string(DRAFTS_PATH)
        .expect("the labelled drafts")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|v| {
            (
                v["phase"].as_str().unwrap().parse().unwrap(),
                v["goal"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (app, tenant) = app_with_tenant(dir.path()).await;
        for (category, file, title) in DOCUMENTS {
            let text = std::fs::read_to_string(format!("{FIXTURES}/{file}")).unwrap();
            upload(&app, &tenant, category, file, text, title).await;
        }
        println!(
            "grounding: the walkthrough's documents, top {} passages, {} drafts",
            app.settings.rag_top_k,
            drafts.len()
        );
        for line in measure(&app, &tenant, &drafts).await {
            println!("  {line}");
        }
        let report = std::fs::read_to_string(format!("{FIXTURES}/documents/web/report.md"))
            .unwrap_or_default();
        for (category, _, _) in DOCUMENTS {
            upload(
                &app,
                &tenant,
                category,
                &format!("report-{category}.md"),
                format!("# Operations report ({category})\n\n{report}"),
                DISTRACTOR,
            )
            .await;
        }
        println!("grounding: the same with an unrelated report in every category");
        for line in measure(&app, &tenant, &drafts).await {
            println!("  {line}");
        }
    });
}
