//! Document management for tenant admins: list, get, delete, replace.

use super::ingestion::{
    DocumentUpload, audit_document, chunk_records, clean_filename, extract_document,
    store_original, validate_metadata,
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

/// Replaces a document's content with a new version, so that retrieval
/// finds the old version or the new one, never both and never neither,
/// whichever step fails:
///
/// 1. The new file is read, chunked and embedded in memory: a file that
///    cannot be read (or an embedder that fails) changes nothing.
/// 2. Its original is stored beside the old one, under the new revision's
///    own key; the old original stays until the swap is done.
/// 3. The record names the new revision, still `indexing`.
/// 4. One vector-store upsert swaps the old chunks for the new ones. If it
///    fails, the old record is put back and the new original removed.
/// 5. The record turns `indexed`; the old original goes.
///
/// A record left `indexing` by a failure in 5 (or a failed restore in 4)
/// is finished by sending the same file again.
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
    let revision = old.revision + 1;
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
        status: DocumentStatus::Indexing,
        failure: None,
        pages: extracted.pages,
        flagged_passages: super::ingestion::flagged_passages(&extracted),
        chunks: 0,
        bytes: upload.bytes.len() as u64,
        content_hash: hash,
        object_key: revision_key(&old, revision, &filename),
        revision,
        metadata,
        updated_at: app.clock.now(),
        ..old.clone()
    };
    let chunks = chunk_records(app, &new, &extracted).await?;
    new.chunks = chunks.len() as u32;
    store_original(app, &new, format, upload.bytes).await?;
    if let Err(e) = app.store.put_document(&new).await {
        discard_original(app, &new, &old).await;
        return Err(e.into());
    }
    if let Err(e) = app
        .vectors
        .upsert_document(&new.tenant_id, &new.id, chunks)
        .await
    {
        // The old chunks are still the ones searched: say so again.
        if app.store.put_document(&old).await.is_ok() {
            discard_original(app, &new, &old).await;
        }
        return Err(e.into());
    }
    new.status = DocumentStatus::Indexed;
    new.updated_at = app.clock.now();
    app.store.put_document(&new).await?;
    discard_original(app, &old, &new).await;
    audit_document(app, &new, action::RAG_DOCUMENT_REPLACED, actor, origin).await?;
    Ok(new)
}

/// Where a revision's original is kept: its own key from the second
/// revision on, so storing it never overwrites the version still searched.
fn revision_key(old: &DocumentRecord, revision: u32, filename: &str) -> String {
    document_key(
        &old.tenant_id,
        &old.category,
        &old.id,
        &format!("r{revision}-{filename}"),
    )
}

/// Removes `gone`'s original unless `kept` uses the same object; a failure
/// only leaves an unreferenced object behind, so it is logged, not raised.
async fn discard_original(app: &App, gone: &DocumentRecord, kept: &DocumentRecord) {
    if gone.object_key == kept.object_key {
        return;
    }
    if let Err(e) = app.objects.delete(&gone.object_key).await {
        tracing::warn!(key = %gone.object_key, error = %e, "an old document original was left behind");
    }
}
