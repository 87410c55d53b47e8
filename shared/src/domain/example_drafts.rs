//! A tenant's example goal drafts: the few drafts its HR admin keeps to try
//! a rubric, threshold, prompt or model on before saving it (the settings
//! preview and `petraf eval --tenant` judge them under both settings).

use serde::{Deserialize, Serialize};

use super::goal::MAX_GOAL_CHARS;
use super::phase::Phase;
use super::settings_error::SettingsError;

/// How many example drafts a tenant may keep: every preview judges each
/// of them twice, so this bounds what one preview costs.
pub const MAX_EXAMPLE_DRAFTS: usize = 20;
/// The longest a note on a draft may be, in characters.
pub const MAX_NOTE_CHARS: usize = 200;

/// The verdict an admin expects for a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
}

impl Verdict {
    pub fn of(passed: bool) -> Verdict {
        if passed { Verdict::Pass } else { Verdict::Fail }
    }
}

/// One example draft: a goal as an employee might write it for a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExampleDraft {
    /// A conversational phase: `g4_future`, `g6_values` or `g8_actions`.
    pub phase: Phase,
    /// The draft, 1-300 characters (as long as a goal may be).
    #[schema(min_length = 1, max_length = 300)]
    pub goal: String,
    /// The verdict the admin expects; the preview counts how many drafts
    /// each version of the settings agrees with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Verdict>,
    /// Why the draft is there (e.g. "vague: must fail"), at most 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 200)]
    pub note: Option<String>,
}

/// The drafts' count, phases and lengths.
pub fn validate(drafts: &[ExampleDraft]) -> Result<(), SettingsError> {
    if drafts.len() > MAX_EXAMPLE_DRAFTS {
        return Err(SettingsError(format!(
            "example_drafts holds at most {MAX_EXAMPLE_DRAFTS} drafts (it has {})",
            drafts.len()
        )));
    }
    for (i, draft) in drafts.iter().enumerate() {
        let at = format!("example_drafts[{i}]");
        if !draft.phase.is_conversational() {
            return Err(SettingsError(format!(
                "{at}.phase must be g4_future, g6_values or g8_actions"
            )));
        }
        let chars = draft.goal.chars().count();
        if draft.goal.trim().is_empty() || chars > MAX_GOAL_CHARS {
            return Err(SettingsError(format!(
                "{at}.goal must be 1-{MAX_GOAL_CHARS} characters (it has {chars})"
            )));
        }
        if draft
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS)
        {
            return Err(SettingsError(format!(
                "{at}.note must be at most {MAX_NOTE_CHARS} characters"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(phase: Phase, goal: &str) -> ExampleDraft {
        ExampleDraft {
            phase,
            goal: goal.into(),
            expect: None,
            note: None,
        }
    }

    #[test]
    fn drafts_are_bounded_in_number_phase_and_length() {
        let ok = draft(Phase::G4Future, "Lead the payments team by 2027.");
        assert!(validate(&vec![ok.clone(); MAX_EXAMPLE_DRAFTS]).is_ok());
        let too_many = validate(&vec![ok.clone(); MAX_EXAMPLE_DRAFTS + 1]).unwrap_err();
        assert!(too_many.0.contains("at most 20"), "{}", too_many.0);
        let wrong_phase = validate(&[draft(Phase::G2Basic, "x")]).unwrap_err();
        assert!(wrong_phase.0.starts_with("example_drafts[0].phase"));
        assert!(validate(&[ok.clone(), draft(Phase::G6Values, " ")]).is_err());
        let long = "a".repeat(MAX_GOAL_CHARS + 1);
        let too_long = validate(&[draft(Phase::G8Actions, &long)]).unwrap_err();
        assert!(too_long.0.contains("it has 301"), "{}", too_long.0);
        let noted = ExampleDraft {
            note: Some("n".repeat(MAX_NOTE_CHARS + 1)),
            ..ok
        };
        assert!(validate(&[noted]).is_err());
    }
}
