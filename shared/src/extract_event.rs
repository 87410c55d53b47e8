//! The extract function's entry: each invocation reads one document staged
//! in the bucket ([`read_staged`]). Admin and rag-upload invoke it, so that
//! only this function links the parser engines.

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use crate::app::ingestion::staged::read_staged;
use crate::extraction::staging::ExtractRequest;
use crate::ports::{DocumentReader, ObjectStore};

/// Serves extraction requests until the runtime stops; `reader` is a
/// worker process ([`crate::config::worker_reader`]).
pub async fn run(
    objects: Arc<dyn ObjectStore>,
    reader: Arc<dyn DocumentReader>,
) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<ExtractRequest>| {
        let (objects, reader) = (objects.clone(), reader.clone());
        async move { read_staged(objects.as_ref(), reader.as_ref(), event.payload).await }
    }))
    .await
}
