//! Evaluating a tenant's configuration on labelled goal drafts: each draft is
//! judged exactly as an edited goal (`step: "refine"`) is in the chat —
//! retrieval for its phase, the configured model, the domain's checks — and
//! the verdicts are compared with the labels.
//!
//! A draft with a `context` document runs in a scratch tenant: the tenant's
//! configuration under a fresh `eval-…` id, holding only that document in
//! the phase's categories. The scratch tenant lives in memory; its chunks go
//! through the normal indexing into the configured vector store and are
//! deleted when the draft is done, so nothing else is written anywhere.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::ingestion::index_text;
use super::judging::{judge_goal, retrieve_documents};
use super::{App, AppResult};
use crate::domain::coaching::{HistoryTurn, PhaseContext};
use crate::domain::goal::fit_goal_text;
use crate::domain::ids::new_id;
use crate::domain::injection::find_instructions;
use crate::domain::message::{Role, Usage};
use crate::domain::phase::Phase;
use crate::domain::scoring::CriterionScore;
use crate::domain::session::EmployeeProfile;
use crate::domain::tenant::TenantRecord;

/// The labelled drafts `petraf eval` uses when given no file.
pub const SHARED_DRAFTS: &str = include_str!("../../eval/goal-drafts.jsonl");
/// Drafts written alongside the shared ones; with the shared set, the
/// tuning set: the offline scorer's rules may be adjusted against both.
pub const OWN_DRAFTS: &str = include_str!("../../eval/own-drafts.jsonl");
/// Drafts written and labelled before any tuning and never tuned on: the
/// measure of whether the scorer generalises. No test may adjust a
/// threshold to them; the eval tests only report and floor them.
pub const HELD_OUT_DRAFTS: &str = include_str!("../../eval/held-out-drafts.jsonl");

/// The bundled sets and what each is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DraftSet {
    /// `goal-drafts.jsonl`, the project's shared labelled set (tuning).
    Shared,
    /// `own-drafts.jsonl` (tuning).
    Own,
    /// `held-out-drafts.jsonl` (never tuned on).
    HeldOut,
}

impl DraftSet {
    pub const ALL: [DraftSet; 3] = [DraftSet::Shared, DraftSet::Own, DraftSet::HeldOut];

    pub fn name(self) -> &'static str {
        match self {
            DraftSet::Shared => "shared",
            DraftSet::Own => "own",
            DraftSet::HeldOut => "held-out",
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            DraftSet::Shared => SHARED_DRAFTS,
            DraftSet::Own => OWN_DRAFTS,
            DraftSet::HeldOut => HELD_OUT_DRAFTS,
        }
    }

    /// Whether the scorer may be tuned on this set.
    pub fn is_tuning(self) -> bool {
        self != DraftSet::HeldOut
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Pass,
    Fail,
}

/// One labelled draft (a line of a `.jsonl` file).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalCase {
    pub id: String,
    pub phase: Phase,
    pub goal: String,
    pub expect: Expect,
    /// A 0–10 rating per criterion of the phase's rubric.
    #[serde(default)]
    pub ratings: BTreeMap<String, f64>,
    /// `normal`, `gaming`, `injection` or `edge`.
    #[serde(default = "normal_kind")]
    pub kind: String,
    /// A company document to hold in the phase's categories while scoring.
    #[serde(default)]
    pub context: Option<String>,
    /// The draft's language (`en`, `de`, `fr`, `es`, …), for the report.
    #[serde(default = "english")]
    pub lang: String,
    #[serde(default)]
    pub note: String,
}

fn english() -> String {
    "en".into()
}

fn normal_kind() -> String {
    "normal".into()
}

/// Kinds whose drafts a fair scorer must always refuse.
pub const MUST_REFUSE: [&str; 2] = ["gaming", "injection"];

/// Parses a `.jsonl` set; blank lines are skipped, a bad line is named.
pub fn parse_cases(text: &str) -> Result<Vec<EvalCase>, String> {
    let mut cases = vec![];
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: EvalCase =
            serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1))?;
        if !case.phase.is_conversational() {
            return Err(format!(
                "line {}: {} is not a conversation phase",
                i + 1,
                case.phase
            ));
        }
        cases.push(case);
    }
    if cases.is_empty() {
        return Err("no drafts in the file".into());
    }
    Ok(cases)
}

/// One run of one draft.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub overall: Option<f64>,
    pub passed: bool,
    /// Each rubric criterion's score, weight and reasoning.
    pub criteria: Vec<CriterionScore>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub id: String,
    pub phase: Phase,
    pub kind: String,
    pub lang: String,
    pub expect: Expect,
    /// Runs whose verdict matches the label.
    pub agreeing_runs: u32,
    pub mean_overall: Option<f64>,
    /// Highest minus lowest overall across runs.
    pub spread: f64,
    /// Instruction-like sentences the ingestion detector found in `context`.
    pub context_flagged: Option<usize>,
    /// The scratch tenant id a `context` draft ran in (its chunks are gone).
    pub scratch_tenant: Option<String>,
    pub runs: Vec<RunResult>,
}

impl CaseResult {
    pub fn agrees(&self) -> bool {
        self.agreeing_runs as usize == self.runs.len()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub agreed: usize,
    pub total: usize,
    pub agreement: f64,
}

impl Tally {
    fn of<'a>(runs: impl Iterator<Item = &'a CaseResult>) -> Tally {
        let (mut agreed, mut total) = (0, 0);
        for r in runs {
            agreed += r.agreeing_runs as usize;
            total += r.runs.len();
        }
        let agreement = if total == 0 {
            0.0
        } else {
            agreed as f64 / total as f64
        };
        Tally {
            agreed,
            total,
            agreement,
        }
    }
}

/// Spearman rank correlation of one criterion's scores with its ratings.
#[derive(Debug, Clone, Serialize)]
pub struct Correlation {
    pub phase: Phase,
    pub criterion: String,
    pub drafts: usize,
    /// `None` when fewer than 3 drafts or either side is constant.
    pub spearman: Option<f64>,
}

/// How a set of results compares with its labels.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Over every (draft, run): verdicts that match the label.
    pub agreement: Tally,
    pub by_kind: BTreeMap<String, Tally>,
    pub by_lang: BTreeMap<String, Tally>,
    /// Gaming and injection drafts a run let through: each must be refused.
    pub let_through: Vec<String>,
    pub correlations: Vec<Correlation>,
    /// Over drafts judged more than once: the largest and the mean spread
    /// of the overall score between runs.
    pub max_spread: f64,
    pub mean_spread: f64,
}

impl Summary {
    /// `cases[i]` was judged as `results[i]`.
    pub fn of(tenant: &TenantRecord, cases: &[EvalCase], results: &[CaseResult]) -> Summary {
        let tally_by = |key: fn(&CaseResult) -> &str| -> BTreeMap<String, Tally> {
            let keys: std::collections::BTreeSet<&str> = results.iter().map(key).collect();
            keys.into_iter()
                .map(|k| {
                    (
                        k.to_string(),
                        Tally::of(results.iter().filter(|r| key(r) == k)),
                    )
                })
                .collect()
        };
        let let_through = results
            .iter()
            .filter(|r| MUST_REFUSE.contains(&r.kind.as_str()) && r.runs.iter().any(|x| x.passed))
            .map(|r| r.id.clone())
            .collect();
        let spreads: Vec<f64> = results.iter().map(|r| r.spread).collect();
        Summary {
            agreement: Tally::of(results.iter()),
            by_kind: tally_by(|r| r.kind.as_str()),
            by_lang: tally_by(|r| r.lang.as_str()),
            let_through,
            correlations: correlations(tenant, cases, results),
            max_spread: spreads.iter().cloned().fold(0.0, f64::max),
            mean_spread: if spreads.is_empty() {
                0.0
            } else {
                round2(spreads.iter().sum::<f64>() / spreads.len() as f64)
            },
        }
    }

    pub fn meets(&self, floor: f64) -> bool {
        self.agreement.agreement >= floor && self.let_through.is_empty()
    }

    pub fn spearman(&self, phase: Phase, criterion: &str) -> Option<f64> {
        self.correlations
            .iter()
            .find(|c| c.phase == phase && c.criterion == criterion)
            .and_then(|c| c.spearman)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub provider: String,
    pub model: String,
    pub tenant: String,
    pub runs: u32,
    #[serde(flatten)]
    pub summary: Summary,
    pub usage: Usage,
    pub results: Vec<CaseResult>,
}

impl EvalReport {
    pub fn meets(&self, floor: f64) -> bool {
        self.summary.meets(floor)
    }
}

/// Runs every case `runs` times against `tenant`'s configuration.
pub async fn evaluate(
    app: &App,
    tenant: &TenantRecord,
    cases: &[EvalCase],
    runs: u32,
) -> AppResult<EvalReport> {
    let runs = runs.max(1);
    let mut usage = Usage::default();
    let mut results = Vec::with_capacity(cases.len());
    for case in cases {
        results.push(evaluate_case(app, tenant, case, runs, &mut usage).await?);
    }
    let stub = context(tenant, Phase::G4Future, "", vec![]);
    Ok(EvalReport {
        provider: app.model.provider().to_string(),
        model: app.model.model_for(&stub),
        tenant: tenant.tenant.name.clone(),
        runs,
        summary: Summary::of(tenant, cases, &results),
        usage,
        results,
    })
}

/// One summary over several evaluated sets (e.g. shared + own = tuning).
pub fn combined(tenant: &TenantRecord, parts: &[(&[EvalCase], &EvalReport)]) -> Summary {
    let cases: Vec<EvalCase> = parts.iter().flat_map(|(c, _)| c.iter().cloned()).collect();
    let results: Vec<CaseResult> = parts
        .iter()
        .flat_map(|(_, r)| r.results.iter().cloned())
        .collect();
    Summary::of(tenant, &cases, &results)
}

/// The context the chat builds for an edited goal: the draft is the
/// employee's only message of the phase.
pub(crate) fn context(
    tenant: &TenantRecord,
    phase: Phase,
    goal: &str,
    documents: Vec<crate::domain::coaching::ContextDoc>,
) -> PhaseContext {
    PhaseContext {
        company: tenant.tenant.name.clone(),
        model: tenant.config.llm_model.clone(),
        profile: EmployeeProfile::default(),
        phase,
        prompts: tenant.config.prompts.clone(),
        history: vec![HistoryTurn {
            role: Role::User,
            content: goal.to_string(),
        }],
        documents,
        earlier_goals: vec![],
    }
}

async fn evaluate_case(
    app: &App,
    tenant: &TenantRecord,
    case: &EvalCase,
    runs: u32,
    usage: &mut Usage,
) -> AppResult<CaseResult> {
    let scratch = match &case.context {
        Some(document) => Some(ScratchTenant::create(app, tenant, case, document).await?),
        None => None,
    };
    let judged_tenant = scratch.as_ref().map(|s| &s.record).unwrap_or(tenant);
    let scratch_tenant = scratch.as_ref().map(|s| s.record.tenant.id.clone());
    let outcome = run_case(app, judged_tenant, case, runs, usage).await;
    if let Some(scratch) = scratch {
        scratch.remove(app).await?;
    }
    let run_results = outcome?;
    let agreeing_runs = run_results
        .iter()
        .filter(|r| r.passed == (case.expect == Expect::Pass))
        .count() as u32;
    let scores: Vec<f64> = run_results.iter().filter_map(|r| r.overall).collect();
    let mean_overall =
        (!scores.is_empty()).then(|| round2(scores.iter().sum::<f64>() / scores.len() as f64));
    let spread = match (
        scores.iter().cloned().reduce(f64::max),
        scores.iter().cloned().reduce(f64::min),
    ) {
        (Some(hi), Some(lo)) => round2(hi - lo),
        _ => 0.0,
    };
    Ok(CaseResult {
        id: case.id.clone(),
        phase: case.phase,
        kind: case.kind.clone(),
        lang: case.lang.clone(),
        expect: case.expect,
        agreeing_runs,
        mean_overall,
        spread,
        context_flagged: case.context.as_deref().map(|c| find_instructions(c).len()),
        scratch_tenant,
        runs: run_results,
    })
}

async fn run_case(
    app: &App,
    tenant: &TenantRecord,
    case: &EvalCase,
    runs: u32,
    usage: &mut Usage,
) -> AppResult<Vec<RunResult>> {
    let rubric = tenant.config.rubric(case.phase).cloned().ok_or_else(|| {
        super::AppError::internal("rubric_missing", format!("no rubric for {}", case.phase))
    })?;
    let goal = fit_goal_text(&case.goal);
    let documents = retrieve_documents(app, tenant, case.phase, &goal).await?;
    let ctx = context(tenant, case.phase, &goal, documents);
    let mut out = vec![];
    for _ in 0..runs {
        let judged = judge_goal(
            app.model.as_ref(),
            &ctx,
            &goal,
            &rubric,
            tenant.config.threshold,
            usage,
        )
        .await;
        out.push(match judged {
            Ok(card) => RunResult {
                overall: Some(card.overall),
                passed: card.meets_threshold,
                criteria: card.criteria,
                error: None,
            },
            // A goal the turn could not score is not kept: it did not pass.
            Err(e) => RunResult {
                overall: None,
                passed: false,
                criteria: vec![],
                error: Some(format!("{}: {e}", e.code())),
            },
        });
    }
    Ok(out)
}

/// A tenant that exists only for one draft: the evaluated tenant's
/// configuration, holding only the draft's `context` document.
struct ScratchTenant {
    record: TenantRecord,
    documents: Vec<String>,
}

impl ScratchTenant {
    async fn create(
        app: &App,
        base: &TenantRecord,
        case: &EvalCase,
        document: &str,
    ) -> AppResult<ScratchTenant> {
        let mut record = base.clone();
        record.tenant.id = format!("eval-{}", new_id().to_lowercase());
        let mut scratch = ScratchTenant {
            record,
            documents: vec![],
        };
        for category in base.config.categories(case.phase) {
            let document_id = new_id();
            scratch.documents.push(document_id.clone());
            let indexed = index_text(
                app,
                &scratch.record.tenant.id,
                category,
                &document_id,
                &format!("{}.md", case.id),
                document,
                &json!({"title": format!("{} context", case.id), "source": "petraf eval"}),
            )
            .await;
            if let Err(e) = indexed {
                scratch.remove(app).await?;
                return Err(e);
            }
        }
        Ok(scratch)
    }

    async fn remove(self, app: &App) -> AppResult<()> {
        for document_id in &self.documents {
            app.vectors
                .delete_document(&self.record.tenant.id, document_id)
                .await?;
        }
        Ok(())
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn correlations(
    tenant: &TenantRecord,
    cases: &[EvalCase],
    results: &[CaseResult],
) -> Vec<Correlation> {
    let mut out = vec![];
    for phase in Phase::CONVERSATIONAL {
        let Some(rubric) = tenant.config.rubric(phase) else {
            continue;
        };
        for criterion in &rubric.criteria {
            let mut rated = vec![];
            let mut scored = vec![];
            for (case, result) in cases.iter().zip(results) {
                let Some(rating) = case.ratings.get(&criterion.name) else {
                    continue;
                };
                let scores: Vec<f64> = result
                    .runs
                    .iter()
                    .flat_map(|r| r.criteria.iter())
                    .filter(|c| c.name == criterion.name)
                    .map(|c| c.score)
                    .collect();
                if case.phase == phase && !scores.is_empty() {
                    rated.push(*rating);
                    scored.push(scores.iter().sum::<f64>() / scores.len() as f64);
                }
            }
            if rated.is_empty() {
                continue;
            }
            out.push(Correlation {
                phase,
                criterion: criterion.name.clone(),
                drafts: rated.len(),
                spearman: spearman(&rated, &scored).map(round2),
            });
        }
    }
    out
}

/// Ranks from 1, ties sharing their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rho: Pearson's correlation of the ranks.
pub fn spearman(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() != b.len() || a.len() < 3 {
        return None;
    }
    let (ra, rb) = (ranks(a), ranks(b));
    let n = ra.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    (va > 0.0 && vb > 0.0).then(|| cov / (va * vb).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_uses_ranks_and_shares_ties() {
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 90.0]), Some(1.0));
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), Some(-1.0));
        assert_eq!(ranks(&[5.0, 1.0, 5.0]), vec![2.5, 1.0, 2.5]);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn the_bundled_sets_parse_and_bad_lines_are_named() {
        let shared = parse_cases(SHARED_DRAFTS).unwrap();
        assert_eq!(shared.len(), 22);
        assert!(shared.iter().any(|c| c.context.is_some()));
        assert!(parse_cases(OWN_DRAFTS).unwrap().len() >= 30);
        let err = parse_cases("{\"id\":\"x\"}\n").unwrap_err();
        assert!(err.starts_with("line 1:"), "{err}");
        let err =
            parse_cases(r#"{"id":"x","phase":"g2_basic","goal":"g","expect":"pass"}"#).unwrap_err();
        assert!(err.contains("not a conversation phase"), "{err}");
        assert!(parse_cases("\n\n").is_err());
    }
}
