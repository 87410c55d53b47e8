//! Characters user text may not carry: control characters (they end up in
//! stored goals, logs and prompts) and bidirectional overrides (they make
//! stored text display differently from what it says).

/// Whether `c` reverses or isolates the display direction of what follows
/// (U+202A–U+202E, U+2066–U+2069).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first character a free-text message may not hold: a control
/// character other than newline and tab, or a bidi override.
pub fn forbidden_in_message(text: &str) -> Option<char> {
    text.chars()
        .find(|&c| (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c))
}

/// The first character a one-line field may not hold: any control
/// character, or a bidi override.
pub fn forbidden_in_field(text: &str) -> Option<char> {
    text.chars().find(|&c| c.is_control() || is_bidi_control(c))
}

/// Line endings as one `\n` (a Windows or old Mac client's `\r\n` / `\r`
/// is not an attack).
pub fn normalize_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_newlines_and_tabs_but_no_other_controls() {
        assert_eq!(forbidden_in_message("line one\nline two\tcol"), None);
        assert_eq!(forbidden_in_message("nul \0 here"), Some('\0'));
        assert_eq!(forbidden_in_message("bell \u{7}"), Some('\u{7}'));
        assert_eq!(forbidden_in_message("del \u{7f}"), Some('\u{7f}'));
        assert_eq!(forbidden_in_message("c1 \u{85}"), Some('\u{85}'));
    }

    #[test]
    fn every_bidi_override_and_isolate_is_refused() {
        for c in ('\u{202A}'..='\u{202E}').chain('\u{2066}'..='\u{2069}') {
            assert_eq!(forbidden_in_message(&format!("a{c}b")), Some(c));
            assert_eq!(forbidden_in_field(&format!("a{c}b")), Some(c));
        }
        // Neighbours are ordinary punctuation and marks.
        assert_eq!(forbidden_in_message("\u{2029}\u{2065}\u{206A}é—ü"), None);
    }

    #[test]
    fn fields_refuse_newlines_too() {
        assert_eq!(forbidden_in_field("Engineering"), None);
        assert_eq!(forbidden_in_field("two\nlines"), Some('\n'));
    }

    #[test]
    fn carriage_returns_become_newlines() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
    }
}
