//! What one turn adds to the operational metrics: its outcome, how long
//! the employee waited for the first text and for the whole turn, and the
//! tokens it spent — by tenant where the dashboard needs it.

use super::halt::Halt;
use crate::domain::conversation::Verdict;
use crate::domain::message::Usage;
use crate::ports::state_store::BudgetAlerts;
use crate::telemetry::metrics::{self, Metric};

/// How a turn ended, as the `Outcome` dimension names it.
pub(super) fn outcome(
    halted: Option<&Halt>,
    verdict: Option<Verdict>,
    committed: bool,
) -> &'static str {
    match (halted, committed) {
        (Some(Halt::Model(_)), _) => "model_error",
        (Some(Halt::Disconnected), _) => "disconnected",
        (Some(Halt::ShuttingDown), _) => "shutting_down",
        // A panic inside the turn (caught by the driver) is no storage fault.
        (Some(Halt::Storage(e)), _) if e.code == "internal_error" => "internal_error",
        (Some(Halt::Storage(_)), _) => "storage_error",
        (None, false) => "commit_failed",
        (None, true) => match verdict {
            Some(Verdict::Passed { .. }) => "goal_passed",
            Some(Verdict::Failed { .. }) => "goal_below_threshold",
            None => "collected",
        },
    }
}

/// What the driver knows once the turn is committed (or not).
pub(super) struct TurnReport<'a> {
    pub tenant_id: &'a str,
    pub provider: &'static str,
    pub phase: &'a str,
    pub outcome: &'static str,
    pub first_text_ms: Option<u64>,
    pub duration_ms: u64,
    pub usage: Usage,
}

pub(super) fn record(report: TurnReport<'_>) {
    let tenant = ("Tenant", report.tenant_id);
    let provider = ("Provider", report.provider);
    metrics::count(Metric::Turns, &[("Outcome", report.outcome), tenant], 1);
    if let Some(ms) = report.first_text_ms {
        metrics::observe_ms(Metric::FirstTokenLatency, &[provider], ms);
    }
    metrics::observe_ms(
        Metric::TurnDuration,
        &[("Phase", report.phase)],
        report.duration_ms,
    );
    if report.usage.input > 0 {
        let n = u64::from(report.usage.input);
        metrics::count(Metric::TokensIn, &[tenant, provider], n);
    }
    if report.usage.output > 0 {
        let n = u64::from(report.usage.output);
        metrics::count(Metric::TokensOut, &[tenant, provider], n);
    }
}

/// The budget levels (`warning@800`, `exhausted@1000`) this turn's
/// tokens carry the month's total across, as far as the turn's admission
/// read the total (the store writes each alert once; this only counts).
pub(super) fn budget_crossings(budget: Option<&BudgetAlerts>, tokens: i64) -> Vec<&'static str> {
    let Some(budget) = budget else {
        return vec![];
    };
    budget
        .alerts
        .iter()
        .filter(|a| {
            budget.tokens_seen < a.level && BudgetAlerts::reached(a, budget.tokens_seen, tokens)
        })
        .map(|a| {
            if a.key.starts_with("warning") {
                "warning"
            } else {
                "exhausted"
            }
        })
        .collect()
}

pub(super) fn record_budget_crossings(tenant_id: &str, levels: &[&'static str]) {
    for level in levels {
        metrics::count(
            Metric::BudgetAlerts,
            &[("Level", level), ("Tenant", tenant_id)],
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::phase::Phase;
    use crate::ports::chat_model::ModelError;

    #[test]
    fn each_ending_has_its_outcome() {
        let passed = Verdict::Passed {
            phase: Phase::G4Future,
            next: Phase::G6Values,
        };
        let failed = Verdict::Failed {
            phase: Phase::G4Future,
        };
        assert_eq!(outcome(None, Some(passed), true), "goal_passed");
        assert_eq!(outcome(None, Some(failed), true), "goal_below_threshold");
        assert_eq!(outcome(None, None, true), "collected");
        assert_eq!(outcome(None, None, false), "commit_failed");
        let model = Halt::Model(ModelError::Timeout);
        assert_eq!(outcome(Some(&model), None, true), "model_error");
        assert_eq!(
            outcome(Some(&Halt::Disconnected), None, true),
            "disconnected"
        );
        let panicked = Halt::Storage(crate::app::AppError::internal("internal_error", "panic"));
        assert_eq!(outcome(Some(&panicked), None, true), "internal_error");
        let storage = Halt::Storage(crate::app::AppError::internal("rubric_missing", "none"));
        assert_eq!(outcome(Some(&storage), None, true), "storage_error");
    }
}
