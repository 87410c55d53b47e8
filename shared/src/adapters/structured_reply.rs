//! The JSON answers real models give to refine and score prompts (see
//! `domain::prompts`), parsed into typed values and checked.
//! Anything unusable is `ModelError::Malformed`; `score_card` still does the
//! final check of a judgement.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::scoring::{CriterionJudgement, Judgement, Rubric};
use crate::ports::chat_model::ModelError;

/// Output caps for the JSON calls: a goal of at most `MAX_GOAL_CHARS`
/// (300) characters in `{"goal": …}` needs about 100 tokens; a score of up
/// to eight criteria with a sentence of reasoning each, feedback and a few
/// suggestions about 600. The caps leave room and stop a runaway answer.
pub const REFINE_MAX_TOKENS: u32 = 300;
pub const SCORE_MAX_TOKENS: u32 = 1200;

fn malformed(problem: impl Into<String>) -> ModelError {
    ModelError::Malformed(problem.into())
}

/// The first balanced `{…}` in `text`: models sometimes wrap JSON in prose
/// or code fences.
pub fn first_json_object(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, c) in text[start..].char_indices() {
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&text[start..start + i + 1]);
                }
            }
            _ => {}
        }
    }
    None
}

/// How a model's reply ended, as its provider reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A natural end (OpenAI `stop`, Bedrock `end_turn`).
    Finished,
    /// The output cap was reached (`length`, `max_tokens`).
    CutOff,
    /// The provider's content filter or guardrail stepped in
    /// (`content_filter`, `guardrail_intervened`, `content_filtered`).
    Filtered,
}

/// The reply's text when it can be parsed at all: a refusal (OpenAI's
/// `refusal` field), a filtered or cut-off reply is `Malformed` with the
/// reason, so a run's error says why rather than "no JSON".
pub fn usable_text(
    text: String,
    refusal: Option<&str>,
    ending: Ending,
) -> Result<String, ModelError> {
    if let Some(refusal) = refusal.map(str::trim).filter(|r| !r.is_empty()) {
        return Err(malformed(format!("the model refused: {}", cut(refusal))));
    }
    match ending {
        Ending::Filtered => Err(malformed(
            "the provider's content filter stopped the answer",
        )),
        Ending::CutOff if first_json_object(&text).is_none() => {
            Err(malformed("the answer was cut off at the output limit"))
        }
        _ => Ok(text),
    }
}

/// At most 120 characters of a reply, for an error message.
fn cut(text: &str) -> String {
    let mut out: String = text.trim().chars().take(120).collect();
    if text.trim().chars().count() > 120 {
        out.push('…');
    }
    out
}

fn parse<T: for<'de> Deserialize<'de>>(text: &str, what: &str) -> Result<T, ModelError> {
    let json = first_json_object(text).ok_or_else(|| {
        if text.trim().is_empty() {
            malformed(format!("the {what} answer is empty"))
        } else {
            // A prose reply is most often a refusal: say what it was.
            malformed(format!(
                "the {what} answer holds no JSON object: \"{}\"",
                cut(text)
            ))
        }
    })?;
    serde_json::from_str(json).map_err(|e| malformed(format!("the {what} answer: {e}")))
}

#[derive(Debug, Deserialize)]
struct RefineReply {
    goal: String,
}

/// `{"goal": "..."}` with a non-empty goal.
pub fn refined_goal(text: &str) -> Result<String, ModelError> {
    let goal = parse::<RefineReply>(text, "refine")?
        .goal
        .trim()
        .to_string();
    if goal.is_empty() {
        return Err(malformed("the refined goal is empty"));
    }
    Ok(goal)
}

#[derive(Debug, Deserialize)]
struct ScoreReply {
    criteria: Criteria,
    #[serde(default)]
    feedback: String,
    #[serde(default)]
    suggestions: Vec<String>,
}

/// Criteria as the prompt asks (a list), or keyed by name, as models
/// sometimes answer.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Criteria {
    List(Vec<CriterionReply>),
    ByName(serde_json::Map<String, Value>),
}

#[derive(Debug, Deserialize)]
struct CriterionReply {
    name: String,
    score: Value,
    #[serde(default)]
    reasoning: String,
}

/// A score given as a number or a numeric string.
fn score_value(name: &str, v: &Value) -> Result<f64, ModelError> {
    let score = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| malformed(format!("criterion '{name}' has no numeric score")))?;
    if !(score.is_finite() && (0.0..=10.0).contains(&score)) {
        return Err(malformed(format!(
            "criterion '{name}' scored {score}, outside 0-10"
        )));
    }
    Ok(score)
}

/// "Time-bound", "time bound" and "time_bound" name one criterion.
fn same_name(a: &str, b: &str) -> bool {
    let norm = |s: &str| -> String {
        s.trim()
            .chars()
            .map(|c| {
                if c.is_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect()
    };
    norm(a) == norm(b)
}

/// Per-criterion scores for every rubric criterion, each within 0–10;
/// criteria named in another spelling ("Time-bound") get the rubric's name.
pub fn judgement(text: &str, rubric: &Rubric) -> Result<Judgement, ModelError> {
    let reply: ScoreReply = parse(text, "score")?;
    let criteria: Vec<CriterionJudgement> = match reply.criteria {
        Criteria::List(list) => list
            .into_iter()
            .map(|c| {
                Ok(CriterionJudgement {
                    score: score_value(&c.name, &c.score)?,
                    name: c.name,
                    reasoning: c.reasoning,
                })
            })
            .collect::<Result<_, ModelError>>()?,
        Criteria::ByName(map) => map
            .into_iter()
            .map(|(name, v)| {
                let (score, reasoning) = match &v {
                    Value::Object(o) => (
                        o.get("score").cloned().unwrap_or(Value::Null),
                        o.get("reasoning")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_string(),
                    ),
                    other => (other.clone(), String::new()),
                };
                Ok(CriterionJudgement {
                    score: score_value(&name, &score)?,
                    name,
                    reasoning,
                })
            })
            .collect::<Result<_, ModelError>>()?,
    };
    let criteria: Vec<CriterionJudgement> = criteria
        .into_iter()
        .map(|mut j| {
            if let Some(c) = rubric.criteria.iter().find(|c| same_name(&c.name, &j.name)) {
                j.name = c.name.clone();
            }
            j
        })
        .collect();
    if let Some(missing) = rubric
        .criteria
        .iter()
        .find(|c| !criteria.iter().any(|j| j.name == c.name))
    {
        return Err(malformed(format!(
            "no score for criterion '{}'",
            missing.name
        )));
    }
    Ok(Judgement {
        criteria,
        feedback: reply.feedback,
        suggestions: reply.suggestions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rubric() -> Rubric {
        Rubric::new([("specificity", 1.0, ""), ("time_bound", 1.0, "")])
    }

    #[test]
    fn finds_the_first_object_in_prose_and_fences() {
        let text = "Sure!\n```json\n{\"goal\": \"Lead {3} devs \\\"soon\\\"\"}\n``` {\"x\":1}";
        assert_eq!(
            first_json_object(text),
            Some("{\"goal\": \"Lead {3} devs \\\"soon\\\"\"}")
        );
        assert_eq!(first_json_object("{\"unclosed\": 1"), None);
        assert_eq!(first_json_object("no json"), None);
    }

    #[test]
    fn goals_parse_or_are_malformed() {
        assert_eq!(
            refined_goal(r#"{"goal": " Lead a team. "}"#).unwrap(),
            "Lead a team."
        );
        assert!(matches!(
            refined_goal(r#"{"goal": ""}"#),
            Err(ModelError::Malformed(_))
        ));
    }

    #[test]
    fn judgements_need_every_criterion_in_range() {
        let ok = judgement(
            r#"{"criteria": [{"name": "Specificity", "score": 8, "reasoning": "r"}, {"name": "time_bound", "score": "9.5"}], "feedback": "f"}"#,
            &rubric(),
        )
        .unwrap();
        assert_eq!(ok.criteria[1].score, 9.5);
        assert_eq!(ok.feedback, "f");
        let by_name = judgement(
            r#"{"criteria": {"specificity": {"score": 7, "reasoning": "r"}, "time_bound": 6}}"#,
            &rubric(),
        )
        .unwrap();
        assert_eq!(by_name.criteria.len(), 2);
        for bad in [
            r#"{"criteria": [{"name": "specificity", "score": 8}]}"#,
            r#"{"criteria": [{"name": "specificity", "score": 11}, {"name": "time_bound", "score": 1}]}"#,
            r#"{"criteria": [{"name": "specificity", "score": null}, {"name": "time_bound", "score": 1}]}"#,
            r#"{"criteria": [{"name": "specificity", "score": 8}, {"name": "time_bou"#,
        ] {
            assert!(
                matches!(judgement(bad, &rubric()), Err(ModelError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
