//! Errors as JSON responses: `{"error": {"code": "...", "message": "..."}}`.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::{AppError, ErrorKind};
use crate::domain::way_forward::NextStep;

/// Every error response's body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable and machine-readable (`phase_mismatch`, `missing_token`, …).
    pub code: String,
    /// For people; may change.
    pub message: String,
    /// The requests that lead on from here, when there are any: a phase
    /// whose attempts ran out (`turn_limit_reached`) names `keep_best`
    /// (when it has a scored draft) and `start_over`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_steps: Option<Vec<NextStep>>,
}

impl ErrorBody {
    pub fn new(code: &str, message: impl Into<String>) -> Json<Self> {
        Json(ErrorBody {
            error: ErrorDetail {
                code: code.to_string(),
                message: message.into(),
                next_steps: None,
            },
        })
    }
}

pub fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorKind::Gone => StatusCode::GONE,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        if status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut body = ErrorBody::new(self.code, self.message);
        body.error.next_steps = (!self.next_steps.is_empty()).then_some(self.next_steps);
        let mut response = (status, body).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The answer to a path no route serves.
pub async fn not_found() -> AppError {
    AppError::not_found("route_not_found", "no such endpoint")
}

pub async fn method_not_allowed() -> Response {
    let body = ErrorBody::new(
        "method_not_allowed",
        "this endpoint does not take that method",
    );
    (StatusCode::METHOD_NOT_ALLOWED, body).into_response()
}
