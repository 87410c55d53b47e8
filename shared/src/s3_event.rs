//! The rag-upload function's handler: an S3 ObjectCreated event from the
//! drop folder runs the same ingestion as an admin upload.

use aws_lambda_events::event::s3::S3Event;
use lambda_http::lambda_runtime::{self, LambdaEvent, service_fn};

use crate::app::{App, ingestion};

/// Serves S3 events until the runtime stops. A failed ingestion fails the
/// invocation, so Lambda retries it and, in the end, hands the event (the
/// object keys) and the error (the reason) to the failure destination.
pub async fn run(app: App) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let app = app.clone();
        async move { handle(&app, event.payload).await }
    }))
    .await
}

/// Indexes the event's objects; what was indexed.
pub async fn handle(app: &App, event: S3Event) -> Result<serde_json::Value, String> {
    let keys: Vec<String> = event
        .records
        .iter()
        .filter_map(|r| r.s3.object.key.clone())
        .collect();
    let reports = ingestion::ingest_event_keys(app, &keys)
        .await
        .map_err(|e| e.to_string())?;
    Ok(serde_json::json!({ "indexed": reports }))
}
