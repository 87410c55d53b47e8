//! What a phase's next coach reply retrieves its company passages by,
//! embedded before the turn so that no embedding call waits in front of the
//! reply (the vector search itself stays in the turn, so passages are always
//! the ones indexed now: a replaced or deleted document is never cited).
//!
//! Before a phase's first answer the query is the profile and the phase's
//! purpose (embedded when the profile is saved); after each turn, the
//! phase's answers so far (the turn's own retrieval, which also grounds its
//! refining and scoring).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

use super::coaching::ContextDoc;
use super::lexical::bm25_scores;
use super::message::Source;
use super::phase::Phase;
use super::session::EmployeeProfile;

/// One phase's query embedding, ready for its next turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseQuery {
    pub phase: Phase,
    pub vector: QuantizedVector,
}

/// An embedding stored in a byte a component (a quarter of `f32`): the
/// conversation state is written several times a turn, and a query's
/// direction, which is all a cosine search reads, survives the rounding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantizedVector {
    /// The largest component's magnitude; a byte of 127 stands for it.
    pub scale: f32,
    /// Base64 of the components as signed bytes.
    pub components: String,
}

impl QuantizedVector {
    pub fn new(vector: &[f32]) -> Self {
        let scale = vector
            .iter()
            .filter(|c| c.is_finite())
            .fold(0f32, |m, c| m.max(c.abs()));
        let bytes: Vec<u8> = vector
            .iter()
            .map(|c| {
                let q = if scale > 0.0 && c.is_finite() {
                    (c / scale * 127.0).round().clamp(-127.0, 127.0)
                } else {
                    0.0
                };
                q as i8 as u8
            })
            .collect();
        QuantizedVector {
            scale,
            components: STANDARD.encode(bytes),
        }
    }

    /// The vector again, each component within `scale / 254` of the
    /// original; `None` when the stored text is damaged.
    pub fn to_vec(&self) -> Option<Vec<f32>> {
        let bytes = STANDARD.decode(&self.components).ok()?;
        Some(
            bytes
                .into_iter()
                .map(|b| b as i8 as f32 / 127.0 * self.scale)
                .collect(),
        )
    }
}

/// What a phase's first turn retrieves by: who the employee is and what the
/// phase is for (the tenant's prompt for it).
pub fn profile_query(profile: &EmployeeProfile, phase_purpose: &str) -> String {
    let who = [&profile.position, &profile.department, &profile.grade]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    if who.is_empty() {
        phase_purpose.trim().to_string()
    } else {
        format!("{who}. {}", phase_purpose.trim())
    }
}

/// The citations of `first`, then those of `then` not cited yet.
pub fn citations(first: &[ContextDoc], then: &[ContextDoc]) -> Vec<Source> {
    let mut cited: Vec<Source> = first.iter().map(ContextDoc::citation).collect();
    for source in then.iter().map(ContextDoc::citation) {
        if !cited.contains(&source) {
            cited.push(source);
        }
    }
    cited
}

/// How many candidates the remembered query fetches for each passage the
/// coach keeps: enough that the passages a retrieval by the latest message
/// would find are nearly always among them (the grounding bench: 80 % of
/// them at 4 per passage, 98 % at 8, with a large unrelated document in
/// the library), few enough that the vector match still bounds what counts
/// as relevant and the search stays one cheap query.
pub const RERANK_POOL_FACTOR: usize = 8;

/// The weight of the latest message's words against the remembered
/// query's vector match. Even: the query stands for the answers before this
/// message, the words for this message; neither is known to matter more.
pub const LEXICAL_WEIGHT: f64 = 0.5;

/// The `keep` candidates that best match both the remembered query (their
/// vector relevance) and the latest message's words (BM25 over the
/// candidates). Each signal is rescaled over the candidates to 0–1 (the
/// vector one min–max, since embedders differ in how spread out their
/// similarities are; the lexical one by its best, so that no shared word
/// stays 0) and the two are blended by [`LEXICAL_WEIGHT`]. A message with
/// no word in any candidate keeps the vector order; ties keep it too. A
/// candidate related to neither (no positive similarity, no shared word) is
/// never kept, as a plain vector search keeps no such passage.
pub fn rerank(candidates: Vec<ContextDoc>, latest_message: &str, keep: usize) -> Vec<ContextDoc> {
    rerank_weighted(candidates, latest_message, keep, LEXICAL_WEIGHT)
}

/// [`rerank`] with a chosen weight for the lexical match (0: vector order).
pub fn rerank_weighted(
    candidates: Vec<ContextDoc>,
    latest_message: &str,
    keep: usize,
    lexical_weight: f64,
) -> Vec<ContextDoc> {
    let contents: Vec<&str> = candidates.iter().map(|c| c.content.as_str()).collect();
    let lexical = rescaled(&bm25_scores(latest_message, &contents), 0.0);
    let relevance: Vec<f64> = candidates.iter().map(|c| f64::from(c.relevance)).collect();
    let lowest = relevance.iter().copied().fold(f64::INFINITY, f64::min);
    let vector = rescaled(&relevance, lowest);
    let mut blended: Vec<(f64, ContextDoc)> = candidates
        .into_iter()
        .enumerate()
        .filter(|(i, doc)| doc.relevance > 0.0 || lexical[*i] > 0.0)
        .map(|(i, doc)| {
            let score = (1.0 - lexical_weight) * vector[i] + lexical_weight * lexical[i];
            (score, doc)
        })
        .collect();
    // Stable: equal blends stay in the store's (vector) order.
    blended.sort_by(|a, b| b.0.total_cmp(&a.0));
    blended.into_iter().take(keep).map(|(_, doc)| doc).collect()
}

/// `values` mapped to 0–1 from `floor` to their largest; all 1 when they
/// do not rise above `floor` but are positive (nothing to tell apart), all
/// 0 when there is nothing above zero.
fn rescaled(values: &[f64], floor: f64) -> Vec<f64> {
    let highest = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if highest.is_nan() || highest <= 0.0 {
        return vec![0.0; values.len()];
    }
    if highest - floor <= f64::EPSILON {
        return vec![1.0; values.len()];
    }
    values
        .iter()
        .map(|v| ((v - floor) / (highest - floor)).clamp(0.0, 1.0))
        .collect()
}

/// Of `retrieved`, the share also in `used` (by content): how much of what
/// the turn's own retrieval finds the passages used instead already hold.
pub fn recall(used: &[ContextDoc], retrieved: &[ContextDoc]) -> f64 {
    if retrieved.is_empty() {
        return 1.0;
    }
    let held = retrieved
        .iter()
        .filter(|r| used.iter().any(|u| u.content == r.content))
        .count();
    held as f64 / retrieved.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(content: &str, source: &str) -> ContextDoc {
        ContextDoc {
            content: content.into(),
            source: source.into(),
            category: "career_framework".into(),
            relevance: 0.5,
            page: None,
            section: None,
        }
    }

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        dot / (norm(a) * norm(b))
    }

    #[test]
    fn a_quantized_vector_keeps_its_direction() {
        let vector: Vec<f32> = (0..1536)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * 0.08)
            .collect();
        let stored = QuantizedVector::new(&vector);
        assert_eq!(stored.components.len(), 2048, "a byte a component, base64");
        let back = stored.to_vec().unwrap();
        assert_eq!(back.len(), vector.len());
        let worst = vector
            .iter()
            .zip(&back)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= stored.scale / 254.0 + 1e-6, "{worst}");
        assert!(cosine(&vector, &back) > 0.9999);
    }

    #[test]
    fn degenerate_vectors_quantize_to_zero_and_damage_is_detected() {
        let zero = QuantizedVector::new(&[0.0, 0.0]);
        assert_eq!(zero.to_vec().unwrap(), [0.0, 0.0]);
        let odd = QuantizedVector::new(&[f32::NAN, 1.0]);
        assert_eq!(odd.to_vec().unwrap(), [0.0, 1.0]);
        let damaged = QuantizedVector {
            scale: 1.0,
            components: "not base64!".into(),
        };
        assert_eq!(damaged.to_vec(), None);
    }

    #[test]
    fn the_profile_query_names_the_role_then_the_purpose() {
        let profile = EmployeeProfile {
            position: Some("Software Engineer".into()),
            department: Some(" Engineering ".into()),
            grade: Some("".into()),
            ..Default::default()
        };
        assert_eq!(
            profile_query(&profile, "Envision your role in 2 years."),
            "Software Engineer, Engineering. Envision your role in 2 years."
        );
        assert_eq!(
            profile_query(&EmployeeProfile::default(), " Values. "),
            "Values."
        );
    }

    #[test]
    fn citations_add_the_later_retrievals_new_sources() {
        let a = doc("a", "Framework");
        let b = doc("b", "Values");
        let cited = citations(std::slice::from_ref(&a), &[b, a.clone()]);
        let titles: Vec<&str> = cited.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["Framework", "Values"]);
    }

    fn scored(content: &str, relevance: f32) -> ContextDoc {
        ContextDoc {
            relevance,
            ..doc(content, "Framework")
        }
    }

    fn contents(docs: &[ContextDoc]) -> Vec<&str> {
        docs.iter().map(|d| d.content.as_str()).collect()
    }

    #[test]
    fn the_latest_messages_words_lift_a_lower_candidate_into_the_kept_ones() {
        let candidates = vec![
            scored(
                "Senior engineers own the system design of their area.",
                0.42,
            ),
            scored("Engineers at L5 lead projects across teams.", 0.40),
            scored("Our values: customer obsession and ownership.", 0.31),
            scored("Mentoring: seniors mentor junior developers weekly.", 0.30),
        ];
        let kept = rerank(
            candidates.clone(),
            "and I'd like to mentor junior developers",
            2,
        );
        let mut kept = contents(&kept);
        kept.sort();
        assert_eq!(
            kept,
            [
                "Mentoring: seniors mentor junior developers weekly.",
                "Senior engineers own the system design of their area.",
            ],
            "the closest by vector and the one with the message's words"
        );
        let by_vector = rerank_weighted(candidates, "mentor junior developers", 2, 0.0);
        assert_eq!(
            contents(&by_vector),
            [
                "Senior engineers own the system design of their area.",
                "Engineers at L5 lead projects across teams.",
            ]
        );
    }

    #[test]
    fn a_message_matching_no_candidate_keeps_the_vector_order() {
        let candidates = vec![
            scored("a", 0.5),
            scored("b", 0.4),
            scored("c", 0.4),
            scored("d", 0.1),
        ];
        let kept = rerank(candidates, "yes, exactly that", 3);
        assert_eq!(contents(&kept), ["a", "b", "c"]);
    }

    #[test]
    fn a_far_candidate_with_the_messages_word_at_most_ties_the_closest() {
        // The farthest candidate shares the message's only word: it rises
        // above the middle one, level with the closest, which keeps its
        // place (ties keep the vector order).
        let candidates = vec![
            scored("Distributed systems reviews.", 0.80),
            scored("Architecture decision records.", 0.70),
            scored("Quarterly sales targets per team.", 0.10),
        ];
        let kept = rerank(candidates.clone(), "the team", 1);
        assert_eq!(contents(&kept), ["Distributed systems reviews."]);
        let kept = rerank(candidates, "the team", 2);
        assert_eq!(
            contents(&kept),
            [
                "Distributed systems reviews.",
                "Quarterly sales targets per team."
            ]
        );
    }

    #[test]
    fn a_candidate_related_to_neither_query_nor_message_is_dropped() {
        let candidates = vec![
            scored("career ladder", 0.3),
            scored("mentoring guide", -0.05),
            scored("holiday rota", -0.1),
        ];
        let kept = rerank(candidates, "I want to start mentoring", 3);
        assert_eq!(contents(&kept), ["mentoring guide", "career ladder"]);
    }

    #[test]
    fn reranking_keeps_at_most_what_was_asked_and_copes_with_nothing() {
        assert!(rerank(vec![], "mentor", 3).is_empty());
        let one = rerank(vec![scored("mentor", 0.2)], "mentor", 3);
        assert_eq!(contents(&one), ["mentor"]);
        let equal = rerank(vec![scored("x", 0.2), scored("y", 0.2)], "", 1);
        assert_eq!(
            contents(&equal),
            ["x"],
            "equal scores keep the store's order"
        );
    }

    #[test]
    fn recall_is_the_share_of_the_fresh_passages_already_used() {
        let (a, b, c) = (doc("a", "x"), doc("b", "x"), doc("c", "x"));
        assert_eq!(
            recall(&[a.clone(), b.clone()], &[a.clone(), c.clone()]),
            0.5
        );
        assert_eq!(
            recall(std::slice::from_ref(&a), std::slice::from_ref(&a)),
            1.0
        );
        assert_eq!(recall(&[], &[a]), 0.0);
        assert_eq!(recall(&[b], &[]), 1.0, "nothing to find is nothing missed");
    }
}
