//! `/api/admin/*`: document upload, stats, audit log, tenants.

use axum::extract::multipart::{Multipart, MultipartError};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{AdminAuth, ApiJson, Origin};
use crate::app::ingestion::{self, DocumentUpload, IngestReport, MAX_DOCUMENT_BYTES};
use crate::app::tenants::Admin;
use crate::app::{App, AppError, AppResult, admin};

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/api/admin/rag/upload/{tenant_id}",
            post(upload).layer(DefaultBodyLimit::max(MAX_DOCUMENT_BYTES + 64 * 1024)),
        )
        .route("/api/admin/rag/upload-url/{tenant_id}", post(upload_url))
        .route("/api/admin/stats/overview", get(stats))
        .route("/api/admin/audit-logs", get(audit_logs))
        .route("/api/admin/tenants", get(tenants))
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

async fn upload(
    State(app): State<App>,
    AdminAuth(admin): AdminAuth,
    Origin(origin): Origin,
    Path(tenant_id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> AppResult<Json<IngestReport>> {
    admin_of_tenant(&app, &admin, &tenant_id).await?;
    let mut multipart = multipart.map_err(|e| {
        AppError::unsupported(
            "unsupported_media_type",
            format!("send multipart/form-data: {}", e.body_text()),
        )
    })?;
    let (mut file, mut category, mut metadata) = (None, None, json!({}));
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
                file = Some((name, bytes.to_vec()));
            }
            "category" => {
                category = Some(
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
                    metadata = serde_json::from_str::<Value>(&text).map_err(|e| {
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
    let (filename, bytes) =
        file.ok_or_else(|| AppError::bad_request("missing_file", "the form needs a 'file' field"))?;
    let category = category.ok_or_else(|| {
        AppError::bad_request("missing_category", "the form needs a 'category' field")
    })?;
    let upload = DocumentUpload {
        tenant_id,
        category,
        filename,
        bytes,
        metadata,
    };
    Ok(Json(
        ingestion::ingest_upload(&app, upload, &admin.actor(), &origin).await?,
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
