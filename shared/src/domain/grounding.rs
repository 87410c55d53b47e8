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
