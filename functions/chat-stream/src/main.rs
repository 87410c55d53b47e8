//! The chat-stream Lambda: streams the core's chat router (SSE) through a
//! Function URL with response streaming.

use petraf_core::config::{self, ProcessEnv, Uses};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    petraf_core::telemetry::init();
    let app = config::from_env_for(&ProcessEnv, Uses::CHAT).await?;
    lambda_http::run_with_streaming_response(petraf_core::http::lambda::with_source_ip(
        petraf_core::http::chat_api(app),
    ))
    .await
}
