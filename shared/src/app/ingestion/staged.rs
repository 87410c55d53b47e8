//! The extract function's use case: a document staged in the bucket
//! (`extraction::staging`) read in the isolated worker, its reply staged.

use crate::extraction::MAX_DOCUMENT_BYTES;
use crate::extraction::staging::{self, ExtractRequest, ExtractResponse};
use crate::ports::DocumentReader;
use crate::ports::object_store::{ObjectStore, StoredObject};

/// Reads the staged document, deletes it, extracts it and stages the
/// reply. An error fails the invocation: the invoker answers "try again
/// later", as for a worker that could not run.
pub async fn read_staged(
    objects: &dyn ObjectStore,
    reader: &dyn DocumentReader,
    request: ExtractRequest,
) -> Result<ExtractResponse, String> {
    if !staging::is_document_key(&request.document_key) {
        return Err(format!(
            "{} is not a staged document's key",
            request.document_key
        ));
    }
    let document = objects
        .get(&request.document_key)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no staged document at {}", request.document_key))?;
    if let Err(e) = objects.delete(&request.document_key).await {
        tracing::warn!(error = %e, key = %request.document_key, "a staged document was left for the lifecycle rule");
    }
    if document.bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the staged document is {} bytes, over the limit",
            document.bytes.len()
        ));
    }
    let reply = reader
        .read(request.format, document.bytes, &request.limits)
        .await
        .map_err(|e| format!("the extraction worker could not run: {e}"))?;
    tracing::info!(
        format = request.format.name(),
        peak_rss_kib = reply.peak_rss_kib,
        ok = reply.outcome.is_ok(),
        "document extracted"
    );
    let reply_key = staging::reply_key(&request.document_key);
    let staged = StoredObject {
        bytes: serde_json::to_vec(&reply).map_err(|e| e.to_string())?,
        content_type: "application/json".into(),
        metadata: Default::default(),
    };
    objects
        .put(&reply_key, staged)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExtractResponse { reply_key })
}
