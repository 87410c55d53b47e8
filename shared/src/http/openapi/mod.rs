//! The OpenAPI 3.1 document of the whole API, derived from the handlers'
//! annotations and the types they read and write; served at
//! `GET /api/openapi.json` by the session function and `petraf serve`
//! (`http::session_api`, `http::full_api`) and committed as
//! `openapi.json` at the repository's root (`petraf openapi`).
//!
//! What the annotations leave implicit is added here once for every
//! operation: the security schemes, the errors each kind of caller check
//! and body can produce, and the chat stream's events.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::OpenApi;

use super::error::ErrorBody;
use super::{
    admin_routes, chat_routes, contract, document_routes, goals_routes, metrics_routes,
    privacy_routes, session_routes, settings_routes, tenant_routes,
};

mod refine;
use refine::{
    add_chat_events, add_error_code_enums, add_implied_errors, add_security_schemes,
    add_settings_editors, add_settings_patch, drop_null_from_optional_body,
    erasure_request_variants, example_draft_phases, headers_are_never_null, refined_goal_length,
    tenant_as_header_parameter, upload_name_patterns,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Petraf API",
        description = "The multi-tenant AI goal-setting assistant. Every error is \
            `{\"error\": {\"code\", \"message\"}}`; a refused request changes nothing. \
            On AWS the chat stream has its own Function URL; every other route is \
            behind the HTTP API.",
    ),
    paths(
        openapi_json,
        session_routes::health,
        session_routes::create,
        session_routes::resume,
        session_routes::leave_this_browser,
        session_routes::update_info,
        session_routes::complete,
        session_routes::messages,
        session_routes::keep_best,
        session_routes::start_over,
        tenant_routes::public_tenant,
        chat_routes::stream,
        goals_routes::session_goals,
        goals_routes::export_goals,
        document_routes::upload,
        document_routes::upload_url,
        document_routes::list_documents,
        document_routes::get_document,
        document_routes::replace_document,
        document_routes::delete_document,
        admin_routes::stats,
        admin_routes::audit_logs,
        admin_routes::tenants,
        privacy_routes::erase_own_session,
        privacy_routes::export_own_session,
        privacy_routes::erase_sessions,
        privacy_routes::export_tenant,
        privacy_routes::get_retention,
        privacy_routes::set_retention,
        admin_routes::reopen_phase,
        metrics_routes::prometheus,
        settings_routes::get_settings,
        settings_routes::patch_settings,
        settings_routes::preview_settings,
        settings_routes::list_versions,
        settings_routes::get_version,
        settings_routes::list_keys,
        settings_routes::create_key,
        settings_routes::revoke_key,
    ),
    components(schemas(
        ErrorBody,
        chat_routes::ChatPhase,
        goals_routes::ExportFormatName,
        // Named by `value_type`s, which utoipa does not collect.
        contract::SessionId,
        contract::MessageId,
        contract::TenantId,
        contract::DocumentId,
        contract::InstantOrDay,
        crate::domain::hygiene::ProfileField,
        crate::domain::hygiene::OptionalProfileField,
        crate::domain::hygiene::MessageText,
        crate::app::chat::StepName,
    )),
    tags(
        (name = "session", description = "An employee's session: create, profile, resume, read the conversation back, confirm"),
        (name = "chat", description = "The coach, one turn at a time, as server-sent events"),
        (name = "goals", description = "A session's goals and their export"),
        (name = "tenant", description = "The tenant's public face"),
        (name = "admin", description = "Company documents, usage and the audit trail (`X-Admin-Key`)"),
        (name = "meta", description = "Health and this document"),
    )
)]
struct ApiDoc;

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object))
)]
pub async fn openapi_json() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-cache"),
        ],
        document_text(),
    )
}

/// The document as served, built once.
pub fn document_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
        text.push('\n');
        text
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    add_security_schemes(&mut doc);
    let paths = doc["paths"].as_object_mut().expect("paths");
    for (path, item) in paths.iter_mut() {
        for operation in item.as_object_mut().expect("path item").values_mut() {
            add_implied_errors(operation);
            tenant_as_header_parameter(operation);
            if path != "/api/health" {
                add_error_code_enums(operation);
            }
            drop_null_from_optional_body(operation);
            headers_are_never_null(operation);
        }
    }
    add_chat_events(&mut doc);
    add_settings_editors(&mut doc);
    example_draft_phases(&mut doc);
    add_settings_patch(&mut doc);
    erasure_request_variants(&mut doc);
    refined_goal_length(&mut doc);
    upload_name_patterns(&mut doc);
    doc
}

#[cfg(test)]
mod tests;
