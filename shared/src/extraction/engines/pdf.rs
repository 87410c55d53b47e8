//! PDF through pdf_oxide (pure Rust): it reads broken cross-reference
//! tables, Type3 fonts, ligatures and every empty-password encryption, and
//! keeps paragraph breaks. A wrong or missing password gives it empty text
//! rather than an error, so encryption is checked here first. TeX bitmap
//! fonts are given glyph names first ([`tex_fonts`]).

mod tex_fonts;

use pdf_oxide::PdfDocument;
use pdf_oxide::object::Object;

use super::{from_pages, plausible_title, too_many_chars};
use crate::extraction::clean::lacks_text_layer;
use crate::extraction::{ExtractFailure, Extracted, Limits};
use pdf_oxide::extractors::warnings::WarningCategory;

pub fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, ExtractFailure> {
    let doc = open(bytes)?;
    let count = doc
        .page_count()
        .map_err(|e| ExtractFailure::Corrupt(short(&e.to_string())))?;
    if count > limits.max_pages as usize {
        return Err(ExtractFailure::TooLarge(format!(
            "it has {count} pages; at most {} are read",
            limits.max_pages
        )));
    }
    if count == 0 {
        return Err(ExtractFailure::Corrupt("it has no pages".into()));
    }
    // A file we cannot update is read as it is.
    let doc = match tex_fonts::with_named_glyphs(&doc, bytes, count).map(|b| open(&b)) {
        Some(Ok(updated)) if updated.page_count().ok() == Some(count) => updated,
        _ => doc,
    };
    let mut pages = Vec::with_capacity(count);
    let (mut chars, mut failed) = (0usize, 0usize);
    for index in 0..count {
        let text = match doc.extract_text(index) {
            Ok(text) => text,
            Err(_) => {
                failed += 1;
                String::new()
            }
        };
        chars += text.len();
        if chars > limits.max_chars * 4 {
            return Err(too_many_chars(limits));
        }
        pages.push(text);
    }
    if failed == count {
        return Err(ExtractFailure::Corrupt("no page could be read".into()));
    }
    let title = info_title(&doc).and_then(|t| plausible_title(&t));
    let extracted = from_pages(&pages, title)?;
    if is_damaged(&doc) && lacks_text_layer(&extracted.text(), FRAGMENT_PAGES) {
        return Err(ExtractFailure::Corrupt(
            "its structure is broken and only a fragment of text could be read".into(),
        ));
    }
    Ok(extracted)
}

/// The document, opened and (with an empty password) decrypted.
fn open(bytes: &[u8]) -> Result<PdfDocument, ExtractFailure> {
    let doc = PdfDocument::from_bytes(bytes.to_vec())
        .map_err(|e| ExtractFailure::Corrupt(short(&e.to_string())))?;
    if doc.is_encrypted() && !doc.authenticate(b"").unwrap_or(false) {
        return Err(ExtractFailure::PasswordProtected);
    }
    Ok(doc)
}

/// A damaged file yielding less text than this many pages' minimum is
/// refused rather than indexed as if it were whole.
const FRAGMENT_PAGES: u32 = 8;

/// Whether reading the file met broken structure (spec violations, a
/// rebuilt cross-reference table, a premature end, runaway operators).
fn is_damaged(doc: &PdfDocument) -> bool {
    doc.structured_warnings().iter().any(|w| {
        tracing::debug!(category = ?w.category, message = %w.message, "pdf warning");
        matches!(
            w.category,
            WarningCategory::SpecViolation
                | WarningCategory::XrefRecovery
                | WarningCategory::EofPremature
                | WarningCategory::OperatorCapExceeded
        )
    })
}

/// The /Title of the document information dictionary.
fn info_title(doc: &PdfDocument) -> Option<String> {
    let info = doc.trailer().as_dict()?.get("Info")?.clone();
    let info = match info.as_reference() {
        Some(reference) => doc.load_object(reference).ok()?,
        None => info,
    };
    match info.as_dict()?.get("Title")? {
        Object::String(bytes) => Some(pdf_string(bytes)),
        _ => None,
    }
}

/// A PDF text string: UTF-16BE with a byte-order mark, else PDFDocEncoding
/// (read as Latin-1, which it matches for the characters titles use).
fn pdf_string(bytes: &[u8]) -> String {
    match bytes.strip_prefix(&[0xFE, 0xFF]) {
        Some(utf16) => {
            let units: Vec<u16> = utf16
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        None => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn short(message: &str) -> String {
    message.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../tests/fixtures/documents/gen/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// The bitmap Type3 fonts of an old-style LaTeX PDF read as their text:
    /// ligatures and T1 accented letters included.
    #[test]
    fn tex_bitmap_fonts_read_as_text() {
        let text = extract(&fixture("latex-2col-type3bitmap.pdf"), &Limits::default())
            .unwrap()
            .text();
        for word in [
            "Efficient",
            "Offline",
            "Workflows",
            "Groß",
            "café",
            "Señor",
            "office",
        ] {
            assert!(text.contains(word), "{word} missing: {text}");
        }
        assert!(!text.contains("Groÿ"), "{text}");
    }
}
