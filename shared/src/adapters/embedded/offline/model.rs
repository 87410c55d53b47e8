//! The offline model: a deterministic coach, refiner and SMART scorer that
//! needs no key and no network. Coaching and refinement read the plain-text
//! signals in [`super::signals`]; scoring is [`super::scorer`]'s close
//! reading, so every score can be explained.

use async_trait::async_trait;
use futures::stream;

use super::scorer;
use super::signals::{
    TimeFrame, action_items, content_stems, named_values, quantities, strip_lead, time_frame,
    title_case,
};
use crate::domain::coaching::{PhaseContext, Readiness};
use crate::domain::goal::fit_goal_text;
use crate::domain::message::Usage;
use crate::domain::phase::Phase;
use crate::domain::scoring::{Judgement, Rubric};
use crate::ports::chat_model::{
    ChatModel, CoachPurpose, Generated, ModelError, StreamPiece, TextStream,
};

#[derive(Debug, Clone, Default)]
pub struct OfflineModel;

/// Rough token count (4 characters a token), so usage is never zero.
fn tokens(text: &str) -> u32 {
    (text.chars().count() as u32).div_ceil(4)
}

fn usage(input: &str, output: &str) -> Usage {
    Usage {
        input: tokens(input),
        output: tokens(output),
    }
}

/// The first sentence of a passage, skipping Markdown headings.
fn first_sentence(text: &str, max_chars: usize) -> String {
    let prose: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect();
    let flat = prose
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let end = flat.find(". ").map(|i| i + 1).unwrap_or(flat.len());
    let sentence: String = flat[..end].chars().take(max_chars).collect();
    if sentence.len() < flat[..end].len() {
        format!("{sentence}…")
    } else {
        sentence
    }
}

/// What the answers of a phase still lack for a SMART goal.
fn missing_details(ctx: &PhaseContext) -> Vec<&'static str> {
    let text = ctx.user_text();
    let mut missing = vec![];
    match ctx.phase {
        Phase::G6Values => {
            if named_values(&text).len() < 3 {
                missing.push("Which 3-5 values matter most to you at work, and what does each mean in your day-to-day?");
            }
        }
        Phase::G8Actions => {
            if action_items(&text).len() < 3 {
                missing.push("List at least three concrete actions for the next six months.");
            }
            if quantities(&text) == 0 && time_frame(&text) != TimeFrame::Explicit {
                missing
                    .push("Give each action a number or a deadline, so progress can be measured.");
            }
        }
        _ => {
            if content_stems(&text).len() < 10 {
                missing.push("Which role, skills or systems exactly do you have in mind?");
            }
            if quantities(&text) == 0 {
                missing.push(
                    "What could be counted — how many people would you lead or mentor, how many projects would you deliver?",
                );
            }
        }
    }
    missing
}

fn is_ready(ctx: &PhaseContext) -> bool {
    missing_details(ctx).is_empty()
}

fn advice_for(criterion: &str, ctx: &PhaseContext) -> String {
    let name = criterion.to_lowercase();
    if name.contains("measur") {
        "Add numbers: how many, how much, or by what percentage.".into()
    } else if name.contains("time") {
        "Say by when: a deadline or a time frame such as 'within 6 months'.".into()
    } else if name.contains("align") || name.contains("relev") {
        match ctx.documents.first() {
            Some(doc) => format!(
                "Connect it to {}'s {}: \"{}\"",
                ctx.company,
                doc.source,
                first_sentence(&doc.content, 140)
            ),
            None => format!("Connect it to what {} expects in your role.", ctx.company),
        }
    } else if name.contains("clar") {
        "Name three to five distinct values.".into()
    } else if name.contains("authentic") {
        "Use your own words for what each value means to you.".into()
    } else {
        "Be concrete: name the role, team, system or skill.".into()
    }
}

/// Splits a reply into streamable pieces of a few words.
fn pieces(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    for (i, word) in text.split_inclusive(' ').enumerate() {
        current.push_str(word);
        if i % 4 == 3 {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn collect_reply(ctx: &PhaseContext, ready: bool) -> String {
    let role = ctx.profile.position.as_deref().unwrap_or("your role");
    let opener = match ctx.phase {
        Phase::G6Values => "Thank you for sharing what matters to you.".to_string(),
        Phase::G8Actions => "That's a concrete start on your plan.".to_string(),
        _ => format!("That's a clear direction for a {role}."),
    };
    let mut reply = opener;
    if let Some(doc) = ctx.documents.first() {
        reply.push_str(&format!(
            " Based on {}'s {}: \"{}\"",
            ctx.company,
            doc.source,
            first_sentence(&doc.content, 220)
        ));
    }
    let missing = missing_details(ctx);
    if ready && missing.is_empty() {
        reply.push_str(" This has what a SMART goal needs, so I'll refine it into one now.");
    } else if ready {
        reply.push_str(" Let's turn what you've shared into a goal now and see how it scores.");
    } else {
        reply.push_str(" Let's make it more specific. ");
        reply.push_str(&missing.join(" "));
    }
    reply
}

fn improve_reply(ctx: &PhaseContext, card: &crate::domain::scoring::ScoreCard) -> String {
    let mut reply = format!(
        "Your goal scored {:.1}/10; {} asks for {:.1}. To raise it:",
        card.overall, ctx.company, card.threshold
    );
    let mut weak: Vec<_> = card.criteria.iter().filter(|c| c.score < 7.0).collect();
    weak.sort_by(|a, b| a.score.total_cmp(&b.score));
    for c in weak {
        reply.push_str(&format!(
            " {} ({:.1}/10): {}",
            c.name,
            c.score,
            advice_for(&c.name, ctx)
        ));
    }
    reply.push_str(" Tell me more, or edit the goal and send it back with step \"refine\".");
    reply
}

/// Drops filler so a plan fits the goal length.
fn compact(item: &str) -> String {
    let filler = ["the", "our", "my", "a", "an", "at"];
    item.split_whitespace()
        .filter(|w| !filler.contains(&w.to_lowercase().as_str()))
        .collect::<Vec<_>>()
        .join(" ")
}

const VALUE_MEANINGS: &[(&str, &str, &str)] = &[
    (
        "learn",
        "Continuous Learning",
        "growing skills every quarter",
    ),
    (
        "collaborat",
        "Team Collaboration",
        "sharing knowledge openly",
    ),
    (
        "excellen",
        "Technical Excellence",
        "clean, maintainable, tested code",
    ),
    (
        "impact",
        "Meaningful Impact",
        "solutions with real business value",
    ),
    ("balance", "Work-Life Balance", "a sustainable pace"),
    ("integrity", "Integrity", "doing what I say"),
    ("innovat", "Innovation", "trying better ways"),
    ("respect", "Respect", "valuing every voice"),
    ("growth", "Growth", "stretching beyond my comfort zone"),
    ("ownership", "Ownership", "seeing work through"),
];

fn refine_values(text: &str) -> String {
    let parts: Vec<String> = named_values(text)
        .iter()
        .map(|v| {
            let lower = v.to_lowercase();
            match VALUE_MEANINGS
                .iter()
                .find(|(key, _, _)| lower.contains(key))
            {
                Some((_, name, meaning)) => format!("{name} ({meaning})"),
                None => title_case(v),
            }
        })
        .collect();
    format!("Core values: {}.", parts.join("; "))
}

fn refine_actions(text: &str) -> String {
    let mut items: Vec<String> = action_items(text).iter().map(|i| compact(i)).collect();
    if items.is_empty() {
        items.push(text.split_whitespace().collect::<Vec<_>>().join(" "));
    }
    let numbered: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{}) {item}", i + 1))
        .collect();
    let horizon = if time_frame(text) == TimeFrame::Explicit {
        "6-month plan"
    } else {
        "Plan for the next 6 months"
    };
    format!("{horizon}: {}", numbered.join("; "))
}

const CLAUSE_LEAD_INS: &[&str] = &[
    "i want to",
    "i'd like to",
    "i would like to",
    "i hope to",
    "i plan to",
    "i will",
    "and maybe",
    "maybe",
    "also",
];

fn refine_vision(text: &str) -> String {
    let mut clauses: Vec<String> = vec![];
    for sentence in text
        .split(['.', '!', '?', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        let mut clause = sentence.to_string();
        while let Some(rest) = CLAUSE_LEAD_INS
            .iter()
            .find_map(|lead| strip_lead(&clause, lead))
        {
            clause = rest.to_string();
        }
        let clause = clause
            .replace(" and maybe ", " and ")
            .replace(" maybe ", " ");
        if !clause.is_empty() && !clauses.iter().any(|c| c.eq_ignore_ascii_case(&clause)) {
            clauses.push(clause);
        }
    }
    // Keep the most informative clauses that fit, in the order given.
    let prefix = "Within 24 months, I will ";
    let budget = crate::domain::goal::MAX_GOAL_CHARS - prefix.len() - 1;
    let mut ranked: Vec<(usize, usize)> = clauses
        .iter()
        .enumerate()
        .map(|(i, c)| (i, quantities(c) * 3 + content_stems(c).len()))
        .collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut keep = vec![];
    let mut used = 0;
    for (i, _) in ranked {
        let cost = clauses[i].chars().count() + 2;
        if used + cost <= budget || keep.is_empty() {
            keep.push(i);
            used += cost;
        }
    }
    keep.sort();
    let body: Vec<String> = keep
        .iter()
        .map(|&i| {
            let c = &clauses[i];
            let mut chars = c.chars();
            chars
                .next()
                .map(|f| f.to_lowercase().collect::<String>() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    format!("{prefix}{}.", body.join("; "))
}

#[async_trait]
impl ChatModel for OfflineModel {
    fn provider(&self) -> &'static str {
        "offline"
    }

    fn model_for(&self, _ctx: &PhaseContext) -> String {
        "petraf-offline-1".into()
    }

    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        let (verdict, reply) = match &purpose {
            CoachPurpose::Collect {
                readiness: Readiness::Judge,
            } => {
                let ready = is_ready(ctx);
                (Some(ready), collect_reply(ctx, ready))
            }
            CoachPurpose::Collect {
                readiness: Readiness::Forced,
            } => (None, collect_reply(ctx, true)),
            CoachPurpose::Improve { card, .. } => (None, improve_reply(ctx, card)),
        };
        let used = usage(&ctx.user_text(), &reply);
        let items: Vec<Result<StreamPiece, ModelError>> = verdict
            .map(|ready| Ok(StreamPiece::Verdict { ready }))
            .into_iter()
            .chain(pieces(&reply).into_iter().map(|p| Ok(StreamPiece::Text(p))))
            .chain(std::iter::once(Ok(StreamPiece::Usage(used))))
            .collect();
        Ok(Box::pin(stream::iter(items)))
    }

    async fn refine(
        &self,
        ctx: &PhaseContext,
        _draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        let text = ctx.user_text();
        let goal = match ctx.phase {
            Phase::G6Values => refine_values(&text),
            Phase::G8Actions => refine_actions(&text),
            _ => refine_vision(&text),
        };
        let goal = fit_goal_text(&goal);
        Ok(Generated {
            usage: usage(&text, &goal),
            value: goal,
        })
    }

    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        let criteria = scorer::judge(ctx, goal, rubric);
        let suggestions: Vec<String> = criteria
            .iter()
            .filter(|c| c.score < 7.0)
            .map(|c| advice_for(&c.name, ctx))
            .collect();
        let feedback = if suggestions.is_empty() {
            "Specific, measurable and time-bound; it fits the company context.".to_string()
        } else {
            format!(
                "Scored by the offline SMART heuristics; {} criterion(s) below 7.",
                suggestions.len()
            )
        };
        let judgement = Judgement {
            criteria,
            feedback,
            suggestions,
        };
        Ok(Generated {
            usage: usage(goal, &judgement.feedback),
            value: judgement,
        })
    }
}
