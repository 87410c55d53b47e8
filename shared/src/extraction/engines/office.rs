//! Word, PowerPoint and Excel through office_oxide: the one engine that
//! reads footnotes, headers, footers, text boxes and tracked insertions (and
//! leaves tracked deletions out), with its own zip-bomb limits.

use std::io::{Cursor, Read};

use office_oxide::Document;

use super::from_markdown;
use crate::extraction::{DocumentFormat, ExtractFailure, Extracted, Limits};

pub fn extract(
    format: DocumentFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, ExtractFailure> {
    let kind = match format {
        DocumentFormat::Docx => office_oxide::DocumentFormat::Docx,
        DocumentFormat::Pptx => office_oxide::DocumentFormat::Pptx,
        _ => office_oxide::DocumentFormat::Xlsx,
    };
    // Process-wide settings: the worker reads one document and exits.
    office_oxide::limits::set_max_package_bytes(limits.max_unpacked_bytes);
    office_oxide::limits::set_max_text_chars(limits.max_chars);
    check_archive(format, bytes, limits)?;
    let doc = Document::from_reader(Cursor::new(bytes.to_vec()), kind)
        .map_err(|e| ExtractFailure::Corrupt(e.to_string().chars().take(200).collect()))?;
    let markdown = doc.to_markdown();
    Ok(from_markdown(&markdown, None))
}

/// What the archive must be before a parser reads it: the format's main
/// part present, a declared unpacked size within the limit, and no XML part
/// declaring a DTD (Office never writes one; entity expansion attacks do).
pub(super) fn check_archive(
    format: DocumentFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<(), ExtractFailure> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| ExtractFailure::Corrupt(format!("not a readable ZIP archive: {e}")))?;
    let main = format.main_part().unwrap_or_default();
    if archive.index_for_name(main).is_none() {
        let actual = [
            DocumentFormat::Docx,
            DocumentFormat::Pptx,
            DocumentFormat::Xlsx,
            DocumentFormat::Odt,
        ]
        .into_iter()
        .find(|f| {
            f.main_part()
                .is_some_and(|p| archive.index_for_name(p).is_some())
        });
        if let Some(actual) = actual {
            return Err(ExtractFailure::FormatMismatch(format!(
                "the file is named .{} but it is a .{} file; rename it to match its content",
                format.name(),
                actual.name()
            )));
        }
        return Err(ExtractFailure::UnsupportedType(format!(
            "the archive has no {main}, so it is not a .{} file; supported: {}",
            format.name(),
            crate::extraction::SUPPORTED
        )));
    }
    let mut unpacked = 0u64;
    for index in 0..archive.len() {
        let mut part = archive
            .by_index(index)
            .map_err(|e| ExtractFailure::Corrupt(format!("a damaged archive entry: {e}")))?;
        unpacked = unpacked.saturating_add(part.size());
        if unpacked > limits.max_unpacked_bytes {
            return Err(ExtractFailure::TooLarge(format!(
                "it unpacks to more than {} MiB",
                limits.max_unpacked_bytes >> 20
            )));
        }
        let name = part
            .name()
            .map(|n| n.to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".xml") || name.ends_with(".rels") {
            let mut head = Vec::with_capacity(4096);
            let _ = (&mut part).take(4096).read_to_end(&mut head);
            if String::from_utf8_lossy(&head).contains("<!DOCTYPE") {
                return Err(ExtractFailure::Corrupt(
                    "an XML part declares a DTD, which Office files never do".into(),
                ));
            }
        }
    }
    Ok(())
}
