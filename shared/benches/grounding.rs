//! Does the coach lose grounding when its passages come from the phase's
//! remembered query (the profile's, then the answers before this message)
//! instead of a retrieval for this message? Not a timing: for every turn of
//! simulated conversations it compares the passages the coach now starts
//! from with the ones a per-turn retrieval would have found, and reports the
//! recall (the share of the per-turn passages the coach still had).
//!
//! Conversations: each labelled goal draft of `shared/eval/goal-drafts.jsonl`
//! (the eval set), told as an employee would, one clause a message. Knowledge bases: the walkthrough's four documents
//! (`tests/fixtures/*.md`), then the same with a long unrelated report in
//! every category as distractors. Embeddings: the embedded default's
//! hashing embedder, the remembered query stored quantized as the state
//! keeps it.
//!
//! Run: `cargo bench -p petraf-core --bench grounding`

use std::path::Path;

use petraf_core::app::ingestion::{DocumentUpload, ingest_upload};
use petraf_core::app::judging::{embed_queries, retrieve, search_documents};
use petraf_core::app::{App, tenants};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::coaching::ContextDoc;
use petraf_core::domain::grounding::{QuantizedVector, profile_query, recall};
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
    let env: std::collections::HashMap<&'static str, String> = [(
        "PETRAF_JWT_SECRET",
        "bench-secret-bench-secret-bench-secret-01".to_string(),
    )]
    .into();
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

#[derive(Default)]
struct Tally {
    turns: usize,
    recall_sum: f64,
    identical: usize,
    /// Passages from the walkthrough's documents (not the distractor).
    useful_used: usize,
    useful_fresh: usize,
}

fn useful(docs: &[ContextDoc]) -> usize {
    docs.iter().filter(|d| d.source != DISTRACTOR).count()
}

impl Tally {
    fn add(&mut self, used: &[ContextDoc], fresh: &[ContextDoc]) {
        let r = recall(used, fresh);
        self.turns += 1;
        self.recall_sum += r;
        if r == 1.0 {
            self.identical += 1;
        }
        self.useful_used += useful(used);
        self.useful_fresh += useful(fresh);
    }

    fn line(&self, what: &str) -> String {
        let turns = self.turns.max(1) as f64;
        format!(
            "{what:<24} turns={:<3} recall={:.3} all kept={:>5.1}% useful passages/turn: coach {:.2}, per-turn {:.2}",
            self.turns,
            self.recall_sum / turns,
            100.0 * self.identical as f64 / turns,
            self.useful_used as f64 / turns,
            self.useful_fresh as f64 / turns,
        )
    }
}

async fn measure(app: &App, tenant: &TenantRecord, drafts: &[(Phase, String)]) -> Vec<String> {
    let profile = EmployeeProfile {
        position: Some("Software Engineer".into()),
        department: Some("Engineering".into()),
        grade: Some("L4".into()),
        ..Default::default()
    };
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
                let used = search_documents(app, tenant, phase, &remembered.to_vec().unwrap())
                    .await
                    .unwrap();
                let fresh = retrieve(app, tenant, phase, &answers[..n].join("\n"))
                    .await
                    .unwrap();
                if n == 1 {
                    first.add(&used, &fresh.documents);
                } else {
                    later.add(&used, &fresh.documents);
                }
                remembered = QuantizedVector::new(&fresh.query.unwrap());
            }
            remembered = QuantizedVector::new(&profile_vector[0]);
        }
        lines.push(first.line(&format!("{phase} first message")));
        lines.push(later.line(&format!("{phase} later")));
    }
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
