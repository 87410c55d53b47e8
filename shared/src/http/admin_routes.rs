//! `/api/admin/*`: documents (upload, list, get, replace, delete), stats,
//! audit log, tenants.

use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{AdminAuth, ApiJson, Origin};
use crate::app::ingestion::{self, DocumentUpload, IngestReport, MAX_DOCUMENT_BYTES};
use crate::app::tenants::Admin;
use crate::app::{App, AppError, AppResult, admin, documents, tenants};
use crate::domain::document::DocumentRecord;
use crate::domain::tenant::DocumentLimits;

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
        .route("/api/admin/stats/overview", get(stats))
        .route("/api/admin/audit-logs", get(audit_logs))
        .route("/api/admin/tenants", get(tenants))
        .route(
            "/api/admin/tenants/{tenant_id}/limits",
            get(document_limits).put(set_document_limits),
        )
}

/// The admin may act on `tenant_id`, and it exists.
async fn admin_of_tenant(app: &App, admin: &Admin, tenant_id: &str) -> AppResult<()> {
    admin.scope(Some(tenant_id))?;
    match app.store.tenant(tenant_id).await? {
        Some(_) => Ok(()),
        None => Err(AppError::not_found(
            "tenant_not_found",
            format!("no tenant {tenant_id}"),
        )),
    }
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
                    form.metadata = serde_json::from_str::<Value>(&text).map_err(|e| {
                        AppError::bad_request(
                            "invalid_metadata",
                            format!("metadata is not JSON: {e}"),
                        )
                    })?;
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

async fn upload(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Origin(origin): Origin,
    Path(tenant_id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Json<IngestReport>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let form = read_upload_form(multipart).await?;
    let (filename, bytes) = form.file.ok_or_else(missing_file)?;
    let category = form.category.ok_or_else(|| {
        AppError::bad_request("missing_category", "the form needs a 'category' field")
    })?;
    let upload = DocumentUpload {
        tenant_id,
        category,
        filename,
        bytes,
        metadata: form.metadata,
    };
    Ok(Json(
        ingestion::ingest_upload(&app, upload, &admin.actor(), &origin).await?,
    ))
}

async fn list_documents(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<Value>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let documents = documents::list(&app, &tenant_id).await?;
    Ok(Json(
        json!({"documents": documents, "total": documents.len()}),
    ))
}

async fn get_document(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Path((tenant_id, document_id)): Path<(String, String)>,
) -> AppResult<Json<DocumentRecord>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    Ok(Json(documents::get(&app, &tenant_id, &document_id).await?))
}

async fn delete_document(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Origin(origin): Origin,
    Path((tenant_id, document_id)): Path<(String, String)>,
) -> AppResult<Json<Value>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let deleted =
        documents::delete(&app, &tenant_id, &document_id, &admin.actor(), &origin).await?;
    Ok(Json(json!({"deleted": true, "document_id": deleted.id})))
}

async fn replace_document(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Origin(origin): Origin,
    Path((tenant_id, document_id)): Path<(String, String)>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Json<DocumentRecord>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let form = read_upload_form(multipart).await?;
    if form.category.is_some() {
        return Err(AppError::bad_request(
            "invalid_multipart",
            "a replacement keeps its category; send 'file' and optionally 'metadata'",
        ));
    }
    let (filename, bytes) = form.file.ok_or_else(missing_file)?;
    let upload = DocumentUpload {
        tenant_id,
        category: String::new(),
        filename,
        bytes,
        metadata: form.metadata,
    };
    Ok(Json(
        documents::replace(&app, &document_id, upload, &admin.actor(), &origin).await?,
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadUrlRequest {
    category: String,
    filename: String,
}

async fn upload_url(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Path(tenant_id): Path<String>,
    ApiJson(request): ApiJson<UploadUrlRequest>,
) -> AppResult<Json<ingestion::UploadUrl>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    Ok(Json(
        ingestion::upload_url(&app, &tenant_id, &request.category, &request.filename).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct ScopeQuery {
    tenant_id: Option<String>,
}

async fn stats(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<ScopeQuery>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<admin::StatsOverview>> {
    let Query(query) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    Ok(Json(
        admin::stats(&app, &admin, query.tenant_id.as_deref()).await?,
    ))
}

#[derive(Debug, Deserialize)]
struct AuditQueryParams {
    tenant_id: Option<String>,
    session_id: Option<String>,
    limit: Option<u32>,
    page: Option<u32>,
}

async fn audit_logs(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    query: Result<Query<AuditQueryParams>, axum::extract::rejection::QueryRejection>,
) -> AppResult<Json<admin::AuditListing>> {
    let Query(q) = query.map_err(|e| AppError::bad_request("invalid_query", e.body_text()))?;
    let listing = admin::audit_logs(
        &app,
        &admin,
        q.tenant_id.as_deref(),
        q.session_id.filter(|s| !s.is_empty()),
        q.page.unwrap_or(1),
        q.limit.unwrap_or(50),
    )
    .await?;
    Ok(Json(listing))
}

async fn tenants(State(app): State<App>, AdminAuth(admin): AdminAuth) -> AppResult<Json<Value>> {
    let tenants = admin::tenants(&app, &admin).await?;
    Ok(Json(json!({"tenants": tenants, "total": tenants.len()})))
}

/// The platform admin only: limits bind the tenant's own admin.
fn platform_only(admin: &Admin) -> AppResult<()> {
    match admin {
        Admin::Platform => Ok(()),
        Admin::Tenant(_) => Err(AppError::forbidden(
            "platform_admin_only",
            "only the platform admin key sets a tenant's limits",
        )),
    }
}

async fn document_limits(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<DocumentLimits>> {
    admin.scope(Some(&tenant_id))?;
    Ok(Json(ingestion::document_limits(&app, &tenant_id).await?))
}

async fn set_document_limits(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Origin(origin): Origin,
    Path(tenant_id): Path<String>,
    ApiJson(limits): ApiJson<DocumentLimits>,
) -> AppResult<Json<DocumentLimits>> {
    platform_only(&admin)?;
    Ok(Json(
        tenants::set_document_limits(&app, &tenant_id, limits, &admin.actor(), &origin).await?,
    ))
}
