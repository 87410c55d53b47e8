//! Uploads refused after the caller was authenticated: each leaves an
//! audit entry (`rag.upload_failed`, status `failure`) naming the file and
//! the reason code — never the content or the error's text, which may
//! quote it — so the admin sees what failed and why.

use serde_json::json;

use crate::app::{App, AppError};
use crate::domain::audit::{AuditEntry, AuditStatus, RequestOrigin, action};
use crate::domain::ids::new_id;
use crate::telemetry::metrics::{self, Metric};

/// What is known of a refused upload: as much of the form as was read.
#[derive(Debug, Clone, Default)]
pub struct RefusedUpload<'a> {
    pub tenant_id: &'a str,
    /// The document a refused replacement was for.
    pub document_id: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub category: Option<&'a str>,
    pub bytes: Option<usize>,
}

/// Records `error` against `upload`. Best effort: the caller answers with
/// `error` either way, so a store that cannot take the entry is logged.
pub async fn record_failed_upload(
    app: &App,
    upload: RefusedUpload<'_>,
    error: &AppError,
    actor: &str,
    origin: &RequestOrigin,
) {
    let mut entry = AuditEntry::new(
        new_id(),
        upload.tenant_id,
        None,
        actor,
        action::RAG_UPLOAD_FAILED,
        ("rag_upload", upload.filename.unwrap_or_default()),
        json!({
            "reason": error.code,
            "document_id": upload.document_id,
            "filename": upload.filename,
            "category": upload.category,
            "bytes": upload.bytes,
        }),
        origin,
        app.clock.now(),
    );
    entry.status = AuditStatus::Failure;
    metrics::count(
        Metric::DocumentsFailed,
        &[("Reason", error.code), ("Tenant", upload.tenant_id)],
        1,
    );
    if let Err(e) = app.store.append_audit(&entry).await {
        tracing::warn!(error = %e, reason = error.code, "could not audit a refused upload");
    }
}
