//! The fonts the export draws with, and which one draws each character:
//!
//! - Helvetica (a standard font, not embedded) for everything WinAnsi has;
//! - Noto Sans, embedded as a subset, for the rest of Latin, Greek and Cyrillic;
//! - Noto Sans Arabic, embedded as a subset, for Arabic;
//! - the predefined CJK fonts (not embedded: the viewer supplies them, as
//!   Acrobat, pdf.js, PDFium and poppler with poppler-data do) for Chinese,
//!   Japanese and Korean, where every glyph is one em wide.

use std::sync::OnceLock;

use ttf_parser::{Face as TtfFace, GlyphId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Face {
    Helvetica,
    Sans,
    Arabic,
    Cjk(Cjk),
}

/// Which predefined CJK font draws the Han characters of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Cjk {
    Chinese,
    Japanese,
    Korean,
}

pub(super) struct PredefinedCjk {
    pub font: &'static str,
    /// The UCS-2 CMap: a character's code is its code point.
    pub encoding: &'static str,
    pub ordering: &'static str,
    pub supplement: i32,
}

impl Cjk {
    /// Japanese when the text has kana, Korean when it has Hangul,
    /// otherwise (Han only) Chinese.
    pub fn of(text: &str) -> Cjk {
        if text.chars().any(is_kana) {
            Cjk::Japanese
        } else if text.chars().any(is_hangul) {
            Cjk::Korean
        } else {
            Cjk::Chinese
        }
    }

    pub fn predefined(self) -> PredefinedCjk {
        let (font, encoding, ordering, supplement) = match self {
            Cjk::Chinese => ("STSong-Light", "UniGB-UCS2-H", "GB1", 4),
            Cjk::Japanese => ("HeiseiKakuGo-W5", "UniJIS-UCS2-H", "Japan1", 2),
            Cjk::Korean => ("HYGoThic-Medium", "UniKS-UCS2-H", "Korea1", 1),
        };
        PredefinedCjk {
            font,
            encoding,
            ordering,
            supplement,
        }
    }
}

pub(super) fn is_kana(c: char) -> bool {
    matches!(c, '\u{3040}'..='\u{30FF}' | '\u{31F0}'..='\u{31FF}' | '\u{FF66}'..='\u{FF9D}')
}

pub(super) fn is_hangul(c: char) -> bool {
    matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}' | '\u{A960}'..='\u{A97F}' | '\u{AC00}'..='\u{D7FF}')
}

/// Characters set in a CJK font, one em wide, that a line may break
/// before or after.
pub(super) fn is_cjk(c: char) -> bool {
    is_kana(c)
        || is_hangul(c)
        || matches!(c,
            '\u{2E80}'..='\u{2FDF}'     // radicals
            | '\u{3000}'..='\u{303F}'   // CJK symbols and punctuation
            | '\u{3100}'..='\u{312F}'   // bopomofo
            | '\u{3190}'..='\u{31EF}'   // kanbun, bopomofo extended, strokes
            | '\u{3200}'..='\u{33FF}'   // enclosed letters, compatibility
            | '\u{3400}'..='\u{4DBF}'   // extension A
            | '\u{4E00}'..='\u{9FFF}'   // unified ideographs
            | '\u{F900}'..='\u{FAFF}'   // compatibility ideographs
            | '\u{FE30}'..='\u{FE4F}'   // compatibility forms
            | '\u{FF01}'..='\u{FF65}'   // full-width forms
            | '\u{FFE0}'..='\u{FFE6}')
}

/// An embedded TrueType font.
pub(super) struct Embedded {
    pub data: &'static [u8],
    pub face: TtfFace<'static>,
    pub postscript_name: &'static str,
}

impl Embedded {
    fn load(data: &'static [u8], postscript_name: &'static str) -> Embedded {
        let face = TtfFace::parse(data, 0).expect("the bundled font parses");
        Embedded {
            data,
            face,
            postscript_name,
        }
    }

    /// The glyph of `c`, with its advance in 1/1000 em.
    pub fn glyph(&self, c: char) -> Option<(u16, f32)> {
        let id = self.face.glyph_index(c)?;
        let advance = self.face.glyph_hor_advance(id).unwrap_or(0);
        Some((id.0, self.scale(advance)))
    }

    pub fn advance(&self, id: u16) -> f32 {
        self.scale(self.face.glyph_hor_advance(GlyphId(id)).unwrap_or(0))
    }

    /// Font units to 1/1000 em.
    pub fn scale(&self, units: impl Into<f32>) -> f32 {
        units.into() * 1000.0 / f32::from(self.face.units_per_em())
    }
}

pub(super) fn sans() -> &'static Embedded {
    static FONT: OnceLock<Embedded> = OnceLock::new();
    FONT.get_or_init(|| {
        Embedded::load(
            include_bytes!("../fonts/NotoSans-Regular.subset.ttf"),
            "NotoSans-Regular",
        )
    })
}

pub(super) fn arabic() -> &'static Embedded {
    static FONT: OnceLock<Embedded> = OnceLock::new();
    FONT.get_or_init(|| {
        Embedded::load(
            include_bytes!("../fonts/NotoSansArabic-Regular.subset.ttf"),
            "NotoSansArabic-Regular",
        )
    })
}

pub(super) fn embedded(face: Face) -> Option<&'static Embedded> {
    match face {
        Face::Sans => Some(sans()),
        Face::Arabic => Some(arabic()),
        Face::Helvetica | Face::Cjk(_) => None,
    }
}
