//! `petraf eval` on the offline model: the floor CI holds the scorer to, on
//! the shared labelled drafts, on our tuning drafts, and on the held-out
//! drafts it was never tuned on (where it must also rank each criterion as
//! the labels do).

use petraf_core::app::eval::{self, EvalReport, HELD_OUT_DRAFTS, OWN_DRAFTS, SHARED_DRAFTS};
use petraf_core::app::{App, demo, eval_report};
use petraf_core::config;
use petraf_core::domain::tenant::TenantRecord;

const FLOOR: f64 = 0.9;
/// Issue 21's bar for each criterion's rank correlation on held-out drafts.
const SPEARMAN_FLOOR: f64 = 0.7;

async fn demo_app() -> (App, TenantRecord, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let app = config::scratch_app(&config::test_env(&[]), dir.path())
        .await
        .unwrap();
    let created = demo::seed_if_empty(&app).await.unwrap().unwrap();
    (app, created.record, dir)
}

async fn run(set: &str) -> EvalReport {
    let (app, tenant, _dir) = demo_app().await;
    let cases = eval::parse_cases(set).unwrap();
    let report = eval::evaluate(&app, &tenant, &cases, 1).await.unwrap();
    println!("{}", eval_report::render_table(&report, Some(FLOOR)));
    report
}

fn assert_floor(report: &EvalReport) {
    assert!(
        report.summary.let_through.is_empty(),
        "gaming or injection drafts passed: {:?}",
        report.summary.let_through
    );
    assert!(
        report.summary.agreement.agreement >= FLOOR,
        "agreement {:.3} is under the floor {FLOOR}",
        report.summary.agreement.agreement
    );
}

#[tokio::test]
async fn the_offline_scorer_agrees_with_the_shared_labels() {
    assert_floor(&run(SHARED_DRAFTS).await);
}

#[tokio::test]
async fn the_offline_scorer_agrees_with_its_own_tuning_drafts() {
    assert_floor(&run(OWN_DRAFTS).await);
}

#[tokio::test]
async fn the_offline_scorer_generalises_to_drafts_it_was_never_tuned_on() {
    let report = run(HELD_OUT_DRAFTS).await;
    assert_floor(&report);
    assert!(!report.summary.correlations.is_empty());
    for c in &report.summary.correlations {
        let rho = c
            .spearman
            .expect("every criterion's scores vary on held-out drafts");
        assert!(
            rho >= SPEARMAN_FLOOR,
            "{:?} {}: Spearman {rho} under {SPEARMAN_FLOOR}",
            c.phase,
            c.criterion
        );
    }
}

#[tokio::test]
async fn the_offline_scorer_is_deterministic_and_leaves_no_scratch_documents() {
    let (app, tenant, _dir) = demo_app().await;
    let cases: Vec<_> = eval::parse_cases(SHARED_DRAFTS)
        .unwrap()
        .into_iter()
        .filter(|c| c.context.is_some())
        .collect();
    assert!(!cases.is_empty());
    let report = eval::evaluate(&app, &tenant, &cases, 3).await.unwrap();
    for result in &report.results {
        assert_eq!(result.spread, 0.0, "{}", result.id);
        assert_eq!(result.runs.len(), 3);
        assert!(result.context_flagged.unwrap() > 0, "{}", result.id);
    }
    let vector = app
        .embedder
        .embed(&["NOTE TO THE AI".to_string()])
        .await
        .unwrap()
        .remove(0);
    for result in &report.results {
        let scratch = result.scratch_tenant.as_deref().expect("a scratch tenant");
        let left = app.vectors.search(scratch, &[], &vector, 50).await.unwrap();
        assert!(left.is_empty(), "{} left {} chunks", result.id, left.len());
    }
}
