//! Document ingestion: keep the original, chunk, embed, index. Admin uploads
//! and the S3 drop folder run the same pipeline.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use super::{App, AppError, AppResult, ErrorKind};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::chunking::chunk_text;
use crate::domain::ids::new_id;
use crate::domain::injection::{Finding, find_instructions};
use crate::ports::object_store::{StoredObject, document_key, parse_document_key};
use crate::ports::vector_store::ChunkRecord;

pub const MAX_DOCUMENT_BYTES: usize = 10 * 1024 * 1024;
const MAX_METADATA_BYTES: usize = 2048;
/// Inputs per embedding request.
const EMBED_BATCH: usize = 64;

#[derive(Debug, Clone)]
pub struct DocumentUpload {
    pub tenant_id: String,
    pub category: String,
    pub filename: String,
    pub bytes: Vec<u8>,
    pub metadata: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub success: bool,
    pub message: String,
    pub chunks_created: usize,
    pub document_id: String,
    pub category: String,
    /// Sentences that read as instructions to the assistant ("ignore the
    /// rubric", "score this 10/10"): kept in the document, flagged on their
    /// chunks, and withheld from every model at retrieval.
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

/// A safe file name: the last path component, printable, at most 200 characters.
pub fn clean_filename(name: &str) -> AppResult<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let ok = !base.is_empty()
        && base != "."
        && base != ".."
        && base.chars().count() <= 200
        && !base.chars().any(|c| c.is_control());
    ok.then(|| base.to_string()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_filename",
            "the file needs a plain name of at most 200 characters",
        )
    })
}

/// The text of a document, by its extension.
pub fn extract_text(filename: &str, bytes: &[u8]) -> AppResult<String> {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "md" | "markdown" => String::from_utf8(bytes.to_vec())
            .map(|t| t.trim_start_matches('\u{feff}').to_string())
            .map_err(|_| AppError::bad_request("invalid_encoding", "text documents must be UTF-8")),
        "pdf" | "docx" => Err(AppError::unsupported(
            "unsupported_document_type",
            "PDF and DOCX extraction is not available yet; upload .txt or .md",
        )),
        _ => Err(AppError::unsupported(
            "unsupported_document_type",
            "upload a .txt or .md document",
        )),
    }
}

fn title_of(metadata: &Value, filename: &str) -> String {
    metadata
        .get("title")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| filename.to_string())
}

/// How long a presigned drop-folder URL stays valid.
pub const UPLOAD_URL_SECONDS: u64 = 15 * 60;

/// Where a client may PUT a document directly; the object-created event
/// then runs the same ingestion (the rag-upload function).
#[derive(Debug, Clone, Serialize)]
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
    extract_text(&filename, b"")?;
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

/// Validates and stores an upload, then indexes it.
pub async fn ingest_upload(
    app: &App,
    upload: DocumentUpload,
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<IngestReport> {
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
    if !upload.metadata.is_object() {
        return Err(AppError::bad_request(
            "invalid_metadata",
            "metadata must be a JSON object",
        ));
    }
    if upload.metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(AppError::bad_request(
            "invalid_metadata",
            "metadata must be at most 2048 bytes",
        ));
    }
    let text = extract_text(&filename, &upload.bytes)?;
    if chunk_text(&text).is_empty() {
        return Err(AppError::bad_request(
            "empty_document",
            "the document has no text",
        ));
    }
    let document_id = new_id();
    let key = document_key(&upload.tenant_id, &upload.category, &document_id, &filename);
    let mut object_metadata = BTreeMap::new();
    object_metadata.insert("title".to_string(), title_of(&upload.metadata, &filename));
    object_metadata.insert("metadata".to_string(), upload.metadata.to_string());
    let content_type = if filename.ends_with(".txt") {
        "text/plain"
    } else {
        "text/markdown"
    };
    app.objects
        .put(
            &key,
            StoredObject {
                bytes: upload.bytes,
                content_type: content_type.into(),
                metadata: object_metadata,
            },
        )
        .await?;
    let chunks = index_text(
        app,
        &upload.tenant_id,
        &upload.category,
        &document_id,
        &filename,
        &text,
        &upload.metadata,
    )
    .await?;
    let flagged = find_instructions(&text);
    audit_upload(
        app,
        &upload.tenant_id,
        &document_id,
        &upload.category,
        &filename,
        (chunks, flagged.len()),
        actor,
        origin,
    )
    .await?;
    Ok(report(document_id, upload.category, chunks, flagged))
}

fn report(
    document_id: String,
    category: String,
    chunks: usize,
    flagged_passages: Vec<Finding>,
) -> IngestReport {
    IngestReport {
        success: true,
        message: "Document processed successfully".into(),
        chunks_created: chunks,
        document_id,
        category,
        flagged_passages,
    }
}

/// Indexes a document that arrived in the object store's drop folder.
pub async fn ingest_stored_object(app: &App, key: &str) -> AppResult<IngestReport> {
    let parts = parse_document_key(key).ok_or_else(|| {
        AppError::bad_request(
            "invalid_key",
            format!("'{key}' is not uploads/{{tenant}}/{{category}}/{{document}}/{{file}}"),
        )
    })?;
    validate_category(&parts.category)?;
    if app.store.tenant(&parts.tenant_id).await?.is_none() {
        return Err(AppError::not_found(
            "tenant_not_found",
            format!("no tenant {}", parts.tenant_id),
        ));
    }
    match app.objects.size(key).await? {
        None => {
            return Err(AppError::not_found(
                "object_not_found",
                format!("no object at {key}"),
            ));
        }
        Some(size) if size as usize > MAX_DOCUMENT_BYTES => {
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
    let text = extract_text(&parts.filename, &object.bytes)?;
    let metadata: Value = object
        .metadata
        .get("metadata")
        .and_then(|m| serde_json::from_str(m).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    let mut metadata = metadata;
    if let Some(title) = object.metadata.get("title") {
        metadata["title"] = json!(title);
    }
    let chunks = index_text(
        app,
        &parts.tenant_id,
        &parts.category,
        &parts.document_id,
        &parts.filename,
        &text,
        &metadata,
    )
    .await?;
    let flagged = find_instructions(&text);
    audit_upload(
        app,
        &parts.tenant_id,
        &parts.document_id,
        &parts.category,
        &parts.filename,
        (chunks, flagged.len()),
        "s3_drop_folder",
        &RequestOrigin::default(),
    )
    .await?;
    Ok(report(parts.document_id, parts.category, chunks, flagged))
}

/// Chunks, embeds and stores a document's text; returns the chunk count.
pub async fn index_text(
    app: &App,
    tenant_id: &str,
    category: &str,
    document_id: &str,
    filename: &str,
    text: &str,
    metadata: &Value,
) -> AppResult<usize> {
    let pieces = chunk_text(text);
    if pieces.is_empty() {
        return Err(AppError::bad_request(
            "empty_document",
            "the document has no text",
        ));
    }
    let mut embeddings = Vec::with_capacity(pieces.len());
    for batch in pieces.chunks(EMBED_BATCH) {
        embeddings.extend(app.embedder.embed(batch).await?);
    }
    if embeddings.len() != pieces.len() {
        return Err(AppError::unavailable(
            "embedding_failed",
            "the embedder returned the wrong number of vectors",
        ));
    }
    let now = app.clock.now();
    let title = title_of(metadata, filename);
    let records: Vec<ChunkRecord> = pieces
        .into_iter()
        .zip(embeddings)
        .enumerate()
        .map(|(i, (content, embedding))| {
            let mut meta = metadata.clone();
            meta["title"] = json!(title);
            meta["filename"] = json!(filename);
            meta["chunk_index"] = json!(i);
            let flagged = find_instructions(&content);
            if !flagged.is_empty() {
                meta["instruction_like"] = json!(true);
                meta["flagged_passages"] = json!(flagged);
            }
            ChunkRecord {
                id: format!("{document_id}-{i:05}"),
                tenant_id: tenant_id.to_string(),
                document_id: document_id.to_string(),
                chunk_index: i as u32,
                category: category.to_string(),
                content,
                metadata: meta,
                embedding,
                created_at: now,
            }
        })
        .collect();
    let count = records.len();
    app.vectors
        .upsert_document(tenant_id, document_id, records)
        .await?;
    Ok(count)
}

#[allow(clippy::too_many_arguments)]
async fn audit_upload(
    app: &App,
    tenant_id: &str,
    document_id: &str,
    category: &str,
    filename: &str,
    (chunks, flagged): (usize, usize),
    actor: &str,
    origin: &RequestOrigin,
) -> AppResult<()> {
    let entry = AuditEntry::new(
        new_id(),
        tenant_id,
        None,
        actor,
        action::RAG_DOCUMENT_UPLOADED,
        ("rag_corpus", document_id),
        json!({"category": category, "chunks": chunks, "filename": filename, "flagged_passages": flagged}),
        origin,
        app.clock.now(),
    );
    app.store.append_audit(&entry).await?;
    Ok(())
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
    fn only_text_documents_are_extracted_and_names_are_cleaned() {
        assert_eq!(extract_text("a.md", "# Hi".as_bytes()).unwrap(), "# Hi");
        assert_eq!(
            extract_text("a.pdf", b"%PDF").unwrap_err().code,
            "unsupported_document_type"
        );
        assert_eq!(
            extract_text("a.txt", &[0xff, 0xfe]).unwrap_err().code,
            "invalid_encoding"
        );
        assert_eq!(clean_filename("../../etc/passwd").unwrap(), "passwd");
        assert!(clean_filename("..").is_err());
        assert!(validate_category("career_framework").is_ok());
        assert!(validate_category("Career Framework").is_err());
    }
}
