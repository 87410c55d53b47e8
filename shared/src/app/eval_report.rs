//! `petraf eval`'s report as text: a row per draft with its totals, and the
//! sets side by side (tuning beside held-out).

use std::collections::BTreeMap;

use super::eval::{EvalReport, Expect, MUST_REFUSE, Summary, Tally};
use crate::domain::phase::Phase;

/// The report as a table: one row per draft, then the totals.
pub fn render_table(report: &EvalReport, floor: Option<f64>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "petraf eval: {} drafts x {} run(s) on {} ({}), tenant {}",
        report.results.len(),
        report.runs,
        report.provider,
        report.model,
        report.tenant
    );
    let _ = writeln!(
        out,
        "{:<16} {:<10} {:<9} {:<4} {:<6} {:>6} {:>6} {:<5} weakest criterion / error",
        "draft", "phase", "kind", "lang", "label", "score", "spread", "agree"
    );
    for r in &report.results {
        let detail = r
            .runs
            .iter()
            .find_map(|run| run.error.clone())
            .or_else(|| {
                r.runs.first().and_then(|run| {
                    run.criteria
                        .iter()
                        .min_by(|a, b| a.score.total_cmp(&b.score))
                        .map(|c| format!("{} {:.1}: {}", c.name, c.score, c.reasoning))
                })
            })
            .unwrap_or_default();
        let detail: String = detail.chars().take(90).collect();
        let _ = writeln!(
            out,
            "{:<16} {:<10} {:<9} {:<4} {:<6} {:>6} {:>6} {:<5} {}",
            r.id.chars().take(16).collect::<String>(),
            r.phase.as_str(),
            r.kind,
            r.lang,
            match r.expect {
                Expect::Pass => "pass",
                Expect::Fail => "fail",
            },
            r.mean_overall
                .map(|s| format!("{s:.2}"))
                .unwrap_or_else(|| "-".into()),
            format!("{:.2}", r.spread),
            if r.agrees() {
                "yes".to_string()
            } else {
                format!("{}/{}", r.agreeing_runs, r.runs.len())
            },
            detail
        );
    }
    render_summary(&mut out, &report.summary, floor);
    let _ = writeln!(out, "tokens: {}", report.usage.total());
    out
}

fn render_summary(out: &mut String, summary: &Summary, floor: Option<f64>) {
    use std::fmt::Write;
    let a = &summary.agreement;
    let _ = writeln!(
        out,
        "\nagreement: {}/{} ({:.1}%){}",
        a.agreed,
        a.total,
        a.agreement * 100.0,
        floor
            .map(|f| format!(", floor {:.1}%", f * 100.0))
            .unwrap_or_default()
    );
    let tallies = |m: &BTreeMap<String, Tally>| -> String {
        m.iter()
            .map(|(k, t)| format!("{k} {}/{}", t.agreed, t.total))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "by kind: {}", tallies(&summary.by_kind));
    let _ = writeln!(out, "by language: {}", tallies(&summary.by_lang));
    let _ = writeln!(
        out,
        "gaming and injection drafts let through: {}",
        if summary.let_through.is_empty() {
            "none".to_string()
        } else {
            summary.let_through.join(", ")
        }
    );
    let _ = writeln!(
        out,
        "run-to-run spread of the overall score: max {:.2}, mean {:.2}",
        summary.max_spread, summary.mean_spread
    );
    let _ = writeln!(out, "rank correlation (Spearman) with the ratings:");
    for c in &summary.correlations {
        let _ = writeln!(
            out,
            "  {:<10} {:<14} {:>6} ({} drafts)",
            c.phase.as_str(),
            c.criterion,
            fmt_rho(c.spearman),
            c.drafts
        );
    }
}

fn fmt_rho(rho: Option<f64>) -> String {
    rho.map(|r| format!("{r:.2}"))
        .unwrap_or_else(|| "n/a".into())
}

/// Sets side by side: agreement, refusals, languages and each criterion's
/// Spearman, one column per named summary (e.g. tuning and held-out).
pub fn render_comparison(columns: &[(&str, &Summary)]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let head: Vec<String> = columns.iter().map(|(n, _)| format!("{n:>14}")).collect();
    let _ = writeln!(out, "{:<26}{}", "", head.join(""));
    let row = |out: &mut String, label: &str, cell: &dyn Fn(&Summary) -> String| {
        let cells: Vec<String> = columns
            .iter()
            .map(|(_, s)| format!("{:>14}", cell(s)))
            .collect();
        let _ = writeln!(out, "{label:<26}{}", cells.join(""));
    };
    let pct = |t: &Tally| format!("{}/{} {:.0}%", t.agreed, t.total, t.agreement * 100.0);
    row(&mut out, "agreement", &|s| pct(&s.agreement));
    let refused = |s: &Summary| {
        let must: usize = MUST_REFUSE
            .iter()
            .filter_map(|k| s.by_kind.get(*k))
            .map(|t| t.total)
            .sum();
        let runs_through: usize = s.let_through.len();
        format!("{}/{}", must.saturating_sub(runs_through), must)
    };
    row(&mut out, "gaming+injection refused", &refused);
    let mut langs = std::collections::BTreeSet::new();
    let mut kinds = std::collections::BTreeSet::new();
    for (_, s) in columns {
        langs.extend(s.by_lang.keys().cloned());
        kinds.extend(s.by_kind.keys().cloned());
    }
    for kind in &kinds {
        row(&mut out, &format!("kind {kind}"), &|s| {
            s.by_kind.get(kind).map(pct).unwrap_or_else(|| "-".into())
        });
    }
    for lang in &langs {
        row(&mut out, &format!("language {lang}"), &|s| {
            s.by_lang.get(lang).map(pct).unwrap_or_else(|| "-".into())
        });
    }
    row(&mut out, "max run-to-run spread", &|s| {
        format!("{:.2}", s.max_spread)
    });
    let mut criteria: Vec<(Phase, String)> = vec![];
    for (_, s) in columns {
        for c in &s.correlations {
            if !criteria
                .iter()
                .any(|(p, n)| *p == c.phase && *n == c.criterion)
            {
                criteria.push((c.phase, c.criterion.clone()));
            }
        }
    }
    let _ = writeln!(out, "Spearman with the ratings:");
    for (phase, name) in &criteria {
        row(&mut out, &format!("  {} {}", phase.as_str(), name), &|s| {
            fmt_rho(s.spearman(*phase, name))
        });
    }
    out
}
