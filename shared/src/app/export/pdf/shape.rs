//! Text to glyphs: which font draws each character, Arabic contextual
//! forms, each glyph's real advance, and the right-to-left reordering of a
//! laid-out line. Measuring and drawing use the same glyphs, so a line
//! measured to fit is drawn to the same width.

use unicode_bidi::{BidiClass, BidiDataSource, BidiInfo, Level};
use unicode_normalization::char::is_combining_mark;

use super::arabic;
use super::faces::{self, Cjk, Face};
use super::helvetica;

/// One glyph to draw.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Glyph {
    pub face: Face,
    /// The WinAnsi code (Helvetica), the glyph id in the bundled font
    /// (embedded fonts) or the code point (CJK, UCS-2).
    pub id: u16,
    /// Advance in 1/1000 em.
    pub advance: f32,
    /// The characters this glyph stands for, in logical order.
    pub text: String,
    /// Index (in chars) of its first character in the shaped text.
    pub source: usize,
}

/// Bold and oblique have their own Helvetica widths; the embedded and CJK
/// fonts are emboldened and slanted when drawn, at the same widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct TextStyle {
    pub bold: bool,
    pub cjk: Cjk,
}

const FALLBACK: char = '?';

fn helvetica(c: char, style: TextStyle, source: usize) -> Option<Glyph> {
    let code = helvetica::win_ansi(c)?;
    Some(Glyph {
        face: Face::Helvetica,
        id: u16::from(code),
        advance: helvetica::advance(code, style.bold),
        text: c.to_string(),
        source,
    })
}

fn embedded(face: Face, c: char, text: &str, source: usize) -> Option<Glyph> {
    let (id, advance) = faces::embedded(face)?.glyph(c)?;
    Some(Glyph {
        face,
        id,
        advance,
        text: text.to_string(),
        source,
    })
}

fn cjk(c: char, style: TextStyle, source: usize) -> Option<Glyph> {
    let id = u16::try_from(u32::from(c)).ok()?;
    let face = if faces::is_hangul(c) {
        Cjk::Korean
    } else if faces::is_kana(c) && style.cjk == Cjk::Chinese {
        Cjk::Japanese
    } else {
        style.cjk
    };
    Some(Glyph {
        face: Face::Cjk(face),
        id,
        advance: 1000.0,
        text: c.to_string(),
        source,
    })
}

/// A character outside every font: a question mark, as before.
fn fallback(style: TextStyle, source: usize) -> Glyph {
    helvetica(FALLBACK, style, source).expect("'?' is in WinAnsi")
}

/// A word that needs Noto Sans for one letter is set in it whole, so
/// "Łukasz" does not mix two typefaces.
fn needs_sans(word: &[char]) -> bool {
    word.iter().any(|&c| {
        !c.is_whitespace()
            && !arabic::is_arabic(c)
            && !faces::is_cjk(c)
            && helvetica::win_ansi(c).is_none()
            && faces::sans().glyph(c).is_some()
    })
}

/// The glyphs of `text`, in logical order.
pub(super) fn shape(text: &str, style: TextStyle) -> Vec<Glyph> {
    let chars: Vec<char> = text.chars().collect();
    let mut glyphs = Vec::with_capacity(chars.len());
    let mut in_sans_word = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if i == 0 || chars[i - 1].is_whitespace() {
            let end = chars[i..]
                .iter()
                .position(|c| c.is_whitespace())
                .map_or(chars.len(), |n| i + n);
            in_sans_word = needs_sans(&chars[i..end]);
        }
        if arabic::is_arabic(c) {
            let end = chars[i..]
                .iter()
                .position(|&c| !arabic::is_arabic(c))
                .map_or(chars.len(), |n| i + n);
            for shaped in arabic::shape(&chars[i..end]) {
                let source = i + shaped.source;
                let glyph = embedded(Face::Arabic, shaped.form, &shaped.text, source)
                    .or_else(|| {
                        let base = shaped.text.chars().next().unwrap_or(FALLBACK);
                        embedded(Face::Arabic, base, &shaped.text, source)
                    })
                    .unwrap_or_else(|| fallback(style, source));
                glyphs.push(glyph);
            }
            i = end;
            continue;
        }
        let text = c.to_string();
        let glyph = if c.is_whitespace() {
            helvetica(' ', style, i)
        } else if faces::is_cjk(c) {
            cjk(c, style, i)
        } else if in_sans_word {
            embedded(Face::Sans, c, &text, i).or_else(|| helvetica(c, style, i))
        } else {
            helvetica(c, style, i).or_else(|| embedded(Face::Sans, c, &text, i))
        };
        glyphs.push(glyph.unwrap_or_else(|| fallback(style, i)));
        i += 1;
    }
    glyphs
}

/// The width of `text` at `size` points.
pub(super) fn measure(text: &str, style: TextStyle, size: f32) -> f32 {
    width(&shape(text, style), size)
}

pub(super) fn width(glyphs: &[Glyph], size: f32) -> f32 {
    glyphs.iter().map(|g| g.advance).sum::<f32>() * size / 1000.0
}

/// Bidirectional classes (UnicodeData.txt's) of what reports hold: the
/// Unicode tables stay out of the build, as pdf_oxide's unicode-bidi has
/// no data of its own; an unlisted symbol is a neutral (ON), any other
/// letter or digit left-to-right.
struct Classes;

impl BidiDataSource for Classes {
    fn bidi_class(&self, c: char) -> BidiClass {
        use BidiClass::*;
        match c {
            '0'..='9' | '\u{B2}' | '\u{B3}' | '\u{B9}' | '\u{6F0}'..='\u{6F9}' => EN,
            '\u{600}'..='\u{605}' | '\u{660}'..='\u{669}' | '\u{66B}' | '\u{66C}' | '\u{6DD}' => AN,
            '+' | '-' | '\u{2212}' => ES,
            '#'
            | '$'
            | '%'
            | '\u{A2}'..='\u{A5}'
            | '\u{B0}'
            | '\u{B1}'
            | '\u{66A}'
            | '\u{2030}'..='\u{2034}'
            | '\u{20A0}'..='\u{20CF}' => ET,
            ',' | '.' | '/' | ':' | '\u{A0}' | '\u{60C}' | '\u{202F}' | '\u{2044}' => CS,
            '\n' | '\r' | '\u{1C}'..='\u{1E}' | '\u{85}' | '\u{2029}' => B,
            '\t' | '\u{B}' | '\u{1F}' => S,
            ' ' | '\u{C}' | '\u{2000}'..='\u{200A}' | '\u{2028}' | '\u{205F}' | '\u{3000}' => WS,
            '\u{200E}' => L,
            '\u{200F}' => R,
            '\u{202A}' => LRE,
            '\u{202B}' => RLE,
            '\u{202C}' => PDF,
            '\u{202D}' => LRO,
            '\u{202E}' => RLO,
            '\u{2066}' => LRI,
            '\u{2067}' => RLI,
            '\u{2068}' => FSI,
            '\u{2069}' => PDI,
            '\u{AD}' | '\u{200B}'..='\u{200D}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}' => BN,
            c if is_combining_mark(c) => NSM,
            '\u{590}'..='\u{5FF}' | '\u{7C0}'..='\u{85F}' | '\u{FB1D}'..='\u{FB4F}' => R,
            '\u{600}'..='\u{6FF}' | '\u{700}'..='\u{7BF}' | '\u{860}'..='\u{8FF}' => AL,
            '\u{FB50}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFE}' => AL,
            c if c.is_control() => BN,
            c if c.is_alphanumeric() => L,
            _ => ON,
        }
    }
}

fn bidi(text: &str, base: Option<Level>) -> BidiInfo<'_> {
    BidiInfo::new_with_data_source(&Classes, text, base)
}

/// Whether a text reads right to left (its first strong character is
/// Arabic or Hebrew).
pub(super) fn is_rtl(text: &str) -> bool {
    bidi(text, None)
        .paragraphs
        .first()
        .is_some_and(|p| p.level.is_rtl())
}

/// Arabic, Hebrew, Syriac, Thaana, N'Ko and their presentation forms.
fn is_right_to_left_letter(c: char) -> bool {
    matches!(c, '\u{0590}'..='\u{08FF}' | '\u{FB1D}'..='\u{FDFF}' | '\u{FE70}'..='\u{FEFF}')
}

/// Brackets swap in right-to-left runs (Unicode's mirrored pairs).
fn mirrored(c: u8) -> u8 {
    match c {
        b'(' => b')',
        b')' => b'(',
        b'[' => b']',
        b']' => b'[',
        b'{' => b'}',
        b'}' => b'{',
        b'<' => b'>',
        b'>' => b'<',
        0xAB => 0xBB,
        0xBB => 0xAB,
        other => other,
    }
}

/// One line's glyphs in visual (left-to-right drawing) order: the Unicode
/// bidirectional algorithm over the line, in a paragraph of the given
/// direction.
pub(super) fn visual_line(line: &str, style: TextStyle, rtl: bool) -> Vec<Glyph> {
    let glyphs = shape(line, style);
    if !rtl && !line.chars().any(is_right_to_left_letter) {
        return glyphs;
    }
    let base = if rtl { Level::rtl() } else { Level::ltr() };
    let info = bidi(line, Some(base));
    let Some(para) = info.paragraphs.first() else {
        return glyphs;
    };
    let levels = info.reordered_levels_per_char(para, para.range.clone());
    let glyph_levels: Vec<Level> = glyphs
        .iter()
        .map(|g| levels.get(g.source).copied().unwrap_or(base))
        .collect();
    BidiInfo::reorder_visual(&glyph_levels)
        .into_iter()
        .map(|i| {
            let mut glyph = glyphs[i].clone();
            if glyph_levels[i].is_rtl() {
                if glyph.face == Face::Helvetica {
                    glyph.id = u16::from(mirrored(glyph.id as u8));
                }
                // Text extractors (poppler, pdf.js) reverse a right-to-left
                // run character by character, a ligature's characters too:
                // given in visual order, lam-alef comes back as typed.
                if glyph.text.chars().nth(1).is_some() {
                    glyph.text = glyph.text.chars().rev().collect();
                }
            }
            glyph
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGULAR: TextStyle = TextStyle {
        bold: false,
        cjk: Cjk::Chinese,
    };

    fn faces_of(text: &str) -> Vec<Face> {
        shape(text, REGULAR).iter().map(|g| g.face).collect()
    }

    #[test]
    fn each_script_gets_a_font_that_has_it() {
        assert_eq!(faces_of("Zoë"), vec![Face::Helvetica; 3]);
        assert!(faces_of("Дмитрий").iter().all(|f| *f == Face::Sans));
        assert!(
            faces_of("Łukasz").iter().all(|f| *f == Face::Sans),
            "one typeface per word"
        );
        assert!(faces_of("محمد").iter().all(|f| *f == Face::Arabic));
        assert_eq!(faces_of("王小明"), vec![Face::Cjk(Cjk::Chinese); 3]);
        assert_eq!(faces_of("김"), vec![Face::Cjk(Cjk::Korean)]);
        assert_eq!(faces_of("さ"), vec![Face::Cjk(Cjk::Japanese)]);
        let glyphs = shape("a✓b", REGULAR);
        assert_eq!(
            glyphs[1].text, "?",
            "a character no font has is a question mark"
        );
    }

    #[test]
    fn widths_are_the_fonts_own() {
        // Helvetica: W 944, i 222; CJK: one em each.
        assert_eq!(measure("Wi", REGULAR, 10.0), 11.66);
        assert_eq!(measure("王小明", REGULAR, 10.0), 30.0);
        let bold = TextStyle {
            bold: true,
            ..REGULAR
        };
        assert!(measure("Wide", bold, 10.0) > measure("Wide", REGULAR, 10.0));
        assert!(measure("Дмитрий", REGULAR, 10.0) > 20.0);
    }

    #[test]
    fn arabic_is_drawn_right_to_left_and_keeps_its_letters() {
        let line = "Name: محمد علي";
        let visual = visual_line(line, REGULAR, false);
        let drawn: String = visual.iter().map(|g| g.text.as_str()).collect();
        // Left to right on the page: the Latin label, then the second word
        // (leftmost), then the first, each letter reversed.
        assert_eq!(drawn, "Name: يلع دمحم");
        assert!(is_rtl("محمد علي") && !is_rtl("Name: محمد"));
        let logical: usize = shape(line, REGULAR).len();
        assert_eq!(visual.len(), logical);

        let lam_alef = visual_line("سلامة", REGULAR, true);
        let texts: Vec<&str> = lam_alef.iter().map(|g| g.text.as_str()).collect();
        assert_eq!(
            texts,
            vec!["ة", "م", "ال", "س"],
            "visual order, ligature too"
        );
    }
}
