//! A tenant's settings as one resource: the JSON of its [`TenantConfig`],
//! changed by JSON merge patches (RFC 7396), checked field by field against
//! who may change it, validated, diffed and versioned.
//!
//! The resource is generic over the config's JSON: a new `TenantConfig`
//! field needs one line in [`FIELDS`] (who may change it) and nothing else;
//! a test fails when a field is missing there.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::phase::Phase;
pub use super::settings_stamp::{FieldChange, SettingsStamp};
use super::tenant::TenantConfig;

/// Who may change a setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Editor {
    /// The tenant's own admin key (or the platform key).
    TenantAdmin,
    /// The platform key only: settings that cost the platform money or capacity.
    Platform,
}

/// Every top-level setting and who may change it.
pub const FIELDS: &[(&str, Editor)] = &[
    ("prompts", Editor::TenantAdmin),
    ("scoring_rubrics", Editor::TenantAdmin),
    ("threshold", Editor::TenantAdmin),
    ("ui_flags", Editor::TenantAdmin),
    ("rag_enabled", Editor::TenantAdmin),
    ("session_expiration_days", Editor::TenantAdmin),
    ("llm_model", Editor::TenantAdmin),
    ("max_collect_turns", Editor::TenantAdmin),
    ("rag_categories", Editor::TenantAdmin),
    ("coach_retrieval", Editor::TenantAdmin),
    ("retention_days", Editor::TenantAdmin),
    ("example_drafts", Editor::TenantAdmin),
    ("limits", Editor::Platform),
    ("document_limits", Editor::Platform),
];

/// Who may change the top-level setting `field`; `None`: no such setting.
pub fn editor_of(field: &str) -> Option<Editor> {
    FIELDS.iter().find(|(f, _)| *f == field).map(|(_, e)| *e)
}

/// The chat models a tenant may choose: the OpenAI names and the Bedrock
/// ids the deployment guides use. A stored model outside the list stays
/// until it is changed.
pub const KNOWN_CHAT_MODELS: &[&str] = &[
    "gpt-4o-mini",
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-5",
    "gpt-5-mini",
    "gpt-5-nano",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-3-5-haiku-20241022-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
];

/// The longest a prompt may be, in characters.
pub const MAX_PROMPT_CHARS: usize = 8000;
/// The longest a criterion's name may be, in characters.
pub const MAX_CRITERION_NAME_CHARS: usize = 64;
/// What a changed rubric's weights must add up to (they are percentages).
pub const RUBRIC_WEIGHT_TOTAL: f64 = 100.0;

/// A superseded version kept whole: its stamp and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsVersion {
    pub stamp: SettingsStamp,
    pub config: TenantConfig,
}

/// Why a patch was refused; nothing changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchRefusal {
    /// Not a JSON object, a value of the wrong type, or out of range (400).
    Invalid(String),
    /// A field that is no setting (400).
    Unknown(String),
    /// A platform-only setting changed with a tenant's key (403).
    PlatformOnly(String),
}

/// A patch applied: the new config and what changed (prompts summarised).
#[derive(Debug, Clone, PartialEq)]
pub struct Patched {
    pub config: TenantConfig,
    pub changes: Vec<FieldChange>,
}

/// RFC 7396: objects merge member by member, `null` removes a member,
/// anything else replaces the target.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(fields) = target else {
        return;
    };
    for (name, value) in patch {
        if value.is_null() {
            fields.remove(name);
        } else {
            merge_patch(fields.entry(name.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Applies a merge patch to `current` as `editor`: unknown fields, values
/// that do not parse, a changed platform-only field (for a tenant admin)
/// and the validation rules refuse it.
pub fn apply_patch(
    current: &TenantConfig,
    patch: &Value,
    editor: Editor,
) -> Result<Patched, PatchRefusal> {
    let Value::Object(fields) = patch else {
        return Err(PatchRefusal::Invalid(
            "send a JSON object of the settings to change (a merge patch)".into(),
        ));
    };
    if let Some(unknown) = fields.keys().find(|f| editor_of(f).is_none()) {
        return Err(PatchRefusal::Unknown(format!("{unknown} is not a setting")));
    }
    let before = to_value(current)?;
    let mut merged = before.clone();
    merge_patch(&mut merged, patch);
    // `10.0` is the integer 10 to JSON Schema, and so to the settings.
    super::whole_numbers::as_integers(&mut merged);
    let config: TenantConfig = serde_json::from_value(merged.clone()).map_err(|e| {
        let message = e.to_string();
        if message.starts_with("unknown field") {
            PatchRefusal::Unknown(message)
        } else {
            PatchRefusal::Invalid(message)
        }
    })?;
    // Members serde ignored are not settings (a typo in a nested name).
    let after = to_value(&config)?;
    if let Some(path) = first_dropped(&merged, &after, "") {
        return Err(PatchRefusal::Unknown(format!("{path} is not a setting")));
    }
    let mut changes = vec![];
    diff(&before, &after, "", &mut changes);
    if editor == Editor::TenantAdmin
        && let Some(change) = changes
            .iter()
            .find(|c| editor_of(top_level(&c.path)) == Some(Editor::Platform))
    {
        return Err(PatchRefusal::PlatformOnly(format!(
            "only the platform key changes {}",
            top_level(&change.path)
        )));
    }
    config.validate().map_err(|e| PatchRefusal::Invalid(e.0))?;
    validate_change(current, &config)?;
    Ok(Patched {
        config,
        changes: changes.into_iter().map(summarised).collect(),
    })
}

/// What differs between two configs, prompts summarised.
pub fn changes_between(before: &TenantConfig, after: &TenantConfig) -> Vec<FieldChange> {
    let (Ok(before), Ok(after)) = (to_value(before), to_value(after)) else {
        return vec![];
    };
    let mut changes = vec![];
    diff(&before, &after, "", &mut changes);
    changes.into_iter().map(summarised).collect()
}

fn to_value(config: &TenantConfig) -> Result<Value, PatchRefusal> {
    serde_json::to_value(config).map_err(|e| PatchRefusal::Invalid(e.to_string()))
}

fn top_level(path: &str) -> &str {
    path.split('.').next().unwrap_or(path)
}

/// The rules a change must meet beyond the config's own: they hold for
/// what changes, so a tenant stored before them is not locked out.
fn validate_change(before: &TenantConfig, after: &TenantConfig) -> Result<(), PatchRefusal> {
    let invalid = |m: String| Err(PatchRefusal::Invalid(m));
    for phase in Phase::CONVERSATIONAL {
        let rubric = after.rubric(phase);
        if rubric == before.rubric(phase) {
            continue;
        }
        let total = rubric.map(|r| r.total_weight()).unwrap_or(0.0);
        if (total - RUBRIC_WEIGHT_TOTAL).abs() > 0.01 {
            return invalid(format!(
                "the {phase} rubric's weights add up to {total}, not {RUBRIC_WEIGHT_TOTAL}"
            ));
        }
        if let Some(c) = rubric.into_iter().flat_map(|r| &r.criteria).find(|c| {
            c.name.trim().is_empty()
                || c.name.chars().count() > MAX_CRITERION_NAME_CHARS
                || c.description.chars().count() > 500
        }) {
            return invalid(format!(
                "criterion '{}': names are 1-{MAX_CRITERION_NAME_CHARS} characters, descriptions at most 500",
                c.name
            ));
        }
    }
    let prompts = [
        ("system_prompt", &after.prompts.system_prompt),
        ("g4_future_prompt", &after.prompts.g4_future_prompt),
        ("g6_values_prompt", &after.prompts.g6_values_prompt),
        ("g8_actions_prompt", &after.prompts.g8_actions_prompt),
    ];
    for (name, prompt) in prompts {
        let chars = prompt.chars().count();
        if prompt.trim().is_empty() || chars > MAX_PROMPT_CHARS {
            return invalid(format!(
                "prompts.{name} must be 1-{MAX_PROMPT_CHARS} characters (it has {chars})"
            ));
        }
    }
    if after.llm_model != before.llm_model && !KNOWN_CHAT_MODELS.contains(&after.llm_model.as_str())
    {
        return invalid(format!(
            "llm_model '{}' is not a known model: one of {}",
            after.llm_model,
            KNOWN_CHAT_MODELS.join(", ")
        ));
    }
    Ok(())
}

/// The first path `merged` holds that `parsed` (its round trip) lost.
fn first_dropped(merged: &Value, parsed: &Value, at: &str) -> Option<String> {
    let (Value::Object(m), Value::Object(p)) = (merged, parsed) else {
        return None;
    };
    m.iter().find_map(|(name, value)| {
        let path = join(at, name);
        match p.get(name) {
            None => Some(path),
            Some(kept) => first_dropped(value, kept, &path),
        }
    })
}

fn join(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_string()
    } else {
        format!("{at}.{name}")
    }
}

/// Every leaf that differs, objects compared member by member (arrays whole).
pub fn diff(before: &Value, after: &Value, at: &str, out: &mut Vec<FieldChange>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (name, value) in b {
                diff(
                    value,
                    a.get(name).unwrap_or(&Value::Null),
                    &join(at, name),
                    out,
                );
            }
            for (name, value) in a.iter().filter(|(n, _)| !b.contains_key(*n)) {
                diff(&Value::Null, value, &join(at, name), out);
            }
        }
        (b, a) if b != a => out.push(FieldChange {
            path: at.to_string(),
            from: b.clone(),
            to: a.clone(),
        }),
        _ => {}
    }
}

/// Prompts are long and may be sensitive: a change records their length
/// and opening words, never the whole text.
fn summarised(change: FieldChange) -> FieldChange {
    if top_level(&change.path) != "prompts" {
        return change;
    }
    FieldChange {
        from: summary(&change.from),
        to: summary(&change.to),
        ..change
    }
}

pub fn summary(text: &Value) -> Value {
    let Value::String(text) = text else {
        return text.clone();
    };
    let chars = text.chars().count();
    let opening: String = text.chars().take(40).collect();
    let ellipsis = if chars > 40 { "…" } else { "" };
    Value::String(format!("{chars} characters: \"{opening}{ellipsis}\""))
}

/// The `{path: {from, to}}` object the audit entry records.
pub fn audit_changes(changes: &[FieldChange]) -> Value {
    Value::Object(
        changes
            .iter()
            .map(|c| {
                (
                    c.path.clone(),
                    serde_json::json!({"from": c.from, "to": c.to}),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn patched(patch: Value, editor: Editor) -> Result<Patched, PatchRefusal> {
        apply_patch(&TenantConfig::defaults(), &patch, editor)
    }

    #[test]
    fn every_config_field_says_who_may_change_it() {
        let Value::Object(fields) = serde_json::to_value(TenantConfig::defaults()).unwrap() else {
            panic!("a config is an object");
        };
        for name in fields.keys() {
            assert!(editor_of(name).is_some(), "{name} needs a line in FIELDS");
        }
        assert_eq!(fields.len(), FIELDS.len(), "FIELDS names no removed field");
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut target = json!({"a": "b", "c": {"d": "e", "f": "g"}});
        merge_patch(&mut target, &json!({"a": "z", "c": {"f": null}}));
        assert_eq!(target, json!({"a": "z", "c": {"d": "e"}}));
        let mut target = json!({"a": [1, 2]});
        merge_patch(&mut target, &json!({"a": [3]}));
        assert_eq!(target, json!({"a": [3]}));
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_lists_the_changes() {
        let p = patched(
            // `10.0`: a whole number is an integer however it is written.
            json!({"threshold": 8.0, "limits": {"monthly_token_budget": 10.0}}),
            Editor::Platform,
        )
        .unwrap();
        assert_eq!(p.config.threshold, 8.0);
        assert_eq!(p.config.limits.monthly_token_budget, 10);
        assert_eq!(
            p.config.limits.turns_per_address_per_minute,
            TenantConfig::defaults().limits.turns_per_address_per_minute
        );
        let paths: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["threshold", "limits.monthly_token_budget"]);
        assert_eq!(p.changes[0].from, json!(7.0));
        assert_eq!(p.changes[0].to, json!(8.0));
    }

    #[test]
    fn unknown_fields_are_refused_at_any_depth() {
        for patch in [
            json!({"treshold": 8}),
            json!({"limits": {"budget": 1}}),
            json!({"ui_flags": {"show_age": true}}),
            json!({"scoring_rubrics": {"g4_future": {"specificity": {"weight": 30, "colour": "red"}}}}),
        ] {
            assert!(
                matches!(
                    patched(patch.clone(), Editor::Platform),
                    Err(PatchRefusal::Unknown(_))
                ),
                "{patch}"
            );
        }
    }

    #[test]
    fn bad_values_are_refused() {
        for patch in [
            json!([1]),
            json!({"threshold": 10.5}),
            json!({"max_collect_turns": 2.5}),
            json!({"threshold": "high"}),
            json!({"threshold": null}),
            json!({"llm_model": "gpt-0"}),
            json!({"prompts": {"system_prompt": " "}}),
            json!({"prompts": {"g4_future_prompt": "x".repeat(MAX_PROMPT_CHARS + 1)}}),
            json!({"scoring_rubrics": {"g4_future": {"specificity": {"weight": 31}}}}),
            json!({"coach_retrieval": "sometimes"}),
        ] {
            assert!(
                matches!(
                    patched(patch.clone(), Editor::Platform),
                    Err(PatchRefusal::Invalid(_))
                ),
                "{patch}"
            );
        }
    }

    #[test]
    fn a_rubric_can_gain_and_lose_criteria_when_weights_still_add_up() {
        let p = patched(
            json!({"scoring_rubrics": {"g6_values": {
                "authenticity": null,
                "clarity": {"weight": 45}
            }}}),
            Editor::TenantAdmin,
        )
        .unwrap();
        let rubric = p.config.rubric(Phase::G6Values).unwrap();
        assert_eq!(rubric.criteria.len(), 3);
        assert_eq!(rubric.total_weight(), 100.0);
        assert!(
            p.changes
                .iter()
                .any(|c| c.path == "scoring_rubrics.g6_values.authenticity" && c.to.is_null())
        );
    }

    #[test]
    fn a_tenant_admin_may_not_change_platform_settings_but_may_send_them_back() {
        let refused = patched(
            json!({"document_limits": {"max_documents": 5}}),
            Editor::TenantAdmin,
        );
        assert!(matches!(refused, Err(PatchRefusal::PlatformOnly(_))));
        // The whole document read back, one tenant setting changed: fine.
        let mut whole = serde_json::to_value(TenantConfig::defaults()).unwrap();
        whole["coach_retrieval"] = json!("per_turn");
        let p = patched(whole, Editor::TenantAdmin).unwrap();
        assert_eq!(p.changes.len(), 1);
        assert_eq!(p.changes[0].path, "coach_retrieval");
    }

    #[test]
    fn prompt_changes_are_summarised() {
        let text = "Coach {company} staff kindly. ".repeat(10);
        let p = patched(
            json!({"prompts": {"system_prompt": text}}),
            Editor::TenantAdmin,
        )
        .unwrap();
        let to = p.changes[0].to.as_str().unwrap();
        assert!(
            to.starts_with("300 characters: \"Coach {company} staff"),
            "{to}"
        );
        assert!(to.len() < 100);
        let audit = audit_changes(&p.changes);
        assert!(
            audit["prompts.system_prompt"]["from"]
                .as_str()
                .unwrap()
                .contains("characters")
        );
    }

    #[test]
    fn a_known_model_may_be_chosen_and_an_unknown_stored_one_kept() {
        let p = patched(json!({"llm_model": "gpt-4.1-mini"}), Editor::TenantAdmin).unwrap();
        assert_eq!(p.config.llm_model, "gpt-4.1-mini");
        let mut custom = TenantConfig::defaults();
        custom.llm_model = "my-fine-tune".into();
        assert!(apply_patch(&custom, &json!({"threshold": 6}), Editor::TenantAdmin).is_ok());
    }
}
