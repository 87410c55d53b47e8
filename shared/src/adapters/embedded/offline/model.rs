//! The offline model: a deterministic coach, refiner and SMART scorer that
//! needs no key and no network. Coaching and refinement read the plain-text
//! signals in [`super::signals`]; scoring is [`super::scorer`]'s close
//! reading, so every score can be explained.

use async_trait::async_trait;
use futures::stream;

use super::answers::{Clause, clauses_of, fit, merge, restates, sentences, strip_lead_ins};
use super::scorer;
use super::signals::{TimeFrame, content_stems, named_values, quantities, time_frame, title_case};
use crate::domain::coaching::{PhaseContext, Readiness};
use crate::domain::goal::MAX_GOAL_CHARS;
use crate::domain::goal::fit_goal_text;
use crate::domain::message::Usage;
use crate::domain::phase::Phase;
use crate::domain::scoring::{Judgement, Rubric};
use crate::domain::text::{read_list, with_lists_on_lines};
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
    let text = answers_text(ctx);
    let mut missing = vec![];
    match ctx.phase {
        Phase::G6Values => {
            if merged_values(ctx).len() < 3 {
                missing.push("Which 3-5 values matter most to you at work, and what does each mean in your day-to-day?");
            }
        }
        Phase::G8Actions => {
            if merged_actions(ctx).len() < 3 {
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

/// What a goal still lacks, in words an employee uses.
fn plain_feedback(weak: usize, total: usize) -> String {
    let score = if weak == 1 { "scores" } else { "score" };
    format!(
        "{weak} of the {total} parts of this goal {score} below 7; the suggestions say what would raise them."
    )
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
    reply.push_str(" Tell me more, or edit the goal below and score it again.");
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

/// The phase's answers with every list written one item a line, so list
/// markers never read as numbers.
fn answers_text(ctx: &PhaseContext) -> String {
    ctx.user_answers()
        .iter()
        .map(|a| with_lists_on_lines(a))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The values named across the phase's answers: the latest answer's first,
/// then earlier ones it does not name again; five at most.
fn merged_values(ctx: &PhaseContext) -> Vec<String> {
    let mut values: Vec<String> = vec![];
    for answer in ctx.user_answers().iter().rev() {
        let named = match read_list(answer) {
            Some(list) => named_values(&list.items.join("\n")),
            None => named_values(&strip_lead_ins(answer)),
        };
        for value in named {
            let key = value_name(&value);
            let known = values
                .iter()
                .any(|v| value_name(v) == key || restates(v, &value));
            if !known {
                values.push(value);
            }
        }
    }
    values.truncate(5);
    values
}

/// A value as the goal names it: "continuous learning" and "learning new
/// things" are both "Continuous Learning".
fn value_name(value: &str) -> String {
    let lower = value.to_lowercase();
    match VALUE_MEANINGS
        .iter()
        .find(|(key, _, _)| lower.contains(key))
    {
        Some((_, name, _)) => (*name).to_string(),
        None => title_case(value),
    }
}

fn refine_values(ctx: &PhaseContext) -> String {
    let parts: Vec<String> = merged_values(ctx)
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

/// The actions across the phase's answers, each answer read as a list
/// however it was typed; a restated action replaces the earlier one.
fn merged_actions(ctx: &PhaseContext) -> Vec<Clause> {
    let answers: Vec<Vec<String>> = ctx
        .user_answers()
        .iter()
        .map(|a| {
            clauses_of(a)
                .into_iter()
                .filter(|c| content_stems(c).len() >= 2)
                .collect()
        })
        .collect();
    merge(&answers)
}

fn refine_actions(ctx: &PhaseContext) -> String {
    let text = answers_text(ctx);
    let horizon = if time_frame(&text) == TimeFrame::Explicit {
        "6-month plan"
    } else {
        "Plan for the next 6 months"
    };
    let compacted: Vec<Clause> = merged_actions(ctx)
        .into_iter()
        .map(|c| Clause {
            text: compact(&c.text),
            ..c
        })
        .collect();
    // "N) " before and "; " after each item.
    let budget = MAX_GOAL_CHARS - horizon.len() - 2;
    let mut items: Vec<String> = fit(&compacted, budget, 5, |c| {
        quantities(c) * 3 + content_stems(c).len()
    })
    .into_iter()
    .map(|c| c.text)
    .collect();
    if items.is_empty() {
        items.push(
            ctx.latest_user_message()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    let numbered: Vec<String> = items
        .iter()
        .enumerate()
        .map(|(i, item)| format!("{}) {item}", i + 1))
        .collect();
    format!("{horizon}: {}", numbered.join("; "))
}

/// A clause without a leading time frame ("in two years", "within 24
/// months,"): the goal's own prefix says it.
fn strip_time_lead(clause: &str) -> &str {
    let clause = clause.trim_start();
    // ASCII lowercasing keeps byte offsets, so `rest` cuts `clause` too.
    let lower = clause.to_ascii_lowercase();
    let Some(opened) = ["in the next ", "within the next ", "in ", "within "]
        .iter()
        .find_map(|o| lower.strip_prefix(o))
    else {
        return clause;
    };
    let mut words = opened.splitn(3, ' ');
    let (Some(number), Some(unit)) = (words.next(), words.next()) else {
        return clause;
    };
    let counted = number.parse::<u32>().is_ok() || ["a", "one", "two", "three"].contains(&number);
    let unit = unit.trim_end_matches(',');
    if !counted || !["year", "years", "months"].contains(&unit) {
        return clause;
    }
    let rest = words.next().unwrap_or("");
    clause[clause.len() - rest.len()..].trim_start_matches([',', ' '])
}

fn refine_vision(ctx: &PhaseContext) -> String {
    let answers: Vec<Vec<String>> = ctx
        .user_answers()
        .iter()
        .map(|answer| {
            clauses_of(answer)
                .iter()
                .flat_map(|c| sentences(c))
                .map(|c| {
                    let c = strip_lead_ins(strip_time_lead(&c));
                    c.replace(" and maybe ", " and ").replace(" maybe ", " ")
                })
                .filter(|c| !content_stems(c).is_empty())
                .collect()
        })
        .collect();
    let clauses = merge(&answers);
    // Keep what fits: the latest answer first, then the most informative.
    let prefix = "Within 24 months, I will ";
    let budget = MAX_GOAL_CHARS - prefix.len() - 1;
    let kept = fit(&clauses, budget, 2, |c| {
        quantities(c) * 3 + content_stems(c).len()
    });
    let body: Vec<String> = kept
        .iter()
        .map(|clause| {
            let mut chars = clause.text.chars();
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
            Phase::G6Values => refine_values(ctx),
            Phase::G8Actions => refine_actions(ctx),
            _ => refine_vision(ctx),
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
            plain_feedback(suggestions.len(), criteria.len())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::coaching::HistoryTurn;
    use crate::domain::message::Role;
    use crate::domain::session::EmployeeProfile;
    use crate::domain::tenant::TenantConfig;

    /// A phase whose user said `answers`, each followed by the coach's reply.
    fn phase_with(phase: Phase, answers: &[&str]) -> PhaseContext {
        let history = answers
            .iter()
            .flat_map(|a| {
                [
                    HistoryTurn {
                        role: Role::User,
                        content: a.to_string(),
                    },
                    HistoryTurn {
                        role: Role::Assistant,
                        content: "Your goal scored 6.0/10. Tell me more.".into(),
                    },
                ]
            })
            .take(answers.len() * 2 - 1)
            .collect();
        PhaseContext {
            company: "Sunrise Corporation".into(),
            model: "petraf-offline-1".into(),
            profile: EmployeeProfile {
                position: Some("Software Engineer".into()),
                ..Default::default()
            },
            phase,
            prompts: TenantConfig::defaults().prompts,
            history,
            documents: vec![],
            earlier_goals: vec![],
        }
    }

    async fn refined(phase: Phase, answers: &[&str]) -> String {
        OfflineModel
            .refine(&phase_with(phase, answers), None)
            .await
            .unwrap()
            .value
    }

    #[tokio::test]
    async fn a_restated_answer_changes_the_draft_in_every_phase() {
        let cases: [(Phase, &str, &str, &str); 3] = [
            (
                Phase::G4Future,
                "I want to become a senior engineer and lead a small team on the payment platform.",
                "Like I said, I wanted to lead a team of 3-4 developers and master distributed systems.",
                "3-4 developers",
            ),
            (
                Phase::G6Values,
                "learning, teamwork and integrity",
                "I said my values were innovation, ownership and respect",
                "Innovation",
            ),
            (
                Phase::G8Actions,
                "I will: 1. get AWS certified by March 2. lead the payment migration by June 3. mentor 2 juniors",
                "I said I'd mentor 2 junior developers (Mike and Jenny) by May and read 3 books by August",
                "Mike and Jenny",
            ),
        ];
        for (phase, first, restated, heard) in cases {
            let before = refined(phase, &[first]).await;
            let after = refined(phase, &[first, restated]).await;
            assert_ne!(before, after, "{phase}: the restatement was ignored");
            assert!(after.contains(heard), "{phase}: {after}");
            assert!(after.chars().count() <= MAX_GOAL_CHARS);
        }
    }

    #[tokio::test]
    async fn a_restated_action_replaces_the_one_it_restates() {
        let goal = refined(
            Phase::G8Actions,
            &[
                "I will: 1. get AWS certified by March 2. lead the payment migration by June 3. mentor 2 juniors",
                "I said I'd mentor 2 junior developers (Mike and Jenny) by May",
            ],
        )
        .await;
        assert_eq!(
            goal,
            "6-month plan: 1) get AWS certified by March; 2) lead payment migration by June; 3) mentor 2 junior \
             developers (Mike and Jenny) by May"
        );
    }

    #[tokio::test]
    async fn inline_numbered_and_line_numbered_plans_refine_to_the_same_goal() {
        let on_lines = "In the next 6 months I will:\n1. Complete AWS certification by March 2025\n2. Lead the \
                        payment gateway migration by June 2025\n3. Mentor 2 junior developers (Mike and Jenny) by August";
        let inline = "In the next 6 months I will: 1. Complete AWS certification by March 2025 2. Lead the payment \
                      gateway migration by June 2025 3. Mentor 2 junior developers (Mike and Jenny) by August";
        let lettered = "In the next 6 months I will: a) Complete AWS certification by March 2025; b) Lead the \
                        payment gateway migration by June 2025; c) Mentor 2 junior developers (Mike and Jenny) by August.";
        let goal = refined(Phase::G8Actions, &[on_lines]).await;
        assert_eq!(refined(Phase::G8Actions, &[inline]).await, goal);
        assert_eq!(refined(Phase::G8Actions, &[lettered]).await, goal);
        // The broken draft ended an item with the next one's number.
        assert_eq!(
            goal,
            "6-month plan: 1) Complete AWS certification by March 2025; 2) Lead payment gateway migration by June \
             2025; 3) Mentor 2 junior developers (Mike and Jenny) by August"
        );
    }

    #[tokio::test]
    async fn an_inline_plan_is_ready_to_refine() {
        let ctx = phase_with(
            Phase::G8Actions,
            &[
                "In the next 6 months I will: 1. get AWS certified by March 2. lead the payment migration by June 3. \
               mentor 2 juniors by August",
            ],
        );
        assert!(is_ready(&ctx), "{:?}", missing_details(&ctx));
        let values = phase_with(
            Phase::G6Values,
            &["my values: a) learning b) teamwork c) integrity"],
        );
        assert!(is_ready(&values), "{:?}", missing_details(&values));
    }

    #[tokio::test]
    async fn a_time_frame_the_prefix_already_says_is_not_repeated() {
        let goal = refined(
            Phase::G4Future,
            &["In two years, I want to lead a team of 4 developers on the payment platform."],
        )
        .await;
        assert_eq!(
            goal,
            "Within 24 months, I will lead a team of 4 developers on the payment platform."
        );
    }

    #[test]
    fn the_coach_s_advice_speaks_no_api_terms() {
        let ctx = phase_with(Phase::G4Future, &["I want to lead a team"]);
        let card = crate::domain::scoring::ScoreCard {
            overall: 5.0,
            threshold: 7.0,
            meets_threshold: false,
            criteria: vec![],
            feedback: String::new(),
            suggestions: vec![],
        };
        let reply = improve_reply(&ctx, &card);
        assert!(!reply.contains("step") && !reply.contains('"'), "{reply}");
        let feedback = plain_feedback(1, 4);
        assert_eq!(
            feedback,
            "1 of the 4 parts of this goal scores below 7; the suggestions say what would raise them."
        );
        assert!(!plain_feedback(2, 4).contains("criterion"));
    }
}
