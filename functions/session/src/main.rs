//! The session Lambda: serves the core's session router through lambda_http.

use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::SESSIONS).await?;
    lambda_http::run(petraf_core::http::lambda::with_source_ip(
        petraf_core::http::session_api(app),
    ))
    .await
}
