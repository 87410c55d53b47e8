//! The reading of a values draft: the values it names and whether it says
//! what each means in practice.

use std::collections::BTreeSet;

use super::lang;
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
    // "Respeto, excelencia e impacto: escucho…, escribo…": short names, a
    // colon, then what the writer does. In any language, the part after
    // such a colon is practices, whatever its verbs look like.
    let (listed, practices) = match names_then_practices(&text) {
        Some((names, practices)) => (names, Some(practices)),
        None => (text.clone(), None),
    };
    if let Some(practices) = practices {
        out.practices = split_value_parts(&practices)
            .iter()
            .filter(|p| !concrete_stems(p, "").is_empty())
            .count();
    }
    for part in split_value_parts(&listed) {
        let (head, described_inside) = split_parenthetical(&part);
        let head_words: Vec<String> = words(&head).into_iter().map(|w| w.lower).collect();
        if head_words.first().is_some_and(|w| is_first_person(w)) {
            if !concrete_stems(&part, "").is_empty() {
                out.practices += 1;
            }
            continue;
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
        if stems.is_empty() {
            continue;
        }
        let name_stem: BTreeSet<String> = stems.iter().take(1).cloned().collect();
        let description = concrete_stems(&described_inside, "").len();
        let counted = words(&described_inside).iter().any(|w| {
            is_number(&w.lower)
                || is_time_unit(w.lower.as_str())
                || lang::any(|l| l.cadence, &w.lower)
                || lang::any(|l| l.per, &w.lower)
        });
        // "collaboration across teams": a name with words that qualify it.
        let qualified = head_words.len() >= 3 && stems.len() >= 2;
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

/// "I", "ich", "je", "j'essaie", "yo", "my": the writer speaking of themselves.
fn is_first_person(word: &str) -> bool {
    let bare = word.split('\'').next().unwrap_or(word);
    lang::any(|l| l.first_person, word)
        || (bare != word && lang::any(|l| l.first_person, bare))
        || word == "we"
}

/// The text split at its first colon outside parentheses, when what comes
/// before is at least two short names ("Respect, curiosity and balance").
fn names_then_practices(text: &str) -> Option<(String, String)> {
    let mut depth = 0usize;
    let mut colon = None;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => {
                colon = Some(i);
                break;
            }
            _ => {}
        }
    }
    let colon = colon?;
    let (names, practices) = (&text[..colon], &text[colon + 1..]);
    let parts = split_value_parts(names);
    let short = parts
        .iter()
        .all(|p| !p.contains('(') && p.split_whitespace().count() <= 3);
    (parts.len() >= 2 && short && !practices.trim().is_empty())
        .then(|| (names.to_string(), practices.to_string()))
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
            if depth == 0 && lang::any(|l| l.and, &lower) {
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
