//! The goals Lambda: serves the core's goals router through lambda_http.

use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::GOALS).await?;
    lambda_http::run(petraf_core::http::lambda::with_source_ip(
        petraf_core::http::goals_api(app),
    ))
    .await
}
