//! The reading of a values draft: the values it names and whether it says
//! what each means in practice.

use std::collections::BTreeSet;

use super::lexicon::CADENCES;
use super::split_clauses;
use super::words::{Word, company_words, concrete_stem, concrete_stems, strip_markup, words};
use crate::domain::injection::without_instructions;
use crate::domain::text::{is_number, is_time_unit};

/// One value a draft names, and whether it says what it means in practice.
#[derive(Debug, Clone)]
pub struct NamedValue {
    pub name: String,
    pub stems: BTreeSet<String>,
    pub described: bool,
}

/// The values of a values draft and the practices it describes.
#[derive(Debug, Clone, Default)]
pub struct ValuesReading {
    pub values: Vec<NamedValue>,
    /// Parts that repeated a value already named.
    pub repeats: usize,
    /// First-person practices ("I pair at least weekly").
    pub practices: usize,
}

/// Reads a list of values: "Learning (one new technology a quarter),
/// collaboration across teams, and balance: I protect my evenings."
pub fn read_values(draft: &str, company: &str) -> ValuesReading {
    let text = strip_markup(&without_instructions(draft));
    let company = company_words(company);
    let mut out = ValuesReading::default();
    let mut in_practices = false;
    for part in split_value_parts(&text) {
        let (head, described_inside) = split_parenthetical(&part);
        let head_words: Vec<String> = words(&head).into_iter().map(|w| w.lower).collect();
        let starts_first_person = head_words
            .first()
            .is_some_and(|w| matches!(w.as_str(), "i" | "i'm" | "i'll" | "my" | "we"));
        if starts_first_person {
            in_practices = true;
        }
        let stems: BTreeSet<String> = head_words
            .iter()
            .filter_map(|w| {
                concrete_stem(
                    &Word {
                        lower: w.clone(),
                        acronym: false,
                    },
                    &company,
                )
            })
            .collect();
        if in_practices {
            if !stems.is_empty() {
                out.practices += 1;
            }
            continue;
        }
        if stems.is_empty() {
            continue;
        }
        let name_stem: BTreeSet<String> = stems.iter().take(1).cloned().collect();
        let description = concrete_stems(&described_inside, "").len();
        let counted = words(&described_inside).iter().any(|w| {
            is_number(&w.lower)
                || is_time_unit(w.lower.as_str())
                || CADENCES.contains(&w.lower.as_str())
        });
        let qualified = head_words.len() >= 3
            && head_words.iter().any(|w| {
                matches!(
                    w.as_str(),
                    "through" | "across" | "in" | "by" | "with" | "for" | "of" | "to" | "over"
                )
            })
            && stems.len() >= 2;
        if out.values.iter().any(|v| {
            v.stems == stems || v.stems.iter().next() == name_stem.iter().next() && stems.len() == 1
        }) {
            out.repeats += 1;
            continue;
        }
        out.values.push(NamedValue {
            name: head.trim().to_string(),
            stems,
            described: description >= 2 || (description == 1 && counted) || qualified,
        });
    }
    out
}

/// Value list parts: split at `, ; : .`, line breaks and "and" outside
/// parentheses.
fn split_value_parts(text: &str) -> Vec<String> {
    let mut parts = vec![];
    for clause in split_clauses(text) {
        let mut depth = 0usize;
        let mut current = String::new();
        let tokens: Vec<&str> = clause.split(' ').collect();
        for token in tokens {
            let lower = token.to_lowercase();
            if depth == 0 && matches!(lower.as_str(), "and" | "et" | "y" | "und" | "e") {
                parts.push(std::mem::take(&mut current));
                continue;
            }
            depth += token.matches('(').count();
            depth = depth.saturating_sub(token.matches(')').count());
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(token);
        }
        parts.push(current);
    }
    parts
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// "Learning (one technology a quarter)" → ("Learning", "one technology a quarter").
fn split_parenthetical(part: &str) -> (String, String) {
    let mut head = String::new();
    let mut inside = String::new();
    let mut depth = 0usize;
    for c in part.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => inside.push(c),
            _ => head.push(c),
        }
    }
    (head, inside)
}
