//! The extract function's handler: reads a document staged in the bucket
//! (`extraction::staging`) in the isolated worker, and stages the reply.
//! Admin and rag-upload invoke it, so that only this function links the
//! parser engines.

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use crate::extraction::MAX_DOCUMENT_BYTES;
use crate::extraction::staging::{self, ExtractRequest, ExtractResponse};
use crate::ports::object_store::{ObjectStore, StoredObject};
use crate::ports::DocumentReader;

/// Serves extraction requests until the runtime stops; `reader` is a
/// worker process ([`crate::config::worker_reader`]).
pub async fn run(
    objects: Arc<dyn ObjectStore>,
    reader: Arc<dyn DocumentReader>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<ExtractRequest>| {
        let (objects, reader) = (objects.clone(), reader.clone());
        async move { handle(objects.as_ref(), reader.as_ref(), event.payload).await }
    }))
    .await
}

/// Reads the staged document, deletes it, extracts it and stages the
/// reply. An error fails the invocation: the invoker answers "try again
/// later", as for a worker that could not run.
pub async fn handle(
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
