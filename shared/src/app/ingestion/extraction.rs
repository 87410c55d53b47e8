//! A document's text: the format detected from its content and name, then
//! extracted by [`crate::extraction`] (by the document reader, in an
//! isolated worker, where a parser engine is needed) and cleaned.

use crate::app::{App, AppError, AppResult};
use crate::domain::injection::{Finding, find_instructions};
use crate::extraction::{self, DocumentFormat, Extracted};
use crate::telemetry::metrics::{self, Metric};

/// The format and text of the document `filename` holding `bytes`;
/// `400 empty_document` when it has no text.
pub async fn extract_document(
    app: &App,
    filename: &str,
    bytes: &[u8],
) -> AppResult<(DocumentFormat, Extracted)> {
    let format = extraction::detect(filename, bytes)?;
    let limits = app.settings.extraction_limits.clone();
    let started = std::time::Instant::now();
    let extracted = if format.needs_worker() {
        let reply = app
            .reader
            .read(format, bytes.to_vec(), &limits)
            .await
            .map_err(reader_unavailable)?;
        tracing::info!(
            reader = app.reader.name(),
            format = format.name(),
            bytes = bytes.len(),
            millis = started.elapsed().as_millis() as u64,
            peak_rss_kib = reply.peak_rss_kib,
            ok = reply.outcome.is_ok(),
            "document extracted"
        );
        reply.outcome?
    } else {
        extraction::extract_in_process(format, bytes, &limits)?
    };
    metrics::observe_ms(
        Metric::ExtractionDuration,
        &[("Format", format.name())],
        started.elapsed().as_millis() as u64,
    );
    if extracted.blocks.is_empty() {
        return Err(AppError::bad_request(
            "empty_document",
            "the document has no text",
        ));
    }
    Ok((format, extracted))
}

fn reader_unavailable(e: std::io::Error) -> AppError {
    tracing::error!(error = %e, "the document reader could not run");
    AppError::internal(
        "extraction_unavailable",
        "documents cannot be read right now; try again later",
    )
}

/// The document's instruction-like sentences, for the admin to see.
pub fn flagged_passages(extracted: &Extracted) -> Vec<Finding> {
    extracted
        .blocks
        .iter()
        .flat_map(|b| find_instructions(&b.text))
        .collect()
}
