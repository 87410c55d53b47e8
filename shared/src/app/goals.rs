//! A session's goals with their links and a summary.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::App;
use crate::domain::goal::{GoalLink, LinkType};
use crate::domain::phase::{GoalType, Phase};
use crate::ports::state_store::SessionSnapshot;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EmployeeView {
    pub code: Option<String>,
    pub department: Option<String>,
    pub position: Option<String>,
    pub grade: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub parent_goal_id: String,
    pub link_type: LinkType,
    pub strength: u8,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoalView {
    pub id: String,
    #[serde(rename = "type")]
    pub goal_type: GoalType,
    pub phase: Phase,
    pub content: String,
    pub score: f64,
    pub is_final: bool,
    /// Kept as final below the threshold when the phase's attempts ran out.
    pub below_threshold: bool,
    pub version: u32,
    pub score_details: crate::domain::scoring::ScoreCard,
    pub created_at: DateTime<Utc>,
    pub links: Vec<LinkView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub avg_score: f64,
    pub duration_minutes: i64,
    pub message_count: usize,
    pub phases_completed: Vec<Phase>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SessionGoals {
    pub session_id: String,
    pub employee: EmployeeView,
    pub goals: Vec<GoalView>,
    pub total: usize,
    pub completed: usize,
    pub summary: Summary,
    pub timestamp: DateTime<Utc>,
}

fn links_of(goal_id: &str, links: &[GoalLink]) -> Vec<LinkView> {
    links
        .iter()
        .filter(|l| l.goal_id == goal_id)
        .map(|l| LinkView {
            parent_goal_id: l.parent_goal_id.clone(),
            link_type: l.link_type,
            strength: l.strength,
        })
        .collect()
}

/// A session's goals (final ones only, or every version), from one read.
pub fn session_goals(app: &App, snapshot: &SessionSnapshot, final_only: bool) -> SessionGoals {
    let SessionSnapshot {
        session,
        goals,
        links,
        messages,
        ..
    } = snapshot;
    let message_count = messages.len();
    let now = app.clock.now();
    let finals: Vec<_> = goals.iter().filter(|g| g.is_final).collect();
    let avg_score = if finals.is_empty() {
        0.0
    } else {
        (finals.iter().map(|g| g.score).sum::<f64>() / finals.len() as f64 * 100.0).round() / 100.0
    };
    let views: Vec<GoalView> = goals
        .iter()
        .filter(|g| g.is_final || !final_only)
        .map(|g| GoalView {
            id: g.id.clone(),
            goal_type: g.goal_type,
            phase: g.phase,
            content: g.content.clone(),
            score: g.score,
            is_final: g.is_final,
            below_threshold: g.below_threshold,
            version: g.version,
            score_details: g.score_details.clone(),
            created_at: g.created_at,
            links: links_of(&g.id, links),
        })
        .collect();
    let p = &session.profile;
    SessionGoals {
        session_id: session.id.clone(),
        employee: EmployeeView {
            code: p.employee_code.clone(),
            department: p.department.clone(),
            position: p.position.clone(),
            grade: p.grade.clone(),
        },
        total: views.len(),
        completed: finals.len(),
        goals: views,
        summary: Summary {
            avg_score,
            duration_minutes: (session.completed_at.unwrap_or(now) - session.created_at)
                .num_minutes()
                .max(0),
            message_count,
            phases_completed: finals.iter().map(|g| g.phase).collect(),
        },
        timestamp: now,
    }
}
