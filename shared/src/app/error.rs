//! Errors the application services report, with the HTTP status each maps to.

use crate::domain::document::LimitReached;
use crate::domain::way_forward::NextStep;
use crate::extraction::ExtractFailure;
use crate::ports::chat_model::ModelError;
use crate::ports::state_store::StoreError;
use crate::telemetry::metrics::{self, Metric};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Conflict,
    /// A precondition the request named (`If-Match`) does not hold (412).
    PreconditionFailed,
    /// A resource that moved for good (410).
    Gone,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// Well-formed but unusable content (422).
    Unprocessable,
    /// A rate limit, turn cap or budget refused the request (429).
    TooManyRequests,
    Unavailable,
    NotImplemented,
    Internal,
}

/// An error with a stable machine-readable code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AppError {
    pub kind: ErrorKind,
    pub code: &'static str,
    pub message: String,
    /// Seconds after which the same request may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
    /// The requests that lead on from here (a phase whose attempts ran out).
    pub next_steps: Vec<NextStep>,
}

macro_rules! constructors {
    ($($name:ident => $kind:ident),* $(,)?) => {
        $(pub fn $name(code: &'static str, message: impl Into<String>) -> Self {
            AppError { kind: ErrorKind::$kind, code, message: message.into(), retry_after: None, next_steps: Vec::new() }
        })*
    };
}

impl AppError {
    constructors! {
        bad_request => BadRequest,
        unauthorized => Unauthorized,
        forbidden => Forbidden,
        not_found => NotFound,
        conflict => Conflict,
        precondition_failed => PreconditionFailed,
        gone => Gone,
        too_large => PayloadTooLarge,
        unsupported => UnsupportedMediaType,
        unprocessable => Unprocessable,
        too_many => TooManyRequests,
        unavailable => Unavailable,
        not_implemented => NotImplemented,
        internal => Internal,
    }
}

impl AppError {
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_next_steps(mut self, steps: Vec<NextStep>) -> Self {
        self.next_steps = steps;
        self
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => {
                tracing::debug!(detail = %m, "storage conflict");
                metrics::count(Metric::StoreConflicts, &[], 1);
                AppError::conflict(
                    "conflict",
                    "the data changed meanwhile; fetch it and try again",
                )
            }
            StoreError::LimitReached(key) => AppError::too_many(
                "rate_limited",
                format!("too many requests ({key}); try again later"),
            ),
            StoreError::Unavailable(m) => {
                tracing::error!(error = %m, "state store unavailable");
                AppError::unavailable(
                    "storage_unavailable",
                    "storage is unavailable, try again shortly",
                )
            }
        }
    }
}

/// A full document library: 409 when it holds as many documents as it may,
/// 413 when this document's chunks would not fit.
impl From<LimitReached> for AppError {
    fn from(e: LimitReached) -> Self {
        match e {
            LimitReached::Documents { .. } => {
                AppError::conflict("document_limit_reached", e.to_string())
            }
            LimitReached::Chunks { .. } => {
                AppError::too_large("chunk_limit_reached", e.to_string())
            }
        }
    }
}

impl From<ModelError> for AppError {
    fn from(e: ModelError) -> Self {
        AppError::unavailable(e.code(), e.to_string())
    }
}

/// A document that could not be read: a clear 4xx, nothing stored.
impl From<ExtractFailure> for AppError {
    fn from(e: ExtractFailure) -> Self {
        let message = e.to_string();
        match e {
            ExtractFailure::UnsupportedType(_) => {
                AppError::unsupported("unsupported_type", message)
            }
            ExtractFailure::FormatMismatch(_) => AppError::unsupported("format_mismatch", message),
            ExtractFailure::PasswordProtected => {
                AppError::unprocessable("password_protected", message)
            }
            ExtractFailure::NoTextLayer => AppError::unprocessable("no_text_layer", message),
            ExtractFailure::Corrupt(_) => AppError::unprocessable("corrupt_document", message),
            ExtractFailure::TooLarge(_) => AppError::too_large("document_too_large", message),
            ExtractFailure::InvalidEncoding => AppError::bad_request("invalid_encoding", message),
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
