//! A close reading of a goal draft for the offline scorer: what it claims,
//! not which words it uses. Words about goals ("specific", "measurable",
//! "aligned", "SMART") and numbers or dates attached to nothing are not
//! evidence; repeated words are counted once; markup is text; sentences
//! addressed to the scorer are set aside (and reported) before anything is
//! read. Deterministic and explainable: every count keeps its examples.

use std::collections::BTreeSet;

use self::lang::Lang;
use self::lexicon::COUNTABLE;
use self::words::{Word, company_words, concrete_stem, is_goal_word, strip_markup, words};
use crate::domain::injection::{Finding, find_instructions, without_instructions};
use crate::domain::text::{
    is_month, is_number, is_number_word, is_quarter, is_stop_word, is_time_unit, is_vague,
    looks_like_year,
};

pub mod lang;
mod lexicon;
mod values;
mod words;

pub use self::values::{NamedValue, ValuesReading, read_values};
pub use self::words::concrete_stems;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFrame {
    Explicit,
    Vague,
    Missing,
}

/// One clause: a list item or a comma-separated part.
#[derive(Debug, Clone, Default)]
pub struct Clause {
    pub text: String,
    pub stems: BTreeSet<String>,
    /// Numbers attached to something countable: "2 developers", "from 6 to 2".
    pub quantities: Vec<String>,
    /// Numbers attached to nothing countable.
    pub bare_numbers: Vec<String>,
    pub dated: bool,
    pub first_person: bool,
    /// The clause's words, lowercase.
    pub words: Vec<String>,
}

impl Clause {
    /// Names something real: two meaningful words, or one with a count.
    pub fn is_concrete(&self) -> bool {
        self.stems.len() >= 2 || (self.stems.len() == 1 && !self.quantities.is_empty())
    }

    /// "Pass the AWS exam", "migrate the billing service": done or not.
    pub fn is_completion(&self) -> bool {
        self.stems.len() >= 2 && self.words.iter().any(|w| lang::any(|l| l.completions, w))
    }
}

/// Everything the offline scorer reads from a draft.
#[derive(Debug, Clone, Default)]
pub struct Reading {
    /// The language the draft is written in, as far as its words tell.
    pub lang: Lang,
    /// What the draft is about, to compare with the company's documents.
    pub meaning: Meaning,
    pub clauses: Vec<Clause>,
    /// Sentences addressed to the scorer, set aside before reading.
    pub instructions: Vec<Finding>,
    pub goal_words: Vec<String>,
    pub vague_words: Vec<String>,
    pub stems: BTreeSet<String>,
    pub time: Option<TimeFrame>,
    /// Distinct time expressions ("by 2027", "in 24 months").
    pub time_expressions: usize,
    /// Why the draft reads as a keyword list rather than a goal.
    pub stuffing: Option<String>,
    /// The aim points outside the company ("a different company").
    pub leaving: Option<&'static str>,
    pub first_person: bool,
}

impl Reading {
    pub fn concrete_clauses(&self) -> Vec<&Clause> {
        let mut seen: Vec<&BTreeSet<String>> = vec![];
        let mut out = vec![];
        for c in self.clauses.iter().filter(|c| c.is_concrete()) {
            if !seen.contains(&&c.stems) {
                seen.push(&c.stems);
                out.push(c);
            }
        }
        out
    }

    /// Distinct attached quantities ("2 developers" counted once).
    pub fn quantities(&self) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        for q in self.clauses.iter().flat_map(|c| c.quantities.iter()) {
            if !out.contains(q) {
                out.push(q.clone());
            }
        }
        out
    }

    pub fn bare_numbers(&self) -> Vec<String> {
        self.clauses
            .iter()
            .flat_map(|c| c.bare_numbers.iter().cloned())
            .collect()
    }

    pub fn completions(&self) -> usize {
        self.concrete_clauses()
            .iter()
            .filter(|c| c.quantities.is_empty() && c.is_completion())
            .count()
    }
}

/// Splits at `, ; : .` and line breaks outside parentheses, and at list
/// markers ("1)", "2.", "- ").
fn split_clauses(text: &str) -> Vec<String> {
    let mut out = vec![];
    let mut current = String::new();
    let mut depth = 0usize;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '(' | '[' => {
                depth += 1;
                current.push(c);
            }
            ')' | ']' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            ';' | '\n' | '•' | '—' | '–' => {
                if depth == 0 {
                    out.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            ',' | ':' | '.' | '!' | '?' => {
                let boundary = next.is_none_or(char::is_whitespace);
                // "31. März": a German ordinal date, not a sentence end.
                let ordinal_date = c == '.' && ends_with_short_number(&current) && {
                    let rest: String = chars[i + 1..].iter().collect();
                    rest.split_whitespace().next().is_some_and(|w| {
                        is_month(&w.trim_end_matches([',', ':', '.']).to_lowercase())
                    })
                };
                if depth == 0 && boundary && !ordinal_date {
                    out.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            _ => current.push(c),
        }
        i += 1;
    }
    out.push(current);
    out.into_iter()
        .map(|c| {
            c.trim()
                .trim_start_matches(|c: char| {
                    c.is_ascii_digit() || matches!(c, ')' | '.' | '-' | '*')
                })
                .trim()
                .to_string()
        })
        .filter(|c| !c.is_empty())
        .collect()
}

/// Whether `text` ends in a number of one or two digits ("bis 31").
fn ends_with_short_number(text: &str) -> bool {
    let last = text.split_whitespace().next_back().unwrap_or("");
    (1..=2).contains(&last.len()) && last.chars().all(|c| c.is_ascii_digit())
}

/// Reads one clause's words: meaningful stems, attached and bare numbers,
/// dates.
fn read_clause(text: &str, company: &[String]) -> Clause {
    let ws = words(text);
    let mut clause = Clause {
        text: text.to_string(),
        ..Default::default()
    };
    for w in &ws {
        for part in w.lower.split('-') {
            let part = Word {
                lower: part.to_string(),
                acronym: w.acronym,
            };
            if let Some(s) = concrete_stem(&part, company) {
                clause.stems.insert(s);
            }
        }
    }
    clause.first_person = ws.iter().any(|w| lang::any(|l| l.first_person, &w.lower));
    clause.words = ws.iter().map(|w| w.lower.clone()).collect();
    let lower: Vec<&str> = ws.iter().map(|w| w.lower.as_str()).collect();
    let mut i = 0;
    while i < lower.len() {
        let w = lower[i];
        let prev = if i > 0 { lower[i - 1] } else { "" };
        let next = lower.get(i + 1).copied().unwrap_or("");
        let before = if i > 1 { lower[i - 2] } else { "" };
        if is_month(w)
            && (is_number(next)
                || is_number(prev)
                || is_deadline_word(prev)
                || (prev == "de" && is_number(before)))
        {
            clause.dated = true;
        }
        if (looks_like_year(w) || is_quarter(w)) && (is_deadline_word(prev) || is_frame_word(prev))
        {
            clause.dated = true;
        }
        let numeric = is_number(w) && !looks_like_year(w) && !w.chars().any(char::is_alphabetic)
            || is_number_word(w);
        if !numeric {
            i += 1;
            continue;
        }
        let after_next = lower.get(i + 2).copied().unwrap_or("");
        if is_month(next) || is_month(prev) || (next == "de" && is_month(after_next)) {
            clause.dated = true;
            i += 1;
            continue;
        }
        let unit_next = is_time_unit(next) || w.split('-').any(is_time_unit);
        let measured = matches!(
            prev,
            "saving" | "save" | "cut" | "reduce" | "under" | "to" | "from" | "below" | "about"
        ) || prev.starts_with('~');
        if unit_next && !measured {
            // "in 24 months", "6-month": a time frame, not a count.
            clause.dated = true;
            i += 2;
            continue;
        }
        if lang::any(|l| l.from, prev) {
            // "from 6 hours to under 2": one change, counted once.
            clause.quantities.push(format!("from {w}"));
            let skip_to = (i + 1..lower.len().min(i + 5)).find(|&j| is_number(lower[j]));
            i = skip_to.map(|j| j + 1).unwrap_or(i + 1);
            continue;
        }
        if next == "percent" {
            // "100% alignment" is a claim about the goal, not an outcome.
            let about_goal = lower.get(i + 2).is_some_and(|w| is_goal_word(w));
            if clause_has_meaning(&lower, company) && !about_goal {
                clause.quantities.push(format!("{w}%"));
            } else {
                clause.bare_numbers.push(format!("{w}%"));
            }
            i += 2;
            continue;
        }
        let mut attached = None;
        for look in lower.iter().skip(i + 1).take(3) {
            if is_number(look) && !look.chars().any(char::is_alphabetic) {
                break;
            }
            if lang::any(|l| l.duration, look) || is_time_unit(look) {
                attached = Some(look.to_string());
                break;
            }
            let word = Word {
                lower: look.to_string(),
                acronym: false,
            };
            if let Some(s) = concrete_stem(&word, company) {
                attached = Some(s);
                break;
            }
            if COUNTABLE.contains(look) {
                attached = Some(look.to_string());
                break;
            }
            if is_goal_word(look) {
                break;
            }
        }
        match attached {
            Some(noun) => clause.quantities.push(format!("{w} {noun}")),
            None => clause.bare_numbers.push(w.to_string()),
        }
        i += 1;
    }
    clause
}

fn is_deadline_word(word: &str) -> bool {
    lang::any(|l| l.deadline, word)
}

fn is_frame_word(word: &str) -> bool {
    lang::any(|l| l.frame, word)
}

fn clause_has_meaning(lower: &[&str], company: &[String]) -> bool {
    lower.iter().any(|w| {
        concrete_stem(
            &Word {
                lower: w.to_string(),
                acronym: false,
            },
            company,
        )
        .is_some()
    })
}

fn time_of(text: &str) -> (Option<TimeFrame>, usize) {
    let ws: Vec<String> = words(text).into_iter().map(|w| w.lower).collect();
    let mut expressions = BTreeSet::new();
    for (i, w) in ws.iter().enumerate() {
        let prev = if i > 0 { ws[i - 1].as_str() } else { "" };
        let next = ws.get(i + 1).map(String::as_str).unwrap_or("");
        let number_then_unit = is_number(w) && is_time_unit(next);
        let hyphenated = w.split('-').any(is_time_unit) && w.split('-').any(is_number);
        let year = w.split('-').any(looks_like_year);
        let deadline = (is_deadline_word(prev) || is_frame_word(prev) || prev == "of")
            && (is_month(w.as_str()) || year || is_quarter(w));
        // "30 June", "June 30", "30 de junio"
        let before = if i > 1 { ws[i - 2].as_str() } else { "" };
        let date = is_month(w.as_str())
            && (is_number(prev) || is_number(next) || (prev == "de" && is_number(before)));
        // "weekly", "every Friday", "twice a month", "jeden Monat", "cada mes"
        let cadence = lang::any(|l| l.cadence, w)
            || (lang::any(|l| l.per, prev) && (is_time_unit(w) || lang::any(|l| l.units, w)));
        let quarter_heading = is_quarter(w);
        if number_then_unit || hyphenated || deadline || date || cadence || quarter_heading {
            expressions.insert(format!("{prev} {w} {next}"));
        }
    }
    let time = if !expressions.is_empty() {
        Some(TimeFrame::Explicit)
    } else if ws
        .iter()
        .any(|w| lang::any(|l| l.vague_time, w) || is_time_unit(w.as_str()))
    {
        Some(TimeFrame::Vague)
    } else {
        Some(TimeFrame::Missing)
    };
    (time, expressions.len())
}

/// Why a text reads as a keyword list: words repeated back to back, one
/// word over and over, or several time frames at once.
fn stuffing_of(
    text: &str,
    time_expressions: usize,
    concrete_clauses: usize,
    repeated_claims: usize,
    company: &[String],
) -> Option<String> {
    let ws: Vec<String> = words(text).into_iter().map(|w| w.lower).collect();
    let doubled: Vec<&String> = ws
        .windows(2)
        .filter(|p| p[0] == p[1] && !is_stop_word(p[0].as_str()))
        .map(|p| &p[0])
        .collect();
    if doubled.len() >= 2 {
        let mut shown: Vec<&str> = doubled.iter().map(|s| s.as_str()).collect();
        shown.dedup();
        return Some(format!(
            "words repeated back to back ({})",
            shown.join(", ")
        ));
    }
    let mut counts = std::collections::BTreeMap::new();
    for w in &ws {
        if let Some(s) = concrete_stem(
            &Word {
                lower: w.clone(),
                acronym: false,
            },
            company,
        ) {
            *counts.entry(s).or_insert(0usize) += 1;
        }
    }
    if let Some((word, n)) = counts.iter().find(|(_, n)| **n >= 4) {
        return Some(format!("\"{word}\" {n} times"));
    }
    if repeated_claims >= 2 {
        return Some(format!("the same claim {} times", repeated_claims + 1));
    }
    // A plan may date each action; more dates than actions is padding.
    if time_expressions >= 4 && time_expressions >= concrete_clauses + 2 {
        return Some(format!(
            "{time_expressions} time frames for {concrete_clauses} concrete claim(s)"
        ));
    }
    let function_words = ws.iter().filter(|w| is_stop_word(w.as_str())).count();
    if ws.len() >= 14 && function_words * 20 < ws.len() {
        return Some("a list of keywords rather than sentences".into());
    }
    None
}

/// What a text is about: the concepts its words name in any language
/// ("lernen" and "learning" are both `learn`), and the meaningful stems of
/// the words no concept covers.
#[derive(Debug, Clone, Default)]
pub struct Meaning {
    pub concepts: BTreeSet<&'static str>,
    pub other: BTreeSet<String>,
}

impl Meaning {
    pub fn of(text: &str, company: &str) -> Meaning {
        let company = company_words(company);
        let mut meaning = Meaning::default();
        for w in words(&strip_markup(text)) {
            for part in w.lower.split('-') {
                let word = Word {
                    lower: part.to_string(),
                    acronym: w.acronym,
                };
                let Some(stem) = concrete_stem(&word, &company) else {
                    continue;
                };
                match lang::concept(part) {
                    Some(concept) => {
                        meaning.concepts.insert(concept);
                    }
                    None => {
                        meaning.other.insert(stem);
                    }
                }
            }
        }
        meaning
    }

    pub fn extend(&mut self, other: Meaning) {
        self.concepts.extend(other.concepts);
        self.other.extend(other.other);
    }

    pub fn is_empty(&self) -> bool {
        self.concepts.is_empty() && self.other.is_empty()
    }

    /// How much of this meaning `reference` shares: the shared concepts
    /// (in the order they are named) and the share of everything said.
    pub fn shared_with(&self, reference: &Meaning) -> (Vec<&'static str>, f64) {
        let concepts: Vec<&'static str> = self
            .concepts
            .intersection(&reference.concepts)
            .copied()
            .collect();
        let others = self.other.intersection(&reference.other).count();
        let total = self.concepts.len() + self.other.len();
        let share = if total == 0 {
            0.0
        } else {
            (concepts.len() + others) as f64 / total as f64
        };
        (concepts, share)
    }
}

/// Reads a draft for the company `company` (whose name is not evidence).
pub fn read(draft: &str, company_name: &str) -> Reading {
    let instructions = find_instructions(draft);
    let text = strip_markup(&without_instructions(draft));
    let company = company_words(company_name);
    let ws: Vec<String> = words(&text).into_iter().map(|w| w.lower).collect();
    let goal_words: Vec<String> = ws.iter().filter(|w| is_goal_word(w)).cloned().collect();
    let vague_words: Vec<String> = ws
        .iter()
        .filter(|w| is_vague(w.as_str()))
        .cloned()
        .collect();
    let clauses: Vec<Clause> = split_clauses(&text)
        .iter()
        .map(|c| read_clause(c, &company))
        .collect();
    let stems = clauses
        .iter()
        .flat_map(|c| c.stems.iter().cloned())
        .collect();
    let (time, time_expressions) = time_of(&text);
    let concrete: Vec<&BTreeSet<String>> = clauses
        .iter()
        .filter(|c| c.is_concrete())
        .map(|c| &c.stems)
        .collect();
    let distinct: BTreeSet<&BTreeSet<String>> = concrete.iter().copied().collect();
    let repeated = concrete.len() - distinct.len();
    let stuffing = stuffing_of(&text, time_expressions, distinct.len(), repeated, &company);
    let lower = format!(" {} ", ws.join(" "));
    let leaving = lang::phrase_in(|l| l.leaving, &lower);
    let lang = lang::detect(&ws);
    Reading {
        lang,
        meaning: Meaning::of(&text, company_name),
        first_person: clauses.iter().any(|c| c.first_person),
        clauses,
        instructions,
        goal_words,
        vague_words,
        stems,
        time,
        time_expressions,
        stuffing,
        leaving,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::stem;

    #[test]
    fn counts_need_something_to_count() {
        let r = read(
            "Within 24 months I will achieve 5 specific, measurable and relevant outcomes aligned with Sunrise Corporation's career framework and values, with 100% commitment and 3 milestones",
            "Sunrise Corporation",
        );
        assert_eq!(r.quantities(), Vec::<String>::new());
        assert!(
            r.concrete_clauses().is_empty(),
            "{:?}",
            r.concrete_clauses()
        );
        assert!(r.goal_words.len() >= 6);
        let r = read(
            "Within 2 years, become our data platform's tech lead: cut nightly pipeline runtime from 6 hours to under 2, onboard 3 product teams to the platform, and mentor 2 engineers to L4.",
            "Sunrise Corporation",
        );
        assert_eq!(r.quantities(), vec!["from 6", "3 product", "2 engine"]);
        assert_eq!(r.time, Some(TimeFrame::Explicit));
    }

    #[test]
    fn repeated_claims_are_padding() {
        let r = read(
            "Migrate 2 billing services, migrate 2 billing services, migrate 2 billing services by June.",
            "Sunrise",
        );
        assert!(r.stuffing.is_some());
        let r = read(
            "1) Pass the CKA exam by March; 2) migrate billing by May; 3) retire 2 VMs by June; 4) present the migration monthly.",
            "Sunrise",
        );
        assert_eq!(r.stuffing, None);
    }

    #[test]
    fn keyword_lists_and_repeated_dates_are_noticed() {
        let r = read(
            "By 2027 by 2028 in 24 months 2 years 12 months: senior senior engineer L5 L5 mentoring 2 2 2 projects distributed systems system design leadership.",
            "Sunrise",
        );
        assert!(r.stuffing.is_some());
        assert_eq!(r.quantities().len(), 1, "{:?}", r.quantities());
        let r = read(
            "1) do 2) do 3) do 4) do 5) do 6) do — by 30 June, 31 May, 30 April, 31 March, 28 Feb, 31 Jan.",
            "Sunrise",
        );
        assert!(r.concrete_clauses().is_empty());
        assert!(r.quantities().is_empty());
    }

    #[test]
    fn repeated_values_count_once_and_practices_describe_them() {
        let v = read_values(
            "Hard work, hard work, hard work, and more hard work.",
            "Sunrise",
        );
        assert!(v.values.len() <= 1, "{:?}", v.values);
        let v = read_values(
            "Learning, teamwork, quality, customer impact and balance: I learn in public, review generously, test before I merge, talk to users monthly and protect my evenings.",
            "Sunrise",
        );
        assert_eq!(v.values.len(), 5, "{:?}", v.values);
        assert!(v.practices >= 4, "{v:?}");
        let v = read_values(
            "Continuous learning (one new technology a quarter), collaboration (pairing and open code reviews), technical excellence (clean, tested code), meaningful impact (features customers use) and work-life balance (a sustainable pace).",
            "Sunrise",
        );
        assert_eq!(v.values.len(), 5, "{:?}", v.values);
        assert!(v.values.iter().all(|x| x.described), "{:?}", v.values);
        let v = read_values(
            "Five clear values: value one, value two, value three.",
            "Sunrise",
        );
        assert!(v.values.is_empty(), "{:?}", v.values);
    }

    #[test]
    fn dates_in_other_forms_and_languages_are_time_frames_not_counts() {
        for text in [
            "By mid-2027, lead the checkout rewrite",
            "Antes del 30 de junio: migrar 3 servicios",
            "Bis 30. Juni: 2 Tech Talks halten",
        ] {
            assert_eq!(
                read(text, "Sunrise").time,
                Some(TimeFrame::Explicit),
                "{text}"
            );
        }
        let r = read("Antes del 30 de junio: migrar 3 servicios", "Sunrise");
        assert_eq!(r.quantities(), vec!["3 servicio"]);
        let r = read(
            "Complete 5 tasks, 3 items and 10 activities within 6 months.",
            "Sunrise",
        );
        assert!(r.quantities().is_empty(), "{:?}", r.quantities());
    }

    #[test]
    fn markup_is_text_and_stems_meet() {
        assert_eq!(
            strip_markup("<script>alert(1)</script> By 30 June"),
            " alert(1)  By 30 June"
        );
        assert_eq!(strip_markup("a < b and c > d"), "a < b and c > d");
        assert_eq!(stem("migration"), stem("migrate"));
        assert_eq!(stem("mentoring"), stem("mentor"));
        assert_eq!(stem("services"), stem("service"));
    }
}
