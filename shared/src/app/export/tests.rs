use chrono::{TimeZone, Utc};

use super::read_back::pdftotext;
use super::*;
use crate::app::goals::{EmployeeView, LinkView, Summary};
use crate::domain::phase::GoalType;
use crate::domain::scoring::{CriterionScore, ScoreCard};

fn goal(id: &str, phase: Phase, goal_type: GoalType, content: &str, is_final: bool) -> GoalView {
    GoalView {
        id: id.into(),
        goal_type,
        phase,
        content: content.into(),
        score: 8.25,
        is_final,
        below_threshold: false,
        version: 2,
        score_details: ScoreCard {
            overall: 8.25,
            criteria: vec![CriterionScore {
                name: "time_bound".into(),
                score: 10.0,
                weight: 20.0,
                weighted_score: 2.0,
                reasoning: "explicit timeline".into(),
            }],
            feedback: "good".into(),
            suggestions: vec![],
            meets_threshold: is_final,
            threshold: 7.0,
        },
        created_at: Utc.with_ymd_and_hms(2026, 3, 4, 10, 0, 0).unwrap(),
        links: vec![],
    }
}

fn sample() -> SessionGoals {
    let mut actions = goal(
        "g3",
        Phase::G8Actions,
        GoalType::Actions,
        "Complete the AWS certification by June",
        true,
    );
    actions.links = vec![LinkView {
        parent_goal_id: "g1".into(),
        link_type: LinkType::ContributesTo,
        strength: 10,
    }];
    SessionGoals {
        session_id: "S1".into(),
        employee: EmployeeView {
            code: Some("EMP12345".into()),
            department: Some("Engineering".into()),
            position: Some("Software Engineer".into()),
            grade: None,
        },
        goals: vec![
            goal(
                "g1",
                Phase::G4Future,
                GoalType::Future,
                "Become a senior engineer within 2 years",
                true,
            ),
            goal(
                "g0",
                Phase::G6Values,
                GoalType::Values,
                "a draft that fell short",
                false,
            ),
            actions,
        ],
        total: 3,
        completed: 2,
        summary: Summary {
            avg_score: 8.25,
            duration_minutes: 12,
            message_count: 9,
            phases_completed: vec![Phase::G4Future, Phase::G8Actions],
        },
        timestamp: Utc.with_ymd_and_hms(2026, 3, 4, 11, 0, 0).unwrap(),
    }
}

#[test]
fn parses_formats_with_pdf_as_the_default() {
    assert_eq!(ExportFormat::parse(None), Some(ExportFormat::Pdf));
    assert_eq!(
        ExportFormat::parse(Some("md")),
        Some(ExportFormat::Markdown)
    );
    assert_eq!(ExportFormat::parse(Some("docx")), None);
}

#[test]
fn markdown_names_the_company_profile_final_goals_scores_dates_and_links() {
    let md = String::from_utf8(export("Acme Inc", &sample(), ExportFormat::Markdown).body).unwrap();
    assert!(md.starts_with("# Acme Inc: development goals\n"));
    assert!(md.contains("- Employee code: EMP12345\n"));
    assert!(!md.contains("Grade"), "absent profile fields are left out");
    assert!(
        md.contains("## Where I will be in two years\n\nBecome a senior engineer within 2 years")
    );
    assert!(md.contains("Score 8.25/10 (passing 7.00/10), version 2, set on 2026-03-04"));
    assert!(md.contains("- time_bound 10.00/10 (weight 20): explicit timeline"));
    assert!(md.contains("Contributes to \"Where I will be in two years\" (strength 10/10)"));
    assert!(!md.contains("fell short"), "only final goals are exported");
}

#[test]
fn a_goal_kept_below_the_threshold_says_so_in_markdown_and_pdf() {
    let mut goals = sample();
    let md = markdown(&report("Acme Inc", &goals));
    assert!(!md.contains(BELOW_THRESHOLD_NOTE), "only when kept below");
    goals.goals[2].below_threshold = true;
    goals.goals[2].score = 5.5;
    let md = markdown(&report("Acme Inc", &goals));
    assert_eq!(md.matches(BELOW_THRESHOLD_NOTE).count(), 1, "{md}");
    let after_actions = &md[md.find("## My six-month action plan").unwrap()..];
    assert!(after_actions.contains(BELOW_THRESHOLD_NOTE), "{md}");
    let pdf = export("Acme Inc", &goals, ExportFormat::Pdf);
    let Some(text) = pdftotext(&pdf.body) else {
        return;
    };
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(joined.contains(BELOW_THRESHOLD_NOTE), "{text}");
}

#[test]
fn a_session_without_final_goals_says_so() {
    let mut goals = sample();
    goals.goals.retain(|g| !g.is_final);
    let md = markdown(&report("Acme Inc", &goals));
    assert!(md.contains("No goal has reached the passing score yet."));
}

#[test]
fn pdf_is_a_named_pdf_download() {
    let export = export("Acme Inc", &sample(), ExportFormat::Pdf);
    assert_eq!(export.content_type, "application/pdf");
    assert_eq!(export.filename, "goals-S1.pdf");
    assert!(export.body.starts_with(b"%PDF-"));
    assert!(String::from_utf8_lossy(&export.body).contains("Helvetica-Bold"));
}

const NAMES: [&str; 8] = [
    "王小明",
    "田中さくら",
    "김민준",
    "محمد علي",
    "سلامة خليل",
    "Zoë Ñúñez",
    "Дмитрий",
    "Γιώργος",
];

#[test]
fn pdf_text_extracts_back_to_names_in_every_script_and_the_long_url() {
    let url = format!("https://example.com/{}", "a1b2c3d4e5".repeat(10));
    assert_eq!(url.chars().count(), 120);
    let mut goals = sample();
    goals.employee.department = Some(NAMES[..3].join(" "));
    goals.employee.position = Some(NAMES[3..5].join(" "));
    goals.employee.grade = Some(NAMES[5..].join(" "));
    goals.goals[0].content = format!("Ask the mentor first, then read {url} today");
    let export = export("Acme 株式会社", &goals, ExportFormat::Pdf);
    let Some(text) = pdftotext(&export.body) else {
        return;
    };
    for name in NAMES {
        assert!(text.contains(name), "{name} is not in:\n{text}");
    }
    assert!(text.contains("Acme 株式会社: development goals"), "{text}");
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(&url), "{text}");
}

/// The same check without poppler: the extraction engine the project
/// already has (pdf_oxide) reads the export's text back too.
#[test]
fn pdf_text_reads_back_in_pure_rust_in_every_script() {
    let url = format!("https://example.com/{}", "a1b2c3d4e5".repeat(10));
    let mut goals = sample();
    goals.employee.department = Some(NAMES[..3].join(" "));
    goals.employee.position = Some(NAMES[3..5].join(" "));
    goals.employee.grade = Some(NAMES[5..].join(" "));
    goals.goals[0].content = format!("Ask the mentor first, then read {url} today");
    let export = export("Acme 株式会社", &goals, ExportFormat::Pdf);
    let doc = pdf_oxide::PdfDocument::from_bytes(export.body).unwrap();
    let text = doc.extract_text(0).unwrap();
    assert!(
        text.contains("Department: 王小明 田中さくら 김민준"),
        "{text}"
    );
    assert!(text.contains("Position: محمد علي سلامة خليل"), "{text}");
    assert!(text.contains("Grade: Zoë Ñúñez Дмитрий Γιώργος"), "{text}");
    assert!(text.contains("Acme 株式会社: development goals"), "{text}");
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(&url), "{text}");
}
