// Long: the document builder and its tests, which read the whole document.
//! The OpenAPI 3.1 document of the whole API, derived from the handlers'
//! annotations and the types they read and write; served at
//! `GET /api/openapi.json` by every route group and committed as
//! `openapi.json` at the repository's root (`petraf openapi`).
//!
//! What the annotations leave implicit is added here once for every
//! operation: the security schemes, the errors each kind of caller check
//! and body can produce, and the chat stream's events.

use std::sync::OnceLock;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::error::ErrorBody;
use super::{
    admin_routes, chat_routes, contract, document_routes, goals_routes, metrics_routes,
    privacy_routes, session_routes, settings_routes, tenant_routes,
};
use crate::app::chat::events as chat_events;

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
        }
    }
    add_chat_events(&mut doc);
    add_settings_editors(&mut doc);
    doc
}

/// An annotation's `tenant` security names the `X-Tenant-ID` header, which
/// names a tenant and proves nothing (a caller without it gets `404
/// tenant_not_found`, not `401`): the document lists it as an optional
/// header parameter (the `Host`'s domain stands in for it), and keeps only
/// the credentials (the resume token, the admin key) as security.
fn tenant_as_header_parameter(operation: &mut Value) {
    let Some(requirements) = operation["security"].as_array() else {
        return;
    };
    let names_tenant = requirements
        .iter()
        .any(|r| r.as_object().is_some_and(|r| r.contains_key("tenant")));
    if !names_tenant {
        return;
    }
    let mut credentials: Vec<Value> = vec![];
    for requirement in requirements {
        let mut requirement = requirement.clone();
        if let Some(r) = requirement.as_object_mut() {
            r.remove("tenant");
        }
        if !credentials.contains(&requirement) {
            credentials.push(requirement);
        }
    }
    let object = operation.as_object_mut().expect("operation");
    if credentials.iter().all(|r| r == &json!({})) {
        object.remove("security");
    } else {
        object.insert("security".into(), Value::Array(credentials));
    }
    let parameter = json!({
        "name": "X-Tenant-ID",
        "in": "header",
        "required": false,
        "description": "The tenant's id; without it the `Host` header's domain names the tenant",
        "schema": {"$ref": "#/components/schemas/TenantId"},
    });
    let parameters = object.entry("parameters").or_insert_with(|| json!([]));
    parameters
        .as_array_mut()
        .expect("parameters")
        .insert(0, parameter);
}

/// Each error response's `error.code` as the enum of the codes its
/// description names ([`contract::error_codes`]): a client can match on
/// them, and a fuzzer fails on a code the document does not list. The
/// response still names `ErrorBody` (JSON Schema 2020-12 applies a `$ref`'s
/// siblings too), so generators that read only the `$ref` see one type.
fn add_error_code_enums(operation: &mut Value) {
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        if !(status.starts_with('4') || status.starts_with('5')) {
            continue;
        }
        let codes = contract::error_codes(response["description"].as_str().unwrap_or_default());
        let Some(schema) = response.pointer_mut("/content/application~1json/schema") else {
            continue;
        };
        if codes.is_empty() {
            continue;
        }
        schema["properties"] = json!({"error": {"properties": {"code": {"enum": codes}}}});
    }
}

/// An optional body is absent or the type: `null` is no body the server
/// reads (utoipa writes `Option<T>` as `oneOf [null, T]`).
fn drop_null_from_optional_body(operation: &mut Value) {
    let Some(body) = operation.get_mut("requestBody") else {
        return;
    };
    if body["required"] == json!(true) {
        return;
    }
    let Some(content) = body["content"].as_object_mut() else {
        return;
    };
    for media in content.values_mut() {
        let Some(variants) = media["schema"]["oneOf"].as_array() else {
            continue;
        };
        let others: Vec<Value> = variants
            .iter()
            .filter(|v| **v != json!({"type": "null"}))
            .cloned()
            .collect();
        if let [only] = others.as_slice() {
            media["schema"] = only.clone();
        }
    }
}

/// Who may change each setting, from the one table the API enforces
/// (`domain::settings::FIELDS`): `x-editable-by` on every property of
/// `TenantConfig` (`tenant_admin`: the tenant's key or the platform key;
/// `platform`: the platform key only).
fn add_settings_editors(doc: &mut Value) {
    use crate::domain::settings::{Editor, editor_of};
    let Some(properties) =
        doc["components"]["schemas"]["TenantConfig"]["properties"].as_object_mut()
    else {
        return;
    };
    for (name, property) in properties.iter_mut() {
        let editor = match editor_of(name) {
            Some(Editor::Platform) => "platform",
            Some(Editor::TenantAdmin) => "tenant_admin",
            None => continue,
        };
        if let Some(property) = property.as_object_mut() {
            property.insert("x-editable-by".into(), editor.into());
        }
    }
}

fn add_security_schemes(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "resume_token": {
            "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
            "description": "The session's resume token (from `POST /api/session/create`)."
        },
        "resume_cookie": {
            "type": "apiKey", "in": "cookie", "name": "resume_token",
            "description": "The same token as the `resume_token` cookie the API sets."
        },
        "admin_key": {
            "type": "apiKey", "in": "header", "name": "X-Admin-Key",
            "description": "A tenant's admin key (its own tenant only) or the platform key (every tenant)."
        }
    });
}

/// An error response listing the codes it may carry.
fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

/// Adds the errors an operation's security and body imply, keeping any
/// the handler documents itself (with its own, more specific, codes).
fn add_implied_errors(operation: &mut Value) {
    let schemes: Vec<String> = operation["security"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .flat_map(|requirement| requirement.keys().cloned())
        .collect();
    let uses = |name: &str| schemes.iter().any(|s| s == name);
    let body_types: Vec<String> = operation["requestBody"]["content"]
        .as_object()
        .map(|content| content.keys().cloned().collect())
        .unwrap_or_default();
    let mut implied: Vec<(&str, &str)> = vec![];
    if uses("tenant") {
        implied.push(("404", "`tenant_not_found`"));
        implied.push(("403", "`tenant_inactive`"));
    }
    if uses("resume_token") {
        implied.push(("401", "`missing_token`, `invalid_token`, `token_expired`"));
        implied.push(("403", "`forbidden_session`: a token of another session"));
        implied.push(("404", "`session_not_found`"));
    }
    if uses("admin_key") {
        implied.push(("401", "`missing_admin_key`, `invalid_admin_key`"));
        implied.push(("403", "`forbidden_tenant`: another tenant's data"));
        implied.push(("404", "`tenant_not_found`"));
    }
    if body_types.iter().any(|t| t == "application/json") {
        implied.push(("400", "`invalid_json`, `invalid_body`"));
        implied.push(("413", "`body_too_large`: over 64 KiB"));
        implied.push(("415", "`unsupported_media_type`: send `application/json`"));
    }
    if !schemes.is_empty() {
        implied.push((
            "503",
            "`storage_unavailable`, `server_busy`, `too_many_connections`, `shutting_down`",
        ));
    }
    let Some(responses) = operation["responses"].as_object_mut() else {
        return;
    };
    for (status, codes) in implied {
        match responses.get_mut(status) {
            Some(existing) => {
                let description = existing["description"].as_str().unwrap_or_default();
                if !description.contains(codes) {
                    existing["description"] = Value::String(format!("{description}; {codes}"));
                }
            }
            None => {
                responses.insert(status.to_string(), error_response(codes));
            }
        }
    }
    sort_by_key(responses);
}

fn sort_by_key(map: &mut Map<String, Value>) {
    let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    map.extend(entries);
}

/// The chat stream's events. The `text/event-stream` media type's `schema`
/// describes one event (`event` name, JSON `data` as `contentSchema`), as
/// OpenAPI 3.2's `itemSchema` does and as tools read 3.1 streams
/// (schemathesis validates every event's data this way); `x-sse-events`
/// maps each event name to its data's schema for readers and generators.
/// The data's schemas join the components from the events' own list.
fn add_chat_events(doc: &mut Value) {
    let mut by_name = Map::new();
    let mut items = vec![];
    let components = doc["components"]["schemas"]
        .as_object_mut()
        .expect("schemas");
    for described in chat_events::event_schemas() {
        for (name, schema) in described.schemas {
            let schema = serde_json::to_value(schema).expect("the schema serializes");
            components.insert(name, schema);
        }
        let event = described.event;
        let reference = json!({"$ref": format!("#/components/schemas/{}", described.component)});
        by_name.insert(event.to_string(), reference.clone());
        items.push(json!({
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"const": event},
                "data": {
                    "type": "string",
                    "contentMediaType": "application/json",
                    "contentSchema": reference,
                }
            }
        }));
    }
    // In name order, as the derived components are.
    sort_by_key(components);
    let media = &mut doc["paths"]["/api/chat/{phase}/stream"]["post"]["responses"]["200"]["content"]
        ["text/event-stream"];
    media["schema"] = json!({
        "description": "One event of the stream: its name and its data as JSON",
        "oneOf": items,
    });
    media["x-sse-events"] = Value::Object(by_name);
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use axum::body::{Body, to_bytes};
    use axum::http::{Method, Request, StatusCode};
    use chrono::Utc;
    use tower::ServiceExt;

    use super::*;
    use crate::app::chat::ChatEvent;

    fn committed_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../openapi.json")
    }

    /// `PETRAF_UPDATE_OPENAPI=1 cargo test -p petraf-core --lib openapi`
    /// rewrites the committed file (as `petraf openapi > openapi.json` does).
    #[test]
    fn the_committed_document_is_the_code_s() {
        let path = committed_path();
        if std::env::var_os("PETRAF_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, document_text()).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == document_text(),
            "openapi.json differs from the code's document: run \
             `cargo run -p petraf-cli -- openapi > openapi.json`"
        );
    }

    fn operations(doc: &Value) -> Vec<(String, String, Value)> {
        let mut found = vec![];
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                found.push((path.clone(), method.clone(), operation.clone()));
            }
        }
        found
    }

    /// The paths the routers register, read from their sources: a route
    /// added without an annotation fails here.
    fn routed_paths() -> BTreeSet<String> {
        let sources = [
            include_str!("session_routes.rs"),
            include_str!("tenant_routes.rs"),
            include_str!("chat_routes.rs"),
            include_str!("goals_routes.rs"),
            include_str!("admin_routes.rs"),
            include_str!("document_routes.rs"),
            include_str!("privacy_routes.rs"),
            include_str!("metrics_routes.rs"),
            include_str!("settings_routes.rs"),
            include_str!("mod.rs"),
        ];
        let mut paths = BTreeSet::new();
        for source in sources {
            for after in source.split(".route(").skip(1) {
                let after = after.trim_start();
                if let Some(literal) = after.strip_prefix('"') {
                    paths.insert(literal.split('"').next().unwrap().to_string());
                }
            }
        }
        paths
    }

    fn references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_setting_states_who_may_change_it() {
        let doc = document();
        let properties = doc["components"]["schemas"]["TenantConfig"]["properties"]
            .as_object()
            .expect("TenantConfig is documented");
        assert_eq!(properties.len(), crate::domain::settings::FIELDS.len());
        for (name, property) in properties {
            assert!(property["x-editable-by"].is_string(), "{name}: {property}");
        }
        assert_eq!(properties["limits"]["x-editable-by"], "platform");
        assert_eq!(properties["threshold"]["x-editable-by"], "tenant_admin");
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = vec![];
        references(&doc, &mut found);
        assert!(!found.is_empty());
        for reference in found {
            let name = reference.strip_prefix("#/components/schemas/").unwrap();
            assert!(
                doc["components"]["schemas"][name].is_object(),
                "{reference}"
            );
        }
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let documented: BTreeSet<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(documented, routed_paths());
    }

    #[test]
    fn every_operation_answers_errors_as_the_error_body_and_names_its_auth() {
        for (path, method, operation) in operations(&document()) {
            let label = format!("{method} {path}");
            let responses = operation["responses"].as_object().unwrap();
            assert!(
                responses.keys().any(|s| s.starts_with('2')),
                "{label}: no success"
            );
            for (status, response) in responses {
                // Health answers 503 with its own report (`status: degraded`).
                let errors_in_error_body = path != "/api/health";
                if errors_in_error_body && (status.starts_with('4') || status.starts_with('5')) {
                    assert_eq!(
                        response["content"]["application/json"]["schema"]["$ref"],
                        "#/components/schemas/ErrorBody",
                        "{label} {status}"
                    );
                }
            }
            let tenant_scoped = path.starts_with("/api/session/")
                || path.starts_with("/api/chat/")
                || path.starts_with("/api/goals/")
                || path == "/api/tenant";
            let with_credentials = path.starts_with("/api/admin/")
                || (tenant_scoped
                    && !["/api/session/create", "/api/tenant"].contains(&path.as_str()));
            assert_eq!(
                operation["security"].is_array(),
                with_credentials,
                "{label}"
            );
            let names_tenant = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|p| p["name"] == "X-Tenant-ID" && p["in"] == "header");
            assert_eq!(names_tenant, tenant_scoped, "{label}");
            if path.starts_with("/api/admin/") {
                assert!(
                    responses.contains_key("401") && responses.contains_key("403"),
                    "{label}"
                );
            }
            if tenant_scoped {
                assert!(responses.contains_key("404"), "{label}: tenant_not_found");
            }
        }
    }

    /// Every error response names the codes it may carry, as an enum.
    #[test]
    fn every_error_response_lists_its_codes() {
        for (path, method, operation) in operations(&document()) {
            if path == "/api/health" {
                continue;
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let schema = &response["content"]["application/json"]["schema"];
                let codes = schema["properties"]["error"]["properties"]["code"]["enum"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                assert!(!codes.is_empty(), "{method} {path} {status}: no code enum");
                assert_eq!(schema["$ref"], "#/components/schemas/ErrorBody");
            }
        }
        let doc = document();
        let chat_409 = &doc["paths"]["/api/chat/{phase}/stream"]["post"]["responses"]["409"];
        let codes = &chat_409["content"]["application/json"]["schema"]["properties"]["error"]["properties"]
            ["code"]["enum"];
        let codes = codes.as_array().unwrap();
        assert!(codes.contains(&json!("phase_mismatch")), "{codes:?}");
        assert!(
            !codes.contains(&json!("forbidden_session")),
            "a 403's code: {codes:?}"
        );
    }

    /// Every path parameter and every id in a query has a pattern or an
    /// enum: none is a bare string.
    #[test]
    fn every_parameter_is_constrained() {
        let doc = document();
        let resolve = |schema: &Value| -> Value {
            match schema["$ref"].as_str() {
                Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
                None => schema.clone(),
            }
        };
        for (path, method, operation) in operations(&doc) {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                let constrained_by_type =
                    ["limit", "page", "final_only", "action", "actor", "If-Match"];
                if constrained_by_type.contains(&name) {
                    continue;
                }
                let mut schema = resolve(&parameter["schema"]);
                if let Some(variants) = schema["oneOf"].as_array().cloned() {
                    // `Option<T>`: the `T`.
                    if let Some(inner) = variants.iter().find(|v| v["type"] != "null") {
                        schema = resolve(inner);
                    }
                }
                let precise = schema["pattern"].is_string()
                    || schema["enum"].is_array()
                    || schema["oneOf"].is_array()
                    || schema["format"].is_string();
                assert!(precise, "{method} {path} {name}: {schema}");
            }
        }
    }

    /// A JSON body refuses unknown fields (`additionalProperties: false`,
    /// from `#[serde(deny_unknown_fields)]`) or says it ignores them.
    #[test]
    fn strict_bodies() {
        let doc = document();
        for (path, method, operation) in operations(&doc) {
            let schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let Some(reference) = schema["$ref"].as_str() else {
                continue;
            };
            let body = &doc["components"]["schemas"][reference.rsplit('/').next().unwrap()];
            let says = body["additionalProperties"] == json!(false)
                || body["description"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("accepted and ignored");
            assert!(says, "{method} {path}: {body}");
        }
    }

    /// The numbers written in annotations are the server's.
    #[test]
    fn documented_limits_are_the_server_s() {
        use crate::domain::tenant::DocumentLimits;
        let doc = document();
        let schemas = &doc["components"]["schemas"];
        let limits = &schemas["DocumentLimits"]["properties"];
        assert_eq!(
            limits["max_documents"]["maximum"],
            DocumentLimits::CEILING_DOCUMENTS
        );
        assert_eq!(
            limits["max_chunks"]["maximum"],
            DocumentLimits::CEILING_CHUNKS
        );
        assert_eq!(
            schemas["MessageText"]["maxLength"],
            crate::domain::message::MAX_USER_MESSAGE_CHARS
        );
        let audit = &doc["paths"]["/api/admin/audit-logs"]["get"]["parameters"];
        let page = audit
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "page")
            .unwrap();
        assert_eq!(page["schema"]["maximum"], crate::app::admin::MAX_PAGE);
    }

    #[test]
    fn a_handler_s_own_errors_keep_their_codes_beside_the_implied_ones() {
        let doc = document();
        let upload_404 = &doc["paths"]["/api/admin/rag/documents/{tenant_id}/{document_id}"]["get"]
            ["responses"]["404"]["description"];
        let text = upload_404.as_str().unwrap();
        assert!(
            text.contains("document_not_found") && text.contains("tenant_not_found"),
            "{text}"
        );
        let chat_400 =
            doc["paths"]["/api/chat/{phase}/stream"]["post"]["responses"]["400"]["description"]
                .as_str()
                .unwrap()
                .to_string();
        assert!(chat_400.contains("unknown_phase") && chat_400.contains("invalid_json"));
    }

    /// Each event's data has exactly the fields its documented schema
    /// lists (flattened parts resolved), the required ones included.
    #[test]
    fn every_chat_event_is_documented_with_the_fields_it_sends() {
        let doc = document();
        let documented = doc["paths"]["/api/chat/{phase}/stream"]["post"]["responses"]["200"]
            ["content"]["text/event-stream"]["x-sse-events"]
            .as_object()
            .unwrap()
            .clone();
        let events = crate::app::chat::events::samples(Utc::now());
        let names: BTreeSet<&str> = events.iter().map(ChatEvent::name).collect();
        let documented_names: BTreeSet<&str> = documented.keys().map(String::as_str).collect();
        assert_eq!(names, documented_names);
        for event in events {
            let reference = documented[event.name()]["$ref"].as_str().unwrap();
            let (properties, required) = fields_of(&doc, reference);
            let data = event.data();
            let sent: BTreeSet<String> = data.as_object().unwrap().keys().cloned().collect();
            assert!(
                required.is_subset(&sent),
                "{}: {required:?} ⊄ {sent:?}",
                event.name()
            );
            let optional_absent: BTreeSet<&String> = properties.difference(&sent).collect();
            assert!(
                sent.is_subset(&properties),
                "{}: {sent:?} ⊄ {properties:?}",
                event.name()
            );
            assert!(
                optional_absent.iter().all(|f| !required.contains(*f)),
                "{}",
                event.name()
            );
        }
    }

    /// A schema's property names and required ones, through `$ref` and `allOf`.
    fn fields_of(doc: &Value, reference: &str) -> (BTreeSet<String>, BTreeSet<String>) {
        let name = reference.rsplit('/').next().unwrap();
        let schema = &doc["components"]["schemas"][name];
        let mut properties = BTreeSet::new();
        let mut required = BTreeSet::new();
        let mut parts = vec![schema.clone()];
        while let Some(part) = parts.pop() {
            if let Some(r) = part["$ref"].as_str() {
                let (p, q) = fields_of(doc, r);
                properties.extend(p);
                required.extend(q);
            }
            if let Some(all) = part["allOf"].as_array() {
                parts.extend(all.iter().cloned());
            }
            if let Some(props) = part["properties"].as_object() {
                properties.extend(props.keys().cloned());
            }
            if let Some(req) = part["required"].as_array() {
                required.extend(req.iter().filter_map(|r| r.as_str().map(String::from)));
            }
        }
        (properties, required)
    }

    async fn test_app(dir: &std::path::Path) -> crate::app::App {
        crate::config::scratch_app(&crate::config::test_env(&[]), dir)
            .await
            .unwrap()
    }

    /// Every documented operation reaches a handler (no `route_not_found`,
    /// no `405`), on the router `petraf serve` runs.
    #[tokio::test]
    async fn every_documented_operation_is_served() {
        let dir = tempfile::tempdir().unwrap();
        let router = super::super::full_api(test_app(dir.path()).await);
        for (path, method, _) in operations(&document()) {
            let concrete = path
                .replace("{id}", "01HN8X9QJ5ABCDEF123456789A")
                .replace("{phase}", "g4_future")
                .replace("{tenant_id}", "t")
                .replace("{document_id}", "d");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let response = router
                .clone()
                .oneshot(
                    Request::builder()
                        .method(method.clone())
                        .uri(&concrete)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!text.contains("route_not_found"), "{method} {path}: {text}");
        }
    }

    /// Every route group serves the same whole document.
    #[tokio::test]
    async fn every_route_group_serves_the_document() {
        let dir = tempfile::tempdir().unwrap();
        let app = test_app(dir.path()).await;
        let groups = [
            super::super::session_api(app.clone()),
            super::super::chat_api(app.clone()),
            super::super::goals_api(app.clone()),
            super::super::admin_api(app.clone()),
            super::super::full_api(app),
        ];
        for router in groups {
            let response = router
                .oneshot(
                    Request::get("/api/openapi.json")
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&body), document_text());
        }
    }
}
