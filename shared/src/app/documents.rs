//! Document management for tenant admins: list, get, delete, replace.

use super::ingestion::{
    DocumentUpload, audit_document, clean_filename, extract_document, store_and_index,
    validate_metadata,
};
use super::{App, AppError, AppResult};
use crate::domain::audit::{RequestOrigin, action};
use crate::domain::document::{DocumentRecord, DocumentStatus, content_hash};
use crate::ports::object_store::document_key;

pub async fn list(app: &App, tenant_id: &str) -> AppResult<Vec<DocumentRecord>> {
    Ok(app.store.documents(tenant_id).await?)
}

pub async fn get(app: &App, tenant_id: &str, document_id: &str) -> AppResult<DocumentRecord> {
    app.store
        .document(tenant_id, document_id)
        .await?
        .ok_or_else(|| {
            AppError::not_found(
                "document_not_found",
                format!("no document {document_id} in this tenant"),
            )
        })
}

/// Deletes a document: its chunks leave retrieval first, then the
/// original and the record go; the deletion is audited.
pub async fn delete(
    app: &App,
    tenant_id: &str,
    document_id: &str,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<DocumentRecord> {
    let record = get(app, tenant_id, document_id).await?;
    app.vectors.delete_document(tenant_id, document_id).await?;
    app.objects.delete(&record.object_key).await?;
    app.store.delete_document(tenant_id, document_id).await?;
    audit_document(app, &record, action::RAG_DOCUMENT_DELETED, actor, origin).await?;
    Ok(record)
}

/// Replaces a document's content with a new version. The new file is read
/// first: one that cannot be read leaves the old version untouched. The
/// document's chunks are then swapped in one upsert, so retrieval sees the
/// old version or the new one, never a mix.
pub async fn replace(
    app: &App,
    document_id: &str,
    upload: DocumentUpload,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<DocumentRecord> {
    let old = get(app, &upload.tenant_id, document_id).await?;
    let filename = clean_filename(&upload.filename)?;
    if upload.bytes.is_empty() {
        return Err(AppError::bad_request("empty_document", "the file is empty"));
    }
    if upload.bytes.len() > super::ingestion::MAX_DOCUMENT_BYTES {
        return Err(AppError::too_large(
            "document_too_large",
            "documents must be at most 10 MiB",
        ));
    }
    validate_metadata(&upload.metadata)?;
    let hash = content_hash(&upload.bytes);
    if hash == old.content_hash && old.status == DocumentStatus::Indexed {
        return Ok(old);
    }
    let (format, extracted) = extract_document(app, &filename, &upload.bytes).await?;
    let metadata = if upload.metadata.as_object().is_some_and(|m| !m.is_empty()) {
        upload.metadata.clone()
    } else {
        old.metadata.clone()
    };
    let mut new = DocumentRecord {
        title: metadata
            .get("title")
            .and_then(|t| t.as_str())
            .filter(|t| !t.trim().is_empty())
            .map(str::to_string)
            .or_else(|| extracted.title.clone())
            .unwrap_or_else(|| filename.clone()),
        filename: filename.clone(),
        format: Some(format.name().to_string()),
        status: DocumentStatus::Indexed,
        failure: None,
        pages: extracted.pages,
        flagged_passages: super::ingestion::flagged_passages(&extracted),
        chunks: 0,
        bytes: upload.bytes.len() as u64,
        content_hash: hash,
        object_key: document_key(&old.tenant_id, &old.category, &old.id, &filename),
        revision: old.revision + 1,
        metadata,
        updated_at: app.clock.now(),
        ..old.clone()
    };
    new.chunks = store_and_index(app, &new, format, upload.bytes, &extracted).await? as u32;
    if new.object_key != old.object_key {
        app.objects.delete(&old.object_key).await?;
    }
    app.store.put_document(&new).await?;
    audit_document(app, &new, action::RAG_DOCUMENT_REPLACED, actor, origin).await?;
    Ok(new)
}
