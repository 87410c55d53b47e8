//! A phase's answers read as one conversation: each answer split into its
//! clauses (list items however typed, else sentences), a later clause that
//! restates an earlier one taking its place, and the latest answer weighing
//! most when not everything fits in a goal. So every answer counts: a
//! restated or corrected answer changes the draft.

use std::collections::BTreeSet;

use super::signals::content_stems;
use crate::domain::text::read_list;

/// One clause of a phase's answers and the answer (0 = the first) it last
/// came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub text: String,
    pub answer: usize,
}

/// What people open a clause with that says nothing about the goal,
/// restatements in the past tense included ("like I said, I wanted to …").
/// Longer leads first, so "i wanted to" is tried before "i want".
pub const LEAD_INS: &[&str] = &[
    "what i meant was",
    "what i meant is",
    "i already said",
    "i am going to",
    "i'm going to",
    "i was going to",
    "i would like to",
    "i'd really like to",
    "i'd like to",
    "i really want to",
    "i also want to",
    "i wanted to",
    "i want to",
    "i hoped to",
    "i hope to",
    "i planned to",
    "i plan to",
    "i need to",
    "i said i would",
    "i said i'd",
    "i said i will",
    "i said i'll",
    "i said that",
    "i said",
    "like i said",
    "as i said",
    "as i mentioned",
    "i told you",
    "my core values are",
    "my core values were",
    "my values are",
    "my values were",
    "my goal is to",
    "my goal was to",
    "my plan is to",
    "my plan was to",
    "to be clear",
    "to clarify",
    "i meant",
    "i mean",
    "i'm gonna",
    "i wanna",
    "gonna",
    "wanna",
    "i will",
    "i'll",
    "i would",
    "i'd",
    "and maybe",
    "maybe",
    "actually",
    "basically",
    "honestly",
    "sorry",
    "again",
    "also",
    "and then",
    "then",
    "and",
    "so",
    "well",
    "yes",
    "yeah",
    "ok",
    "okay",
];

/// `text` after a leading `lead` (ASCII case ignored) and the comma or
/// colon after it; `None` when it does not start so. Checks character
/// boundaries, so no input can make it panic.
fn strip_one<'a>(text: &'a str, lead: &str) -> Option<&'a str> {
    let head = text.get(..lead.len())?;
    let rest = text.get(lead.len()..)?;
    let at_word_end = rest.is_empty() || rest.starts_with([' ', ',', ':', '-', '—']);
    (head.eq_ignore_ascii_case(lead) && at_word_end)
        .then(|| rest.trim_start_matches([' ', ',', ':', '-', '—']))
}

/// The clause without every lead-in it opens with.
pub fn strip_lead_ins(clause: &str) -> String {
    let mut rest = clause.trim();
    while let Some(next) = LEAD_INS.iter().find_map(|lead| strip_one(rest, lead)) {
        rest = next;
    }
    rest.to_string()
}

/// Sentences, split at ". ", "!", "?", ";" and line breaks; a dot between
/// digits ("2.5") splits nothing.
pub fn sentences(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = vec![];
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let decimal = c == '.'
            && i > 0
            && chars[i - 1].is_ascii_digit()
            && chars.get(i + 1).is_some_and(char::is_ascii_digit);
        if matches!(c, '.' | '!' | '?' | ';' | '\n') && !decimal {
            out.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    out.push(current);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// An answer's clauses: its list items when it holds a list (inline or on
/// lines, [`read_list`]), else its sentences; lead-ins stripped.
pub fn clauses_of(answer: &str) -> Vec<String> {
    let parts = match read_list(answer) {
        Some(list) => list.items,
        None => sentences(answer),
    };
    parts
        .iter()
        .map(|p| strip_lead_ins(p))
        .filter(|p| !p.is_empty() && !p.ends_with(':'))
        .collect()
}

/// Whether `later` says again what `earlier` said: at least half the
/// meaningful words of the shorter one are shared, two at least (one when
/// the shorter has only one).
pub fn restates(later: &str, earlier: &str) -> bool {
    restates_stems(&content_stems(later), &content_stems(earlier))
}

fn restates_stems(later: &BTreeSet<String>, earlier: &BTreeSet<String>) -> bool {
    let shorter = later.len().min(earlier.len());
    if shorter == 0 {
        return false;
    }
    let shared = later.intersection(earlier).count();
    shared * 2 >= shorter && shared >= shorter.min(2)
}

/// The clauses of all answers, oldest first: a clause that restates one of
/// an earlier answer takes its place (and its recency), so a correction
/// replaces what it corrects and a new point is added at the end.
pub fn merge(answers: &[Vec<String>]) -> Vec<Clause> {
    let mut merged: Vec<Clause> = vec![];
    for (answer, clauses) in answers.iter().enumerate() {
        for text in clauses {
            if merged
                .iter()
                .any(|c| c.answer == answer && c.text.eq_ignore_ascii_case(text))
            {
                continue;
            }
            let stems = content_stems(text);
            let restated: Vec<usize> = merged
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    c.answer < answer && restates_stems(&stems, &content_stems(&c.text))
                })
                .map(|(i, _)| i)
                .collect();
            let clause = Clause {
                text: text.clone(),
                answer,
            };
            match restated.split_first() {
                Some((&first, others)) => {
                    merged[first] = clause;
                    for &i in others.iter().rev() {
                        merged.remove(i);
                    }
                }
                None => merged.push(clause),
            }
        }
    }
    merged
}

/// The clauses that fit in `budget` characters, each costing its length
/// plus `overhead`: the latest answer's first, then the most informative
/// (`weight`), then the earliest; returned in their order.
pub fn fit(
    clauses: &[Clause],
    budget: usize,
    overhead: usize,
    weight: impl Fn(&str) -> usize,
) -> Vec<Clause> {
    let mut ranked: Vec<usize> = (0..clauses.len()).collect();
    ranked.sort_by(|&a, &b| {
        let (ca, cb) = (&clauses[a], &clauses[b]);
        cb.answer
            .cmp(&ca.answer)
            .then(weight(&cb.text).cmp(&weight(&ca.text)))
            .then(a.cmp(&b))
    });
    let mut keep = vec![];
    let mut used = 0;
    for i in ranked {
        let cost = clauses[i].text.chars().count() + overhead;
        if used + cost <= budget || keep.is_empty() {
            keep.push(i);
            used += cost;
        }
    }
    keep.sort();
    keep.into_iter().map(|i| clauses[i].clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(clauses: &[Clause]) -> Vec<&str> {
        clauses.iter().map(|c| c.text.as_str()).collect()
    }

    #[test]
    fn lead_ins_and_past_tense_restatements_are_stripped() {
        assert_eq!(
            strip_lead_ins("Like I said, I wanted to lead a team of 3 developers"),
            "lead a team of 3 developers"
        );
        assert_eq!(
            strip_lead_ins("i said i'd mentor 2 juniors"),
            "mentor 2 juniors"
        );
        assert_eq!(strip_lead_ins("Andrew leads"), "Andrew leads");
        assert_eq!(strip_lead_ins("so"), "");
        for tricky in ["İ said", "é", "i", "ok—", "Kİ will"] {
            let _ = strip_lead_ins(tricky);
        }
    }

    #[test]
    fn sentences_keep_decimals_whole() {
        assert_eq!(
            sentences("Cut downtime by 2.5 hours. Lead a team!\nRead 3 books"),
            ["Cut downtime by 2.5 hours", "Lead a team", "Read 3 books"]
        );
    }

    #[test]
    fn an_inline_list_gives_the_same_clauses_as_a_list_on_lines() {
        let expected = [
            "get AWS certified by March",
            "lead the migration by June",
            "mentor 2 juniors",
        ];
        assert_eq!(
            clauses_of(
                "I will: 1. get AWS certified by March 2. I'll lead the migration by June 3. mentor 2 juniors"
            ),
            expected
        );
        assert_eq!(
            clauses_of(
                "I will:\n1. get AWS certified by March\n2. lead the migration by June\n3. mentor 2 juniors"
            ),
            expected
        );
    }

    #[test]
    fn a_restatement_takes_the_place_of_what_it_restates_and_new_points_are_added() {
        let merged = merge(&[
            vec![
                "get AWS certified by March".into(),
                "mentor 2 juniors".into(),
            ],
            vec![
                "mentor 2 junior developers (Mike and Jenny) by May".into(),
                "read 3 books on distributed systems".into(),
            ],
        ]);
        assert_eq!(
            texts(&merged),
            [
                "get AWS certified by March",
                "mentor 2 junior developers (Mike and Jenny) by May",
                "read 3 books on distributed systems"
            ]
        );
        assert_eq!(merged[1].answer, 1);
        assert!(!restates(
            "lead the payment migration",
            "lead a team of developers"
        ));
    }

    #[test]
    fn when_not_everything_fits_the_latest_answer_is_kept_first() {
        let clauses = [
            Clause {
                text: "x".repeat(20),
                answer: 0,
            },
            Clause {
                text: "y".repeat(20),
                answer: 1,
            },
        ];
        assert_eq!(texts(&fit(&clauses, 25, 2, |_| 0)), ["y".repeat(20)]);
        assert_eq!(fit(&clauses, 50, 2, |_| 0).len(), 2);
    }
}
