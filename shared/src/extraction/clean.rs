//! Cleaning extracted text before it is chunked: invisible characters
//! dropped and text spelled in tag characters shown
//! ([`clean_document_text`]), compatibility forms and ligatures normalised
//! (NFKC), control characters dropped, words hyphenated across a line end
//! joined, blank runs collapsed.

use unicode_normalization::UnicodeNormalization;

use crate::domain::hygiene::clean_document_text;

/// The cleaned text. Paragraph breaks (blank lines) and line breaks survive;
/// a form feed (a page break in PDF text) becomes a paragraph break.
pub fn clean_text(raw: &str) -> String {
    tidy_lines(&clean_characters(raw, false))
}

/// Markdown with its characters cleaned as [`clean_text`] cleans them but
/// its lines untouched: indentation (tabs too) is structure there, an
/// indented code block. Its paragraphs are tidied once read.
pub fn clean_markdown_characters(raw: &str) -> String {
    clean_characters(raw, true)
}

fn clean_characters(raw: &str, keep_tabs: bool) -> String {
    let mut mapped = String::with_capacity(raw.len());
    let visible = clean_document_text(raw);
    let mut chars = visible.nfkc().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                mapped.push('\n');
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
            }
            '\n' => mapped.push('\n'),
            '\u{0C}' | '\u{2029}' => mapped.push_str("\n\n"),
            '\u{2028}' => mapped.push('\n'),
            '\t' if keep_tabs => mapped.push('\t'),
            '\t' => mapped.push(' '),
            c if c.is_control() => {}
            c if c.is_whitespace() => mapped.push(' '),
            c => mapped.push(c),
        }
    }
    mapped
}

/// Joins "compre-\nhensive", trims lines, collapses repeated spaces and
/// runs of blank lines.
fn tidy_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0usize;
    let mut carry = String::new(); // the head of a hyphenated word
    for line in text.split('\n') {
        let line = collapse_spaces(line.trim());
        if line.is_empty() {
            if !carry.is_empty() {
                // A hyphen before a blank line is a real dash.
                out.push_str(&carry);
                out.push('\n');
                carry.clear();
            }
            blank_run += 1;
            continue;
        }
        if blank_run > 0 && !out.is_empty() {
            out.push('\n');
        }
        blank_run = 0;
        let line = if carry.is_empty() {
            line
        } else if line.chars().next().is_some_and(char::is_lowercase) {
            let joined = format!("{}{line}", carry.trim_end_matches('-'));
            carry.clear();
            joined
        } else {
            out.push_str(&carry);
            out.push('\n');
            carry.clear();
            line
        };
        if ends_in_hyphenated_word(&line) {
            carry = line;
        } else {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out.push_str(&carry);
    out.trim_end().to_string()
}

fn collapse_spaces(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut space = false;
    for c in line.chars() {
        if c == ' ' {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(' ');
        }
        space = false;
        out.push(c);
    }
    out
}

/// "… compre-" but not "… 2024-" or a lone dash.
fn ends_in_hyphenated_word(line: &str) -> bool {
    let mut rev = line.chars().rev();
    rev.next() == Some('-') && rev.next().is_some_and(char::is_alphabetic)
}

/// Whether extracted text is no usable text layer: almost no letters or
/// digits, or mostly replacement characters (glyphs without a Unicode
/// mapping). `pages` scales the minimum for paged formats.
pub fn lacks_text_layer(text: &str, pages: u32) -> bool {
    let (mut readable, mut replaced, mut visible) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        if c.is_whitespace() {
            continue;
        }
        visible += 1;
        if c == '\u{FFFD}' {
            replaced += 1;
        } else if c.is_alphanumeric() {
            readable += 1;
        }
    }
    let minimum = MIN_READABLE_PER_PAGE * pages.max(1) as usize;
    readable < minimum.min(MIN_READABLE_TOTAL_CAP)
        // Glyphs without a Unicode mapping come out as U+FFFD or as
        // punctuation soup; real text is mostly letters and digits.
        || replaced * 4 > visible
        || readable * 2 < visible
}

/// Letters and digits a page of real text has at the very least (a page
/// of prose has well over a thousand).
const MIN_READABLE_PER_PAGE: usize = 40;
/// The per-page minimum never asks more than this of a whole document.
const MIN_READABLE_TOTAL_CAP: usize = 400;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ligatures_and_compatibility_forms_are_normalised() {
        assert_eq!(
            clean_text("e\u{FB03}cient \u{FB01}nance, \u{FB02}ow"),
            "efficient finance, flow"
        );
        assert_eq!(clean_text("Ｆｕｌｌ\u{A0}width"), "Full width");
    }

    #[test]
    fn control_characters_go_but_structure_stays() {
        assert_eq!(clean_text("a\u{2}b\u{0}c\tx\r\ny\u{C}z"), "abc x\ny\n\nz");
        assert_eq!(
            clean_text("One.\n\n\n\n  Two  words.  "),
            "One.\n\nTwo words."
        );
    }

    #[test]
    fn words_hyphenated_at_a_line_end_are_joined() {
        assert_eq!(
            clean_text("a compre-\nhensive plan"),
            "a comprehensive plan"
        );
        assert_eq!(clean_text("soft\u{AD}ware"), "software");
        // Not a broken word: a number range, a capitalised next line, a blank line.
        assert_eq!(clean_text("2024-\n2025"), "2024-\n2025");
        assert_eq!(clean_text("Smith-\nJones"), "Smith-\nJones");
        assert_eq!(clean_text("north-\n\nsouth"), "north-\n\nsouth");
    }

    #[test]
    fn invisible_characters_go_and_hidden_text_shows() {
        assert_eq!(
            clean_text("Lead\u{200B}ership \u{200F}matters\u{FEFF}.\u{E0020}\u{E0068}\u{E0069}"),
            "Leadership matters.\nhi"
        );
    }

    #[test]
    fn text_layers_are_judged_by_readable_characters() {
        assert!(lacks_text_layer("", 1));
        assert!(lacks_text_layer("  \n 1 ", 3));
        assert!(lacks_text_layer(&"\u{FFFD}".repeat(500), 1));
        let sentence = "Our values guide how we work together, every single day of the year.";
        assert!(!lacks_text_layer(sentence, 1));
        assert!(lacks_text_layer(sentence, 40));
        assert!(lacks_text_layer("Hello world, one stray line.", 1));
        assert!(lacks_text_layer(
            &format!("{sentence} {}", "!\"#$%&'()*+,-./".repeat(20)),
            1
        ));
        let long = "Readable words on every page. ".repeat(300);
        assert!(!lacks_text_layer(&long, 1000));
    }
}
