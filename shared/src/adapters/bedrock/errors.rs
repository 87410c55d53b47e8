//! SDK errors as `Failure`s and `ModelError`s.

use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::event_stream::RawMessage;

use crate::adapters::resilience::{Failure, parse_retry_after};
use crate::ports::chat_model::ModelError;

/// Exception codes that mean "try again shortly".
fn transient_code(code: &str) -> Option<ModelError> {
    match code {
        "ThrottlingException" | "throttlingException" => Some(ModelError::RateLimited),
        "ModelTimeoutException" => Some(ModelError::Timeout),
        "ServiceUnavailableException"
        | "serviceUnavailableException"
        | "InternalServerException"
        | "internalServerException"
        | "ModelNotReadyException" => Some(ModelError::Upstream(code.to_string())),
        _ => None,
    }
}

/// An operation's error: exceptions by code, else by HTTP status.
pub fn classify<E, R>(error: SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
    SdkError<E, R>: ProvideErrorMetadata,
{
    let code = error.code().unwrap_or_default().to_string();
    let message = error.message().unwrap_or_default().to_string();
    match &error {
        SdkError::ServiceError(_) => {
            if let Some(e) = transient_code(&code) {
                return Failure::transient(e, None);
            }
            Failure::fatal(ModelError::Upstream(format!("{code}: {message}")))
        }
        SdkError::TimeoutError(_) => Failure::transient(ModelError::Timeout, None),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            Failure::transient(ModelError::Timeout, None)
        }
        SdkError::DispatchFailure(d) if d.is_io() => {
            Failure::transient(ModelError::Upstream("could not reach Bedrock".into()), None)
        }
        other => Failure::fatal(ModelError::Upstream(format!(
            "Bedrock call failed: {}",
            aws_smithy_types::error::display::DisplayErrorContext(other)
        ))),
    }
}

/// An operation's error with the raw HTTP response at hand, so a
/// Retry-After header counts.
pub fn classify_http<E>(
    error: SdkError<E, aws_sdk_bedrockruntime::config::http::HttpResponse>,
) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let retry_after = error
        .raw_response()
        .and_then(|r| r.headers().get("retry-after"))
        .and_then(parse_retry_after);
    let status = error.raw_response().map(|r| r.status().as_u16());
    let mut failure = classify(error);
    if let (Some(status), false) = (status, failure.retryable) {
        // An unmodelled error: decide by its status (429, 5xx).
        if status == 429 || status >= 500 {
            failure = Failure::from_status(status, None, &failure.error.to_string());
        }
    }
    failure.retry_after = retry_after.or(failure.retry_after);
    failure
}

/// An error inside a reply stream (never retried: text may have gone out).
pub fn stream_error<E>(error: SdkError<E, RawMessage>) -> ModelError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    SdkError<E, RawMessage>: ProvideErrorMetadata,
{
    classify(error).error
}
