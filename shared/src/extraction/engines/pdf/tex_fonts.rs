//! Bitmap fonts from TeX (dvips, old pdfTeX and arXiv PDFs): Type3 fonts
//! whose glyphs are named after their own code (`/a28`, `/a255`) and which
//! carry no ToUnicode map. A reader cannot know what `/a28` is and falls
//! back to StandardEncoding, which loses the ligatures (ff, fi, fl, ffi,
//! ffl) and misreads accented letters (ß as ÿ, é as Ø).
//!
//! The codes are TeX's own font encodings, T1 (Cork) or OT1, told apart by
//! which codes a font uses. We append an incremental update to the file
//! (ISO 32000-1 §7.5.6) that gives each such font a `/Differences` array of
//! `uniXXXX` glyph names, and read the updated file instead. The original
//! objects are left as they are; a file we cannot update is read as it is.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;

use pdf_oxide::PdfDocument;
use pdf_oxide::object::{Object, ObjectRef};
use pdf_oxide::writer::ObjectSerializer;

/// The two 8-bit encodings TeX's text fonts use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TexEncoding {
    /// Cork: T1 fonts (`\usepackage[T1]{fontenc}`), accented letters at 128–255.
    T1,
    /// The original Computer Modern text encoding, 7-bit.
    Ot1,
}

/// The file with an update that names every glyph of its TeX bitmap fonts,
/// or `None` when it has no such font (or cannot be updated safely).
pub fn with_named_glyphs(doc: &PdfDocument, bytes: &[u8], pages: usize) -> Option<Vec<u8>> {
    let fonts = code_named_type3_fonts(doc, pages);
    if fonts.is_empty() {
        return None;
    }
    let replacements: Vec<(ObjectRef, Object)> = fonts
        .into_iter()
        .filter_map(|found| {
            let encoding = guess_encoding(&found.codes);
            renamed(&found.font, &found.codes, encoding).map(|font| (found.reference, font))
        })
        .collect();
    incremental_update(doc, bytes, &replacements)
}

/// A font whose glyphs are named after their codes.
struct CodeNamedFont {
    reference: ObjectRef,
    font: HashMap<String, Object>,
    /// The codes its /Differences name.
    codes: BTreeSet<u8>,
}

/// Type3 fonts on the pages, without ToUnicode, whose /Differences name
/// every glyph `a<code>`.
fn code_named_type3_fonts(doc: &PdfDocument, pages: usize) -> Vec<CodeNamedFont> {
    let mut found = vec![];
    let mut seen = HashSet::new();
    for index in 0..pages {
        let Some(fonts) = page_fonts(doc, index) else {
            continue;
        };
        for reference in fonts.values().filter_map(Object::as_reference) {
            if !seen.insert(reference) {
                continue;
            }
            let Ok(Object::Dictionary(font)) = doc.load_object(reference) else {
                continue;
            };
            if let Some(codes) = code_named_glyphs(doc, &font) {
                found.push(CodeNamedFont {
                    reference,
                    font,
                    codes,
                });
            }
        }
    }
    found
}

/// The /Font dictionary of a page's resources (inherited from the page
/// tree when the page has none of its own).
fn page_fonts(doc: &PdfDocument, index: usize) -> Option<HashMap<String, Object>> {
    let mut node = doc.get_page(index).ok()?;
    for _ in 0..32 {
        let dict = node.as_dict()?;
        if let Some(resources) = dict.get("Resources") {
            let resources = doc.resolve_object(resources).ok()?;
            let fonts = doc.resolve_object(resources.as_dict()?.get("Font")?).ok()?;
            return fonts.as_dict().cloned();
        }
        node = doc.resolve_object(dict.get("Parent")?).ok()?;
    }
    None
}

/// The codes of a Type3 font without ToUnicode whose every glyph is named
/// `a<code>` (the dvips and pdfTeX convention for bitmap fonts).
fn code_named_glyphs(doc: &PdfDocument, font: &HashMap<String, Object>) -> Option<BTreeSet<u8>> {
    if font.get("Subtype").and_then(Object::as_name) != Some("Type3")
        || font.contains_key("ToUnicode")
    {
        return None;
    }
    let encoding = doc.resolve_object(font.get("Encoding")?).ok()?;
    let differences = doc
        .resolve_object(encoding.as_dict()?.get("Differences")?)
        .ok()?;
    let mut codes = BTreeSet::new();
    let mut code: i64 = 0;
    for item in differences.as_array()? {
        match item {
            Object::Integer(start) => code = *start,
            Object::Name(name) => {
                if name != ".notdef" {
                    let named: i64 = name.strip_prefix('a')?.parse().ok()?;
                    if named != code {
                        return None;
                    }
                    codes.insert(u8::try_from(code).ok()?);
                }
                code += 1;
            }
            _ => return None,
        }
    }
    (!codes.is_empty()).then_some(codes)
}

/// T1 or OT1, from the codes a font uses: only T1 has letters above 127;
/// quotes, dashes and ligatures sit at 16–31 in T1, at 11–15, 34, 92, 123
/// and 124 in OT1.
pub fn guess_encoding(codes: &BTreeSet<u8>) -> TexEncoding {
    if codes.iter().any(|&c| c >= 128) {
        return TexEncoding::T1;
    }
    let count = |set: &[u8]| set.iter().filter(|c| codes.contains(c)).count();
    let t1 = count(&[16, 17, 21, 22, 27, 28, 29, 30, 31]);
    let ot1 = count(&[11, 12, 13, 14, 15, 34, 92, 123, 124]);
    if ot1 > t1 {
        TexEncoding::Ot1
    } else {
        TexEncoding::T1
    }
}

/// The character a code stands for, when it is one.
pub fn tex_char(encoding: TexEncoding, code: u8) -> Option<char> {
    match encoding {
        TexEncoding::T1 => t1_char(code),
        TexEncoding::Ot1 => ot1_char(code),
    }
}

fn t1_char(code: u8) -> Option<char> {
    const LOW: &str = "`´ˆ˜¨˝˚ˇ˘¯˙¸˛‚‹›“”„«»–—";
    const HIGH: &str = "ĂĄĆČĎĚĘĞĹĽŁŃŇŊŐŔŘŚŠŞŤŢŰŮŸŹŽŻĲİđ§ăąćčďěęğĺľłńňŋőŕřśšşťţűůÿźžżĳ¡¿£";
    Some(match code {
        0..=22 => LOW.chars().nth(code as usize)?,
        25 => 'ı',
        26 => 'ȷ',
        27..=31 => ['ﬀ', 'ﬁ', 'ﬂ', 'ﬃ', 'ﬄ'][(code - 27) as usize],
        39 => '’',
        96 => '‘',
        33..=126 => code as char,
        127 => '-',
        128..=191 => HIGH.chars().nth((code - 128) as usize)?,
        0xD7 => 'Œ',
        0xF7 => 'œ',
        0xFF => 'ß',
        // "SS", the capital form of ß, has no one character to name it.
        0xDF => return None,
        192..=254 => char::from(code),
        _ => return None,
    })
}

fn ot1_char(code: u8) -> Option<char> {
    const LOW: &str = "ΓΔΘΛΞΠΣΥΦΨΩﬀﬁﬂﬃﬄıȷ`´ˇ˘¯˚¸ßæœøÆŒØ";
    Some(match code {
        0..=31 => LOW.chars().nth(code as usize)?,
        34 => '”',
        39 => '’',
        60 => '¡',
        62 => '¿',
        92 => '“',
        94 => 'ˆ',
        95 => '˙',
        96 => '‘',
        123 => '–',
        124 => '—',
        125 => '˝',
        126 => '˜',
        127 => '¨',
        33..=122 => code as char,
        _ => return None,
    })
}

/// The font with a /Differences array that names each of its glyphs by
/// its Unicode character.
fn renamed(
    font: &HashMap<String, Object>,
    codes: &BTreeSet<u8>,
    encoding: TexEncoding,
) -> Option<Object> {
    let mut differences = vec![];
    for &code in codes {
        if let Some(c) = tex_char(encoding, code).filter(|c| (*c as u32) <= 0xFFFF) {
            differences.push(Object::Integer(code.into()));
            differences.push(Object::Name(format!("uni{:04X}", c as u32)));
        }
    }
    if differences.is_empty() {
        return None;
    }
    let mut font = font.clone();
    font.insert(
        "Encoding".into(),
        Object::Dictionary(HashMap::from([
            ("Type".to_string(), Object::Name("Encoding".into())),
            ("Differences".to_string(), Object::Array(differences)),
        ])),
    );
    Some(Object::Dictionary(font))
}

/// The file with `objects` replaced by an appended update section: the new
/// objects, a cross-reference table for them and a trailer pointing back
/// to the file's last cross-reference section.
fn incremental_update(
    doc: &PdfDocument,
    bytes: &[u8],
    objects: &[(ObjectRef, Object)],
) -> Option<Vec<u8>> {
    if objects.is_empty() {
        return None;
    }
    let previous = last_startxref(bytes)?;
    let old_trailer = doc.trailer().as_dict()?;
    let mut trailer = HashMap::new();
    for key in ["Size", "Root", "Info", "ID", "Encrypt"] {
        if let Some(value) = old_trailer.get(key) {
            trailer.insert(key.to_string(), value.clone());
        }
    }
    trailer.get("Root")?;
    let size = objects.iter().map(|(r, _)| i64::from(r.id) + 1).max()?;
    let old_size = trailer
        .get("Size")
        .and_then(Object::as_integer)
        .unwrap_or(0);
    trailer.insert("Size".into(), Object::Integer(size.max(old_size)));
    trailer.insert("Prev".into(), Object::Integer(previous as i64));

    let serializer = ObjectSerializer::compact();
    let mut out = Vec::with_capacity(bytes.len() + 4096);
    out.extend_from_slice(bytes);
    if !bytes.ends_with(b"\n") {
        out.push(b'\n');
    }
    let mut offsets = vec![];
    for (reference, object) in objects {
        offsets.push((*reference, out.len()));
        out.extend(serializer.serialize_indirect(reference.id, reference.r#gen, object));
    }
    let xref_at = out.len();
    out.extend_from_slice(b"xref\n");
    for (reference, offset) in offsets {
        // Each entry is exactly 20 bytes (ISO 32000-1 §7.5.4).
        write!(
            out,
            "{} 1\n{offset:010} {:05} n\r\n",
            reference.id, reference.r#gen
        )
        .ok()?;
    }
    out.extend_from_slice(b"trailer\n");
    out.extend(serializer.serialize(&Object::Dictionary(trailer)));
    write!(out, "\nstartxref\n{xref_at}\n%%EOF\n").ok()?;
    Some(out)
}

/// The offset after the file's last `startxref`.
fn last_startxref(bytes: &[u8]) -> Option<usize> {
    let tail_start = bytes.len().saturating_sub(4096);
    let tail = &bytes[tail_start..];
    let at = tail.windows(9).rposition(|w| w == b"startxref")?;
    let digits: String = tail[at + 9..]
        .iter()
        .map(|&b| b as char)
        .skip_while(|c| c.is_ascii_whitespace())
        .take_while(char::is_ascii_digit)
        .collect();
    let offset: usize = digits.parse().ok()?;
    (offset < bytes.len()).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[u8]) -> BTreeSet<u8> {
        list.iter().copied().collect()
    }

    #[test]
    fn t1_is_told_from_ot1_by_the_codes_a_font_uses() {
        assert_eq!(guess_encoding(&codes(&[28, 97, 255])), TexEncoding::T1);
        assert_eq!(guess_encoding(&codes(&[16, 17, 27, 101])), TexEncoding::T1);
        assert_eq!(guess_encoding(&codes(&[12, 13, 92, 101])), TexEncoding::Ot1);
        // Nothing telling: T1, the encoding of every modern LaTeX document.
        assert_eq!(guess_encoding(&codes(&[97, 98])), TexEncoding::T1);
    }

    #[test]
    fn tex_codes_name_ligatures_quotes_and_accented_letters() {
        use TexEncoding::*;
        let t1: String = [28, 102, 255, 233, 216, 241, 16, 17, 39, 246, 0xD7]
            .iter()
            .filter_map(|&c| tex_char(T1, c))
            .collect();
        assert_eq!(t1, "ﬁfßéØñ“”’öŒ");
        assert_eq!(tex_char(T1, 0x8A), Some('Ł'));
        assert_eq!(tex_char(T1, 0xBF), Some('£'));
        assert_eq!(tex_char(T1, 0xDF), None);
        let ot1: String = [11, 12, 25, 92, 123, 34, 65]
            .iter()
            .filter_map(|&c| tex_char(Ot1, c))
            .collect();
        assert_eq!(ot1, "ﬀﬁß“–”A");
        assert_eq!(tex_char(Ot1, 200), None);
    }

    #[test]
    fn the_last_startxref_is_found() {
        let pdf = b"%PDF-1.4\n...startxref\n9\n%%EOF\nmore\nstartxref\n12\n%%EOF\n";
        assert_eq!(last_startxref(pdf), Some(12));
        assert_eq!(last_startxref(b"%PDF-1.4 no xref"), None);
        assert_eq!(last_startxref(b"startxref\n999999\n%%EOF"), None);
    }
}
