//! The rag-upload Lambda: S3 ObjectCreated events from the drop folder run
//! the same ingestion pipeline as an admin upload.

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{LambdaEvent, service_fn};
use petraf_core::app::ingestion;
use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Re-run as the isolated document extraction worker, when asked to.
    petraf_core::extraction::worker::run_if_worker();
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::DROP_FOLDER).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<S3Event>| {
        let app = app.clone();
        async move {
            let keys: Vec<String> = event
                .payload
                .records
                .iter()
                .filter_map(|r| r.s3.object.key.clone())
                .collect();
            let reports = ingestion::ingest_event_keys(&app, &keys)
                .await
                .map_err(|e| e.to_string())?;
            Ok::<_, String>(serde_json::json!({"indexed": reports}))
        }
    }))
    .await
}
