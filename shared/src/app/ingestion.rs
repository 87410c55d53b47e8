//! Document ingestion: keep the original, chunk, embed, index. Admin uploads
//! and the S3 drop folder run the same pipeline.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::{App, AppError, AppResult, ErrorKind};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::chunking::{LocatedChunk, chunk_paragraphs};
use crate::domain::document::{
    DocumentFailure, DocumentRecord, DocumentSource, DocumentStatus, LibraryUsage, admit,
    content_hash, upload_document_id,
};
use crate::domain::hygiene;
use crate::domain::ids::new_id;
use crate::domain::injection::{Finding, find_instructions};
use crate::domain::tenant::DocumentLimits;
use crate::extraction::structure::Place;
use crate::extraction::{self, DocumentFormat, Extracted, MAX_DOCUMENT_BYTES, worker};
use crate::ports::object_store::{StoredObject, document_key, parse_document_key};
use crate::ports::state_store::{Expect, StoreError};
use crate::ports::vector_store::{ChunkRecord, CommitError, DocumentCommit};

const MAX_METADATA_BYTES: usize = 2048;
/// Inputs per embedding request.
const EMBED_BATCH: usize = 128;

#[derive(Debug, Clone)]
pub struct DocumentUpload {
    pub tenant_id: String,
    pub category: String,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IngestReport {
    pub success: bool,
    pub message: String,
    pub chunks_created: usize,
    pub document_id: String,
    pub category: String,
    pub title: String,
    pub pages: Option<u32>,
    pub status: DocumentStatus,
    /// Instruction-like sentences found in the document (see
    /// [`DocumentRecord::flagged_passages`]).
    pub flagged_passages: Vec<Finding>,
}

pub fn validate_category(category: &str) -> AppResult<()> {
    let ok = !category.is_empty()
        && category.len() <= 64
        && category
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ok.then_some(()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_category",
            "category must be 1-64 of a-z, 0-9 and '_'",
        )
    })
}

/// A safe file name: the last path component, printable, at most 200
/// characters, invisible characters stripped (it is a document's title when
/// nothing else names it; [`hygiene`]).
pub fn clean_filename(name: &str) -> AppResult<String> {
    let name = hygiene::strip_invisible(name);
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && base.chars().count() <= 200
        && hygiene::forbidden_in_field(base).is_none();
    ok.then(|| base.to_string()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_filename",
            "the file needs a plain name of at most 200 characters",
        )
    })
}

/// A document's text: the format detected from its content and name, then
/// extracted (in the isolated worker where a parser engine is needed) and
/// cleaned.
pub async fn extract_document(
    app: &App,
    filename: &str,
    bytes: &[u8],
) -> AppResult<(DocumentFormat, Extracted)> {
    let format = extraction::detect(filename, bytes)?;
    let limits = app.settings.extraction_limits.clone();
    let extracted = if format.needs_worker() {
        let program = worker::worker_program(app.settings.extract_worker.as_ref())
            .map_err(worker_unavailable)?;
        let started = std::time::Instant::now();
        let reply = worker::extract_isolated(program, format, bytes.to_vec(), limits)
            .await
            .map_err(worker_unavailable)?;
        tracing::info!(
            format = format.name(),
            bytes = bytes.len(),
            millis = started.elapsed().as_millis() as u64,
            peak_rss_kib = reply.peak_rss_kib,
            ok = reply.outcome.is_ok(),
            "document extracted"
        );
        reply.outcome?
    } else {
        extraction::extract_in_process(format, bytes, &limits)?
    };
    if extracted.blocks.is_empty() {
        return Err(AppError::bad_request(
            "empty_document",
            "the document has no text",
        ));
    }
    Ok((format, extracted))
}

fn worker_unavailable(e: std::io::Error) -> AppError {
    tracing::error!(error = %e, "the extraction worker could not run");
    AppError::internal(
        "extraction_unavailable",
        "documents cannot be read right now; try again later",
    )
}

/// The title a user gave, else the one the document gives itself, else its name.
fn title_of(metadata: &Value, own_title: Option<&str>, filename: &str) -> String {
    metadata
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .or(own_title.filter(|t| !t.trim().is_empty()))
        .unwrap_or(filename)
        .trim()
        .to_string()
}

/// How long a presigned drop-folder URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

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

/// Checks what an upload carries before anything is read.
fn validate_upload(upload: &DocumentUpload) -> AppResult<String> {
    validate_category(&upload.category)?;
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

pub fn validate_metadata(metadata: &Value) -> AppResult<()> {
    if !metadata.is_object() {
        return Err(AppError::bad_request(
            "invalid_metadata",
            "metadata must be a JSON object",
        ));
    }
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(AppError::bad_request(
            "invalid_metadata",
            "metadata must be at most 2048 bytes",
        ));
    }
    check_metadata_text(metadata, None)
}

/// Metadata with its text held to the rules of user text ([`hygiene`]):
/// invisible characters stripped from every key and string, and
/// `invalid_metadata` for characters user text may not hold. The title is
/// a one-line field; other strings may span lines.
pub fn clean_metadata(metadata: Value) -> AppResult<Value> {
    let cleaned = strip_metadata_text(metadata);
    check_metadata_text(&cleaned, None)?;
    Ok(cleaned)
}

fn strip_metadata_text(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(hygiene::strip_invisible(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_metadata_text).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (hygiene::strip_invisible(&k), strip_metadata_text(v)))
                .collect(),
        ),
        other => other,
    }
}

fn check_metadata_text(value: &Value, key: Option<&str>) -> AppResult<()> {
    let refused = |what: &str, c: char| {
        AppError::bad_request(
            "invalid_metadata",
            format!(
                "metadata {what} contains U+{:04X}: control characters, bidirectional overrides, tag characters, interlinear annotations, noncharacters, runs of variation selectors and more than 8 combining marks on one character are not accepted (nor line breaks in the title)",
                c as u32
            ),
        )
    };
    match value {
        Value::String(s) => {
            let bad = if key == Some("title") {
                hygiene::forbidden_in_field(s)
            } else {
                hygiene::forbidden_in_message(s)
            };
            match bad {
                Some(c) => Err(refused(&format!("'{}'", key.unwrap_or("value")), c)),
                None => Ok(()),
            }
        }
        Value::Array(items) => items.iter().try_for_each(|v| check_metadata_text(v, key)),
        Value::Object(map) => {
            map.iter()
                .try_for_each(|(k, v)| match hygiene::forbidden_in_field(k) {
                    Some(c) => Err(refused("key", c)),
                    None => check_metadata_text(v, Some(k)),
                })
        }
        _ => Ok(()),
    }
}

/// Validates, extracts, stores and indexes an upload. The same bytes in
/// the same category again give the document already there; a document
/// that cannot be read, or does not fit in the tenant's limits, is refused
/// with nothing stored. The original is written first, then the record,
/// its chunks and its audit entry commit together (one transaction on the
/// embedded store): an upload interrupted before that commit leaves only
/// the original, which the start-up sweep removes
/// ([`super::documents::remove_uncommitted_objects`]).
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
        return Ok(IngestReport::of(existing, "Document already indexed"));
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
    let revision = previous.as_ref().map_or(1, |p| p.revision + 1);
    let now = app.clock.now();
    let record = DocumentRecord {
        id: document_id.clone(),
        tenant_id: tenant_id.clone(),
        category: upload.category.clone(),
        title: title_of(&upload.metadata, extracted.title.as_deref(), &filename),
        filename: filename.clone(),
        format: Some(format.name().to_string()),
        status: DocumentStatus::Indexed,
        failure: None,
        pages: extracted.pages,
        flagged_passages: flagged_passages(&extracted),
        chunks: pieces.len() as u32,
        bytes: upload.bytes.len() as u64,
        source: DocumentSource::Upload,
        content_hash: hash,
        object_key: match &previous {
            None => document_key(&tenant_id, &upload.category, &document_id, &filename),
            Some(p) => super::documents::revision_key(p, revision, &filename),
        },
        revision,
        metadata: upload.metadata.clone(),
        created_at: previous.as_ref().map_or(now, |p| p.created_at),
        updated_at: now,
    };
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
            return Ok(IngestReport::of(w, "Document already indexed"));
        }
        return Err(e);
    }
    if let Some(previous) = &previous {
        super::documents::discard_original(app, previous, &record).await;
    }
    Ok(IngestReport::of(&record, "Document processed successfully"))
}

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
    Ok(super::tenants::existing(app, tenant_id)
        .await?
        .config
        .document_limits)
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
        Ok(()) => Ok(()),
        Err(CommitError::Limit(reached)) => Err(reached.into()),
        Err(CommitError::Store(StoreError::Conflict(_))) => Err(document_changed()),
        Err(CommitError::Store(e)) => Err(e.into()),
    }
}

/// Puts the original into the object store.
pub(crate) async fn put_original(
    app: &App,
    record: &DocumentRecord,
    format: DocumentFormat,
    bytes: Vec<u8>,
) -> AppResult<()> {
    let mut object_metadata = BTreeMap::new();
    object_metadata.insert("title".to_string(), record.title.clone());
    object_metadata.insert("metadata".to_string(), record.metadata.to_string());
    app.objects
        .put(
            &record.object_key,
            StoredObject {
                bytes,
                content_type: format.content_type().into(),
                metadata: object_metadata,
            },
        )
        .await?;
    Ok(())
}

impl IngestReport {
    pub fn of(record: &DocumentRecord, message: &str) -> Self {
        IngestReport {
            success: record.status == DocumentStatus::Indexed,
            message: message.into(),
            chunks_created: record.chunks as usize,
            document_id: record.id.clone(),
            category: record.category.clone(),
            title: record.title.clone(),
            pages: record.pages,
            status: record.status,
            flagged_passages: record.flagged_passages.clone(),
        }
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
    let mut record = existing.clone().unwrap_or_else(|| DocumentRecord {
        id: parts.document_id.clone(),
        tenant_id: parts.tenant_id.clone(),
        category: parts.category.clone(),
        title: filename.clone(),
        filename,
        format: None,
        status: DocumentStatus::Indexing,
        failure: None,
        pages: None,
        chunks: 0,
        bytes: 0,
        source: DocumentSource::DropFolder,
        content_hash: String::new(),
        object_key: key.to_string(),
        revision: 1,
        metadata: json!({}),
        flagged_passages: vec![],
        created_at: now,
        updated_at: now,
    });
    // Every write expects the record as this event last left it: a
    // document deleted or replaced meanwhile is not brought back.
    let mut stored = existing;
    match read_dropped(app, key, &mut record, &mut stored).await {
        Ok(None) => Ok(IngestReport::of(&record, "Document already indexed")),
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

/// Who the audit log names for drop-folder documents.
pub const DROP_FOLDER_ACTOR: &str = "s3_drop_folder";

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
    record.title = title_of(
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
    let now = app.clock.now();
    let record = DocumentRecord {
        id: document_id.to_string(),
        tenant_id: tenant_id.to_string(),
        category: category.to_string(),
        title: title_of(metadata, extracted.title.as_deref(), filename),
        filename: filename.to_string(),
        format: Some(format.name().to_string()),
        status: DocumentStatus::Indexing,
        failure: None,
        pages: extracted.pages,
        chunks: pieces.len() as u32,
        bytes: text.len() as u64,
        source: DocumentSource::Upload,
        content_hash: content_hash(text.as_bytes()),
        object_key: String::new(),
        revision: 1,
        metadata: metadata.clone(),
        flagged_passages: vec![],
        created_at: now,
        updated_at: now,
    };
    let chunks = embed_chunks(app, &record, pieces).await?;
    let count = chunks.len();
    app.vectors
        .upsert_document(tenant_id, document_id, chunks)
        .await?;
    Ok(count)
}

/// The document's instruction-like sentences, for the admin to see.
pub fn flagged_passages(extracted: &Extracted) -> Vec<Finding> {
    extracted
        .blocks
        .iter()
        .flat_map(|b| find_instructions(&b.text))
        .collect()
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
            Err(e) if matches!(e.kind, ErrorKind::Unavailable | ErrorKind::Internal) => {
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

    #[test]
    fn names_and_categories_are_checked() {
        assert_eq!(clean_filename("../../etc/passwd").unwrap(), "passwd");
        assert!(clean_filename("..").is_err());
        assert!(validate_category("career_framework").is_ok());
        assert!(validate_category("Career Framework").is_err());
    }
}
