//! The offline embedder: feature hashing of words and word pairs. No model
//! weights, deterministic, good enough to rank passages by shared vocabulary.

use async_trait::async_trait;

use super::signals::words;
use crate::domain::text::light_stem;
use crate::ports::chat_model::ModelError;
use crate::ports::embedder::Embedder;

#[derive(Debug, Clone)]
pub struct HashingEmbedder {
    dimension: usize,
}

impl HashingEmbedder {
    pub const DEFAULT_DIMENSION: usize = 384;

    pub fn new(dimension: usize) -> Self {
        HashingEmbedder {
            dimension: dimension.max(8),
        }
    }

    pub fn embed_one(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0f32; self.dimension];
        let stems: Vec<String> = words(text)
            .iter()
            .map(|w| light_stem(w))
            .filter(|w| w.len() > 2)
            .collect();
        let mut add = |feature: &str, weight: f32| {
            let h = fnv1a(feature.as_bytes());
            let sign = if h & 1 == 0 { 1.0 } else { -1.0 };
            v[(h >> 1) as usize % self.dimension] += sign * weight;
        };
        for w in &stems {
            add(w, 1.0);
        }
        for pair in stems.windows(2) {
            add(&format!("{} {}", pair[0], pair[1]), 0.5);
        }
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            v.iter_mut().for_each(|x| *x /= norm);
        }
        v
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

#[async_trait]
impl Embedder for HashingEmbedder {
    fn name(&self) -> &'static str {
        "offline-hashing"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        Ok(texts.iter().map(|t| self.embed_one(t)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::vector_store::cosine;

    #[test]
    fn related_texts_are_closer_than_unrelated_ones() {
        let e = HashingEmbedder::new(384);
        let query = e.embed_one("I want to become a senior engineer and mentor junior developers");
        let career = e.embed_one(
            "Senior Engineer (L5) requires mentoring junior developers and system design",
        );
        let holidays =
            e.embed_one("The office is closed on public holidays and the cafeteria serves lunch");
        assert!(cosine(&query, &career) > cosine(&query, &holidays) + 0.1);
        assert_eq!(
            query,
            e.embed_one("I want to become a senior engineer and mentor junior developers")
        );
        assert_eq!(query.len(), 384);
        assert!((query.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-4);
    }
}
