//! What the coach knows when it speaks: the inputs every model call gets.

use serde::{Deserialize, Serialize};

use super::message::Role;
use super::phase::{GoalType, Phase};
use super::session::EmployeeProfile;
use super::tenant::Prompts;

/// A retrieved company document passage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContextDoc {
    pub content: String,
    pub source: String,
    pub category: String,
    pub relevance: f32,
    /// Where the passage is in its document, for citing it.
    #[serde(default)]
    pub page: Option<u32>,
    #[serde(default)]
    pub section: Option<String>,
}

impl ContextDoc {
    /// The passage as a reply cites it.
    pub fn citation(&self) -> super::message::Source {
        super::message::Source {
            title: self.source.clone(),
            category: self.category.clone(),
            page: self.page,
            section: self.section.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryTurn {
    pub role: Role,
    pub content: String,
}

/// Everything a model call about one phase of one session needs.
#[derive(Debug, Clone)]
pub struct PhaseContext {
    pub company: String,
    /// The tenant's chosen model id (the adapter may map or ignore it).
    pub model: String,
    pub profile: EmployeeProfile,
    pub phase: Phase,
    pub prompts: Prompts,
    /// This phase's conversation so far, ending with the user's latest message.
    pub history: Vec<HistoryTurn>,
    pub documents: Vec<ContextDoc>,
    /// Final goals of earlier phases.
    pub earlier_goals: Vec<(GoalType, String)>,
}

impl PhaseContext {
    /// Everything the user said in this phase, oldest first.
    pub fn user_text(&self) -> String {
        self.history
            .iter()
            .filter(|t| t.role == Role::User)
            .map(|t| t.content.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Each answer the user gave in this phase, oldest first.
    pub fn user_answers(&self) -> Vec<&str> {
        self.history
            .iter()
            .filter(|t| t.role == Role::User)
            .map(|t| t.content.as_str())
            .collect()
    }

    pub fn latest_user_message(&self) -> &str {
        self.history
            .iter()
            .rev()
            .find(|t| t.role == Role::User)
            .map(|t| t.content.as_str())
            .unwrap_or("")
    }
}

/// How a collect reply settles whether the turn goes on to refine a goal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The coach judges the answers and leads its reply with a verdict.
    Judge,
    /// The turn refines regardless (its collect turns are used up), so the
    /// coach wraps up and no verdict is asked for.
    Forced,
}
