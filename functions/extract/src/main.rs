//! The extract function: reads the documents admin and rag-upload stage in
//! the bucket, so that only this package links the PDF, Office and HTML
//! parsers.

use petraf_core::config::{self, ProcessEnv};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    // Re-run as the isolated document extraction worker, when asked to.
    petraf_core::extraction::worker::run_if_worker();
    petraf_core::telemetry::init();
    let transfer = config::staged_transfer(&ProcessEnv)?;
    let bucket = config::staging_bucket(&ProcessEnv)?;
    let reader = config::worker_reader(&ProcessEnv)?;
    petraf_core::extract_event::run(transfer, reader, bucket).await
}
