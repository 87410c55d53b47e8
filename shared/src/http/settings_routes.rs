//! `/api/admin/tenants/{tenant_id}/settings` (one resource, versioned) and
//! `/api/admin/tenants/{tenant_id}/admin-keys`; the three settings
//! resources it replaced answer with a pointer to it.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{any, delete, get, post};
use axum::{Json, Router};
use serde_json::Value;

use super::error::ErrorBody;
use super::extract::{AdminAuth, ApiJson};
use crate::app::admin_keys::{self, CreatedKey, KeyInfo, KeyList};
use crate::app::settings::{self, SettingsChange, TenantSettings, VersionDetail, VersionList};
use crate::app::settings_preview::{self, SettingsPreview};
use crate::app::{App, AppError, AppResult};

pub fn router() -> Router<App> {
    let router = Router::new()
        .route(
            "/api/admin/tenants/{tenant_id}/settings",
            get(get_settings).patch(patch_settings),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/settings/preview",
            post(preview_settings),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/settings/versions",
            get(list_versions),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/settings/versions/{version}",
            get(get_version),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/admin-keys",
            get(list_keys).post(create_key),
        )
        .route(
            "/api/admin/tenants/{tenant_id}/admin-keys/{prefix}",
            delete(revoke_key),
        );
    MOVED_TO_SETTINGS
        .into_iter()
        .fold(router, |router, path| router.route(path, any(moved)))
}

/// The settings resources `…/settings` replaced: every method answers
/// `410 moved_to_settings` with a pointer (undocumented: they are gone).
pub const MOVED_TO_SETTINGS: [&str; 3] = [
    "/api/admin/tenants/{tenant_id}/limits",
    "/api/admin/tenants/{tenant_id}/document-limits",
    "/api/admin/tenants/{tenant_id}/coach-retrieval",
];

/// The settings' `ETag`: their version, quoted.
fn etag(settings: &TenantSettings) -> [(header::HeaderName, String); 1] {
    [(header::ETAG, format!("\"{}\"", settings.version))]
}

/// The version `If-Match` names (`"3"` or `3`), if any.
fn if_match(headers: &HeaderMap) -> AppResult<Option<u32>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let invalid = || {
        AppError::bad_request(
            "invalid_if_match",
            "If-Match names a settings version, as the ETag gives it (\"3\")",
        )
    };
    let text = value.to_str().map_err(|_| invalid())?.trim();
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| invalid())
}

/// A tenant's settings: limits, document limits, coach retrieval, threshold,
/// rubrics, prompts and model, with their version and who may change each.
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/settings", tag = "admin", operation_id = "get_settings",
    params(("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The settings in force; `ETag` is their version", body = TenantSettings,
            headers(("ETag" = String, description = "The version, quoted: send it back as `If-Match`"))),
        (status = 403, description = "`forbidden_tenant`: another tenant's key", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn get_settings(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<([(header::HeaderName, String); 1], Json<TenantSettings>)> {
    let settings = settings::settings(&app, &admin, &tenant_id).await?;
    Ok((etag(&settings), Json(settings)))
}

/// Changes the settings the body names: a JSON merge patch (RFC 7396) of
/// the `settings` object. Members merge field by field; `null` removes a
/// member (a rubric criterion; a field with a default goes back to it);
/// arrays are replaced whole. The whole change is validated before
/// anything is written: unknown fields, out-of-range values, a changed
/// rubric whose weights do not add up to 100, a prompt outside 1-8000
/// characters or an unknown model refuse it. `limits` and
/// `document_limits` need the platform key; a tenant key may send them
/// back unchanged. A change is a new version (the previous one is kept,
/// `…/settings/versions`) audited `tenant.settings_changed` with each
/// changed path's `from`/`to` (prompts summarised). No change: no new version.
#[utoipa::path(
    patch, path = "/api/admin/tenants/{tenant_id}/settings", tag = "admin", operation_id = "patch_settings",
    params(
        ("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$"),
        ("If-Match" = Option<String>, Header, description = "Optional: the version the change is based on, as the `ETag` gives it (`\"3\"`); another version answers 412", pattern = "^[ \\t]*(?:W/)?\"*\\+?[0-9]{1,9}\"*[ \\t]*$"),
    ),
    request_body(content = Object, description = "A merge patch of `TenantConfig`: any subset of its fields, nested objects partial, e.g. `{\"threshold\": 7.5, \"scoring_rubrics\": {\"g4_future\": {\"alignment\": {\"weight\": 25}}}}`. \
            Sent as `application/json` or `application/merge-patch+json`",
        content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The settings after the change, with its version and changes", body = TenantSettings,
            headers(("ETag" = String, description = "The new version, quoted"))),
        (status = 400, description = "`invalid_settings` (a value out of range, of the wrong type, rubric weights, prompt size, unknown model), `unknown_setting`, `invalid_if_match`, `invalid_json`", body = ErrorBody),
        (status = 403, description = "`platform_admin_only`: a tenant key changed `limits` or `document_limits`; `forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
        (status = 409, description = "`conflict`: the tenant kept changing meanwhile", body = ErrorBody),
        (status = 412, description = "`settings_changed`: the settings are not at the version `If-Match` names; nothing changed", body = ErrorBody),
    )
)]
async fn patch_settings(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<Value>,
) -> AppResult<([(header::HeaderName, String); 1], Json<TenantSettings>)> {
    let actor = admin.actor();
    let change = SettingsChange {
        if_match: if_match(&headers)?,
        ..SettingsChange::by(&admin, &actor, &origin)
    };
    let settings = settings::update(&app, &admin, &tenant_id, &patch, change).await?;
    Ok((etag(&settings), Json(settings)))
}

/// Tries a change before saving it: the body is the merge patch `PATCH
/// …/settings` would take, checked the same way (the same 400/403
/// answers), but nothing is saved and no version is made. The tenant's
/// example drafts (`example_drafts`; those of the proposed settings, so the
/// patch may add some) are each judged as an edited goal is in the chat —
/// retrieval for the phase, the tenant's chat model — under the settings
/// in force and under the proposed ones (once when nothing judging reads
/// differs), and compared: each draft's score, verdict and per-criterion
/// scores under both, and how many verdicts change and agree with the
/// expected ones. At most 20 drafts, so at most 40 judgements. The tokens
/// count against the tenant's monthly budget (`429 token_budget_exhausted`
/// once it is spent); audited `tenant.settings_previewed`. No example
/// drafts: an empty comparison with a `note`, no model call.
#[utoipa::path(
    post, path = "/api/admin/tenants/{tenant_id}/settings/preview", tag = "admin", operation_id = "preview_settings",
    params(("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$")),
    request_body(content = Object, description = "A merge patch of `TenantConfig`, as for `PATCH …/settings`, e.g. `{\"threshold\": 8}`; `{}` judges the drafts under the settings in force only",
        content_type = "application/json"),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Each example draft under the current and the proposed settings, and a summary; nothing saved", body = SettingsPreview),
        (status = 400, description = "`invalid_settings`, `unknown_setting`, `invalid_json`: as `PATCH …/settings`", body = ErrorBody),
        (status = 403, description = "`platform_admin_only`: a tenant key changed `limits` or `document_limits`; `forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
        (status = 429, description = "`token_budget_exhausted`: the tenant's monthly budget is spent", body = ErrorBody),
    )
)]
async fn preview_settings(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
    ApiJson(patch): ApiJson<Value>,
) -> AppResult<Json<SettingsPreview>> {
    let actor = admin.actor();
    Ok(Json(
        settings_preview::preview(&app, &admin, &tenant_id, &patch, &actor, &origin).await?,
    ))
}

/// Every version of the tenant's settings, newest first: who made it,
/// when, and what it changed.
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/settings/versions", tag = "admin", operation_id = "list_settings_versions",
    params(("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The versions, the one in force first", body = VersionList),
        (status = 403, description = "`forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn list_versions(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<VersionList>> {
    Ok(Json(settings::versions(&app, &admin, &tenant_id).await?))
}

/// One version of the tenant's settings, whole.
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/settings/versions/{version}", tag = "admin", operation_id = "get_settings_version",
    params(
        ("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$"),
        ("version" = u32, Path, description = "The version", minimum = 1),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The version and the settings it held", body = VersionDetail),
        (status = 400, description = "`invalid_version`", body = ErrorBody),
        (status = 404, description = "`version_not_found`, `tenant_not_found`", body = ErrorBody),
    )
)]
async fn get_version(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path((tenant_id, version)): Path<(String, String)>,
) -> AppResult<Json<VersionDetail>> {
    let version: u32 =
        version.parse().ok().filter(|v| *v >= 1).ok_or_else(|| {
            AppError::bad_request("invalid_version", "a version is a number from 1")
        })?;
    Ok(Json(
        settings::version(&app, &admin, &tenant_id, version).await?,
    ))
}

/// The tenant's admin keys by prefix and dates (never the keys or their hashes).
#[utoipa::path(
    get, path = "/api/admin/tenants/{tenant_id}/admin-keys", tag = "admin", operation_id = "list_admin_keys",
    params(("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$")),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Active keys first, then the last revoked ones", body = KeyList),
        (status = 403, description = "`forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
    )
)]
async fn list_keys(
    State(app): State<App>,
    AdminAuth(admin, _): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<Json<KeyList>> {
    Ok(Json(admin_keys::list(&app, &admin, &tenant_id).await?))
}

/// Creates a key (a tenant holds at most two active keys: one to rotate
/// to). The key is in this answer only; its hash is stored. Audited
/// `tenant.admin_key_created`.
#[utoipa::path(
    post, path = "/api/admin/tenants/{tenant_id}/admin-keys", tag = "admin", operation_id = "create_admin_key",
    params(("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$")),
    security(("admin_key" = [])),
    responses(
        (status = 201, description = "The new key, shown this once", body = CreatedKey),
        (status = 403, description = "`forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`tenant_not_found`", body = ErrorBody),
        (status = 409, description = "`too_many_keys`: two active keys already; revoke one first", body = ErrorBody),
    )
)]
async fn create_key(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path(tenant_id): Path<String>,
) -> AppResult<(StatusCode, Json<CreatedKey>)> {
    let created = admin_keys::create(&app, &admin, &tenant_id, &origin).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a key: from this answer on it gets `401 invalid_admin_key`.
/// A key may revoke itself only while another key stays active. Audited
/// `tenant.admin_key_revoked`.
#[utoipa::path(
    delete, path = "/api/admin/tenants/{tenant_id}/admin-keys/{prefix}", tag = "admin", operation_id = "revoke_admin_key",
    params(
        ("tenant_id" = String, Path, description = "The tenant (a tenant key may name only its own)", pattern = "^[A-Za-z0-9-]{1,64}$"),
        ("prefix" = String, Path, description = "The key's prefix, as listed", pattern = "^[A-Za-z0-9_-]{1,100}$"),
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The key, revoked", body = KeyInfo),
        (status = 403, description = "`forbidden_tenant`", body = ErrorBody),
        (status = 404, description = "`key_not_found`, `tenant_not_found`", body = ErrorBody),
        (status = 409, description = "`last_key`: a key revoking itself as the tenant's only active key; `key_revoked`: already revoked", body = ErrorBody),
    )
)]
async fn revoke_key(
    State(app): State<App>,
    AdminAuth(admin, origin): AdminAuth,
    Path((tenant_id, prefix)): Path<(String, String)>,
) -> AppResult<Json<KeyInfo>> {
    Ok(Json(
        admin_keys::revoke(&app, &admin, &tenant_id, &prefix, &origin).await?,
    ))
}

/// The settings resources that `…/settings` replaced: limits, document
/// limits and coach retrieval are its fields.
async fn moved(Path(tenant_id): Path<String>) -> AppError {
    AppError::gone(
        "moved_to_settings",
        format!(
            "this resource is now part of /api/admin/tenants/{tenant_id}/settings: GET it, \
             PATCH the fields limits, document_limits or coach_retrieval"
        ),
    )
}
