//! What the annotations leave implicit, added once for every operation:
//! the tenant header, the errors each kind of caller and body implies with
//! their codes, the settings' editors and the chat stream's events.

use serde_json::{Map, Value, json};

use super::super::contract;
use crate::app::chat::events as chat_events;

/// An annotation's `tenant` security names the `X-Tenant-ID` header, which
/// names a tenant and proves nothing (a caller without it gets `404
/// tenant_not_found`, not `401`): the document lists it as an optional
/// header parameter (the `Host`'s domain stands in for it), and keeps only
/// the credentials (the resume token, the admin key) as security.
pub(super) fn tenant_as_header_parameter(operation: &mut Value) {
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
pub(super) fn add_error_code_enums(operation: &mut Value) {
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
pub(super) fn drop_null_from_optional_body(operation: &mut Value) {
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
pub(super) fn add_settings_editors(doc: &mut Value) {
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

pub(super) fn add_security_schemes(doc: &mut Value) {
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
pub(super) fn add_implied_errors(operation: &mut Value) {
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
pub(super) fn add_chat_events(doc: &mut Value) {
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

/// An erasure names exactly one of a session and an employee code (the
/// other absent or `null`): two variants of `ErasureRequest`'s fields, as
/// `erasure::erase_for_admin` reads them.
pub(super) fn erasure_request_variants(doc: &mut Value) {
    let schema = &mut doc["components"]["schemas"]["ErasureRequest"];
    let properties = schema["properties"].clone();
    let only = |name: &str, other: &str| {
        let mut field = properties[name].clone();
        field["type"] = json!("string");
        let mut variant = Map::new();
        variant.insert(name.to_string(), field);
        variant.insert(other.to_string(), json!({"type": "null"}));
        json!({"required": [name], "properties": variant})
    };
    schema["oneOf"] = json!([
        only("session_id", "employee_code"),
        only("employee_code", "session_id"),
    ]);
}

/// An example draft is for a conversational phase, and its goal shows
/// something (`domain::example_drafts::validate`).
pub(super) fn example_draft_phases(doc: &mut Value) {
    let properties = &mut doc["components"]["schemas"]["ExampleDraft"]["properties"];
    properties["phase"]["$ref"] = json!("#/components/schemas/ChatPhase");
    properties["goal"]["pattern"] = json!("\\S");
}

/// An upload's category and an upload-url request's file name: patterns
/// built from the server's own checks.
pub(super) fn upload_name_patterns(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    let category = json!(crate::app::validation::CATEGORY_PATTERN);
    schemas["UploadFormSchema"]["properties"]["category"]["pattern"] = category.clone();
    let request = &mut schemas["UploadUrlRequest"]["properties"];
    request["category"]["pattern"] = category;
    request["filename"]["pattern"] = json!(crate::http::contract::upload_filename_pattern());
}

/// An edited goal (`step: refine`) is at most [`MAX_GOAL_CHARS`]
/// characters (the server counts them trimmed): the message's limit when
/// the step is `refine`.
///
/// [`MAX_GOAL_CHARS`]: crate::domain::goal::MAX_GOAL_CHARS
pub(super) fn refined_goal_length(doc: &mut Value) {
    let schema = &mut doc["components"]["schemas"]["TurnRequest"];
    schema["if"] = json!({"required": ["step"], "properties": {"step": {"const": "refine"}}});
    schema["then"] = json!({"properties": {"message": {
        "maxLength": crate::domain::goal::MAX_GOAL_CHARS,
    }}});
}

/// The body of `PATCH …/settings` and `POST …/settings/preview`:
/// `SettingsPatch`, a merge patch of `TenantConfig` as
/// `domain::settings::apply_patch` reads it — any subset of the settings,
/// nested objects partial, no member the settings do not have, `null`
/// (back to the default) where a setting has a default, a prompt with
/// something visible, a model of the known ones. What a schema cannot
/// state stays in the description: a changed rubric's weights add up to
/// 100.
pub(super) fn add_settings_patch(doc: &mut Value) {
    use crate::domain::settings::KNOWN_CHAT_MODELS;
    let schemas = doc["components"]["schemas"].clone();
    let config = &schemas["TenantConfig"];
    let required: Vec<Value> = config["required"].as_array().cloned().unwrap_or_default();
    let mut properties = Map::new();
    for (name, property) in config["properties"].as_object().expect("properties") {
        let mut patch = partial(property, &schemas);
        if let Some(object) = patch.as_object_mut() {
            object.remove("x-editable-by");
        }
        match name.as_str() {
            "llm_model" => patch["enum"] = json!(KNOWN_CHAT_MODELS),
            "prompts" => {
                for prompt in patch["properties"]
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|p| p.values_mut())
                {
                    prompt["pattern"] = json!("\\S");
                }
            }
            "scoring_rubrics" => {
                let phases: Vec<&str> = crate::domain::phase::Phase::CONVERSATIONAL
                    .iter()
                    .map(|p| p.as_str())
                    .collect();
                patch["propertyNames"] = json!({"enum": phases});
                // A phase keeps a rubric: its criteria may go, not the rubric.
                patch["additionalProperties"] = patch["additionalProperties"]["anyOf"][0].take();
                // A criterion's name, as `domain::settings` checks a changed rubric's.
                patch["additionalProperties"]["propertyNames"] = json!({
                    "type": "string",
                    "minLength": 1,
                    "maxLength": crate::domain::settings::MAX_CRITERION_NAME_CHARS,
                    "pattern": "\\S",
                });
            }
            _ => {}
        }
        if !required.contains(&json!(name)) {
            patch = nullable(patch);
        }
        properties.insert(name.clone(), patch);
    }
    doc["components"]["schemas"]["SettingsPatch"] = json!({
        "type": "object",
        "description": "A merge patch (RFC 7396) of `TenantConfig`: any subset of its fields, nested \
            objects partial; `null` puts a setting with a default back to it. A changed rubric's \
            weights add up to 100. E.g. `{\"threshold\": 7.5}`",
        "properties": properties,
        "additionalProperties": false,
    });
    sort_by_key(
        doc["components"]["schemas"]
            .as_object_mut()
            .expect("schemas"),
    );
    for (path, method) in [
        ("/api/admin/tenants/{tenant_id}/settings", "patch"),
        ("/api/admin/tenants/{tenant_id}/settings/preview", "post"),
    ] {
        doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"] =
            json!({"$ref": "#/components/schemas/SettingsPatch"});
    }
}

/// A schema as a merge patch may hold it: objects (named ones inlined)
/// with no member required and none unknown; `null` (RFC 7396: remove the
/// member) for a member with a default, which it goes back to, and for an
/// entry of a map, which it removes. A member without a default cannot be
/// removed, so it is never `null`.
fn partial(schema: &Value, schemas: &Value) -> Value {
    if let Some(reference) = schema["$ref"].as_str() {
        let named = &schemas[reference.rsplit('/').next().expect("a name")];
        if named["type"] != "object" {
            return schema.clone();
        }
        let mut inlined = partial(named, schemas);
        if let Some(description) = schema.get("description") {
            inlined["description"] = description.clone();
        }
        return inlined;
    }
    let mut schema = schema.clone();
    if schema["type"] == "object" {
        let object = schema.as_object_mut().expect("an object");
        let required = object.remove("required").unwrap_or_else(|| json!([]));
        let required = required.as_array().expect("a list");
        if let Some(Value::Object(properties)) = object.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                let patch = partial(property, schemas);
                *property = if required.contains(&json!(name)) {
                    patch
                } else {
                    nullable(patch)
                };
            }
            object.insert("additionalProperties".into(), json!(false));
        } else if let Some(values) = object.get_mut("additionalProperties")
            && values.is_object()
        {
            *values = nullable(partial(values, schemas));
        }
    }
    schema
}

/// `schema` or `null`.
pub(super) fn nullable(schema: Value) -> Value {
    let types = &schema["type"];
    let alternatives = schema["anyOf"].as_array().or(schema["oneOf"].as_array());
    let takes_null = types == "null"
        || types.as_array().is_some_and(|t| t.contains(&json!("null")))
        || alternatives.is_some_and(|a| a.iter().any(|s| s["type"] == "null"));
    if takes_null {
        schema
    } else {
        json!({"anyOf": [schema, {"type": "null"}]})
    }
}

/// A header is text or absent, never `null` (utoipa writes an optional
/// header as `["string", "null"]`, and a generator sends `null` as the
/// text `null`).
pub(super) fn headers_are_never_null(operation: &mut Value) {
    let parameters = operation
        .get_mut("parameters")
        .and_then(Value::as_array_mut);
    for parameter in parameters.into_iter().flatten() {
        if parameter["in"] != "header" {
            continue;
        }
        if let Some(types) = parameter["schema"]["type"].as_array() {
            let types: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
            if let [only] = types.as_slice() {
                parameter["schema"]["type"] = only.clone();
            }
        }
    }
}
