//! Tenants and their configuration.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::admin_keys::{AdminKey, INITIAL_KEY_PREFIX};
use super::example_drafts::{self, ExampleDraft};
use super::limits::UsageLimits;
use super::phase::Phase;
use super::scoring::{CriterionBody, Rubric};
use super::settings_error::SettingsError;
use super::settings_stamp::SettingsStamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Tenant {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub domain: String,
    pub status: TenantStatus,
    pub contact_email: String,
    pub contact_name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The tenant's prompts; `{company}` is replaced with the tenant's name.
/// Each 1-8000 characters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    #[schema(min_length = 1, max_length = 8000)]
    pub system_prompt: String,
    #[schema(min_length = 1, max_length = 8000)]
    pub g4_future_prompt: String,
    #[schema(min_length = 1, max_length = 8000)]
    pub g6_values_prompt: String,
    #[schema(min_length = 1, max_length = 8000)]
    pub g8_actions_prompt: String,
}

impl Prompts {
    pub fn for_phase(&self, phase: Phase) -> &str {
        match phase {
            Phase::G4Future => &self.g4_future_prompt,
            Phase::G6Values => &self.g6_values_prompt,
            Phase::G8Actions => &self.g8_actions_prompt,
            Phase::G2Basic | Phase::Completed => &self.system_prompt,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UiFlags {
    pub show_age_field: bool,
    pub show_years_of_service: bool,
    pub show_grade: bool,
}

/// Everything a tenant can tune about the coach: the settings resource.
/// `editable_by` of `GET …/settings` (and each field's description) says
/// who may change it; `limits` and `document_limits` take the platform key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TenantConfig {
    /// Tenant admin. The coach's prompts, per phase.
    pub prompts: Prompts,
    /// Tenant admin. One rubric per conversational phase (`g4_future`,
    /// `g6_values`, `g8_actions`): criteria by name with their weights,
    /// which add up to 100 when a rubric is changed.
    #[schema(value_type = BTreeMap<String, BTreeMap<String, CriterionBody>>)]
    pub scoring_rubrics: BTreeMap<String, Rubric>,
    /// Tenant admin. The overall score (0-10) a goal needs to pass.
    #[schema(minimum = 0.0, maximum = 10.0)]
    pub threshold: f64,
    /// Tenant admin.
    pub ui_flags: UiFlags,
    /// Tenant admin. Whether the coach retrieves the company's documents.
    pub rag_enabled: bool,
    /// Tenant admin. 1-365.
    #[schema(minimum = 1, maximum = 365)]
    pub session_expiration_days: u32,
    /// Tenant admin. The chat model: one of the known models when changed
    /// (`gpt-4o-mini`, `gpt-4o`, `gpt-4.1`, `gpt-4.1-mini`, `gpt-4.1-nano`,
    /// `gpt-5`, `gpt-5-mini`, `gpt-5-nano`, or the Bedrock ids in the README).
    #[schema(min_length = 1, max_length = 200)]
    pub llm_model: String,
    /// Tenant admin. Turns the coach collects before drafting a goal, 1-10.
    #[schema(minimum = 1, maximum = 10)]
    pub max_collect_turns: u32,
    /// Tenant admin. The document categories each phase retrieves from.
    pub rag_categories: BTreeMap<String, Vec<String>>,
    /// Platform key only. Rate limits, turn caps and the token budget
    /// (defaults when absent).
    #[serde(default)]
    pub limits: UsageLimits,
    /// Platform key only. How much the tenant's document library may hold
    /// (tenants created before limits get the defaults).
    #[serde(default)]
    pub document_limits: DocumentLimits,
    /// Tenant admin. What grounds the coach's reply on a collect turn
    /// (configs stored before the choice existed read as `ahead`).
    #[serde(default)]
    pub coach_retrieval: CoachRetrieval,
    /// Tenant admin. Days a session is kept after its last activity
    /// (30-3650); then it is deleted with everything derived from it
    /// (configs stored before the setting existed read as the default).
    #[serde(default = "Retention::default_days")]
    #[schema(minimum = 30, maximum = 3650)]
    pub retention_days: u32,
    /// Tenant admin. Up to 20 example goal drafts to try settings on
    /// before saving them (`POST …/settings/preview`, `petraf eval
    /// --tenant`); none at first.
    #[serde(default)]
    #[schema(max_items = 20)]
    pub example_drafts: Vec<ExampleDraft>,
}

/// How long a tenant keeps its employees' sessions.
pub struct Retention;

impl Retention {
    pub const DEFAULT_DAYS: u32 = 365;
    /// Under a month would delete sessions employees are still working on.
    pub const MIN_DAYS: u32 = 30;
    pub const MAX_DAYS: u32 = 3650;

    pub fn default_days() -> u32 {
        Self::DEFAULT_DAYS
    }

    pub fn validate(days: u32) -> Result<(), SettingsError> {
        if (Self::MIN_DAYS..=Self::MAX_DAYS).contains(&days) {
            Ok(())
        } else {
            Err(SettingsError(format!(
                "retention_days must be within {}-{}",
                Self::MIN_DAYS,
                Self::MAX_DAYS
            )))
        }
    }

    /// Whether a session last active at `last_activity` is past a
    /// retention of `days` at `now`.
    pub fn has_expired(
        days: u32,
        last_activity: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> bool {
        now >= last_activity + chrono::Duration::days(i64::from(days))
    }
}

/// What the coach's company passages are retrieved by on a collect turn:
/// a trade of the first token's latency against how exactly the passages
/// follow the latest message. Either way the refined goal, the score and
/// the advice are grounded by a retrieval for the whole turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CoachRetrieval {
    /// The phase's query embedded before the turn (the profile's, then the
    /// answers so far), its nearest passages reranked by the latest
    /// message's words: no model call in front of the reply.
    #[default]
    Ahead,
    /// The turn's own answers embedded and searched before the coach is
    /// asked: passages for exactly this message, one embedding call
    /// (~100-300 ms on a hosted API) later.
    PerTurn,
}

/// How much a tenant's document library may hold. Every upload is checked
/// against them before anything is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(
    description = "How much a tenant's document library may hold. Other fields are accepted and ignored."
)]
pub struct DocumentLimits {
    /// 1-100,000.
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_documents: u32,
    /// Chunks across all of the tenant's documents (a 10 MiB text is
    /// ~14k): 1-10,000,000.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub max_chunks: u32,
}

impl DocumentLimits {
    pub const DEFAULT_MAX_DOCUMENTS: u32 = 200;
    pub const DEFAULT_MAX_CHUNKS: u32 = 50_000;
    /// Above these an operator is better served by pgvector.
    pub const CEILING_DOCUMENTS: u32 = 100_000;
    pub const CEILING_CHUNKS: u32 = 10_000_000;

    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(1..=Self::CEILING_DOCUMENTS).contains(&self.max_documents) {
            return Err(SettingsError(format!(
                "max_documents must be within 1-{}",
                Self::CEILING_DOCUMENTS
            )));
        }
        if !(1..=Self::CEILING_CHUNKS).contains(&self.max_chunks) {
            return Err(SettingsError(format!(
                "max_chunks must be within 1-{}",
                Self::CEILING_CHUNKS
            )));
        }
        Ok(())
    }
}

impl Default for DocumentLimits {
    fn default() -> Self {
        DocumentLimits {
            max_documents: Self::DEFAULT_MAX_DOCUMENTS,
            max_chunks: Self::DEFAULT_MAX_CHUNKS,
        }
    }
}

impl TenantConfig {
    /// The configuration a new tenant starts with.
    pub fn defaults() -> Self {
        let prompts = Prompts {
            system_prompt: "You are a goal-setting assistant for {company} employees. Guide them through creating \
                SMART goals (Specific, Measurable, Achievable, Relevant, Time-bound) for their professional \
                development. Be encouraging, specific and actionable."
                .into(),
            g4_future_prompt: "Help employees envision their role in 2 years: the position they want, the skills \
                they want to develop and the impact they want to make."
                .into(),
            g6_values_prompt: "Guide employees to identify 3-5 core values that matter most to them at work and \
                what each means in practice."
                .into(),
            g8_actions_prompt: "Help create specific, actionable steps for the next 6 months, each with a \
                measurable outcome and a deadline."
                .into(),
        };
        let mut rubrics = BTreeMap::new();
        rubrics.insert(
            Phase::G4Future.as_str().to_string(),
            Rubric::new([
                (
                    "specificity",
                    30.0,
                    "Goal must be specific about role and responsibilities",
                ),
                (
                    "measurability",
                    25.0,
                    "Must have clear, quantifiable metrics",
                ),
                ("time_bound", 20.0, "Must have an explicit timeline"),
                (
                    "alignment",
                    25.0,
                    "Aligns with the company's career progression",
                ),
            ]),
        );
        rubrics.insert(
            Phase::G6Values.as_str().to_string(),
            Rubric::new([
                ("clarity", 30.0, "Names 3-5 distinct values"),
                (
                    "specificity",
                    25.0,
                    "Says what each value means in practice",
                ),
                ("alignment", 30.0, "Connects to the company's values"),
                ("authenticity", 15.0, "Stays in the employee's own words"),
            ]),
        );
        rubrics.insert(
            Phase::G8Actions.as_str().to_string(),
            Rubric::new([
                ("specificity", 25.0, "Each action is concrete"),
                ("measurability", 25.0, "Actions have measurable outcomes"),
                ("time_bound", 30.0, "Actions have deadlines within 6 months"),
                (
                    "alignment",
                    20.0,
                    "Actions support the 2-year vision and company guidelines",
                ),
            ]),
        );
        let mut categories = BTreeMap::new();
        categories.insert(
            Phase::G4Future.as_str().into(),
            vec!["career_framework".into(), "values".into()],
        );
        categories.insert(Phase::G6Values.as_str().into(), vec!["values".into()]);
        categories.insert(
            Phase::G8Actions.as_str().into(),
            vec![
                "performance_guidelines".into(),
                "career_framework".into(),
                "engineering_guidelines".into(),
            ],
        );
        TenantConfig {
            prompts,
            scoring_rubrics: rubrics,
            threshold: 7.0,
            ui_flags: UiFlags {
                show_age_field: true,
                show_years_of_service: true,
                show_grade: true,
            },
            rag_enabled: true,
            session_expiration_days: 14,
            llm_model: "gpt-4o-mini".into(),
            max_collect_turns: 3,
            rag_categories: categories,
            limits: UsageLimits::default(),
            document_limits: DocumentLimits::default(),
            coach_retrieval: CoachRetrieval::default(),
            retention_days: Retention::DEFAULT_DAYS,
            example_drafts: vec![],
        }
    }

    pub fn rubric(&self, phase: Phase) -> Option<&Rubric> {
        self.scoring_rubrics.get(phase.as_str())
    }

    pub fn categories(&self, phase: Phase) -> &[String] {
        self.rag_categories
            .get(phase.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        if !(self.threshold.is_finite() && (0.0..=10.0).contains(&self.threshold)) {
            return Err(SettingsError("threshold must be within 0-10".into()));
        }
        if !(1..=365).contains(&self.session_expiration_days) {
            return Err(SettingsError(
                "session_expiration_days must be within 1-365".into(),
            ));
        }
        if !(1..=10).contains(&self.max_collect_turns) {
            return Err(SettingsError(
                "max_collect_turns must be within 1-10".into(),
            ));
        }
        self.limits.validate()?;
        self.document_limits.validate()?;
        Retention::validate(self.retention_days)?;
        example_drafts::validate(&self.example_drafts)?;
        for phase in Phase::CONVERSATIONAL {
            let rubric = self
                .rubric(phase)
                .ok_or_else(|| SettingsError(format!("no scoring rubric for {phase}")))?;
            rubric
                .validate()
                .map_err(|e| SettingsError(format!("{phase} rubric: {e}")))?;
        }
        Ok(())
    }
}

/// A tenant as the request path needs it: identity, config and the hash of
/// its admin key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant: Tenant,
    pub config: TenantConfig,
    /// The hash of the key the tenant was created with. Records written
    /// before keys could be rotated hold their only key here.
    pub admin_key_hash: String,
    /// Every key created since, revoked ones included (empty: only the one above).
    #[serde(default)]
    pub admin_keys: Vec<AdminKey>,
    /// The settings version in force.
    #[serde(default)]
    pub settings: SettingsStamp,
    /// Bumped by every write of the record: what a compare-and-swap compares.
    #[serde(default)]
    pub revision: u64,
}

impl TenantRecord {
    /// A new tenant's record, holding `key_hash` as its one key.
    pub fn new(tenant: Tenant, config: TenantConfig, key: AdminKey) -> Self {
        TenantRecord {
            tenant,
            config,
            admin_key_hash: key.hash.clone(),
            admin_keys: vec![key],
            settings: SettingsStamp::default(),
            revision: 0,
        }
    }

    /// Every key, the one of a record from before rotation included.
    pub fn keys(&self) -> Vec<AdminKey> {
        if !self.admin_keys.is_empty() {
            return self.admin_keys.clone();
        }
        vec![AdminKey {
            prefix: INITIAL_KEY_PREFIX.into(),
            hash: self.admin_key_hash.clone(),
            created_at: self.tenant.created_at,
            created_by: "tenant creation".into(),
            revoked_at: None,
            revoked_by: None,
        }]
    }

    /// The active key whose hash is `hash`.
    pub fn active_key(&self, hash: &str) -> Option<AdminKey> {
        self.keys()
            .into_iter()
            .find(|k| k.is_active() && k.hash == hash)
    }

    pub fn active_key_hashes(&self) -> Vec<String> {
        self.keys()
            .into_iter()
            .filter(AdminKey::is_active)
            .map(|k| k.hash)
            .collect()
    }
}

/// Slugs and domains are lowercase and DNS-safe.
pub fn validate_slug(slug: &str) -> Result<(), SettingsError> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    ok.then_some(())
        .ok_or_else(|| SettingsError(format!("slug '{slug}' must be 1-63 of a-z, 0-9 and '-'")))
}

pub fn validate_domain(domain: &str) -> Result<(), SettingsError> {
    let ok = !domain.is_empty()
        && domain.len() <= 253
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    ok.then_some(())
        .ok_or_else(|| SettingsError(format!("domain '{domain}' is not a lowercase host name")))
}

pub fn validate_email(email: &str) -> Result<(), SettingsError> {
    let ok = email.len() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, host)| !local.is_empty() && host.contains('.'))
        && !email.chars().any(char::is_whitespace);
    ok.then_some(())
        .ok_or_else(|| SettingsError(format!("'{email}' is not an email address")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_every_phase_and_validate() {
        let cfg = TenantConfig::defaults();
        cfg.validate().unwrap();
        assert_eq!(cfg.threshold, 7.0);
        assert_eq!(cfg.session_expiration_days, 14);
        assert_eq!(cfg.max_collect_turns, 3);
        for phase in Phase::CONVERSATIONAL {
            assert!(cfg.rubric(phase).is_some());
            assert!(!cfg.categories(phase).is_empty());
        }
        assert_eq!(cfg.categories(Phase::G6Values), ["values".to_string()]);
    }

    #[test]
    fn retention_defaults_to_a_year_is_bounded_and_counts_from_last_activity() {
        let mut stored = serde_json::to_value(TenantConfig::defaults()).unwrap();
        stored.as_object_mut().unwrap().remove("retention_days");
        let read: TenantConfig = serde_json::from_value(stored).unwrap();
        assert_eq!(read.retention_days, 365);
        for days in [0, 29, 3651] {
            let cfg = TenantConfig {
                retention_days: days,
                ..TenantConfig::defaults()
            };
            assert!(cfg.validate().is_err(), "{days}");
        }
        let last: chrono::DateTime<chrono::Utc> = "2025-01-10T09:00:00Z".parse().unwrap();
        assert!(!Retention::has_expired(
            30,
            last,
            last + chrono::Duration::days(29)
        ));
        assert!(Retention::has_expired(
            30,
            last,
            last + chrono::Duration::days(30)
        ));
    }

    #[test]
    fn bad_configs_are_rejected() {
        let mut cfg = TenantConfig::defaults();
        cfg.threshold = 11.0;
        assert!(cfg.validate().is_err());
        let mut cfg = TenantConfig::defaults();
        cfg.scoring_rubrics.remove("g6_values");
        assert!(cfg.validate().is_err());
        let mut cfg = TenantConfig::defaults();
        cfg.document_limits.max_chunks = 0;
        assert!(cfg.validate().is_err());
    }

    #[test]
    fn configs_stored_before_limits_read_with_the_defaults() {
        let mut stored = serde_json::to_value(TenantConfig::defaults()).unwrap();
        stored.as_object_mut().unwrap().remove("document_limits");
        let read: TenantConfig = serde_json::from_value(stored).unwrap();
        assert_eq!(read.document_limits, DocumentLimits::default());
    }

    #[test]
    fn coach_retrieval_is_stored_by_name_and_defaults_to_ahead() {
        let mut stored = serde_json::to_value(TenantConfig::defaults()).unwrap();
        assert_eq!(stored["coach_retrieval"], "ahead");
        stored.as_object_mut().unwrap().remove("coach_retrieval");
        let read: TenantConfig = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(read.coach_retrieval, CoachRetrieval::Ahead);
        stored["coach_retrieval"] = "per_turn".into();
        let read: TenantConfig = serde_json::from_value(stored.clone()).unwrap();
        assert_eq!(read.coach_retrieval, CoachRetrieval::PerTurn);
        stored["coach_retrieval"] = "sometimes".into();
        assert!(serde_json::from_value::<TenantConfig>(stored).is_err());
    }

    #[test]
    fn slugs_domains_and_emails_are_checked() {
        assert!(validate_slug("sunrise-corp").is_ok());
        assert!(validate_slug("Sunrise").is_err());
        assert!(validate_slug("-x").is_err());
        assert!(validate_domain("sunrise.petraf.com").is_ok());
        assert!(validate_domain("sunrise..com").is_err());
        assert!(validate_domain("Sunrise.com").is_err());
        assert!(validate_email("john.davis@sunrisecorp.com").is_ok());
        assert!(validate_email("john").is_err());
    }
}
