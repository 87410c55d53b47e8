//! Document management for tenant admins: list, get, delete, replace.

use super::ingestion::DocumentUpload;
use super::ingestion::extraction::{extract_document, flagged_passages};
use super::ingestion::indexing::{
    DOCUMENT_CHANGED, chunk_document, commit_document, document_audit, document_changed,
    document_limits, embed_chunks,
};
use super::ingestion::originals::{discard_original, next_revision_key, put_original};
use super::ingestion::upload::validate_file;
use super::{App, AppError, AppResult};
use crate::domain::audit::{RequestOrigin, action};
use crate::domain::document::{
    DocumentContent, DocumentRecord, DocumentStatus, LibraryUsage, admit, content_hash,
};
use crate::ports::object_store::parse_document_key;
use crate::ports::state_store::StoreError;

pub async fn list(app: &App, tenant_id: &str) -> AppResult<Vec<DocumentRecord>> {
    Ok(app.store.documents(tenant_id).await?)
}

/// Whether `id` can name a document: 26 lower-case hex characters (an
/// upload's id) or a ULID (a drop-folder upload's). Anything else names
/// none, and is not looked up.
pub fn valid_document_id(id: &str) -> bool {
    let hex = id.len() == 26
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    hex || crate::domain::ids::is_ulid(id)
}

pub async fn get(app: &App, tenant_id: &str, document_id: &str) -> AppResult<DocumentRecord> {
    if !valid_document_id(document_id) {
        return Err(document_not_found(document_id));
    }
    app.store
        .document(tenant_id, document_id)
        .await?
        .ok_or_else(|| document_not_found(document_id))
}

fn document_not_found(document_id: &str) -> AppError {
    AppError::not_found(
        "document_not_found",
        format!("no document {document_id} in this tenant"),
    )
}

/// Which revision a request that changes a document expects: what its
/// `If-Match` header names, if it sent one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IfMatch {
    /// No header: the revision read when the request starts.
    #[default]
    Unconditional,
    /// `*`: any existing revision.
    Any,
    /// The revisions the header lists (`"3"`, or `"3", "4"`).
    Revisions(Vec<u32>),
}

impl IfMatch {
    /// Parses an `If-Match` value: `*` or a list of entity tags
    /// (`"<revision>"`). Weak tags never match (If-Match compares strongly).
    pub fn parse(header: &str) -> AppResult<Self> {
        let header = header.trim();
        if header == "*" {
            return Ok(IfMatch::Any);
        }
        let mut revisions = vec![];
        for tag in header.split(',').map(str::trim) {
            let (weak, quoted) = match tag.strip_prefix("W/") {
                Some(rest) => (true, rest),
                None => (false, tag),
            };
            let value = quoted
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or_else(|| {
                    AppError::bad_request(
                        "invalid_if_match",
                        "If-Match takes * or entity tags such as \"2\" (a document's ETag)",
                    )
                })?;
            if !weak {
                revisions.extend(value.parse::<u32>().ok());
            }
        }
        Ok(IfMatch::Revisions(revisions))
    }

    /// Refuses with `412 revision_mismatch` when `current` is not at a
    /// revision the header names.
    fn check(&self, current: &DocumentRecord) -> AppResult<()> {
        match self {
            IfMatch::Revisions(named) if !named.contains(&current.revision) => {
                Err(AppError::precondition_failed(
                    REVISION_MISMATCH,
                    format!(
                        "the document is at revision {} (ETag {}), not one If-Match names",
                        current.revision,
                        etag(current)
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// A write that lost to a concurrent change: `412` when the request
    /// named a revision, else `409 document_changed` as it stands.
    fn lost(&self, e: AppError) -> AppError {
        match (self, e.code) {
            (IfMatch::Revisions(_), DOCUMENT_CHANGED) => AppError::precondition_failed(
                REVISION_MISMATCH,
                "the document changed meanwhile: it is no longer at the revision If-Match names",
            ),
            _ => e,
        }
    }
}

/// The code of a change refused because the document is not at a revision
/// `If-Match` names.
pub const REVISION_MISMATCH: &str = "revision_mismatch";

/// A document's entity tag: its revision, quoted.
pub fn etag(record: &DocumentRecord) -> String {
    format!("\"{}\"", record.revision)
}

/// Deletes a document if it is still at the revision read (and one
/// `If-Match` names): its record, its chunks and the audit entry go
/// together (one transaction on the embedded store), then the original.
/// A concurrent replace or delete makes it `409`/`412`, removing nothing.
pub async fn delete(
    app: &App,
    tenant_id: &str,
    document_id: &str,
    if_match: &IfMatch,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<DocumentRecord> {
    let record = get(app, tenant_id, document_id).await?;
    if_match.check(&record)?;
    let audit = document_audit(app, &record, action::RAG_DOCUMENT_DELETED, actor, origin);
    match app
        .vectors
        .remove_document(app.store.as_ref(), &record, &audit)
        .await
    {
        Err(StoreError::Conflict(_)) => return Err(if_match.lost(document_changed())),
        other => other?,
    }
    app.objects.delete(&record.object_key).await?;
    Ok(record)
}

/// Replaces a document's content with a new version, so that retrieval
/// finds the old version or the new one, never both and never neither:
///
/// 1. The new file is read, chunked and embedded in memory: a file that
///    cannot be read, would not fit the tenant's limits, or an embedder that
///    fails, changes nothing.
/// 2. Its original is stored beside the old one, under a key of its own
///    (revision and a random part); the old original stays until the swap
///    is done.
/// 3. The new record, its chunks and the audit entry commit as one unit
///    (one transaction on the embedded default; elsewhere the guarded
///    record, then the chunks swapped in one upsert) if the stored record
///    is still the revision read. If that fails, the new original goes: of
///    concurrent replaces and deletes one wins, the others get `409`
///    (`412` with `If-Match`) and leave nothing behind.
/// 4. The old original goes.
pub async fn replace(
    app: &App,
    document_id: &str,
    upload: DocumentUpload,
    if_match: &IfMatch,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<DocumentRecord> {
    let old = get(app, &upload.tenant_id, document_id).await?;
    if_match.check(&old)?;
    let filename = validate_file(&upload)?;
    let hash = content_hash(&upload.bytes);
    if hash == old.content_hash && old.status == DocumentStatus::Indexed {
        return Ok(old);
    }
    let limits = document_limits(app, &old.tenant_id).await?;
    let (format, extracted) = extract_document(app, &filename, &upload.bytes).await?;
    let pieces = chunk_document(&extracted)?;
    let library = app.store.documents(&old.tenant_id).await?;
    admit(&limits, LibraryUsage::of(&library, &old.id), pieces.len())?;
    let metadata = if upload.metadata.as_object().is_some_and(|m| !m.is_empty()) {
        upload.metadata.clone()
    } else {
        old.metadata.clone()
    };
    // The metadata's title as given, else the document's own, else its name.
    let title = metadata
        .get("title")
        .and_then(|t| t.as_str())
        .filter(|t| !t.trim().is_empty())
        .map(str::to_string)
        .or_else(|| extracted.title.clone())
        .unwrap_or_else(|| filename.clone());
    let content = DocumentContent {
        title,
        filename: filename.clone(),
        format: format.name().to_string(),
        pages: extracted.pages,
        flagged_passages: flagged_passages(&extracted),
        chunks: pieces.len() as u32,
        bytes: upload.bytes.len() as u64,
        content_hash: hash,
        metadata,
    };
    let new = old.revised(content, next_revision_key(&old, &filename), app.clock.now());
    // Embedded before anything is written: an embedder failure changes nothing.
    let chunks = embed_chunks(app, &new, pieces).await?;
    put_original(app, &new, format, upload.bytes).await?;
    let audit = document_audit(app, &new, action::RAG_DOCUMENT_REPLACED, actor, origin);
    if let Err(e) =
        commit_document(app, new.clone(), chunks, audit, limits, Some(old.clone())).await
    {
        discard_original(app, &new, &old).await;
        return Err(if_match.lost(e));
    }
    discard_original(app, &old, &new).await;
    Ok(new)
}

/// Removes stored originals that no document record names: uploads
/// interrupted between writing the original and committing the record
/// (a crash), and replaced or deleted originals whose removal was cut
/// short. Run at start, before requests are served, on an object store
/// that can list its keys (local files); returns the keys removed.
pub async fn remove_uncommitted_objects(app: &App) -> AppResult<Vec<String>> {
    let Some(keys) = app.objects.keys_under(UPLOADS_PREFIX).await? else {
        return Ok(vec![]);
    };
    let mut removed = vec![];
    for key in keys {
        let committed = match parse_document_key(&key) {
            Some(parts) => app
                .store
                .document(&parts.tenant_id, &parts.document_id)
                .await?
                .is_some_and(|record| record.object_key == key),
            None => false,
        };
        if !committed {
            app.objects.delete(&key).await?;
            removed.push(key);
        }
    }
    if !removed.is_empty() {
        tracing::warn!(
            objects = removed.len(),
            "removed stored originals of uploads that never committed"
        );
    }
    Ok(removed)
}

/// Where document originals live (see [`crate::ports::object_store::document_key`]).
const UPLOADS_PREFIX: &str = "uploads";
