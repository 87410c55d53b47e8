//! Line breaking by measured width: at spaces, between CJK characters, and
//! inside a word (between grapheme clusters) only when the word alone is
//! wider than the line.

use unicode_normalization::char::is_combining_mark;

use super::faces::is_cjk;
use super::shape::{TextStyle, measure};

/// CJK punctuation that must not start a line.
fn no_break_before(c: char) -> bool {
    "、。，．・：；？！）」』】〕〉》〙〗ー々ゝゞヽヾぁぃぅぇぉっゃゅょァィゥェォッャュョ）］｝，．：；？！"
        .contains(c)
}

/// CJK punctuation that must not end a line.
fn no_break_after(c: char) -> bool {
    "（「『【〔〈《〘〖（［｛".contains(c)
}

/// Splits a word where a line may break inside it: around CJK characters.
fn segments(word: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut previous: Option<char> = None;
    for (at, c) in word.char_indices() {
        if let Some(p) = previous
            && (is_cjk(p) || is_cjk(c))
            && !no_break_before(c)
            && !no_break_after(p)
            && !is_combining_mark(c)
        {
            out.push(&word[start..at]);
            start = at;
        }
        previous = Some(c);
    }
    out.push(&word[start..]);
    out
}

/// Grapheme clusters, near enough for breaking: a character with the
/// combining marks and joiners that follow it.
fn graphemes(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut previous_joins = false;
    for (at, c) in text.char_indices() {
        let extends = is_combining_mark(c) || matches!(c, '\u{200D}' | '\u{FE00}'..='\u{FE0F}');
        if at > 0 && !extends && !previous_joins {
            out.push(&text[start..at]);
            start = at;
        }
        previous_joins = c == '\u{200D}';
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Breaks `text` into lines no wider than `width` at `size` points; words
/// are separated by single spaces, as in the text, and none is lost.
pub(super) fn wrap(text: &str, width: f32, size: f32, style: TextStyle) -> Vec<String> {
    let fits = |candidate: &str| measure(candidate, style, size) <= width;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        for (i, segment) in segments(word).into_iter().enumerate() {
            let separator = if i == 0 && !line.is_empty() { " " } else { "" };
            let candidate = format!("{line}{separator}{segment}");
            if fits(&candidate) {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // Wider than a line on its own: break between graphemes.
            for grapheme in graphemes(segment) {
                let candidate = format!("{line}{grapheme}");
                if line.is_empty() || fits(&candidate) {
                    line = candidate;
                } else {
                    lines.push(std::mem::replace(&mut line, grapheme.to_string()));
                }
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::super::faces::Cjk;
    use super::*;

    const STYLE: TextStyle = TextStyle {
        bold: false,
        cjk: Cjk::Chinese,
    };

    fn assert_fits(lines: &[String], width: f32, size: f32) {
        for line in lines {
            let measured = measure(line, STYLE, size);
            assert!(measured <= width, "{measured} > {width}: {line:?}");
        }
    }

    #[test]
    fn a_word_longer_than_the_line_is_broken_inside_the_margin() {
        let url = format!("https://example.com/{}", "a1b2c3d4e5".repeat(10));
        assert_eq!(url.chars().count(), 120);
        let text = format!("See {url} today");
        let lines = wrap(&text, 200.0, 10.0, STYLE);
        assert!(lines.len() >= 4, "{lines:?}");
        assert_fits(&lines, 200.0, 10.0);
        assert_eq!(lines.concat().replace(' ', ""), text.replace(' ', ""));
        assert_eq!(lines[0], "See", "the long word starts on its own line");
    }

    #[test]
    fn cjk_lines_break_between_any_two_ideographs() {
        let text = "我们的目标是在两年内成为团队中最值得信赖的高级工程师并带领新的项目。".repeat(3);
        let lines = wrap(&text, 200.0, 10.0, STYLE);
        assert!(lines.len() >= 4);
        assert_fits(&lines, 200.0, 10.0);
        assert!(
            lines[..lines.len() - 1]
                .iter()
                .all(|l| l.chars().count() >= 19),
            "full lines of one-em ideographs: {lines:?}"
        );
        assert_eq!(lines.concat(), text);
        assert!(lines.iter().all(|l| !l.starts_with('。')));
    }

    #[test]
    fn mixed_scripts_at_any_width_fit_and_keep_every_character() {
        let alphabet: Vec<char> = "aZ09.,-/é Łż Ωλ Жы محمدلا 王明 さく 김준 ́ https://x.io/ "
            .chars()
            .collect();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for _ in 0..300 {
            let len = 1 + next(160);
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let width = 40.0 + next(440) as f32;
            let lines = wrap(&text, width, 10.0, STYLE);
            for line in &lines {
                let single = graphemes(line).len() == 1;
                assert!(
                    single || measure(line, STYLE, 10.0) <= width,
                    "{width}: {line:?}"
                );
            }
            let kept: String = lines.concat().split_whitespace().collect();
            assert_eq!(kept, text.split_whitespace().collect::<String>());
        }
    }

    #[test]
    fn combining_marks_stay_with_their_letter() {
        assert_eq!(graphemes("e\u{301}a"), vec!["e\u{301}", "a"]);
        assert_eq!(segments("王小明"), vec!["王", "小", "明"]);
        assert_eq!(segments("abc"), vec!["abc"]);
    }
}
