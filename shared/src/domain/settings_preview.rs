//! Trying settings before saving them: each example draft judged under the
//! settings in force and under the proposed ones, side by side, and what
//! changed in all (verdicts that flip, agreement with the expected ones).

use serde::Serialize;

use super::example_drafts::{ExampleDraft, Verdict};
use super::phase::Phase;
use super::scoring::ScoreCard;

/// One criterion's score (0-10) and weight under one version of the settings.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CriterionResult {
    pub name: String,
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub score: f64,
    /// The criterion's weight in that version's rubric (percent).
    #[schema(minimum = 0.0, maximum = 100.0)]
    pub weight: f64,
}

/// A draft as one version of the settings judges it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Judged {
    /// The weighted score (0-10); null when the model's answer could not be used.
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub overall: Option<f64>,
    /// The threshold that version holds.
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub threshold: f64,
    /// `pass` when the draft would be accepted as a final goal.
    pub verdict: Verdict,
    pub criteria: Vec<CriterionResult>,
    /// Why the draft could not be scored (it then fails, as in the chat).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Judged {
    pub fn of(card: &ScoreCard) -> Judged {
        Judged {
            overall: Some(card.overall),
            threshold: card.threshold,
            verdict: Verdict::of(card.meets_threshold),
            criteria: card
                .criteria
                .iter()
                .map(|c| CriterionResult {
                    name: c.name.clone(),
                    score: c.score,
                    weight: c.weight,
                })
                .collect(),
            error: None,
        }
    }

    /// A draft the model's answers could not score: it does not pass.
    pub fn unscored(threshold: f64, error: String) -> Judged {
        Judged {
            overall: None,
            threshold,
            verdict: Verdict::Fail,
            criteria: vec![],
            error: Some(error),
        }
    }
}

/// One draft under both versions.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DraftComparison {
    /// Its position in `example_drafts` (from 0).
    pub index: usize,
    pub phase: Phase,
    pub goal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub current: Judged,
    pub proposed: Judged,
    /// Whether the verdict differs between the two.
    pub verdict_changed: bool,
    /// Proposed minus current overall score; null when either is unscored.
    pub score_change: Option<f64>,
}

/// What the proposed settings change over all the drafts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PreviewSummary {
    pub drafts: usize,
    /// Drafts whose verdict differs.
    pub verdicts_changed: usize,
    /// Drafts that fail now and would pass.
    pub newly_passing: usize,
    /// Drafts that pass now and would fail.
    pub newly_failing: usize,
    /// Drafts with an expected verdict.
    pub labelled: usize,
    /// Labelled drafts whose verdict under the current settings is the expected one.
    pub current_agreeing: usize,
    /// Labelled drafts whose verdict under the proposed settings is the expected one.
    pub proposed_agreeing: usize,
    /// The mean of `score_change` over drafts scored both times.
    pub mean_score_change: Option<f64>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Pairs `drafts[i]` with `current[i]` and `proposed[i]`, and sums up.
pub fn compare(
    drafts: &[ExampleDraft],
    current: Vec<Judged>,
    proposed: Vec<Judged>,
) -> (Vec<DraftComparison>, PreviewSummary) {
    let rows: Vec<DraftComparison> = drafts
        .iter()
        .zip(current.into_iter().zip(proposed))
        .enumerate()
        .map(|(index, (draft, (current, proposed)))| DraftComparison {
            index,
            phase: draft.phase,
            goal: draft.goal.clone(),
            expect: draft.expect,
            note: draft.note.clone(),
            verdict_changed: current.verdict != proposed.verdict,
            score_change: current
                .overall
                .zip(proposed.overall)
                .map(|(c, p)| round2(p - c)),
            current,
            proposed,
        })
        .collect();
    let count = |f: &dyn Fn(&DraftComparison) -> bool| rows.iter().filter(|r| f(r)).count();
    let changes: Vec<f64> = rows.iter().filter_map(|r| r.score_change).collect();
    let summary = PreviewSummary {
        drafts: rows.len(),
        verdicts_changed: count(&|r| r.verdict_changed),
        newly_passing: count(&|r| {
            r.current.verdict == Verdict::Fail && r.proposed.verdict == Verdict::Pass
        }),
        newly_failing: count(&|r| {
            r.current.verdict == Verdict::Pass && r.proposed.verdict == Verdict::Fail
        }),
        labelled: count(&|r| r.expect.is_some()),
        current_agreeing: count(&|r| r.expect == Some(r.current.verdict)),
        proposed_agreeing: count(&|r| r.expect == Some(r.proposed.verdict)),
        mean_score_change: (!changes.is_empty())
            .then(|| round2(changes.iter().sum::<f64>() / changes.len() as f64)),
    };
    (rows, summary)
}

#[cfg(test)]
impl Judged {
    /// A draft scored `overall`, no criteria listed: the tests' shorthand.
    pub(crate) fn scored(overall: f64, threshold: f64) -> Judged {
        Judged {
            overall: Some(overall),
            threshold,
            verdict: Verdict::of(overall >= threshold),
            criteria: vec![],
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(expect: Option<Verdict>) -> ExampleDraft {
        ExampleDraft {
            phase: Phase::G4Future,
            goal: "Lead the payments team by 2027.".into(),
            expect,
            note: None,
        }
    }

    #[test]
    fn a_stricter_threshold_flips_the_drafts_between_and_is_counted_against_the_labels() {
        let drafts = [
            draft(Some(Verdict::Pass)),
            draft(Some(Verdict::Fail)),
            draft(None),
            draft(Some(Verdict::Fail)),
        ];
        let current = vec![
            Judged::scored(9.0, 7.0),
            Judged::scored(7.5, 7.0),
            Judged::scored(7.2, 7.0),
            Judged::unscored(7.0, "malformed".into()),
        ];
        let proposed = vec![
            Judged::scored(9.0, 8.0),
            Judged::scored(7.5, 8.0),
            Judged::scored(7.2, 8.0),
            Judged::scored(3.0, 8.0),
        ];
        let (rows, summary) = compare(&drafts, current, proposed);
        let changed: Vec<bool> = rows.iter().map(|r| r.verdict_changed).collect();
        assert_eq!(changed, [false, true, true, false]);
        assert_eq!(rows[3].score_change, None, "unscored once: no change");
        assert_eq!(rows[0].score_change, Some(0.0));
        assert_eq!(
            summary,
            PreviewSummary {
                drafts: 4,
                verdicts_changed: 2,
                newly_passing: 0,
                newly_failing: 2,
                labelled: 3,
                current_agreeing: 2,
                proposed_agreeing: 3,
                mean_score_change: Some(0.0),
            }
        );
    }

    #[test]
    fn a_looser_rubric_that_raises_scores_counts_newly_passing_drafts() {
        let (rows, summary) = compare(
            &[draft(None)],
            vec![Judged::scored(6.5, 7.0)],
            vec![Judged::scored(7.25, 7.0)],
        );
        assert_eq!(rows[0].score_change, Some(0.75));
        assert_eq!((summary.newly_passing, summary.newly_failing), (1, 0));
        assert_eq!(summary.mean_score_change, Some(0.75));
    }
}
