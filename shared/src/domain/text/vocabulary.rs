//! The words every reader of free text agrees on: stop words, vague words,
//! time units, months and number words (English first, then the Spanish,
//! French, German and Italian that drafts arrive in), and the shapes of
//! numbers, years and quarters. One list each, so the lexical rerank, the
//! offline coach and the offline scorer skip and count the same words.

/// Words that say nothing about what a text is about: function words and
/// filler ("want", "like", "important"). Sorted, for a binary search.
pub const STOP_WORDS: &[&str] = &[
    "a",
    "able",
    "about",
    "across",
    "after",
    "again",
    "all",
    "also",
    "am",
    "among",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "auf",
    "avec",
    "be",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "che",
    "con",
    "could",
    "dans",
    "das",
    "de",
    "del",
    "dem",
    "den",
    "der",
    "des",
    "di",
    "did",
    "die",
    "do",
    "does",
    "doesn",
    "doing",
    "don",
    "done",
    "du",
    "during",
    "e",
    "each",
    "ein",
    "eine",
    "einen",
    "el",
    "en",
    "end",
    "et",
    "every",
    "for",
    "from",
    "further",
    "für",
    "get",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "him",
    "his",
    "how",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "ich",
    "if",
    "il",
    "im",
    "important",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "just",
    "la",
    "las",
    "le",
    "least",
    "les",
    "let",
    "like",
    "los",
    "me",
    "mine",
    "mit",
    "more",
    "most",
    "much",
    "my",
    "myself",
    "new",
    "next",
    "no",
    "nor",
    "not",
    "now",
    "of",
    "off",
    "on",
    "once",
    "only",
    "onto",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "para",
    "per",
    "por",
    "pour",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "toward",
    "towards",
    "un",
    "una",
    "und",
    "under",
    "une",
    "until",
    "up",
    "upon",
    "us",
    "very",
    "via",
    "von",
    "want",
    "was",
    "we",
    "were",
    "what",
    "when",
    "whenever",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "within",
    "would",
    "y",
    "yes",
    "you",
    "your",
    "zu",
];

/// Words that sound like a goal but say nothing measurable or specific.
pub const VAGUE: &[&str] = &[
    "better",
    "more",
    "good",
    "great",
    "stuff",
    "things",
    "thing",
    "maybe",
    "somehow",
    "some",
    "really",
    "very",
    "kind",
    "sort",
    "try",
    "trying",
    "hopefully",
    "generally",
    "well",
    "harder",
    "few",
    "lot",
    "best",
    "improve",
    "proactive",
];

/// Units of a time frame ("in 6 months").
pub const TIME_UNITS: &[&str] = &[
    "day", "days", "week", "weeks", "month", "months", "year", "years", "quarter", "quarters",
    "yr", "yrs", "meses", "mes", "años", "año", "semanas", "monaten", "monate", "monat", "jahren",
    "jahre", "jahr", "wochen", "mois", "ans", "années", "semaines", "mesi", "anni", "maanden",
    "jaar",
];

/// Month names and their abbreviations.
pub const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
    "januar",
    "februar",
    "märz",
    "juni",
    "juli",
    "oktober",
    "dezember",
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];

/// Numbers written as words.
pub const NUMBER_WORDS: &[&str] = &[
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
    "twelve", "twenty", "dozen", "half", "double", "twice", "dos", "tres", "cuatro", "cinco",
    "zwei", "drei", "vier", "fünf", "deux", "trois", "quatre", "cinq",
];

pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.binary_search(&word).is_ok()
}

pub fn is_vague(word: &str) -> bool {
    VAGUE.contains(&word)
}

pub fn is_time_unit(word: &str) -> bool {
    TIME_UNITS.contains(&word)
}

pub fn is_month(word: &str) -> bool {
    MONTHS.contains(&word)
}

pub fn is_number_word(word: &str) -> bool {
    NUMBER_WORDS.contains(&word)
}

/// A number in digits ("24", "3-4", "50%") or in words ("two").
pub fn is_number(word: &str) -> bool {
    word.chars().next().is_some_and(|c| c.is_ascii_digit()) || is_number_word(word)
}

/// "2026": a year of this century.
pub fn looks_like_year(word: &str) -> bool {
    word.len() == 4 && word.starts_with("20") && word.chars().all(|c| c.is_ascii_digit())
}

/// "q1" to "q4", lowercase.
pub fn is_quarter(word: &str) -> bool {
    word.len() == 2 && word.starts_with('q') && matches!(word.as_bytes()[1], b'1'..=b'4')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_words_are_sorted_for_their_binary_search() {
        assert!(STOP_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn numbers_years_and_quarters() {
        assert!(is_number("24") && is_number("3-4") && is_number("two") && is_number("zwei"));
        assert!(!is_number("l5"));
        assert!(looks_like_year("2027") && !looks_like_year("1999") && !looks_like_year("20270"));
        assert!(is_quarter("q2") && !is_quarter("q5") && !is_quarter("qa"));
    }
}
