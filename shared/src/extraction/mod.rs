//! Text out of the documents companies keep: PDF, Word, PowerPoint, Excel,
//! OpenDocument text, HTML, Markdown and plain text.
//!
//! The format is detected from the content and checked against the name
//! ([`detect`]). Plain text and Markdown are decoded in-process (UTF-8, a
//! linear line scan, and for Markdown pulldown-cmark, linear in time and
//! not recursive however deep the nesting); every format that needs a parser
//! engine is extracted in an isolated worker process with memory, CPU,
//! wall-clock, page and output limits ([`worker`]), so a hostile file can
//! never take the server down. Where that worker runs is the
//! [`crate::ports::DocumentReader`] port: beside the server, or in the
//! extract function ([`staging`]). The text is cleaned ([`clean`]) and split
//! into paragraphs that know their page or the path of CommonMark headings
//! above them ([`structure`]).

pub mod clean;
pub mod detect;
mod engines;
pub mod staging;
pub mod structure;
pub mod worker;

use serde::{Deserialize, Serialize};

pub use detect::{DocumentFormat, detect};
pub use structure::{Block, Place};

/// A document's text, cleaned, paragraph by paragraph.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Extracted {
    /// The title the document gives itself (PDF /Title, Word core title,
    /// HTML `<title>`, the first Markdown heading).
    pub title: Option<String>,
    /// Pages (PDF) or slides (PowerPoint), when the format has them.
    pub pages: Option<u32>,
    pub blocks: Vec<Block>,
}

impl Extracted {
    pub fn char_count(&self) -> usize {
        self.blocks.iter().map(|b| b.text.chars().count()).sum()
    }

    /// The whole text, paragraphs separated by blank lines.
    pub fn text(&self) -> String {
        self.blocks
            .iter()
            .map(|b| b.text.as_str())
            .collect::<Vec<_>>()
            .join("\n\n")
    }
}

/// Why a document could not be extracted; each is a clear 4xx and nothing
/// is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum ExtractFailure {
    #[error("{0}")]
    UnsupportedType(String),
    /// The name says one format and the content is another.
    #[error("{0}")]
    FormatMismatch(String),
    #[error("the document is protected by a password; upload a copy without one")]
    PasswordProtected,
    #[error(
        "the document has no usable text layer (a scan, text drawn as shapes, unmapped glyphs or only a stray line); OCR is not supported, upload a version with real text"
    )]
    NoTextLayer,
    #[error("the document is damaged and could not be read: {0}")]
    Corrupt(String),
    #[error("the document exceeds the extraction limits: {0}")]
    TooLarge(String),
    /// A plain-text or Markdown name on content that is not UTF-8.
    #[error("text documents must be UTF-8")]
    InvalidEncoding,
}

/// The largest document accepted, in bytes (an upload, a drop-folder
/// object, a worker's input).
pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;

/// Bounds on one extraction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Address space of the worker process (RLIMIT_AS).
    pub memory_bytes: u64,
    /// CPU time of the worker process (RLIMIT_CPU).
    pub cpu_seconds: u64,
    /// Wall-clock time before the worker is killed.
    pub wall_millis: u64,
    pub max_pages: u32,
    /// Characters of extracted text.
    pub max_chars: usize,
    /// Bytes an archive (DOCX, PPTX, XLSX) may declare uncompressed.
    pub max_unpacked_bytes: u64,
    /// HTML input bytes and element nesting depth.
    pub max_html_bytes: usize,
    pub max_html_depth: usize,
    /// Stack of the engine's thread (deeply nested input recurses).
    pub stack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 1536 << 20,
            // A hostile file's work is CPU-bound: 8 s of it, plus the
            // worker's start and reply, answers it within the 10 s promised.
            cpu_seconds: 8,
            // Generous against CPU time: a loaded machine must not refuse a
            // large but honest document.
            wall_millis: 20_000,
            max_pages: 2_000,
            max_chars: 5_000_000,
            max_unpacked_bytes: 200 << 20,
            max_html_bytes: 5 << 20,
            max_html_depth: 512,
            stack_bytes: 256 << 20,
        }
    }
}

/// The formats a user may upload, as error messages name them.
pub const SUPPORTED: &str = "PDF (.pdf), Word (.docx), PowerPoint (.pptx), Excel (.xlsx), OpenDocument text (.odt), HTML (.html, .htm), Markdown (.md) and plain text (.txt)";

/// Extracts a plain-text or Markdown document in this process: UTF-8
/// decoding, a linear line scan and a CommonMark parse, nothing that needs
/// isolating.
pub fn extract_in_process(
    format: DocumentFormat,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, ExtractFailure> {
    debug_assert!(!format.needs_worker());
    engines::extract(format, bytes, limits)
}
