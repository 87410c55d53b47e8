//! `/api/admin/rag/*`: a tenant's documents — upload (form or presigned
//! drop-folder URL), list, get, replace and delete, conditional on the
//! revision (`If-Match`).

use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::admin_routes::admin_of_tenant;
use super::contract::{DocumentId, TenantId};
use super::error::ErrorBody;
use super::extract::{AdminAuth, ApiJson};
use crate::app::documents::IfMatch;
use crate::app::ingestion::{self, DocumentUpload, IngestReport};
use crate::app::{App, AppError, AppResult, documents, validation};
use crate::domain::document::DocumentRecord;
use crate::extraction::MAX_DOCUMENT_BYTES;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/api/admin/rag/upload/{tenant_id}",
            post(upload).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route("/api/admin/rag/upload-url/{tenant_id}", post(upload_url))
        .route("/api/admin/rag/documents/{tenant_id}", get(list_documents))
        .route(
            "/api/admin/rag/documents/{tenant_id}/{document_id}",
            get(get_document)
                .delete(delete_document)
                .put(replace_document)
                .layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
}

fn multipart_error(e: MultipartError) -> AppError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        AppError::too_large("document_too_large", "documents must be at most 10 MiB")
    } else {
        AppError::bad_request("invalid_multipart", e.body_text())
    }
}

/// The fields of an upload form.
struct UploadForm {
    file: Option<(String, Vec<u8>)>,
    category: Option<String>,
    metadata: Value,
}

async fn read_upload_form(
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<UploadForm> {
    let mut multipart = multipart.map_err(|e| {
        AppError::unsupported(
            "unsupported_media_type",
            format!("send multipart/form-data: {}", e.body_text()),
        )
    })?;
    let mut form = UploadForm {
        file: None,
        category: None,
        metadata: json!({}),
    };
    let mut seen: Vec<String> = vec![];
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        // Two parts of one name would leave which one counts to chance.
        if seen.contains(&name) {
            return Err(AppError::bad_request(
                "duplicate_field",
                format!("the form has more than one '{name}' field"),
            ));
        }
        seen.push(name);
        match field.name().unwrap_or_default() {
            "file" => {
                let name = field.file_name().unwrap_or_default().to_string();
                let bytes = field.bytes().await.map_err(multipart_error)?;
                form.file = Some((name, bytes.to_vec()));
            }
            "category" => {
                form.category = Some(
                    field
                        .text()
                        .await
                        .map_err(multipart_error)?
                        .trim()
                        .to_string(),
                )
            }
            "metadata" => {
                let text = field.text().await.map_err(multipart_error)?;
                if !text.trim().is_empty() {
                    let parsed = serde_json::from_str::<Value>(&text).map_err(|e| {
                        AppError::bad_request(
                            "invalid_metadata",
                            format!("metadata is not JSON: {e}"),
                        )
                    })?;
                    // `null` or a number is JSON but no metadata: refused,
                    // not read as "no change". (Its size counts once cleaned.)
                    if !parsed.is_object() {
                        return Err(AppError::bad_request(
                            "invalid_metadata",
                            "metadata must be a JSON object",
                        ));
                    }
                    form.metadata = validation::clean_metadata(parsed)?;
                }
            }
            other => {
                return Err(AppError::bad_request(
                    "invalid_multipart",
                    format!("unexpected field '{other}'"),
                ));
            }
        }
    }
    Ok(form)
}

fn missing_file() -> AppError {
    AppError::bad_request("missing_file", "the form needs a 'file' field")
}

/// The multipart form of an upload (`file`, `category`, `metadata`).
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only: the form is read part by part.
pub struct UploadFormSchema {
    /// PDF, DOCX, PPTX, XLSX, ODT, HTML, Markdown or UTF-8 text; at most
    /// 10 MiB. The content decides the format; the file name's extension,
    /// if any, must agree with it.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// 1–64 of `a-z`, `0-9`, `_` (e.g. `career_framework`).
    // Its pattern: `validation::CATEGORY_PATTERN` (`openapi::refine`).
    category: String,
    /// A JSON object of at most 2,048 bytes, e.g. `{"title": "…", "version": "1.0"}`.
    metadata: Option<String>,
}

/// The multipart form of a replacement (`file`, optionally `metadata`).
#[derive(ToSchema)]
#[allow(dead_code)] // A schema only.
pub struct ReplaceFormSchema {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    metadata: Option<String>,
}

/// Upload a company document.
#[utoipa::path(
    post, path = "/api/admin/rag/upload/{tenant_id}", tag = "admin", operation_id = "upload_document",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    security(("admin_key" = [])),
    request_body(content = UploadFormSchema, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "Indexed; or the same bytes were already indexed in this category: then `already_indexed` is true, nothing changed, and the answer names the document already there (its title, not the upload's)", body = IngestReport),
        (status = 400, description = "`missing_file`, `missing_category`, `invalid_category`, `invalid_metadata`, `invalid_multipart`, `duplicate_field`, `empty_document`", body = ErrorBody),
        (status = 409, description = "`document_limit_reached`: the tenant's library holds as many documents as its `document_limits` allow", body = ErrorBody),
        (status = 413, description = "`document_too_large`; `chunk_limit_reached`: the document's chunks would not fit the tenant's `document_limits`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`, `format_mismatch` (the name and the content disagree), `unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`password_protected`, `no_text_layer`, `corrupt_document`", body = ErrorBody),
    ),
    description = "Every refusal after authentication is audited as `rag.upload_failed` (status `failure`) with the reason code, filename, category and size — never the content."
)]
async fn upload(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Json<IngestReport>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let actor = admin.actor();
    let form = match read_upload_form(multipart).await {
        Ok(form) => form,
        Err(e) => {
            let refused = ingestion::RefusedUpload {
                tenant_id: &tenant_id,
                ..Default::default()
            };
            ingestion::record_failed_upload(&app, refused, &e, &actor, &origin).await;
            return Err(e);
        }
    };
    let filename = form.file.as_ref().map(|(name, _)| name.clone());
    let bytes = form.file.as_ref().map(|(_, bytes)| bytes.len());
    let category = form.category.clone();
    let ingested = async {
        let (filename, bytes) = form.file.ok_or_else(missing_file)?;
        let category = form.category.ok_or_else(|| {
            AppError::bad_request("missing_category", "the form needs a 'category' field")
        })?;
        let upload = DocumentUpload {
            tenant_id: tenant_id.clone(),
            category,
            filename,
            bytes,
            metadata: form.metadata,
        };
        ingestion::ingest_upload(&app, upload, &actor, &origin).await
    }
    .await;
    if let Err(e) = &ingested {
        let refused = ingestion::RefusedUpload {
            tenant_id: &tenant_id,
            document_id: None,
            filename: filename.as_deref(),
            category: category.as_deref(),
            bytes,
        };
        ingestion::record_failed_upload(&app, refused, e, &actor, &origin).await;
    }
    Ok(Json(ingested?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    /// Newest first.
    pub documents: Vec<DocumentRecord>,
    pub total: usize,
}

/// The tenant's documents.
#[utoipa::path(
    get, path = "/api/admin/rag/documents/{tenant_id}", tag = "admin",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    security(("admin_key" = [])),
    responses((status = 200, description = "The tenant's documents", body = DocumentList))
)]
async fn list_documents(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<DocumentList>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let documents = documents::list(&app, &tenant_id).await?;
    let total = documents.len();
    Ok(Json(DocumentList { documents, total }))
}

/// One document's record.
#[utoipa::path(
    get, path = "/api/admin/rag/documents/{tenant_id}/{document_id}", tag = "admin",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)"), ("document_id" = DocumentId, Path, description = "The document id")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The document's record; `ETag` is its revision (`\"2\"`), for `If-Match` on a replace or delete", body = DocumentRecord,
            headers(("ETag" = String, description = "The document's revision, quoted"))),
        (status = 404, description = "`document_not_found`, `tenant_not_found`", body = ErrorBody),
    )
)]
async fn get_document(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path((tenant_id, document_id)): Path<(String, String)>,
) -> AppResult<(TypedEtag, Json<DocumentRecord>)> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let record = documents::get(&app, &tenant_id, &document_id).await?;
    Ok((etag_of(&record), Json(record)))
}

/// The `ETag` header of a document's answer.
type TypedEtag = [(header::HeaderName, String); 1];

fn etag_of(record: &DocumentRecord) -> TypedEtag {
    [(header::ETAG, documents::etag(record))]
}

/// The request's `If-Match`, if any (`400 invalid_if_match` when unreadable).
fn if_match(headers: &HeaderMap) -> AppResult<IfMatch> {
    match headers.get(header::IF_MATCH) {
        None => Ok(IfMatch::Unconditional),
        Some(value) => IfMatch::parse(value.to_str().map_err(|_| {
            AppError::bad_request("invalid_if_match", "If-Match is not readable text")
        })?),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedDocument {
    pub deleted: bool,
    pub document_id: String,
}

/// Delete a document.
#[utoipa::path(
    delete, path = "/api/admin/rag/documents/{tenant_id}/{document_id}", tag = "admin",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)"), ("document_id" = DocumentId, Path, description = "The document id"),
        ("If-Match" = Option<String>, Header, description = "Optional: the revision to delete, as the document's `ETag` (`\"2\"`) or `*`. Without it the revision read when the request starts. Spaces around the tags are ignored; a weak tag (`W/\"2\"`) never matches", pattern = "^(?:\\*|(?:W/)?\"[0-9A-Za-z]*\"(?:, ?(?:W/)?\"[0-9A-Za-z]*\")*)$")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Deleted: its chunks left retrieval", body = DeletedDocument),
        (status = 400, description = "`invalid_if_match`", body = ErrorBody),
        (status = 404, description = "`document_not_found`, `tenant_not_found`", body = ErrorBody),
        (status = 409, description = "`document_changed`: a concurrent replace or delete won; nothing was deleted", body = ErrorBody),
        (status = 412, description = "`revision_mismatch`: the document is not at the revision `If-Match` names; nothing was deleted", body = ErrorBody),
    )
)]
async fn delete_document(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path((tenant_id, document_id)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Json<DeletedDocument>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let expected = if_match(&headers)?;
    let deleted = documents::delete(
        &app,
        &tenant_id,
        &document_id,
        &expected,
        &admin.actor(),
        &origin,
    )
    .await?;
    Ok(Json(DeletedDocument {
        deleted: true,
        document_id: deleted.id,
    }))
}

/// Replace a document with a new version.
#[utoipa::path(
    put, path = "/api/admin/rag/documents/{tenant_id}/{document_id}", tag = "admin",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)"), ("document_id" = DocumentId, Path, description = "The document id"),
        ("If-Match" = Option<String>, Header, description = "Optional: the revision to replace, as the document's `ETag` (`\"2\"`) or `*`. Without it the revision read when the request starts. Spaces around the tags are ignored; a weak tag (`W/\"2\"`) never matches", pattern = "^(?:\\*|(?:W/)?\"[0-9A-Za-z]*\"(?:, ?(?:W/)?\"[0-9A-Za-z]*\")*)$")),
    security(("admin_key" = [])),
    request_body(content = ReplaceFormSchema, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The new version's record; `ETag` is its revision", body = DocumentRecord,
            headers(("ETag" = String, description = "The new revision, quoted"))),
        (status = 400, description = "`missing_file`, `invalid_metadata`, `invalid_multipart`, `duplicate_field`, `empty_document`, `invalid_if_match`", body = ErrorBody),
        (status = 404, description = "`document_not_found`, `tenant_not_found`", body = ErrorBody),
        (status = 409, description = "`document_changed`: a concurrent replace or delete won; nothing changed; `document_limit_reached`: the tenant's library holds as many documents as its `document_limits` allow", body = ErrorBody),
        (status = 412, description = "`revision_mismatch`: the document is not at the revision `If-Match` names; nothing changed", body = ErrorBody),
        (status = 413, description = "`document_too_large`; `chunk_limit_reached`: the new version's chunks would not fit the tenant's `document_limits`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`, `format_mismatch` (the name and the content disagree), `unsupported_media_type`", body = ErrorBody),
        (status = 422, description = "`password_protected`, `no_text_layer`, `corrupt_document`", body = ErrorBody),
    ),
    description = "Every refusal after authentication is audited as `rag.upload_failed` (status `failure`) with the reason code, the document id, filename and size — never the content."
)]
async fn replace_document(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path((tenant_id, document_id)): Path<(String, String)>,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<(TypedEtag, Json<DocumentRecord>)> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let actor = admin.actor();
    // What the refusal's audit entry can name: the file, once read.
    let mut file: Option<(String, usize)> = None;
    let replaced = async {
        let expected = if_match(&headers)?;
        let form = read_upload_form(multipart).await?;
        if form.category.is_some() {
            return Err(AppError::bad_request(
                "invalid_multipart",
                "a replacement keeps its category; send 'file' and optionally 'metadata'",
            ));
        }
        let (filename, bytes) = form.file.ok_or_else(missing_file)?;
        file = Some((filename.clone(), bytes.len()));
        let upload = DocumentUpload {
            tenant_id: tenant_id.clone(),
            category: String::new(),
            filename,
            bytes,
            metadata: form.metadata,
        };
        documents::replace(&app, &document_id, upload, &expected, &actor, &origin).await
    }
    .await;
    if let Err(e) = &replaced {
        let refused = ingestion::RefusedUpload {
            tenant_id: &tenant_id,
            document_id: Some(&document_id),
            filename: file.as_ref().map(|(name, _)| name.as_str()),
            bytes: file.as_ref().map(|(_, size)| *size),
            ..Default::default()
        };
        ingestion::record_failed_upload(&app, refused, e, &actor, &origin).await;
    }
    let record = replaced?;
    Ok((etag_of(&record), Json(record)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadUrlRequest {
    /// 1–64 of `a-z`, `0-9`, `_` (e.g. `career_framework`).
    // Its pattern: `validation::CATEGORY_PATTERN` (`openapi::refine`).
    pub category: String,
    /// The file's name, ending in an extension Petraf reads (`.pdf`,
    /// `.docx`, `.pptx`, `.xlsx`, `.odt`, `.html`, `.htm`, `.md`,
    /// `.markdown`, `.txt`, any case); no control characters,
    /// bidirectional overrides, interlinear annotations or noncharacters;
    /// a path keeps its last part only, which is at most 200 characters.
    // Its pattern, the checks of `validation::clean_filename` and
    // `extraction::detect::format_of_name`: `contract::upload_filename_pattern`.
    #[schema(min_length = 3, max_length = 200)]
    pub filename: String,
}

/// A presigned URL into the S3 drop folder.
#[utoipa::path(
    post, path = "/api/admin/rag/upload-url/{tenant_id}", tag = "admin", operation_id = "upload_url",
    params(("tenant_id" = TenantId, Path, description = "The tenant (a tenant key may name only its own)")),
    security(("admin_key" = [])),
    request_body = UploadUrlRequest,
    responses(
        (status = 200, description = "A presigned `PUT` URL into the drop folder, valid 15 minutes", body = ingestion::UploadUrl),
        (status = 400, description = "`invalid_category`, `invalid_filename`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 415, description = "`unsupported_type`: the file name's extension is no format Petraf reads; `unsupported_media_type`: send `application/json`", body = ErrorBody),
        (status = 501, description = "`presigned_uploads_unavailable`: the embedded object store has no presigned URLs", body = ErrorBody),
    )
)]
async fn upload_url(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
    ApiJson(request): ApiJson<UploadUrlRequest>,
) -> AppResult<Json<ingestion::UploadUrl>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    Ok(Json(
        ingestion::upload_url(&app, &tenant_id, &request.category, &request.filename).await?,
    ))
}
