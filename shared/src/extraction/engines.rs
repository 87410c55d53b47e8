//! The extraction engines, one per format. They parse untrusted bytes, so
//! everything but plain text and Markdown runs inside the worker process.
//! Those parsers are the `extraction` feature: a build without it (admin,
//! rag-upload) reads only plain text and Markdown itself and hands the rest
//! to the extract function.

use super::clean::{clean_text, lacks_text_layer};
use super::structure::{Block, Place, markdown_blocks, markdown_title, page_blocks};
use super::{DocumentFormat, ExtractFailure, Extracted, Limits};

#[cfg(feature = "extraction")]
mod html;
#[cfg(feature = "extraction")]
mod odt;
#[cfg(feature = "extraction")]
mod office;
#[cfg(feature = "extraction")]
mod pdf;

pub fn extract(
    format: DocumentFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, ExtractFailure> {
    let extracted = match format {
        DocumentFormat::Markdown | DocumentFormat::Text => plain(format, bytes)?,
        #[cfg(feature = "extraction")]
        DocumentFormat::Pdf => pdf::extract(bytes, limits)?,
        #[cfg(feature = "extraction")]
        DocumentFormat::Docx | DocumentFormat::Pptx | DocumentFormat::Xlsx => {
            office::extract(format, bytes, limits)?
        }
        #[cfg(feature = "extraction")]
        DocumentFormat::Odt => odt::extract(bytes, limits)?,
        #[cfg(feature = "extraction")]
        DocumentFormat::Html => html::extract(bytes, limits)?,
        #[cfg(not(feature = "extraction"))]
        _ => {
            return Err(ExtractFailure::UnsupportedType(format!(
                "this build has no {} reader",
                format.name()
            )));
        }
    };
    if extracted.char_count() > limits.max_chars {
        return Err(too_many_chars(limits));
    }
    Ok(extracted)
}

fn too_many_chars(limits: &Limits) -> ExtractFailure {
    ExtractFailure::TooLarge(format!(
        "it holds more than {} characters of text",
        limits.max_chars
    ))
}

fn plain(format: DocumentFormat, bytes: &[u8]) -> Result<Extracted, ExtractFailure> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ExtractFailure::Corrupt("text documents must be UTF-8".into()))?;
    Ok(if format == DocumentFormat::Markdown {
        from_markdown(text, None)
    } else {
        let text = clean_text(text);
        Extracted {
            title: None,
            pages: None,
            blocks: text
                .split("\n\n")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| Block {
                    text: p.to_string(),
                    place: Place::default(),
                })
                .collect(),
        }
    })
}

/// Markdown or Markdown-like text (as read, uncleaned) as cleaned
/// paragraphs with heading paths.
fn from_markdown(text: &str, title: Option<String>) -> Extracted {
    let blocks = markdown_blocks(text);
    Extracted {
        title: title.or_else(|| markdown_title(&blocks)),
        pages: None,
        blocks,
    }
}

/// Pages of text as paragraphs that know their page; no text layer when
/// the pages hold (almost) nothing readable.
#[cfg_attr(not(feature = "extraction"), allow(dead_code))]
fn from_pages(pages: &[String], title: Option<String>) -> Result<Extracted, ExtractFailure> {
    let all: String = pages.concat();
    if lacks_text_layer(&all, pages.len() as u32) {
        return Err(ExtractFailure::NoTextLayer);
    }
    let blocks = pages
        .iter()
        .enumerate()
        .flat_map(|(i, text)| page_blocks(&clean_text(text), i as u32 + 1))
        .collect();
    Ok(Extracted {
        title,
        pages: Some(pages.len() as u32),
        blocks,
    })
}

/// A title worth keeping: trimmed, not empty, not a file name or tool stamp.
#[cfg_attr(not(feature = "extraction"), allow(dead_code))]
fn plausible_title(raw: &str) -> Option<String> {
    let title = clean_text(raw).replace('\n', " ");
    let title = title.trim();
    let lower = title.to_ascii_lowercase();
    let junk = title.is_empty()
        || title.chars().count() > 200
        || lower == "untitled"
        || [".doc", ".docx", ".pdf", ".tex", ".dvi", ".odt"]
            .iter()
            .any(|ext| lower.ends_with(ext));
    (!junk).then(|| title.to_string())
}
