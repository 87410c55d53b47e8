//! Goals, their versions and the links between them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::phase::{GoalType, Phase};
use super::scoring::ScoreCard;

/// A refined goal is at most this many characters.
pub const MAX_GOAL_CHARS: usize = 300;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Goal {
    pub id: String,
    pub session_id: String,
    pub tenant_id: String,
    #[serde(rename = "type")]
    pub goal_type: GoalType,
    pub phase: Phase,
    pub content: String,
    pub score: f64,
    pub is_final: bool,
    /// Kept as final by the employee although it scored below the
    /// threshold (the phase's attempts ran out).
    #[serde(default)]
    pub below_threshold: bool,
    /// The attempt number within the phase, from 1.
    pub version: u32,
    pub score_details: ScoreCard,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LinkType {
    ContributesTo,
    AlignsWith,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalLink {
    pub id: String,
    pub goal_id: String,
    pub parent_goal_id: String,
    pub link_type: LinkType,
    pub strength: u8,
    pub notes: String,
    pub created_at: DateTime<Utc>,
}

/// Collapses white space within lines and trims, keeping line breaks.
pub fn normalise_goal_text(text: &str) -> String {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
        .trim_matches(|c: char| c == '"' || c.is_whitespace())
        .to_string()
}

/// Fits a refined goal into [`MAX_GOAL_CHARS`], cutting at a word boundary
/// and marking the cut with an ellipsis. Models sometimes overshoot; the
/// limit is ours to keep.
pub fn fit_goal_text(text: &str) -> String {
    let text = normalise_goal_text(text);
    if text.chars().count() <= MAX_GOAL_CHARS {
        return text;
    }
    let budget = MAX_GOAL_CHARS - 1;
    let cut: String = text.chars().take(budget).collect();
    let at_word = match cut.rfind(char::is_whitespace) {
        Some(i) if i > budget / 2 => &cut[..i],
        _ => cut.as_str(),
    };
    format!(
        "{}…",
        at_word.trim_end_matches(|c: char| c.is_whitespace() || c == ',' || c == ';')
    )
}

/// The links an actions goal gets once all three phases are final.
pub fn links_for_actions(
    actions: &Goal,
    future: Option<&Goal>,
    values: Option<&Goal>,
    new_id: impl Fn() -> String,
    now: DateTime<Utc>,
) -> Vec<GoalLink> {
    let mut links = vec![];
    if let Some(future) = future {
        links.push(GoalLink {
            id: new_id(),
            goal_id: actions.id.clone(),
            parent_goal_id: future.id.clone(),
            link_type: LinkType::ContributesTo,
            strength: 10,
            notes: "These actions directly support achieving the 2-year vision".into(),
            created_at: now,
        });
    }
    if let Some(values) = values {
        links.push(GoalLink {
            id: new_id(),
            goal_id: actions.id.clone(),
            parent_goal_id: values.id.clone(),
            link_type: LinkType::AlignsWith,
            strength: 9,
            notes: "Actions reflect the employee's core values".into(),
            created_at: now,
        });
    }
    links
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_goals_are_kept_as_written() {
        assert_eq!(fit_goal_text("  \"Ship   it by May.\" "), "Ship it by May.");
        assert_eq!(
            fit_goal_text("Plan:\n1.  Lead\n\n2. Learn"),
            "Plan:\n1. Lead\n2. Learn"
        );
    }

    #[test]
    fn long_goals_are_cut_at_a_word_within_the_limit() {
        let long = "word ".repeat(100);
        let fitted = fit_goal_text(&long);
        assert!(fitted.chars().count() <= MAX_GOAL_CHARS);
        assert!(fitted.ends_with("word…"));
        let unbroken = "x".repeat(400);
        assert_eq!(fit_goal_text(&unbroken).chars().count(), MAX_GOAL_CHARS);
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let text = "é".repeat(500);
        assert_eq!(fit_goal_text(&text).chars().count(), MAX_GOAL_CHARS);
    }
}
