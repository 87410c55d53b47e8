//! Crude English stemming, in two strengths. [`light_stem`] cuts only
//! plurals and verb endings and keeps the word legible ("mentoring" →
//! "mentor", "équipe" stays): the lexical rerank's terms and the hashing
//! embedder's features, whose stored vectors depend on it, use it.
//! [`stem`] also cuts derivations so that "migration" and "migrate" meet:
//! the offline scorer's close reading uses it.

/// Plurals and verb endings off a word of at least four letters' bytes.
pub fn light_stem(word: &str) -> String {
    for suffix in ["ing", "ers", "er", "ed", "es", "s"] {
        if word.len() > suffix.len() + 3
            && let Some(base) = word.strip_suffix(suffix)
        {
            return base.to_string();
        }
    }
    word.to_string()
}

/// Inflections and derivations off, leaving at least three letters:
/// "mentoring"/"mentor", "migration"/"migrate", "services"/"service" meet.
pub fn stem(word: &str) -> String {
    const SUFFIXES: &[(&str, &str)] = &[
        ("ations", "at"),
        ("ation", "at"),
        ("ings", ""),
        ("ing", ""),
        ("ions", ""),
        ("ion", ""),
        ("ers", ""),
        ("er", ""),
        ("ies", "y"),
        ("ied", "y"),
        ("es", ""),
        ("ed", ""),
        ("ly", ""),
        ("s", ""),
        ("e", ""),
    ];
    for (suffix, replacement) in SUFFIXES {
        if let Some(base) = word.strip_suffix(suffix)
            && base.chars().count() >= 3
        {
            return format!("{base}{replacement}");
        }
    }
    word.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_light_stem_cuts_plurals_and_verb_endings_only() {
        assert_eq!(light_stem("mentoring"), "mentor");
        assert_eq!(light_stem("developers"), "develop");
        assert_eq!(light_stem("reviews"), "review");
        assert_eq!(light_stem("equipe"), "equipe");
        assert_eq!(light_stem("uses"), "uses", "too short to cut");
    }

    #[test]
    fn the_stem_meets_derivations() {
        assert_eq!(stem("migration"), stem("migrate"));
        assert_eq!(stem("mentoring"), stem("mentor"));
        assert_eq!(stem("services"), stem("service"));
        assert_eq!(stem("studies"), "study");
    }
}
