//! An admin's upload through the API: checked, read, stored and indexed in
//! its request.

use super::extraction::{extract_document, flagged_passages};
use super::indexing::{
    DOCUMENT_CHANGED, chunk_document, commit_document, document_audit, document_limits,
    embed_chunks,
};
use super::originals::{discard_original, next_revision_key, put_original};
use super::{DocumentUpload, IngestReport};
use crate::app::validation::{clean_filename, validate_category, validate_metadata};
use crate::app::{App, AppError, AppResult};
use crate::domain::audit::{RequestOrigin, action};
use crate::domain::document::{
    DocumentContent, DocumentRecord, DocumentStatus, LibraryUsage, admit, content_hash,
    document_title, upload_document_id,
};
use crate::extraction::MAX_DOCUMENT_BYTES;
use crate::ports::object_store::document_key;

/// Checks what an upload carries before anything is read; its clean file
/// name.
fn validate_upload(upload: &DocumentUpload) -> AppResult<String> {
    validate_category(&upload.category)?;
    validate_file(upload)
}

/// Checks an upload's file and metadata (a new document's or a
/// replacement's); its clean file name.
pub(crate) fn validate_file(upload: &DocumentUpload) -> AppResult<String> {
    let filename = clean_filename(&upload.filename)?;
    if upload.bytes.is_empty() {
        return Err(AppError::bad_request("empty_document", "the file is empty"));
    }
    if upload.bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(AppError::too_large(
            "document_too_large",
            "documents must be at most 10 MiB",
        ));
    }
    validate_metadata(&upload.metadata)?;
    Ok(filename)
}

/// Validates, extracts, stores and indexes an upload. The same bytes in
/// the same category again give the document already there; a document
/// that cannot be read, or does not fit in the tenant's limits, is refused
/// with nothing stored. The original is written first, then the record,
/// its chunks and its audit entry commit together (one transaction on the
/// embedded store): an upload interrupted before that commit leaves only
/// the original, which the start-up sweep removes
/// (`documents::remove_uncommitted_objects`).
pub async fn ingest_upload(
    app: &App,
    upload: DocumentUpload,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<IngestReport> {
    let filename = validate_upload(&upload)?;
    let hash = content_hash(&upload.bytes);
    let tenant_id = upload.tenant_id.clone();
    let library = app.store.documents(&tenant_id).await?;
    if let Some(existing) = library.iter().find(|d| {
        d.category == upload.category
            && d.content_hash == hash
            && d.status == DocumentStatus::Indexed
    }) {
        return Ok(IngestReport::already_indexed(existing));
    }
    let limits = document_limits(app, &tenant_id).await?;
    let (format, extracted) = extract_document(app, &filename, &upload.bytes).await?;
    let document_id = upload_document_id(&tenant_id, &upload.category, &hash);
    let pieces = chunk_document(&extracted)?;
    admit(
        &limits,
        LibraryUsage::of(&library, &document_id),
        pieces.len(),
    )?;
    // The same id holds other content (the document was replaced since
    // these bytes were its first version): this upload is its next revision.
    let previous = library.iter().find(|d| d.id == document_id).cloned();
    let object_key = match &previous {
        None => document_key(&tenant_id, &upload.category, &document_id, &filename),
        Some(p) => next_revision_key(p, &filename),
    };
    let content = DocumentContent {
        title: document_title(&upload.metadata, extracted.title.as_deref(), &filename),
        filename,
        format: format.name().to_string(),
        pages: extracted.pages,
        flagged_passages: flagged_passages(&extracted),
        chunks: pieces.len() as u32,
        bytes: upload.bytes.len() as u64,
        content_hash: hash,
        metadata: upload.metadata.clone(),
    };
    let record = DocumentRecord::uploaded(
        &tenant_id,
        &upload.category,
        &document_id,
        content,
        object_key,
        previous.as_ref(),
        app.clock.now(),
    );
    put_original(app, &record, format, upload.bytes).await?;
    let committed = async {
        let chunks = embed_chunks(app, &record, pieces).await?;
        let audit = document_audit(app, &record, action::RAG_DOCUMENT_UPLOADED, actor, origin);
        commit_document(app, record.clone(), chunks, audit, limits, previous.clone()).await
    }
    .await;
    if let Err(e) = committed {
        // Leave nothing half-made behind, unless the record that won a
        // race names the same object (the same bytes, uploaded twice).
        let stored = app.store.document(&tenant_id, &document_id).await;
        let winner = stored.as_ref().ok().and_then(Option::as_ref);
        if winner.is_none_or(|w| w.object_key != record.object_key) {
            let _ = app.objects.delete(&record.object_key).await;
        }
        if let Some(w) = winner.filter(|w| {
            e.code == DOCUMENT_CHANGED
                && w.content_hash == record.content_hash
                && w.status == DocumentStatus::Indexed
        }) {
            return Ok(IngestReport::already_indexed(w));
        }
        return Err(e);
    }
    if let Some(previous) = &previous {
        discard_original(app, previous, &record).await;
    }
    Ok(IngestReport::of(&record, "Document processed successfully"))
}
