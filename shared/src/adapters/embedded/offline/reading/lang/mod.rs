//! Language-specific word lists, one module per language (English, German,
//! French, Spanish), and which language a draft is written in.
//!
//! The reading's structural signals (clauses, list items, numbers, dates,
//! parentheses) hold in any language; these lists only sharpen them. A word
//! is looked up in every language's list ([`any`]), so a German plan that
//! says "KPI" is read right; the detected language only picks the language
//! the feedback is written in. A draft in another language is read by its
//! structure alone and gets English feedback.

mod de;
mod en;
mod es;
mod fr;

/// A language the offline scorer has word lists and feedback for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    De,
    Fr,
    Es,
}

impl Lang {
    pub const ALL: [Lang; 4] = [Lang::En, Lang::De, Lang::Fr, Lang::Es];

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
            Lang::Fr => "fr",
            Lang::Es => "es",
        }
    }

    pub(crate) fn lexicon(self) -> &'static Lexicon {
        match self {
            Lang::En => &en::LEXICON,
            Lang::De => &de::LEXICON,
            Lang::Fr => &fr::LEXICON,
            Lang::Es => &es::LEXICON,
        }
    }
}

/// One language's words. Entries ending in `*` match as prefixes
/// ("messbar*" matches "messbare"); the rest match whole words. Everything
/// is lowercase.
pub(crate) struct Lexicon {
    /// Words that mark the language (function words), for detection.
    pub markers: &'static [&'static str],
    /// Words about goals and rubrics ("measurable", "deadline", "KPI"):
    /// they describe a good goal instead of being one.
    pub meta: &'static [&'static str],
    /// Words too general to make a goal specific.
    pub generic: &'static [&'static str],
    /// Words that sound like a goal but say nothing ("better", "more").
    pub vague: &'static [&'static str],
    /// The writer speaking of themselves ("I", "ich", "je").
    pub first_person: &'static [&'static str],
    /// Words that alone make a practice recur ("weekly", "monatlich").
    pub cadence: &'static [&'static str],
    /// Words before a deadline ("by", "bis", "avant", "antes").
    pub deadline: &'static [&'static str],
    /// Words before a time frame ("within", "innerhalb", "dans").
    pub frame: &'static [&'static str],
    /// Words that only gesture at a time ("someday", "irgendwann").
    pub vague_time: &'static [&'static str],
    /// Phrases that aim outside the company ("quit", "kündigen").
    pub leaving: &'static [&'static str],
    /// "from 6 to 2": the word before the starting figure.
    pub from: &'static [&'static str],
    /// Units of effort rather than of a deadline ("hours", "Stunden").
    pub duration: &'static [&'static str],
    /// Words that with a period make a cadence: "every Friday", "twice a
    /// week", "jeden Monat", "chaque semaine", "cada mes".
    pub per: &'static [&'static str],
    /// Words that join values or actions ("and", "und", "et", "y").
    pub and: &'static [&'static str],
    /// Periods a practice recurs over besides the shared time units
    /// ("Friday", "Quartal", "semaine"): "every Friday", "jedes Quartal".
    pub units: &'static [&'static str],
    /// Verbs whose object is done or not by a date ("pass", "bestehen"):
    /// a verifiable completion.
    pub completions: &'static [&'static str],
    /// What a word is about, across languages: "lernen", "apprendre" and
    /// "learning" are all `learn`. Alignment compares these with the
    /// company's documents, so meaning is shared, not spelling.
    pub concepts: &'static [(&'static str, &'static [&'static str])],
}

fn matches_entry(entry: &str, word: &str) -> bool {
    match entry.strip_suffix('*') {
        Some(prefix) => word.starts_with(prefix),
        None => entry == word,
    }
}

/// Whether `word` (lowercase) is in the list `pick` chooses, in any language.
pub(crate) fn any(pick: fn(&Lexicon) -> &'static [&'static str], word: &str) -> bool {
    Lang::ALL
        .iter()
        .any(|l| pick(l.lexicon()).iter().any(|e| matches_entry(e, word)))
}

/// The phrase of `pick`'s lists (in any language) that `text` (lowercase,
/// words separated by single spaces and padded with one space each side)
/// contains, if any.
pub(crate) fn phrase_in(
    pick: fn(&Lexicon) -> &'static [&'static str],
    text: &str,
) -> Option<&'static str> {
    Lang::ALL.iter().find_map(|l| {
        pick(l.lexicon())
            .iter()
            .find(|p| text.contains(&format!(" {p} ")))
            .copied()
    })
}

/// The concept `word` (lowercase) is about, in any language.
pub(crate) fn concept(word: &str) -> Option<&'static str> {
    Lang::ALL.iter().find_map(|l| {
        l.lexicon()
            .concepts
            .iter()
            .find(|(_, entries)| entries.iter().any(|e| matches_entry(e, word)))
            .map(|(key, _)| *key)
    })
}

/// The language `words` (lowercase) are most likely in: the one whose
/// marker words and letters occur most; English when nothing tells.
pub fn detect(words: &[String]) -> Lang {
    let mut best = (Lang::En, 0usize);
    for lang in Lang::ALL {
        let lexicon = lang.lexicon();
        let mut hits = words
            .iter()
            .filter(|w| lexicon.markers.contains(&w.as_str()))
            .count()
            * 2;
        hits += words
            .iter()
            .map(|w| w.chars().filter(|c| letter_hint(*c) == Some(lang)).count())
            .sum::<usize>();
        if hits > best.1 {
            best = (lang, hits);
        }
    }
    best.0
}

/// Letters one of the four languages uses and the others do not.
fn letter_hint(c: char) -> Option<Lang> {
    match c {
        'ä' | 'ö' | 'ü' | 'ß' => Some(Lang::De),
        'ç' | 'è' | 'ê' | 'à' | 'â' | 'î' | 'ô' | 'û' | 'œ' => Some(Lang::Fr),
        'ñ' | '¿' | '¡' | 'á' | 'í' | 'ó' | 'ú' => Some(Lang::Es),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    #[test]
    fn the_four_languages_are_told_apart() {
        for (text, lang) in [
            (
                "By 30 June I will migrate the billing service and mentor two juniors.",
                Lang::En,
            ),
            (
                "Bis 30. Juni die Zahlungs-API migrieren und die Testabdeckung erhöhen.",
                Lang::De,
            ),
            (
                "D'ici le 31 mars : obtenir la certification et présenter un exposé à l'équipe.",
                Lang::Fr,
            ),
            (
                "Antes del 30 de junio: migrar 3 servicios y dar 2 charlas técnicas.",
                Lang::Es,
            ),
            ("", Lang::En),
            ("42", Lang::En),
        ] {
            assert_eq!(detect(&words(text)), lang, "{text}");
        }
    }

    #[test]
    fn prefixes_and_whole_words_match_in_any_language() {
        assert!(any(|l| l.meta, "messbare"));
        assert!(any(|l| l.meta, "deadlines"));
        assert!(any(|l| l.meta, "plazos"));
        assert!(!any(|l| l.meta, "migrate"));
        assert!(any(|l| l.first_person, "ich"));
        assert_eq!(
            phrase_in(|l| l.leaving, " in dos años dejaré la empresa "),
            Some("dejaré la empresa")
        );
    }
}
