use std::sync::Arc;

use futures::StreamExt;

use crate::domain::coaching::{ContextDoc, HistoryTurn, PhaseContext};
use crate::domain::goal::{MAX_GOAL_CHARS, fit_goal_text};
use crate::domain::message::Role;
use crate::domain::phase::Phase;
use crate::domain::scoring::score_card;
use crate::domain::session::EmployeeProfile;
use crate::domain::tenant::TenantConfig;
use crate::ports::chat_model::{ChatModel, CoachPurpose, Readiness, StreamPiece};
use crate::ports::embedder::Embedder;

/// Sarah's second g4 turn, with one career-framework passage.
pub fn sarah_context() -> PhaseContext {
    PhaseContext {
        company: "Sunrise Corporation".into(),
        model: "gpt-4o-mini".into(),
        profile: EmployeeProfile {
            employee_code: Some("EMP12345".into()),
            department: Some("Engineering".into()),
            position: Some("Software Engineer".into()),
            grade: Some("L4".into()),
            years_of_service: Some(3),
            ..Default::default()
        },
        phase: Phase::G4Future,
        prompts: TenantConfig::defaults().prompts,
        history: vec![
            HistoryTurn {
                role: Role::User,
                content: "I want to become a senior engineer and maybe start leading a small team."
                    .into(),
            },
            HistoryTurn {
                role: Role::Assistant,
                content: "How many people would you like to lead?".into(),
            },
            HistoryTurn {
                role: Role::User,
                content:
                    "I'd like to lead a team of 3-4 developers on our payment processing platform."
                        .into(),
            },
        ],
        documents: vec![ContextDoc {
            content:
                "Senior Engineer (L5) requires technical leadership on 2+ projects and mentoring."
                    .into(),
            source: "Career Framework".into(),
            category: "career_framework".into(),
            relevance: 0.9,
            page: Some(5),
            section: None,
        }],
        earlier_goals: vec![],
    }
}

/// A collect reply's verdicts, in order, and its text.
async fn collect_reply(
    model: &dyn ChatModel,
    ctx: &PhaseContext,
    readiness: Readiness,
) -> (Vec<bool>, String) {
    let mut stream = model
        .coach(ctx, CoachPurpose::Collect { readiness })
        .await
        .expect("coach");
    let (mut verdicts, mut text) = (vec![], String::new());
    while let Some(piece) = stream.next().await {
        match piece.expect("stream piece") {
            StreamPiece::Text(t) => text.push_str(&t),
            StreamPiece::Verdict { ready } => {
                assert!(text.is_empty(), "the verdict comes before any text");
                verdicts.push(ready);
            }
            StreamPiece::Usage(_) => {}
        }
    }
    (verdicts, text)
}

/// Runs the chat-model contract: a collect reply that judges readiness
/// leads with exactly one verdict and says something, one that is forced
/// to wrap up gives none; a non-empty goal; a score for every rubric
/// criterion in 0–10.
pub async fn chat_model(model: Arc<dyn ChatModel>) {
    let ctx = sarah_context();
    assert!(!model.model_for(&ctx).is_empty());
    let (verdicts, text) = collect_reply(model.as_ref(), &ctx, Readiness::Judge).await;
    assert_eq!(verdicts.len(), 1, "one verdict");
    assert!(!text.trim().is_empty(), "the coach says something");
    let (verdicts, text) = collect_reply(model.as_ref(), &ctx, Readiness::Forced).await;
    assert!(verdicts.is_empty(), "no verdict asked, none given");
    assert!(!text.trim().is_empty(), "the coach wraps up");
    let refined = model.refine(&ctx, None).await.expect("refine");
    let goal = fit_goal_text(&refined.value);
    assert!(!goal.is_empty() && goal.chars().count() <= MAX_GOAL_CHARS);
    let config = TenantConfig::defaults();
    let rubric = config.rubric(Phase::G4Future).unwrap();
    let judged = model.score(&ctx, &goal, rubric).await.expect("score");
    let card = score_card(rubric, &judged.value, config.threshold)
        .expect("every criterion scored within 0-10");
    assert_eq!(card.criteria.len(), rubric.criteria.len());
}

/// Runs the embedder contract: one vector per input, in order, of the
/// stated dimension, and the same text always gives the same direction.
pub async fn embedder(embedder: Arc<dyn Embedder>) {
    let texts = vec![
        "Senior engineers mentor junior developers.".to_string(),
        "Work-life balance matters.".to_string(),
    ];
    let both = embedder.embed(&texts).await.expect("embed");
    assert_eq!(both.len(), 2);
    assert!(both.iter().all(|v| v.len() == embedder.dimension()));
    assert!(both.iter().all(|v| v.iter().any(|x| *x != 0.0)));
    let first = embedder.embed(&texts[..1]).await.expect("embed one");
    let cos = crate::ports::vector_store::cosine(&first[0], &both[0]);
    assert!(
        cos > 0.99,
        "a text embeds the same alone or in a batch: {cos}"
    );
    assert!(embedder.embed(&[]).await.expect("embed nothing").is_empty());
}
