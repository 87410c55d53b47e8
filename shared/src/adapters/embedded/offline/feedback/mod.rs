//! What the offline scorer tells the employee about each criterion: plain
//! sentences in the draft's language (English, German, French or Spanish;
//! English for any other), quoting the employee's own words where that
//! helps, never word stems or counts of internal signals.

use super::reading::lang::Lang;

mod de;
mod en;
mod es;
mod fr;

/// One thing the scorer noticed about a criterion.
#[derive(Debug, Clone, PartialEq)]
pub enum Note {
    /// Concrete work is named; an example in the employee's words.
    Specific(String),
    /// Some concrete work is named, not enough.
    SomewhatSpecific(String),
    NotSpecific,
    /// A plan of a single action.
    OneAction,
    /// Words about good goals instead of a goal ("measurable", "aligned").
    AboutGoals,
    /// A list of keywords rather than sentences.
    KeywordList,
    /// Vague words, quoted.
    Vague(Vec<String>),
    /// A result that can be checked, quoted.
    Measured(String),
    MeasuredPartly(String),
    NotMeasured,
    TimeFrame,
    TimeWithoutAction,
    TooManyTimeFrames,
    VagueTime,
    NoTime,
    Leaving(String),
    NoDocuments,
    TooLittleToCompare,
    /// Topics shared with the company's documents (concept keys).
    Aligned(Vec<&'static str>),
    PartlyAligned(Vec<&'static str>),
    NotAligned,
    /// Values named, in the employee's words.
    Values(Vec<String>),
    TooFewValues(Vec<String>),
    TooManyValues,
    NoValues,
    RepeatedValues,
    AllPractised,
    SomePractised,
    NonePractised,
    OwnPractice,
    CopiedList,
    NotPersonal,
    Scoped,
    ScopeUnclear,
    /// Text addressed to the scorer was set aside.
    InstructionSetAside,
}

/// `notes` as one or two sentences in `lang`.
pub fn say(lang: Lang, notes: &[Note]) -> String {
    let said: Vec<String> = notes
        .iter()
        .map(|n| match lang {
            Lang::En => en::say(n),
            Lang::De => de::say(n),
            Lang::Fr => fr::say(n),
            Lang::Es => es::say(n),
        })
        .collect();
    said.join(" ")
}

/// The first three topics, each named in the note's language by `topic`.
fn topics(keys: &[&'static str], topic: fn(&str) -> &str) -> String {
    keys.iter()
        .take(3)
        .map(|k| topic(k))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Quoted and joined, at most `n`.
fn quoted(items: &[String], n: usize, open: &str, close: &str) -> String {
    items
        .iter()
        .take(n)
        .map(|s| format!("{open}{s}{close}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An employee's phrase, cut to a readable length at a word boundary.
pub fn excerpt(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() <= 8 {
        words.join(" ")
    } else {
        format!("{} …", words[..8].join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_note() -> Vec<Note> {
        vec![
            Note::Specific("lead the checkout rewrite".into()),
            Note::SomewhatSpecific("mentor people".into()),
            Note::NotSpecific,
            Note::OneAction,
            Note::AboutGoals,
            Note::KeywordList,
            Note::Vague(vec!["better".into()]),
            Note::Measured("2 juniors".into()),
            Note::MeasuredPartly("2 juniors".into()),
            Note::NotMeasured,
            Note::TimeFrame,
            Note::TimeWithoutAction,
            Note::TooManyTimeFrames,
            Note::VagueTime,
            Note::NoTime,
            Note::Leaving("quit".into()),
            Note::NoDocuments,
            Note::TooLittleToCompare,
            Note::Aligned(vec!["learn", "mentor"]),
            Note::PartlyAligned(vec!["quality"]),
            Note::NotAligned,
            Note::Values(vec!["Respect".into()]),
            Note::TooFewValues(vec!["Respect".into()]),
            Note::TooManyValues,
            Note::NoValues,
            Note::RepeatedValues,
            Note::AllPractised,
            Note::SomePractised,
            Note::NonePractised,
            Note::OwnPractice,
            Note::CopiedList,
            Note::NotPersonal,
            Note::Scoped,
            Note::ScopeUnclear,
            Note::InstructionSetAside,
        ]
    }

    #[test]
    fn every_note_is_a_plain_sentence_in_every_language() {
        let mut seen = std::collections::BTreeSet::new();
        for lang in Lang::ALL {
            for note in every_note() {
                let said = say(lang, std::slice::from_ref(&note));
                assert!(said.len() > 10, "{lang:?} {note:?}: {said}");
                assert!(
                    said.ends_with(['.', '!', '?', '»', '"', '”', '“']),
                    "{lang:?} {note:?}: {said}"
                );
                // No scorer jargon: whole words, so "system" is fine.
                let jargon = said
                    .split(|c: char| !c.is_alphanumeric())
                    .map(str::to_lowercase)
                    .any(|w| {
                        ["stem", "stems", "signal", "signals", "count", "counts"]
                            .contains(&w.as_str())
                    });
                assert!(!jargon, "{lang:?} {note:?}: {said}");
                seen.insert(said);
            }
        }
        // Four languages, each note its own sentence.
        assert_eq!(seen.len(), 4 * every_note().len());
    }

    #[test]
    fn topics_are_named_in_the_drafts_language() {
        assert!(say(Lang::De, &[Note::Aligned(vec!["learn"])]).contains("Lernen"));
        assert!(say(Lang::Fr, &[Note::Aligned(vec!["learn"])]).contains("apprentissage"));
        assert!(say(Lang::Es, &[Note::Aligned(vec!["learn"])]).contains("aprendizaje"));
        assert!(say(Lang::En, &[Note::Aligned(vec!["learn"])]).contains("learning"));
    }
}
