//! A session's final goals as a document a person keeps: Markdown or PDF.
//!
//! One report (blocks of styled text) is built from the goals view and
//! rendered by each format, so both always say the same thing.

mod pdf;
#[cfg(any(test, feature = "conformance"))]
pub mod read_back;

use super::goals::{GoalView, SessionGoals};
use crate::domain::goal::LinkType;
use crate::domain::phase::Phase;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Pdf,
    Markdown,
}

impl ExportFormat {
    /// `pdf` (the default) or `md`/`markdown`.
    pub fn parse(value: Option<&str>) -> Option<Self> {
        match value {
            None | Some("pdf") => Some(ExportFormat::Pdf),
            Some("md" | "markdown") => Some(ExportFormat::Markdown),
            Some(_) => None,
        }
    }
}

/// A rendered export, ready to be sent as a download.
#[derive(Debug)]
pub struct Export {
    pub content_type: &'static str,
    pub filename: String,
    pub body: Vec<u8>,
}

/// One piece of the report; renderers decide how each looks.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Title(String),
    Heading(String),
    Paragraph(String),
    Bullet(String),
    Note(String),
}

pub fn export(company: &str, goals: &SessionGoals, format: ExportFormat) -> Export {
    let blocks = report(company, goals);
    let stem = format!("goals-{}", goals.session_id);
    match format {
        ExportFormat::Markdown => Export {
            content_type: "text/markdown; charset=utf-8",
            filename: format!("{stem}.md"),
            body: markdown(&blocks).into_bytes(),
        },
        ExportFormat::Pdf => Export {
            content_type: "application/pdf",
            filename: format!("{stem}.pdf"),
            body: pdf::render(&blocks, &format!("{company}: development goals")),
        },
    }
}

pub fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::G4Future => "Where I will be in two years",
        Phase::G6Values => "My core values",
        Phase::G8Actions => "My six-month action plan",
        Phase::G2Basic => "Profile",
        Phase::Completed => "Completed",
    }
}

fn link_label(link: LinkType) -> &'static str {
    match link {
        LinkType::ContributesTo => "Contributes to",
        LinkType::AlignsWith => "Aligns with",
    }
}

/// What the report says of a goal kept below the passing score.
pub const BELOW_THRESHOLD_NOTE: &str =
    "Kept below the passing score: the attempts for this step ran out";

fn score(value: f64) -> String {
    format!("{value:.2}/10")
}

/// The report: company, profile, then each final goal with its score, date
/// and links to the other goals.
pub fn report(company: &str, goals: &SessionGoals) -> Vec<Block> {
    let mut blocks = vec![
        Block::Title(format!("{company}: development goals")),
        Block::Heading("Employee".into()),
    ];
    let e = &goals.employee;
    for (label, value) in [
        ("Employee code", &e.code),
        ("Department", &e.department),
        ("Position", &e.position),
        ("Grade", &e.grade),
    ] {
        if let Some(value) = value {
            blocks.push(Block::Bullet(format!("{label}: {value}")));
        }
    }
    let finals: Vec<&GoalView> = goals.goals.iter().filter(|g| g.is_final).collect();
    if finals.is_empty() {
        blocks.push(Block::Paragraph(
            "No goal has reached the passing score yet.".into(),
        ));
    }
    for goal in &finals {
        blocks.push(Block::Heading(phase_label(goal.phase).into()));
        blocks.push(Block::Paragraph(goal.content.clone()));
        blocks.push(Block::Note(format!(
            "Score {} (passing {}), version {}, set on {}",
            score(goal.score),
            score(goal.score_details.threshold),
            goal.version,
            goal.created_at.format("%Y-%m-%d")
        )));
        if goal.below_threshold {
            blocks.push(Block::Note(BELOW_THRESHOLD_NOTE.into()));
        }
        for c in &goal.score_details.criteria {
            blocks.push(Block::Bullet(format!(
                "{} {} (weight {}): {}",
                c.name,
                score(c.score),
                c.weight,
                c.reasoning
            )));
        }
        for link in &goal.links {
            let parent = goals
                .goals
                .iter()
                .find(|g| g.id == link.parent_goal_id)
                .map_or("another goal", |g| phase_label(g.phase));
            blocks.push(Block::Note(format!(
                "{} \"{parent}\" (strength {}/10)",
                link_label(link.link_type),
                link.strength
            )));
        }
    }
    blocks.push(Block::Note(format!(
        "Session {} - average score {} - exported {}",
        goals.session_id,
        score(goals.summary.avg_score),
        goals.timestamp.format("%Y-%m-%d %H:%M UTC")
    )));
    blocks
}

pub fn markdown(blocks: &[Block]) -> String {
    let mut out = String::new();
    let mut in_list = false;
    for block in blocks {
        let bullet = matches!(block, Block::Bullet(_));
        if in_list && !bullet {
            out.push('\n');
        }
        in_list = bullet;
        match block {
            Block::Title(t) => out.push_str(&format!("# {t}\n\n")),
            Block::Heading(t) => out.push_str(&format!("## {t}\n\n")),
            Block::Paragraph(t) => out.push_str(&format!("{t}\n\n")),
            Block::Bullet(t) => out.push_str(&format!("- {t}\n")),
            Block::Note(t) => out.push_str(&format!("_{t}_\n\n")),
        }
    }
    out.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests;
