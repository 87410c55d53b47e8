//! Words as a lexical match reads them, and how well a few passages match a
//! short query by them (BM25 over just those passages). No model, no index:
//! meant for reranking a handful of retrieved candidates.

use std::collections::{BTreeMap, HashMap, HashSet};

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use super::text::{is_stop_word, light_stem};

/// BM25's usual constants: how fast repeats of a word stop counting, and
/// how much a long passage is discounted.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// The text's terms in order: split at anything not a letter or digit,
/// case and diacritics folded ("Équipe" and "equipe" meet), stop words,
/// single letters and bare numbers dropped, crude plurals and verb endings
/// cut so that "mentoring" and "mentor" meet.
pub fn terms(text: &str) -> Vec<String> {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            folded.push(c.to_ascii_lowercase());
        } else {
            // "é" is "e" and a combining accent: keep the letter.
            decompose_canonical(c, |part| {
                if !is_combining_mark(part) {
                    folded.extend(part.to_lowercase());
                }
            });
        }
    }
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2 && !w.chars().all(|c| c.is_ascii_digit()))
        .filter(|w| !is_stop_word(w))
        .map(light_stem)
        .collect()
}

/// How well each passage matches `query`, by BM25 with the word rarities
/// taken from the passages themselves: a word every passage has counts for
/// little. 0 for a passage sharing no term with the query; each query term
/// counts once however often the query repeats it.
pub fn bm25_scores(query: &str, passages: &[&str]) -> Vec<f64> {
    let query_terms: HashSet<String> = terms(query).into_iter().collect();
    if query_terms.is_empty() || passages.is_empty() {
        return vec![0.0; passages.len()];
    }
    // Each passage as its length and the counts of the query's terms in it.
    // (A sorted map: the sum below adds in the same order every time.)
    let passages: Vec<(usize, BTreeMap<&str, f64>)> = passages
        .iter()
        .map(|p| {
            let words = terms(p);
            let mut counts = BTreeMap::new();
            for word in &words {
                if let Some(term) = query_terms.get(word) {
                    *counts.entry(term.as_str()).or_insert(0.0) += 1.0;
                }
            }
            (words.len(), counts)
        })
        .collect();
    let count = passages.len() as f64;
    let total_length: usize = passages.iter().map(|(length, _)| length).sum();
    let average_length = (total_length as f64 / count).max(1.0);
    let rarity: HashMap<&str, f64> = query_terms
        .iter()
        .map(|term| {
            let with = passages
                .iter()
                .filter(|(_, counts)| counts.contains_key(term.as_str()))
                .count() as f64;
            let idf = (1.0 + (count - with + 0.5) / (with + 0.5)).ln();
            (term.as_str(), idf)
        })
        .collect();
    passages
        .iter()
        .map(|(length, counts)| {
            let length_norm = 1.0 - B + B * *length as f64 / average_length;
            counts
                .iter()
                .map(|(term, tf)| rarity[term] * tf * (K1 + 1.0) / (tf + K1 * length_norm))
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_fold_case_and_diacritics_and_drop_stop_words_and_numbers() {
        assert_eq!(
            terms("I want to lead the Équipe of 12 in São Paulo, café-style!"),
            ["lead", "equipe", "sao", "paulo", "cafe", "style"]
        );
        assert_eq!(terms("I'm mentoring developers"), ["mentor", "develop"]);
        assert_eq!(terms("L4 and AI"), ["l4", "ai"]);
        assert!(terms("yes, and then? 2027").is_empty());
    }

    #[test]
    fn a_plural_and_a_verb_form_meet_their_stem() {
        assert_eq!(terms("reviews review"), ["review", "review"]);
        assert_eq!(terms("designed designing design"), ["design"; 3]);
    }

    #[test]
    fn bm25_favours_the_passage_with_the_querys_words() {
        let scores = bm25_scores(
            "mentor junior engineers",
            &[
                "Quarterly revenue grew in every region.",
                "Senior engineers mentor junior engineers and review designs.",
                "Engineers write tests.",
            ],
        );
        assert_eq!(scores[0], 0.0, "no shared word, no score");
        assert!(scores[1] > scores[2] && scores[2] > 0.0, "{scores:?}");
    }

    #[test]
    fn a_word_every_passage_has_counts_less_than_a_rare_one() {
        let scores = bm25_scores(
            "engineers mentoring",
            &[
                "engineers build systems",
                "engineers practise mentoring",
                "engineers plan releases",
            ],
        );
        let common_only = scores[0];
        let with_rare = scores[1];
        assert!(with_rare > 3.0 * common_only, "{scores:?}");
    }

    #[test]
    fn a_repeated_query_word_counts_once_and_a_long_passage_is_discounted() {
        let passages = [
            "security review",
            "security review of the payment service, its queues, its databases and its deployment pipeline",
            "release notes",
        ];
        assert_eq!(
            bm25_scores("security", &passages),
            bm25_scores("security security security", &passages)
        );
        let scores = bm25_scores("security", &passages);
        assert!(scores[0] > scores[1], "{scores:?}");
    }

    #[test]
    fn an_empty_query_or_no_passages_score_nothing() {
        assert_eq!(
            bm25_scores("the and of", &["a passage", "another"]),
            [0.0, 0.0]
        );
        assert!(bm25_scores("mentor", &[]).is_empty());
    }
}
