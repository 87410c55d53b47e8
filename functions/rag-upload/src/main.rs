//! The rag-upload Lambda: S3 ObjectCreated events from the drop folder run
//! the same ingestion pipeline as an admin upload.

use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::DROP_FOLDER).await?;
    petraf_core::s3_event::run(app).await
}
