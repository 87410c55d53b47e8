//! Conversation messages as they are stored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::phase::{Phase, Step};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
}

/// Token counts of one model call, or of a whole turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: u32,
    pub output: u32,
}

impl Usage {
    pub fn total(self) -> u32 {
        self.input + self.output
    }
}

impl std::ops::AddAssign for Usage {
    fn add_assign(&mut self, other: Usage) {
        self.input += other.input;
        self.output += other.output;
    }
}

/// A company-document passage a reply drew on, as it is cited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Source {
    pub title: String,
    pub category: String,
    /// The page (PDF) the passage starts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The headings above the passage (Word, HTML, Markdown), " > "-joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub session_id: String,
    pub tenant_id: String,
    pub role: Role,
    pub content: String,
    pub phase: Phase,
    pub step: Step,
    pub tokens_prompt: u32,
    pub tokens_completion: u32,
    pub latency_ms: u64,
    pub model_used: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The passages an assistant reply used (none for user messages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Source>,
}

/// The longest message a user may send, in characters.
pub const MAX_USER_MESSAGE_CHARS: usize = 4000;
