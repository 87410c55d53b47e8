//! Indexing a read document: its text in chunks, each embedded, then its
//! record, chunks and audit entry committed together within the tenant's
//! limits.

use serde_json::{Value, json};

use super::extraction::extract_document;
use crate::app::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin};
use crate::domain::chunking::{LocatedChunk, chunk_paragraphs};
use crate::domain::document::{DocumentContent, DocumentRecord, content_hash, document_title};
use crate::domain::ids::new_id;
use crate::domain::injection::find_instructions;
use crate::domain::tenant::DocumentLimits;
use crate::extraction::{Extracted, Place};
use crate::ports::state_store::StoreError;
use crate::ports::vector_store::{ChunkRecord, CommitError, DocumentCommit};
use crate::telemetry::metrics::{self, Metric};

/// Inputs per embedding request.
const EMBED_BATCH: usize = 128;

/// The code of a write that lost to a concurrent change of its document.
pub const DOCUMENT_CHANGED: &str = "document_changed";

/// The answer to a document write whose guard failed.
pub fn document_changed() -> AppError {
    AppError::conflict(
        DOCUMENT_CHANGED,
        "the document changed meanwhile (another replace, delete or upload); fetch it and try again",
    )
}

/// The tenant's document limits.
pub async fn document_limits(app: &App, tenant_id: &str) -> AppResult<DocumentLimits> {
    Ok(crate::app::tenants::existing(app, tenant_id)
        .await?
        .config
        .document_limits)
}

/// A document's text in chunks, each with its page or section.
pub fn chunk_document(extracted: &Extracted) -> AppResult<Vec<LocatedChunk<&Place>>> {
    let pieces = chunk_paragraphs(extracted.blocks.iter().map(|b| (b.text.as_str(), &b.place)));
    if pieces.is_empty() {
        return Err(AppError::bad_request(
            "empty_document",
            "the document has no text",
        ));
    }
    Ok(pieces)
}

/// Embeds a document's chunks; each carries the document's title and its
/// page or section.
pub async fn embed_chunks(
    app: &App,
    record: &DocumentRecord,
    pieces: Vec<LocatedChunk<&Place>>,
) -> AppResult<Vec<ChunkRecord>> {
    let texts: Vec<String> = pieces.iter().map(|p| p.text.clone()).collect();
    let mut embeddings = Vec::with_capacity(pieces.len());
    for batch in texts.chunks(EMBED_BATCH) {
        embeddings.extend(app.embedder.embed(batch).await?);
    }
    if embeddings.len() != pieces.len() {
        return Err(AppError::unavailable(
            "embedding_failed",
            "the embedder returned the wrong number of vectors",
        ));
    }
    let now = app.clock.now();
    let records = pieces
        .into_iter()
        .zip(embeddings)
        .enumerate()
        .map(|(i, (piece, embedding))| {
            let mut meta = record.metadata.clone();
            if !meta.is_object() {
                meta = json!({});
            }
            meta["title"] = json!(record.title);
            meta["filename"] = json!(record.filename);
            meta["chunk_index"] = json!(i);
            if let Some(page) = piece.place.page {
                meta["page"] = json!(page);
            }
            if let Some(section) = &piece.place.section {
                meta["section"] = json!(section);
            }
            let flagged = find_instructions(&piece.text);
            if !flagged.is_empty() {
                meta["instruction_like"] = json!(true);
                meta["flagged_passages"] = json!(flagged);
            }
            ChunkRecord {
                id: format!("{}-{i:05}", record.id),
                tenant_id: record.tenant_id.clone(),
                document_id: record.id.clone(),
                chunk_index: i as u32,
                category: record.category.clone(),
                content: piece.text,
                metadata: meta,
                embedding,
                created_at: now,
            }
        })
        .collect();
    Ok(records)
}

/// Writes a document's record, chunks and audit entry as one unit, within
/// the tenant's limits, if the stored record is still `previous`
/// (`409 document_changed` otherwise, with nothing written).
pub(crate) async fn commit_document(
    app: &App,
    record: DocumentRecord,
    chunks: Vec<ChunkRecord>,
    audit: AuditEntry,
    limits: DocumentLimits,
    previous: Option<DocumentRecord>,
) -> AppResult<()> {
    let tenant_id = record.tenant_id.clone();
    let commit = DocumentCommit {
        record,
        chunks,
        audit,
        limits,
        previous,
    };
    match app
        .vectors
        .commit_document(app.store.as_ref(), commit)
        .await
    {
        Ok(()) => {
            metrics::count(Metric::DocumentsIndexed, &[("Tenant", &tenant_id)], 1);
            Ok(())
        }
        Err(CommitError::Limit(reached)) => Err(reached.into()),
        Err(CommitError::Store(StoreError::Conflict(_))) => Err(document_changed()),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

/// Audits a document event under the document's id, on its own.
pub(crate) async fn audit_document(
    app: &App,
    record: &DocumentRecord,
    action: &'static str,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<()> {
    let entry = document_audit(app, record, action, actor, origin);
    app.store.append_audit(&entry).await?;
    Ok(())
}

/// The audit entry of a document event, under the document's id.
pub(crate) fn document_audit(
    app: &App,
    record: &DocumentRecord,
    action: &'static str,
    actor: &str,
    origin: &RequestOrigin,
) -> AuditEntry {
    let mut payload = json!({
        "category": record.category,
        "chunks": record.chunks,
        "filename": record.filename,
        "title": record.title,
        "content_hash": record.content_hash,
        "revision": record.revision,
        "flagged_passages": record.flagged_passages.len(),
    });
    if let Some(failure) = &record.failure {
        payload["failure"] = json!(failure);
    }
    AuditEntry::new(
        new_id(),
        &record.tenant_id,
        None,
        actor,
        action,
        ("rag_corpus", &record.id),
        payload,
        origin,
        app.clock.now(),
    )
}

/// Indexes a text document under `document_id` with no stored original and
/// no document record: `petraf eval`'s scratch documents, removed after use.
pub async fn index_text(
    app: &App,
    tenant_id: &str,
    category: &str,
    document_id: &str,
    filename: &str,
    text: &str,
    metadata: &Value,
) -> AppResult<usize> {
    let (format, extracted) = extract_document(app, filename, text.as_bytes()).await?;
    let pieces = chunk_document(&extracted)?;
    let content = DocumentContent {
        filename: filename.to_string(),
        format: format.name().to_string(),
        title: document_title(metadata, extracted.title.as_deref(), filename),
        pages: extracted.pages,
        // Nothing shows a scratch document's flags.
        flagged_passages: vec![],
        chunks: pieces.len() as u32,
        bytes: text.len() as u64,
        content_hash: content_hash(text.as_bytes()),
        metadata: metadata.clone(),
    };
    let record =
        DocumentRecord::unstored(tenant_id, category, document_id, content, app.clock.now());
    let chunks = embed_chunks(app, &record, pieces).await?;
    let count = chunks.len();
    app.vectors
        .upsert_document(tenant_id, document_id, chunks)
        .await?;
    Ok(count)
}
