//! The S3 drop folder: a presigned URL to put a document at, and the
//! object-created events that index it (the rag-upload function). Every
//! outcome is recorded, failures included, so the admin's list shows it.

use serde::Serialize;
use serde_json::{Value, json};

use super::IngestReport;
use super::extraction::{extract_document, flagged_passages};
use super::indexing::{
    DOCUMENT_CHANGED, audit_document, chunk_document, commit_document, document_audit,
    document_changed, document_limits, embed_chunks,
};
use crate::app::validation::{clean_filename, clean_metadata, validate_category};
use crate::app::{App, AppError, AppResult, ErrorKind};
use crate::domain::audit::{RequestOrigin, action};
use crate::domain::document::{
    DocumentFailure, DocumentRecord, DocumentSource, DocumentStatus, LibraryUsage, admit,
    content_hash, document_title,
};
use crate::domain::ids::new_id;
use crate::extraction::{self, Extracted, MAX_DOCUMENT_BYTES};
use crate::ports::object_store::{document_key, parse_document_key};
use crate::ports::state_store::{Expect, StoreError};
use crate::telemetry::metrics::{self, Metric};

/// How long a presigned drop-folder URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

/// Who the audit log names for drop-folder documents.
pub const DROP_FOLDER_ACTOR: &str = "s3_drop_folder";

/// Where a client may PUT a document directly; the object-created event
/// then runs the same ingestion (the rag-upload function).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UploadUrl {
    pub document_id: String,
    pub key: String,
    pub upload_url: String,
    pub method: &'static str,
    pub expires_in: u64,
    pub category: String,
}

pub async fn upload_url(
    app: &App,
    tenant_id: &str,
    category: &str,
    filename: &str,
) -> AppResult<UploadUrl> {
    validate_category(category)?;
    let filename = clean_filename(filename)?;
    // Refuse now what ingestion would refuse later.
    extraction::detect::format_of_name(&filename)?;
    let document_id = new_id();
    let key = document_key(tenant_id, category, &document_id, &filename);
    let url = app
        .objects
        .presign_put(&key, std::time::Duration::from_secs(UPLOAD_URL_SECONDS))
        .await?
        .ok_or_else(|| {
            AppError::not_implemented(
                "presigned_uploads_unavailable",
                "this deployment keeps documents locally; upload through POST /api/admin/rag/upload/{tenant_id}",
            )
        })?;
    Ok(UploadUrl {
        document_id,
        key,
        upload_url: url,
        method: "PUT",
        expires_in: UPLOAD_URL_SECONDS,
        category: category.to_string(),
    })
}

/// An S3 event key as a string: events URL-encode keys, with '+' for spaces.
pub fn decode_event_key(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Indexes every object an S3 event names; one failure does not stop the
/// others. A document that can never be indexed (bad key, unknown tenant,
/// wrong type, too large) is logged and skipped; the first transient
/// failure is returned so the event is retried.
pub async fn ingest_event_keys(app: &App, raw_keys: &[String]) -> AppResult<Vec<IngestReport>> {
    let mut reports = vec![];
    let mut first_error = None;
    for raw in raw_keys {
        let key = decode_event_key(raw);
        match ingest_stored_object(app, &key).await {
            Ok(report) => reports.push(report),
            Err(e) if is_transient(&e) => {
                tracing::error!(code = e.code, message = %e.message, "drop-folder ingestion failed; the event will be retried");
                first_error.get_or_insert(e);
            }
            Err(e) => {
                tracing::error!(code = e.code, message = %e.message, "drop-folder document rejected for good");
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(reports),
    }
}

/// Indexes a document that arrived in the object store's drop folder and
/// records the outcome, failures included, so the admin's list shows it.
/// A repeated event for bytes already indexed changes nothing.
pub async fn ingest_stored_object(app: &App, key: &str) -> AppResult<IngestReport> {
    let parts = parse_document_key(key).ok_or_else(|| {
        AppError::bad_request(
            "invalid_key",
            format!("'{key}' is not uploads/{{tenant}}/{{category}}/{{document}}/{{file}}"),
        )
    })?;
    validate_category(&parts.category)?;
    let filename = clean_filename(&parts.filename)?;
    if app.store.tenant(&parts.tenant_id).await?.is_none() {
        return Err(AppError::not_found(
            "tenant_not_found",
            format!("no tenant {}", parts.tenant_id),
        ));
    }
    let existing = app
        .store
        .document(&parts.tenant_id, &parts.document_id)
        .await?;
    // Uploads through the API are indexed by their request, and a
    // replacement's original is stored before its record names it: events
    // for those change nothing.
    if let Some(current) = existing
        .as_ref()
        .filter(|d| d.source == DocumentSource::Upload || d.object_key != key)
    {
        return Ok(IngestReport::of(
            current,
            "Indexed through the API or not the document's current file; nothing changed",
        ));
    }
    let now = app.clock.now();
    let mut record = existing.clone().unwrap_or_else(|| {
        DocumentRecord::dropped(
            &parts.tenant_id,
            &parts.category,
            &parts.document_id,
            &filename,
            key,
            now,
        )
    });
    // Every write expects the record as this event last left it: a
    // document deleted or replaced meanwhile is not brought back.
    let mut stored = existing;
    match read_dropped(app, key, &mut record, &mut stored).await {
        Ok(None) => Ok(IngestReport::already_indexed(&record)),
        Ok(Some(extracted)) => {
            match index_dropped(app, &mut record, &extracted, stored.clone()).await {
                Ok(()) => Ok(IngestReport::of(&record, "Document processed successfully")),
                Err(e) if is_transient(&e) || e.code == DOCUMENT_CHANGED => Err(e),
                Err(e) => record_failure(app, record, e, stored.as_ref()).await,
            }
        }
        Err(e) if is_transient(&e) || e.code == DOCUMENT_CHANGED => Err(e),
        Err(e) => record_failure(app, record, e, stored.as_ref()).await,
    }
}

/// Indexes a dropped document within its tenant's limits: chunks, record
/// and audit entry commit together.
async fn index_dropped(
    app: &App,
    record: &mut DocumentRecord,
    extracted: &Extracted,
    stored: Option<DocumentRecord>,
) -> AppResult<()> {
    let limits = document_limits(app, &record.tenant_id).await?;
    let pieces = chunk_document(extracted)?;
    let library = app.store.documents(&record.tenant_id).await?;
    admit(
        &limits,
        LibraryUsage::of(&library, &record.id),
        pieces.len(),
    )?;
    let chunks = embed_chunks(app, record, pieces).await?;
    record.status = DocumentStatus::Indexed;
    record.failure = None;
    record.chunks = chunks.len() as u32;
    record.updated_at = app.clock.now();
    let audit = document_audit(
        app,
        record,
        action::RAG_DOCUMENT_UPLOADED,
        DROP_FOLDER_ACTOR,
        &RequestOrigin::default(),
    );
    commit_document(app, record.clone(), chunks, audit, limits, stored).await
}

/// Records why a dropped document cannot be indexed, so the admin's list
/// shows it, and returns that reason.
async fn record_failure(
    app: &App,
    mut record: DocumentRecord,
    e: AppError,
    stored: Option<&DocumentRecord>,
) -> AppResult<IngestReport> {
    metrics::count(
        Metric::DocumentsFailed,
        &[("Reason", e.code), ("Tenant", &record.tenant_id)],
        1,
    );
    record.status = DocumentStatus::Failed;
    record.failure = Some(DocumentFailure {
        code: e.code.to_string(),
        message: e.message.clone(),
    });
    record.updated_at = app.clock.now();
    put_guarded(app, &record, stored).await?;
    audit_document(
        app,
        &record,
        action::RAG_DOCUMENT_FAILED,
        DROP_FOLDER_ACTOR,
        &RequestOrigin::default(),
    )
    .await?;
    Err(e)
}

/// Failures worth retrying the event for.
fn is_transient(e: &AppError) -> bool {
    matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Internal)
}

/// Reads and extracts a dropped object, filling in `record`; `None` when
/// the same bytes are already indexed under this document.
async fn read_dropped(
    app: &App,
    key: &str,
    record: &mut DocumentRecord,
    stored: &mut Option<DocumentRecord>,
) -> AppResult<Option<Extracted>> {
    match app.objects.size(key).await? {
        None => {
            return Err(AppError::not_found(
                "object_not_found",
                format!("no object at {key}"),
            ));
        }
        Some(size) if size as usize > MAX_DOCUMENT_BYTES => {
            record.bytes = size;
            return Err(AppError::too_large(
                "document_too_large",
                "documents must be at most 10 MiB",
            ));
        }
        Some(_) => {}
    }
    let object =
        app.objects.get(key).await?.ok_or_else(|| {
            AppError::not_found("object_not_found", format!("no object at {key}"))
        })?;
    let hash = content_hash(&object.bytes);
    if record.status == DocumentStatus::Indexed && record.content_hash == hash {
        return Ok(None);
    }
    let metadata: Value = object
        .metadata
        .get("metadata")
        .and_then(|m| serde_json::from_str(m).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    record.content_hash = hash;
    record.bytes = object.bytes.len() as u64;
    record.status = DocumentStatus::Indexing;
    record.updated_at = app.clock.now();
    put_guarded(app, record, stored.as_ref()).await?;
    *stored = Some(record.clone());
    // Recorded as the document's failure when refused, like an unreadable file.
    record.metadata = clean_metadata(metadata)?;
    let given_title = match object.metadata.get("title") {
        Some(title) => Some(clean_metadata(json!({ "title": title }))?["title"].take()),
        None => None,
    };
    if object.bytes.is_empty() {
        return Err(AppError::bad_request("empty_document", "the file is empty"));
    }
    let (format, extracted) = extract_document(app, &record.filename, &object.bytes).await?;
    record.format = Some(format.name().to_string());
    record.pages = extracted.pages;
    record.flagged_passages = flagged_passages(&extracted);
    record.title = document_title(
        &record.metadata,
        given_title
            .as_ref()
            .and_then(Value::as_str)
            .or(extracted.title.as_deref()),
        &record.filename,
    );
    Ok(Some(extracted))
}

/// Writes a record over `stored`, the one last read or written;
/// `409 document_changed` when another request changed it meanwhile.
async fn put_guarded(
    app: &App,
    record: &DocumentRecord,
    stored: Option<&DocumentRecord>,
) -> AppResult<()> {
    match app
        .store
        .put_document(record, Expect::document(stored))
        .await
    {
        Err(StoreError::Conflict(_)) => Err(document_changed()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_are_url_decoded() {
        assert_eq!(
            decode_event_key("uploads/t/values/d/Our+Values%20%282025%29.md"),
            "uploads/t/values/d/Our Values (2025).md"
        );
        assert_eq!(decode_event_key("100%"), "100%");
        assert_eq!(decode_event_key("%zz"), "%zz");
    }
}
