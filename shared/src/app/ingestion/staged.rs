//! The extract function's use case: a document its invoker staged
//! (`extraction::staging`) fetched, read in the isolated worker, and the
//! reply delivered where the invoker asked.

use crate::extraction::MAX_DOCUMENT_BYTES;
use crate::extraction::staging::{self, ExtractRequest, ExtractResponse, StagingBucket};
use crate::ports::{DocumentReader, StagedTransfer};

/// Fetches the staged document, extracts it and delivers the reply, once
/// the request's URLs are found to be `bucket`'s. An error fails the
/// invocation: the invoker answers "try again later", as for a worker that
/// could not run, and deletes what it staged.
pub async fn read_staged(
    transfer: &dyn StagedTransfer,
    reader: &dyn DocumentReader,
    bucket: &StagingBucket,
    request: ExtractRequest,
) -> Result<ExtractResponse, String> {
    staging::check_urls(&request, bucket).map_err(|e| e.to_string())?;
    let document = transfer
        .fetch(&request.document_url, MAX_DOCUMENT_BYTES)
        .await
        .map_err(|e| format!("fetching the staged document: {e}"))?;
    let reply = reader
        .read(request.format, document, &request.limits)
        .await
        .map_err(|e| format!("the extraction worker could not run: {e}"))?;
    tracing::info!(
        format = request.format.name(),
        peak_rss_kib = reply.peak_rss_kib,
        ok = reply.outcome.is_ok(),
        "document extracted"
    );
    let body = serde_json::to_vec(&reply).map_err(|e| e.to_string())?;
    let reply_bytes = body.len() as u64;
    transfer
        .deliver(&request.reply_url, body)
        .await
        .map_err(|e| format!("delivering the reply: {e}"))?;
    Ok(ExtractResponse { reply_bytes })
}
