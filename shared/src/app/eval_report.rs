//! `petraf eval`'s report as text: a row per draft with its totals, and the
//! sets side by side (tuning beside held-out).

use std::collections::BTreeMap;

use super::eval::{EvalReport, Expect, MUST_REFUSE, Summary, Tally};
use super::settings_preview::SettingsPreview;
use crate::domain::example_drafts::Verdict;
use crate::domain::phase::Phase;
use crate::domain::settings_preview::Judged;

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

/// A settings preview as a table: each example draft's score and verdict
/// under the current settings and, with `proposed`, beside the proposed
/// ones (`*` marks a changed verdict), then the summary.
pub fn render_preview(preview: &SettingsPreview, proposed: bool) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let changed: Vec<&str> = preview.changes.iter().map(|c| c.path.as_str()).collect();
    let _ = writeln!(
        out,
        "petraf eval: {} example draft(s) of tenant {}, settings version {} ({}){}",
        preview.drafts.len(),
        preview.tenant_id,
        preview.current_version,
        preview.current_model,
        if proposed {
            format!(
                " beside the proposed ({}; {})",
                preview.proposed_model,
                if changed.is_empty() {
                    "no change".to_string()
                } else {
                    changed.join(", ")
                }
            )
        } else {
            String::new()
        }
    );
    if let Some(note) = &preview.note {
        let _ = writeln!(out, "{note}");
        return out;
    }
    let cell = |j: &Judged| {
        let score = j
            .overall
            .map(|s| format!("{s:.2}"))
            .unwrap_or_else(|| "-".into());
        format!("{score} {}", verdict(Some(j.verdict)))
    };
    let _ = writeln!(
        out,
        "{:<3} {:<10} {:<6} {:<10} {}goal",
        "#",
        "phase",
        "expect",
        "current",
        if proposed {
            format!("{:<10} {:<1} {:>6} ", "proposed", "", "change")
        } else {
            String::new()
        }
    );
    for row in &preview.drafts {
        let goal: String = row.goal.chars().take(70).collect();
        let error = row
            .current
            .error
            .as_ref()
            .or(row.proposed.error.as_ref())
            .map(|e| format!(" [{e}]"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{:<3} {:<10} {:<6} {:<10} {}{goal}{error}",
            row.index,
            row.phase.as_str(),
            verdict(row.expect),
            cell(&row.current),
            if proposed {
                format!(
                    "{:<10} {:<1} {:>6} ",
                    cell(&row.proposed),
                    if row.verdict_changed { "*" } else { "" },
                    row.score_change
                        .map(|c| format!("{c:+.2}"))
                        .unwrap_or_else(|| "-".into())
                )
            } else {
                String::new()
            }
        );
    }
    let s = &preview.summary;
    if proposed {
        let _ = writeln!(
            out,
            "\nverdicts changed: {} ({} newly passing, {} newly failing)",
            s.verdicts_changed, s.newly_passing, s.newly_failing
        );
        let _ = writeln!(
            out,
            "agreement with the expected verdicts: current {}/{}, proposed {}/{}",
            s.current_agreeing, s.labelled, s.proposed_agreeing, s.labelled
        );
    } else {
        let _ = writeln!(
            out,
            "\nagreement with the expected verdicts: {}/{}",
            s.current_agreeing, s.labelled
        );
    }
    let _ = writeln!(out, "tokens: {}", preview.tokens);
    out
}

fn verdict(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Pass) => "pass",
        Some(Verdict::Fail) => "fail",
        None => "-",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::example_drafts::ExampleDraft;
    use crate::domain::phase::Phase;
    use crate::domain::settings::FieldChange;
    use crate::domain::settings_preview::compare;

    #[test]
    fn a_preview_marks_the_drafts_whose_verdict_changes() {
        let drafts = [
            ExampleDraft {
                phase: Phase::G4Future,
                goal: "Lead the payments team by 2027.".into(),
                expect: Some(Verdict::Fail),
                note: None,
            },
            ExampleDraft {
                phase: Phase::G8Actions,
                goal: "Ship the ledger by June.".into(),
                expect: None,
                note: None,
            },
        ];
        let (rows, summary) = compare(
            &drafts,
            vec![Judged::scored(7.5, 7.0), Judged::scored(9.0, 7.0)],
            vec![Judged::scored(7.5, 8.0), Judged::scored(9.0, 8.0)],
        );
        let preview = SettingsPreview {
            tenant_id: "acme".into(),
            current_version: 3,
            changes: vec![FieldChange {
                path: "threshold".into(),
                from: 7.0.into(),
                to: 8.0.into(),
            }],
            current_model: "gpt-4o-mini".into(),
            proposed_model: "gpt-4o-mini".into(),
            drafts: rows,
            summary,
            tokens: 42,
            note: None,
        };
        let text = render_preview(&preview, true);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].contains("beside the proposed (gpt-4o-mini; threshold)"),
            "{text}"
        );
        let first = lines.iter().find(|l| l.starts_with("0 ")).unwrap();
        let words = first.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.starts_with("0 g4_future fail 7.50 pass 7.50 fail * +0.00 Lead"),
            "{first}"
        );
        let second = lines.iter().find(|l| l.starts_with("1 ")).unwrap();
        assert!(!second.contains('*'), "{second}");
        assert!(text.contains("verdicts changed: 1 (0 newly passing, 1 newly failing)"));
        assert!(text.contains("current 0/1, proposed 1/1"), "{text}");
        let current_only = render_preview(&preview, false);
        assert!(!current_only.contains("proposed"), "{current_only}");
    }
}
