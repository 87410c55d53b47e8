//! The document as a whole: committed copy current, every route in it, its
//! schemas what the handlers answer.

use std::collections::BTreeSet;
use std::path::PathBuf;

use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode};
use chrono::Utc;
use tower::ServiceExt;

use serde_json::json;

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
        include_str!("../session_routes.rs"),
        include_str!("../tenant_routes.rs"),
        include_str!("../chat_routes.rs"),
        include_str!("../goals_routes.rs"),
        include_str!("../admin_routes.rs"),
        include_str!("../document_routes.rs"),
        include_str!("../privacy_routes.rs"),
        include_str!("../metrics_routes.rs"),
        include_str!("../settings_routes.rs"),
        include_str!("../mod.rs"),
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
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
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
        // Dropping the resume cookie needs neither a tenant nor a credential.
        let tenant_scoped = (path.starts_with("/api/session/") && path != "/api/session/cookie")
            || path.starts_with("/api/chat/")
            || path.starts_with("/api/goals/")
            || path == "/api/tenant";
        let with_credentials = path.starts_with("/api/admin/")
            || (tenant_scoped && !["/api/session/create", "/api/tenant"].contains(&path.as_str()));
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
    let upload_404 = &doc["paths"]["/api/admin/rag/documents/{tenant_id}/{document_id}"]["get"]["responses"]
        ["404"]["description"];
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

/// The session function (where API Gateway sends the path) and `petraf
/// serve` serve the whole document; the other functions do not carry it.
#[tokio::test]
async fn the_session_group_serves_the_document_and_the_others_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let app = test_app(dir.path()).await;
    let groups = [
        (super::super::session_api(app.clone()), StatusCode::OK),
        (super::super::full_api(app.clone()), StatusCode::OK),
        (super::super::chat_api(app.clone()), StatusCode::NOT_FOUND),
        (super::super::goals_api(app.clone()), StatusCode::NOT_FOUND),
        (super::super::admin_api(app), StatusCode::NOT_FOUND),
    ];
    for (router, status) in groups {
        let response = router
            .oneshot(
                Request::get("/api/openapi.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), status);
        if status == StatusCode::OK {
            let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
            assert_eq!(String::from_utf8_lossy(&body), document_text());
        }
    }
    let template =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"))
            .unwrap();
    // The template's resources, each from its two-space-indented name.
    let resources = regex::Regex::new(r"\n  [A-Za-z]").unwrap();
    let routed = resources
        .split(&template)
        .find(|function| function.contains("Path: /api/openapi.json"))
        .expect("template.yaml routes /api/openapi.json");
    assert!(
        routed.contains("Binary: session"),
        "API Gateway must send /api/openapi.json to the session function"
    );
}
