//! The HTTP layer under async-openai, and its errors as `Failure`s.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_openai::error::OpenAIError;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};

use crate::adapters::resilience::{Failure, parse_retry_after};
use crate::ports::chat_model::ModelError;

/// A non-success response, with what a retry decision needs.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {message}")]
pub struct HttpStatusError {
    pub status: u16,
    pub retry_after: Option<Duration>,
    pub message: String,
}

/// `ReqwestService` that turns error statuses into [`HttpStatusError`]
/// (async-openai's own error drops the headers, and with them Retry-After).
#[derive(Clone, Debug)]
pub struct StatusAware {
    inner: ReqwestService,
}

impl StatusAware {
    pub fn new(client: reqwest::Client) -> Self {
        StatusAware {
            inner: ReqwestService::new(client),
        }
    }
}

/// `retry-after-ms` (OpenAI, Azure) is finer than `retry-after`.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    header("retry-after-ms")
        .and_then(|ms| ms.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| header("retry-after").and_then(parse_retry_after))
}

/// The `error.message` of an OpenAI error body, else the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| body.trim().chars().take(300).collect())
}

impl tower::Service<HttpRequestFactory> for StatusAware {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: HttpRequestFactory) -> Self::Future {
        let sent = self.inner.call(request);
        Box::pin(async move {
            let response = sent.await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status().as_u16();
            let retry_after = retry_after(response.headers());
            let body = response.text().await.unwrap_or_default();
            Err(OpenAIError::Boxed(Box::new(HttpStatusError {
                status,
                retry_after,
                message: error_message(&body),
            })))
        })
    }
}

/// What an async-openai error means for the call.
pub fn classify(error: OpenAIError) -> Failure {
    match error {
        OpenAIError::Boxed(boxed) => match boxed.downcast::<HttpStatusError>() {
            Ok(e) => Failure::from_status(e.status, e.retry_after, &e.message),
            Err(other) => Failure::fatal(ModelError::Upstream(other.to_string())),
        },
        OpenAIError::ApiError(e) => {
            Failure::from_status(e.status_code.as_u16(), None, &e.api_error.message)
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => Failure::transient(ModelError::Timeout, None),
        OpenAIError::Reqwest(e) if e.is_connect() => Failure::transient(
            ModelError::Upstream(format!("could not connect: {e}")),
            None,
        ),
        OpenAIError::Reqwest(e) => Failure::fatal(ModelError::Upstream(e.to_string())),
        OpenAIError::StreamError(e) => {
            Failure::fatal(ModelError::Upstream(format!("the reply stream broke: {e}")))
        }
        OpenAIError::JSONDeserialize(e, _) => Failure::fatal(ModelError::Upstream(format!(
            "an answer of unexpected shape: {e}"
        ))),
        other => Failure::fatal(ModelError::Upstream(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_prefers_milliseconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after-ms", "150".parse().unwrap());
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(150)));
    }

    #[test]
    fn error_bodies_give_their_message() {
        assert_eq!(
            error_message(r#"{"error":{"message":"Rate limit reached","type":"requests"}}"#),
            "Rate limit reached"
        );
        assert_eq!(
            error_message("upstream connect error"),
            "upstream connect error"
        );
    }
}
