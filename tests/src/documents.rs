//! Helpers for the document tests: the shipped fixtures, uploads, and the
//! text-overlap measures extraction is judged by.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

/// A file under `tests/fixtures/documents/`.
pub fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/documents")
        .join(relative)
}

pub fn read_fixture(relative: &str) -> Vec<u8> {
    std::fs::read(fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// The multipart form of an admin upload.
pub fn upload_form(filename: &str, bytes: Vec<u8>, category: &str) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string()),
        )
        .text("category", category.to_string())
}

/// Lower-cased words (letters and digits).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Bag-of-words F1 of `extracted` against `truth`.
pub fn word_f1(extracted: &str, truth: &str) -> f64 {
    let count = |ws: Vec<String>| {
        let mut m: HashMap<String, usize> = HashMap::new();
        for w in ws {
            *m.entry(w).or_default() += 1;
        }
        m
    };
    let (got, want) = (count(words(extracted)), count(words(truth)));
    let overlap: usize = got
        .iter()
        .map(|(w, n)| (*n).min(*want.get(w).unwrap_or(&0)))
        .sum();
    let (got_total, want_total): (usize, usize) = (got.values().sum(), want.values().sum());
    if overlap == 0 {
        return 0.0;
    }
    let precision = overlap as f64 / got_total as f64;
    let recall = overlap as f64 / want_total as f64;
    2.0 * precision * recall / (precision + recall)
}

/// Share of the truth's word 5-grams found in the extraction (reading order).
pub fn five_gram_overlap(extracted: &str, truth: &str) -> f64 {
    let grams = |ws: &[String]| -> Vec<String> { ws.windows(5).map(|w| w.join(" ")).collect() };
    let got: HashSet<String> = grams(&words(extracted)).into_iter().collect();
    let want = grams(&words(truth));
    if want.is_empty() {
        return 1.0;
    }
    want.iter().filter(|g| got.contains(*g)).count() as f64 / want.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlap_measures_behave() {
        assert_eq!(word_f1("a b c", "a b c"), 1.0);
        assert_eq!(word_f1("x y", "a b"), 0.0);
        assert!((word_f1("a b", "a b c d") - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(
            five_gram_overlap("one two three four five", "One, two three four five."),
            1.0
        );
        assert_eq!(
            five_gram_overlap("five four three two one", "one two three four five"),
            0.0
        );
    }
}
