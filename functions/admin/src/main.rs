//! The admin Lambda: serves the core's admin router through lambda_http.

use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::ADMIN).await?;
    lambda_http::run(petraf_core::http::lambda::with_source_ip(
        petraf_core::http::admin_api(app),
    ))
    .await
}
