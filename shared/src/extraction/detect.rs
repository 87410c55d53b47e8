//! Which format a file is, from its content, checked against its name.
//!
//! The name and the content must agree, else `415 format_mismatch` and
//! nothing is stored:
//!
//! | name | content it may hold |
//! |---|---|
//! | `.pdf` | a PDF (`%PDF-` first, or after at most 1 KiB of binary junk) |
//! | `.docx` `.pptx` `.xlsx` `.odt` | a ZIP archive (its main part is checked on extraction) |
//! | `.html` `.htm` | HTML, or text (a fragment without `<html>` is still HTML) |
//! | `.md` `.markdown`, `.txt` | UTF-8 text that is not an HTML document (Markdown-ish `.txt` is text; Markdown may carry inline HTML) |
//! | no extension | PDF, an HTML document or UTF-8 text, by content |
//!
//! Extensions are compared case-insensitively (`REPORT.PDF`).

use serde::{Deserialize, Serialize};

use super::{ExtractFailure, SUPPORTED};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentFormat {
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Odt,
    Html,
    Markdown,
    Text,
}

impl DocumentFormat {
    pub fn name(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "pdf",
            DocumentFormat::Docx => "docx",
            DocumentFormat::Pptx => "pptx",
            DocumentFormat::Xlsx => "xlsx",
            DocumentFormat::Odt => "odt",
            DocumentFormat::Html => "html",
            DocumentFormat::Markdown => "markdown",
            DocumentFormat::Text => "text",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|f| f.name() == name)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            DocumentFormat::Pdf => "application/pdf",
            DocumentFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentFormat::Pptx => {
                "application/vnd.openxmlformats-officedocument.presentationml.presentation"
            }
            DocumentFormat::Xlsx => {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
            DocumentFormat::Odt => "application/vnd.oasis.opendocument.text",
            DocumentFormat::Html => "text/html",
            DocumentFormat::Markdown => "text/markdown",
            DocumentFormat::Text => "text/plain",
        }
    }

    /// Whether extraction needs a parser engine, and so the isolated worker.
    pub fn needs_worker(self) -> bool {
        !matches!(self, DocumentFormat::Markdown | DocumentFormat::Text)
    }

    /// The part an Office file must contain (checked by the worker).
    pub fn main_part(self) -> Option<&'static str> {
        match self {
            DocumentFormat::Docx => Some("word/document.xml"),
            DocumentFormat::Pptx => Some("ppt/presentation.xml"),
            DocumentFormat::Xlsx => Some("xl/workbook.xml"),
            DocumentFormat::Odt => Some("content.xml"),
            _ => None,
        }
    }
}

const ALL: [DocumentFormat; 8] = [
    DocumentFormat::Pdf,
    DocumentFormat::Docx,
    DocumentFormat::Pptx,
    DocumentFormat::Xlsx,
    DocumentFormat::Odt,
    DocumentFormat::Html,
    DocumentFormat::Markdown,
    DocumentFormat::Text,
];

/// What the first bytes say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Content {
    Pdf,
    Zip,
    LegacyOffice,
    Html,
    Text,
    NotUtf8,
}

impl Content {
    fn describe(self) -> &'static str {
        match self {
            Content::Pdf => "a PDF",
            Content::Zip => "a ZIP archive",
            Content::LegacyOffice => "a legacy (97-2003) Office file",
            Content::Html => "HTML",
            Content::Text => "plain text",
            Content::NotUtf8 => "binary data",
        }
    }
}

/// Bytes before the PDF header that readers tolerate.
const PDF_HEADER_WITHIN: usize = 1024;

/// A PDF starts with `%PDF-`. Readers accept it after up to 1 KiB of junk
/// (a mail or transfer header), but text that merely mentions `%PDF-` in
/// its first lines is text.
fn is_pdf(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(PDF_HEADER_WITHIN + 5)];
    match head.windows(5).position(|w| w == b"%PDF-") {
        Some(0) => true,
        Some(at) => {
            let before = &bytes[..at];
            std::str::from_utf8(before).map_or(true, |t| t.contains('\0'))
        }
        None => false,
    }
}

/// Whether text begins as an HTML document does (after a byte-order mark,
/// white space, an XML declaration and comments).
fn starts_as_html(text: &str) -> bool {
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        let lower = rest
            .get(..rest.len().min(16))
            .unwrap_or(rest)
            .to_ascii_lowercase();
        let skip = if lower.starts_with("<!--") {
            rest.find("-->").map(|end| end + 3)
        } else if lower.starts_with("<?xml") {
            rest.find("?>").map(|end| end + 2)
        } else {
            return ["<!doctype html", "<html", "<head", "<body"]
                .iter()
                .any(|tag| lower.starts_with(tag));
        };
        match skip {
            Some(n) => rest = rest[n..].trim_start(),
            None => return false,
        }
    }
}

fn sniff(bytes: &[u8]) -> Content {
    if is_pdf(bytes) {
        return Content::Pdf;
    }
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return Content::Zip;
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        return Content::LegacyOffice;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Content::NotUtf8;
    };
    if text.contains('\0') {
        return Content::NotUtf8;
    }
    if starts_as_html(text) {
        Content::Html
    } else {
        Content::Text
    }
}

fn extension(filename: &str) -> Option<String> {
    filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

fn unsupported(message: String) -> ExtractFailure {
    ExtractFailure::UnsupportedType(format!("{message}; supported: {SUPPORTED}"))
}

/// The format of a file named `filename`, from its content and its name.
/// A name that says one format and content that is another is refused
/// (`format_mismatch`).
pub fn detect(filename: &str, bytes: &[u8]) -> Result<DocumentFormat, ExtractFailure> {
    let content = sniff(bytes);
    let ext = extension(filename);
    let mismatch = || {
        ExtractFailure::FormatMismatch(format!(
            "'{filename}' is named .{} but its content is {}; rename it to match its content or upload the right file",
            ext.as_deref().unwrap_or_default(),
            content.describe()
        ))
    };
    let format = match (ext.as_deref(), content) {
        (Some("pdf") | None, Content::Pdf) => DocumentFormat::Pdf,
        (Some("docx"), Content::Zip) => DocumentFormat::Docx,
        (Some("pptx"), Content::Zip) => DocumentFormat::Pptx,
        (Some("xlsx"), Content::Zip) => DocumentFormat::Xlsx,
        (Some("odt"), Content::Zip) => DocumentFormat::Odt,
        (Some("html" | "htm"), Content::Html | Content::Text) => DocumentFormat::Html,
        (None, Content::Html) => DocumentFormat::Html,
        (Some("md" | "markdown"), Content::Text) => DocumentFormat::Markdown,
        (Some("txt") | None, Content::Text) => DocumentFormat::Text,
        (Some("txt" | "md" | "markdown"), Content::NotUtf8) => {
            return Err(ExtractFailure::InvalidEncoding);
        }
        (
            Some(
                "pdf" | "docx" | "pptx" | "xlsx" | "odt" | "html" | "htm" | "txt" | "md"
                | "markdown",
            ),
            _,
        ) => {
            return Err(mismatch());
        }
        (Some(other), _) => {
            return Err(unsupported(format!("'.{other}' files are not supported")));
        }
        (None, _) => {
            return Err(unsupported(format!(
                "'{filename}' has no extension and its content is {}",
                content.describe()
            )));
        }
    };
    Ok(format)
}

/// The extensions a file name may end in (any case), and the format each
/// promises. The upload-url request's `filename` pattern is built from it.
pub const NAME_EXTENSIONS: &[(&str, DocumentFormat)] = &[
    ("pdf", DocumentFormat::Pdf),
    ("docx", DocumentFormat::Docx),
    ("pptx", DocumentFormat::Pptx),
    ("xlsx", DocumentFormat::Xlsx),
    ("odt", DocumentFormat::Odt),
    ("html", DocumentFormat::Html),
    ("htm", DocumentFormat::Html),
    ("md", DocumentFormat::Markdown),
    ("markdown", DocumentFormat::Markdown),
    ("txt", DocumentFormat::Text),
];

/// The format a file name promises, for refusing a presigned upload early.
pub fn format_of_name(filename: &str) -> Result<DocumentFormat, ExtractFailure> {
    let Some(extension) = extension(filename) else {
        return Err(unsupported(format!("'{filename}' has no extension")));
    };
    NAME_EXTENSIONS
        .iter()
        .find(|(known, _)| *known == extension)
        .map(|(_, format)| *format)
        .ok_or_else(|| unsupported(format!("'.{extension}' files are not supported")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AppError;

    /// The answer a refusal becomes.
    fn refusal(filename: &str, bytes: &[u8]) -> AppError {
        detect(filename, bytes).unwrap_err().into()
    }

    fn code(filename: &str, bytes: &[u8]) -> &'static str {
        refusal(filename, bytes).code
    }

    #[test]
    fn content_decides_and_the_name_must_agree() {
        assert_eq!(detect("a.pdf", b"%PDF-1.7\n").unwrap(), DocumentFormat::Pdf);
        assert_eq!(detect("scan", b"%PDF-1.4\n").unwrap(), DocumentFormat::Pdf);
        assert_eq!(
            detect("a.docx", b"PK\x03\x04rest").unwrap(),
            DocumentFormat::Docx
        );
        assert_eq!(
            detect("a.PPTX", b"PK\x03\x04rest").unwrap(),
            DocumentFormat::Pptx
        );
        assert_eq!(
            detect("a.xlsx", b"PK\x03\x04rest").unwrap(),
            DocumentFormat::Xlsx
        );
        assert_eq!(
            detect("a.odt", b"PK\x03\x04rest").unwrap(),
            DocumentFormat::Odt
        );
        assert_eq!(
            detect("a.html", b"<!DOCTYPE html><p>x").unwrap(),
            DocumentFormat::Html
        );
        assert_eq!(
            detect("a.md", b"# Title").unwrap(),
            DocumentFormat::Markdown
        );
        assert_eq!(detect("a.txt", b"plain").unwrap(), DocumentFormat::Text);
    }

    #[test]
    fn a_name_and_content_that_disagree_are_a_mismatch() {
        let markdown = b"# Values\n\nOur PDFs start with `%PDF-1.7`, then a binary line.";
        for (name, bytes) in [
            ("a.pdf", &b"<html><body>hi</body></html>"[..]),
            ("a.pdf", &markdown[..]),
            ("a.pdf", b"PK\x03\x04rest"),
            ("a.md", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            ("a.MD", b"%PDF-1.4\n"),
            ("a.markdown", b"<!DOCTYPE html><html><body>x</body></html>"),
            ("a.txt", b"<!-- saved --><html><p>x</p></html>"),
            ("a.html", b"%PDF-1.7\n"),
            ("a.docx", b"%PDF-1.7"),
            ("a.docx", b"not a zip"),
            ("a.xlsx", b"# Heading"),
        ] {
            assert_eq!(code(name, bytes), "format_mismatch", "{name}");
        }
        let message = refusal("a.md", b"%PDF-1.4\n").message;
        assert!(
            message.contains("named .md") && message.contains("a PDF"),
            "{message}"
        );
    }

    #[test]
    fn names_that_vary_legitimately_are_accepted() {
        assert_eq!(
            detect("A.HTM", b"<p>fragment</p>").unwrap(),
            DocumentFormat::Html
        );
        assert_eq!(
            detect("a.markdown", b"# T\n\n<div>inline html</div>").unwrap(),
            DocumentFormat::Markdown
        );
        assert_eq!(
            detect("notes.txt", b"# A heading\n\n- a list").unwrap(),
            DocumentFormat::Text
        );
        assert_eq!(
            detect("notes", b"\xef\xbb\xbf<!doctype html><p>x").unwrap(),
            DocumentFormat::Html
        );
        assert_eq!(
            detect("notes", b"Mentions <body> later").unwrap(),
            DocumentFormat::Text
        );
        // A PDF after a transfer header is still a PDF.
        assert_eq!(
            detect("a.pdf", b"\x00\x05\x16\x07junk%PDF-1.4\n").unwrap(),
            DocumentFormat::Pdf
        );
    }

    #[test]
    fn mismatches_and_unknown_types_are_unsupported() {
        assert_eq!(
            code("a.doc", &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]),
            "unsupported_type"
        );
        assert_eq!(code("a.exe", b"MZ"), "unsupported_type");
        assert_eq!(code("a.odp", b"PK\x03\x04"), "unsupported_type");
        assert_eq!(code("archive", b"PK\x03\x04"), "unsupported_type");
        assert_eq!(code("a.txt", b"\xff\xfe"), "invalid_encoding");
        let message = refusal("a.exe", b"MZ").message;
        assert!(
            message.contains(".exe") && message.contains("Word (.docx)"),
            "{message}"
        );
    }

    #[test]
    fn names_alone_are_judged_for_presigned_uploads() {
        assert_eq!(format_of_name("plan.pdf").unwrap(), DocumentFormat::Pdf);
        assert_eq!(
            AppError::from(format_of_name("v.exe").unwrap_err()).code,
            "unsupported_type"
        );
    }
}
