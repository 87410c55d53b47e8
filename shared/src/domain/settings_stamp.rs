//! Which version of a tenant's settings is in force, who made it and what
//! it changed: kept on the tenant's record, so apart from the settings
//! resource that computes it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed value: `path` is dotted (`scoring_rubrics.g4_future.alignment.weight`);
/// `from`/`to` are `null` where the value was absent. Prompts appear summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FieldChange {
    pub path: String,
    /// Any JSON value (a number, a string, an object…).
    pub from: Value,
    pub to: Value,
}

/// Which version of the settings is in force, and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsStamp {
    pub version: u32,
    pub changed_by: String,
    /// `None`: the version the tenant was created with (its creation time).
    pub changed_at: Option<DateTime<Utc>>,
    /// What this version changed from the one before.
    #[serde(default)]
    pub changes: Vec<FieldChange>,
}

impl Default for SettingsStamp {
    fn default() -> Self {
        SettingsStamp {
            version: 1,
            changed_by: "tenant creation".into(),
            changed_at: None,
            changes: vec![],
        }
    }
}
