//! A draft's words as the reading sees them, and which of them carry
//! meaning: filler, words about goals, vague words, numbers, time words and
//! the company's own name do not.

use std::collections::BTreeSet;

use super::lang;
use crate::domain::text::{
    is_month, is_number_word, is_quarter, is_stop_word, is_time_unit, is_vague, stem,
};

/// A word as read: lowercase, with whether it looked like an acronym ("CI").
#[derive(Debug, Clone)]
pub(super) struct Word {
    pub(super) lower: String,
    pub(super) acronym: bool,
}

pub(super) fn words(text: &str) -> Vec<Word> {
    text.replace('%', " percent ")
        .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-' || c == '/' || c == '.'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '\'' | '-' | '/' | '.')))
        .filter(|w| !w.is_empty())
        .map(|w| Word {
            lower: w.to_lowercase(),
            acronym: w.chars().count() >= 2 && w.chars().all(|c| c.is_ascii_uppercase()),
        })
        .collect()
}

/// A word about goals or rubrics, in any language ("measurable", "Frist").
pub fn is_goal_word(word: &str) -> bool {
    lang::any(|l| l.meta, word)
}

/// A word too general or too vague to make a goal specific, in any language.
pub(super) fn is_filler(word: &str) -> bool {
    is_vague(word)
        || lang::any(|l| l.generic, word)
        || lang::any(|l| l.vague, word)
        || lang::any(|l| l.markers, word)
        || lang::any(|l| l.first_person, word)
}

/// A word that only says when or how often, in any language.
pub(super) fn is_time_word(word: &str) -> bool {
    is_time_unit(word)
        || is_month(word)
        || is_quarter(word)
        || lang::any(|l| l.duration, word)
        || lang::any(|l| l.cadence, word)
        || lang::any(|l| l.per, word)
        || lang::any(|l| l.units, word)
        || lang::any(|l| l.vague_time, word)
}

/// A stem that can carry meaning, or `None` for filler, goal words, vague
/// words, numbers and time words.
pub(super) fn concrete_stem(word: &Word, company: &[String]) -> Option<String> {
    let w = word.lower.as_str();
    let has_digit = w.chars().any(|c| c.is_ascii_digit());
    let has_letter = w.chars().any(char::is_alphabetic);
    let long_enough = w.chars().count() >= 3 || word.acronym || (has_digit && has_letter);
    if !long_enough
        || !has_letter
        || is_stop_word(w)
        || is_goal_word(w)
        || is_filler(w)
        || is_number_word(w)
        || is_time_word(w)
        || company.iter().any(|c| c == w)
    {
        return None;
    }
    // "payment-platform" counts as its parts.
    Some(stem(w.split('-').next_back().unwrap_or(w)))
}

/// Stems of `text` that carry meaning, without the company's own name.
pub fn concrete_stems(text: &str, company: &str) -> BTreeSet<String> {
    let company = company_words(company);
    let mut out = BTreeSet::new();
    for w in words(&strip_markup(text)) {
        for part in w.lower.split('-') {
            let part = Word {
                lower: part.to_string(),
                acronym: w.acronym,
            };
            if let Some(s) = concrete_stem(&part, &company) {
                out.insert(s);
            }
        }
    }
    out
}

pub(super) fn company_words(company: &str) -> Vec<String> {
    words(company)
        .into_iter()
        .map(|w| w.lower.trim_end_matches("'s").to_string())
        .flat_map(|w| [w.clone(), format!("{w}'s")])
        .collect()
}

/// The text without HTML or XML tags, so markup is read as the words it holds.
pub fn strip_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let tag_like = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!');
        match after.find('>') {
            Some(close) if tag_like => {
                out.push(' ');
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}
