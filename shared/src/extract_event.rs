//! The extract function's entry: each invocation reads one document its
//! invoker staged ([`read_staged`]). Admin and rag-upload invoke it, so that
//! only this function links the parser engines.

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use crate::app::ingestion::staged::read_staged;
use crate::extraction::staging::{ExtractRequest, StagingBucket};
use crate::ports::{DocumentReader, StagedTransfer};

/// Serves extraction requests until the runtime stops; `reader` is a
/// worker process ([`crate::config::worker_reader`]), `transfer` reaches
/// the presigned URLs ([`crate::config::staged_transfer`]) of `bucket`
/// ([`crate::config::staging_bucket`]).
pub async fn run(
    transfer: Arc<dyn StagedTransfer>,
    reader: Arc<dyn DocumentReader>,
    bucket: StagingBucket,
) -> Result<(), lambda_runtime::Error> {
    let bucket = Arc::new(bucket);
    lambda_runtime::run(service_fn(|event: LambdaEvent<ExtractRequest>| {
        let (transfer, reader, bucket) = (transfer.clone(), reader.clone(), bucket.clone());
        async move { read_staged(transfer.as_ref(), reader.as_ref(), &bucket, event.payload).await }
    }))
    .await
}
