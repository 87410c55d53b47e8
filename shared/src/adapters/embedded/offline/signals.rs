//! Plain-text signals the offline model reads: words, numbers, time frames,
//! value names and action items. Transparent on purpose: every score the
//! offline model gives can be explained from these.

use std::collections::BTreeSet;

use crate::domain::text::{
    is_month, is_number, is_quarter, is_stop_word, is_time_unit, is_vague, light_stem,
    looks_like_year,
};

/// Lowercase words (letters, digits, apostrophes and inner hyphens).
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '-'))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Distinct stems that carry meaning: no stop words, vague words, numbers or time units.
pub fn content_stems(text: &str) -> BTreeSet<String> {
    words(text)
        .iter()
        .flat_map(|w| w.split('-').map(str::to_string).collect::<Vec<_>>())
        .filter(|w| w.len() >= 3 && !is_stop_word(w) && !is_vague(w))
        .filter(|w| !is_number(w) && !is_time_unit(w) && !is_month(w))
        .map(|w| light_stem(&w))
        .collect()
}

pub fn vague_count(text: &str) -> usize {
    words(text).iter().filter(|w| is_vague(w)).count()
}

/// The text without list markers ("1.", "2)") so they don't count as numbers.
fn without_list_markers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at_item_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if at_item_start && c.is_ascii_digit() {
            let mut digits = String::from(c);
            while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                digits.push(d);
                chars.next();
            }
            if matches!(chars.peek(), Some('.' | ')')) {
                chars.next();
                out.push(' ');
            } else {
                out.push_str(&digits);
            }
            at_item_start = false;
            continue;
        }
        out.push(c);
        if matches!(c, '\n' | ';' | ':') {
            at_item_start = true;
        } else if !c.is_whitespace() {
            at_item_start = false;
        }
    }
    out
}

/// Quantities that are not time frames: "3-4 developers", "2 projects", "50%".
pub fn quantities(text: &str) -> usize {
    let tokens = words(&without_list_markers(text).replace('%', " percent "));
    let mut found = BTreeSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(String::as_str).unwrap_or("");
        for part in token.split('-') {
            let unit_inside = token.split('-').any(is_time_unit);
            if is_number(part) && !is_time_unit(next) && !unit_inside && !looks_like_year(part) {
                found.insert(format!("{part}@{i}"));
            }
        }
    }
    found.len()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFrame {
    Explicit,
    Vague,
    Missing,
}

/// Whether the text says by when: "within 24 months", "6-month", "by March",
/// "by Q2", "in 2026".
pub fn time_frame(text: &str) -> TimeFrame {
    let tokens = words(text);
    for (i, token) in tokens.iter().enumerate() {
        let next = tokens.get(i + 1).map(String::as_str).unwrap_or("");
        let prev = if i > 0 { tokens[i - 1].as_str() } else { "" };
        let number_then_unit = is_number(token) && is_time_unit(next);
        let hyphenated = token.split('-').any(is_time_unit) && token.split('-').any(is_number);
        let deadline = matches!(prev, "by" | "before" | "until" | "in" | "end")
            && (is_month(token) || looks_like_year(token) || is_quarter(token));
        let cadence = matches!(
            token.as_str(),
            "monthly" | "weekly" | "quarterly" | "annually" | "biweekly"
        );
        if number_then_unit || hyphenated || deadline || cadence {
            return TimeFrame::Explicit;
        }
    }
    let vague = [
        "soon",
        "someday",
        "eventually",
        "future",
        "later",
        "year",
        "years",
    ];
    if tokens.iter().any(|t| vague.contains(&t.as_str())) {
        TimeFrame::Vague
    } else {
        TimeFrame::Missing
    }
}

const VALUE_LEAD_INS: &[&str] = &[
    "i really value",
    "i value",
    "i care about",
    "what matters to me is",
    "for me it's",
    "i believe in",
    "also",
    "and",
    "i want to",
    "i'd like to",
    "i think",
];

const VALUE_TAILS: &[&str] = &[
    "is important to me",
    "are important to me",
    "is important",
    "matters to me",
    "too",
];

/// The values someone names: "continuous learning, collaboration with my
/// team, and work-life balance" gives three.
pub fn named_values(text: &str) -> Vec<String> {
    let mut out = vec![];
    // Descriptions in parentheses and a "Core values:" heading are not values.
    let mut plain = String::with_capacity(text.len());
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    let plain = plain
        .lines()
        .map(|l| match l.split_once(':') {
            Some((head, rest)) if head.split_whitespace().count() <= 3 => rest,
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let normalised = plain
        .replace(" and ", ",")
        .replace('\n', ",")
        .replace(['.', ';', '•'], ",");
    for part in normalised.split(',') {
        let mut phrase = part
            .trim()
            .trim_start_matches(|c: char| c == '-' || c == '*' || c.is_ascii_digit() || c == ')')
            .trim()
            .to_string();
        loop {
            let stripped = VALUE_LEAD_INS
                .iter()
                .find_map(|lead| strip_lead(&phrase, lead))
                .or_else(|| {
                    VALUE_TAILS
                        .iter()
                        .find_map(|tail| strip_tail(&phrase, tail))
                });
            match stripped {
                Some(rest) => phrase = rest.to_string(),
                None => break,
            }
        }
        if !phrase.is_empty()
            && phrase.split_whitespace().count() <= 8
            && !content_stems(&phrase).is_empty()
        {
            out.push(phrase);
        }
    }
    out
}

const ACTION_LEAD_INS: &[&str] = &[
    "i will",
    "i'll",
    "i plan to",
    "i want to",
    "i'd like to",
    "i would like to",
];

/// Action items: numbered or bulleted lines, else sentences.
pub fn action_items(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let listed: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '*' || c == '•'))
        .collect();
    let raw: Vec<String> = if listed.len() >= 2 {
        listed.iter().map(|l| l.to_string()).collect()
    } else {
        text.split(['.', ';', '\n']).map(str::to_string).collect()
    };
    raw.iter()
        .map(|item| {
            let mut item = item
                .trim()
                .trim_start_matches(|c: char| {
                    c.is_ascii_digit() || matches!(c, '.' | ')' | '-' | '*' | '•')
                })
                .trim()
                .to_string();
            if let Some(rest) = ACTION_LEAD_INS
                .iter()
                .find_map(|lead| strip_lead(&item, lead))
            {
                item = rest.to_string();
            }
            item
        })
        .filter(|item| !item.ends_with(':') && content_stems(item).len() >= 2)
        .collect()
}

/// `text` after a leading `lead` and a space, ignoring ASCII case; `None`
/// when it does not start so. Works on bytes that are checked to be
/// character boundaries, so no input can make it panic.
pub fn strip_lead<'a>(text: &'a str, lead: &str) -> Option<&'a str> {
    let head = text.get(..lead.len())?;
    let rest = text.get(lead.len()..)?;
    (head.eq_ignore_ascii_case(lead) && rest.starts_with(' ')).then(|| rest.trim())
}

/// `text` before a trailing `tail`, ignoring ASCII case.
pub fn strip_tail<'a>(text: &'a str, tail: &str) -> Option<&'a str> {
    let cut = text.len().checked_sub(tail.len())?;
    let (head, end) = (text.get(..cut)?, text.get(cut..)?);
    end.eq_ignore_ascii_case(tail).then(|| head.trim())
}

/// Share of `stems` that also appear in `reference` (0 when `stems` is empty).
pub fn overlap(stems: &BTreeSet<String>, reference: &BTreeSet<String>) -> f64 {
    if stems.is_empty() {
        return 0.0;
    }
    stems.intersection(reference).count() as f64 / stems.len() as f64
}

/// Capitalises each word: "continuous learning" → "Continuous Learning".
pub fn title_case(phrase: &str) -> String {
    phrase
        .split_whitespace()
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leads_and_tails_are_stripped_without_slicing_inside_a_character() {
        assert_eq!(strip_lead("I Will lead", "i will"), Some("lead"));
        assert_eq!(strip_lead("I willow", "i will"), None);
        assert_eq!(strip_lead("İİİ value", "i value"), None);
        assert_eq!(
            strip_tail("Balance is important to me", "is important to me"),
            Some("Balance")
        );
        assert_eq!(strip_tail("é", "too"), None);
        for tricky in [
            "İ really value x",
            "ǅ",
            "éé too",
            "I will",
            "Kİ will go",
            "\u{212A}\u{212A} too",
        ] {
            let _ = named_values(tricky);
            let _ = action_items(tricky);
        }
    }

    #[test]
    fn quantities_ignore_time_frames_and_years() {
        assert_eq!(quantities("lead a team of 3-4 developers"), 2);
        assert_eq!(quantities("within 24 months"), 0);
        assert_eq!(quantities("a 6-month plan by 2026"), 0);
        assert_eq!(quantities("mentor two juniors and cut downtime by 50%"), 2);
        assert_eq!(quantities("I want to do better"), 0);
        assert_eq!(
            quantities("Plan: 1) Mentor 2 juniors; 2) Read 3 books\n3. Ship"),
            2,
            "list markers are not quantities"
        );
    }

    #[test]
    fn time_frames_are_recognised() {
        assert_eq!(
            time_frame("Within 24 months, advance to L5"),
            TimeFrame::Explicit
        );
        assert_eq!(time_frame("6-Month Action Plan"), TimeFrame::Explicit);
        assert_eq!(time_frame("deliver by March"), TimeFrame::Explicit);
        assert_eq!(time_frame("ship by Q2"), TimeFrame::Explicit);
        assert_eq!(
            time_frame("present monthly tech talks"),
            TimeFrame::Explicit
        );
        assert_eq!(time_frame("someday I will lead"), TimeFrame::Vague);
        assert_eq!(time_frame("I want to do better"), TimeFrame::Missing);
    }

    #[test]
    fn sarahs_values_are_named() {
        let values = named_values(
            "I really value continuous learning, collaboration with my team, technical excellence, and making an \
             impact through good code. Also work-life balance is important to me.",
        );
        assert_eq!(
            values,
            vec![
                "continuous learning",
                "collaboration with my team",
                "technical excellence",
                "making an impact through good code",
                "work-life balance"
            ]
        );
        assert!(named_values("I want to do better").is_empty());
        let refined = "Core values: Continuous Learning (growing skills, every quarter); Team Collaboration (sharing knowledge); Respect.";
        assert_eq!(
            named_values(refined),
            vec!["Continuous Learning", "Team Collaboration", "Respect"]
        );
    }

    #[test]
    fn numbered_lines_are_action_items() {
        let items = action_items(
            "In the next 6 months I will:\n1. Complete AWS Solutions Architect certification\n2. Lead the payment \
             gateway migration project\n3. Mentor 2 junior developers (Mike and Jenny)",
        );
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], "Complete AWS Solutions Architect certification");
        assert_eq!(action_items("I want to do better").len(), 0);
    }

    #[test]
    fn content_stems_drop_filler_and_vague_words() {
        assert!(content_stems("I want to do better").is_empty());
        let stems = content_stems("mentor junior developers on the payment platform");
        assert!(stems.contains("mentor") && stems.contains("develop") && stems.contains("payment"));
        assert_eq!(vague_count("maybe do better stuff"), 3);
    }
}
