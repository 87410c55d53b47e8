//! The state store: tenants, sessions, conversation state, messages, goals,
//! audit entries and usage counters.
//!
//! Writes about a session go through [`StateStore::apply`], one atomic change
//! guarded by optimistic versions, so that an adapter can map it onto a
//! single transaction (SQLite) or TransactWriteItems (DynamoDB).

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::audit::AuditEntry;
use crate::domain::conversation::ConversationState;
use crate::domain::document::DocumentRecord;
use crate::domain::goal::{Goal, GoalLink};
use crate::domain::limits::SlidingWindow;
use crate::domain::message::Message;
use crate::domain::phase::GoalType;
use crate::domain::session::Session;
use crate::domain::settings::SettingsVersion;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A guarded write found another version, or a unique key taken.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A [`WindowCharge`] found its counter full; nothing was written.
    /// Holds the charge's key.
    #[error("limit reached: {0}")]
    LimitReached(String),
}

/// A per-address counter a change increments by one, refused (with nothing
/// written) when the window's counted slots already hold `limit` charges
/// (see [`SlidingWindow`]). Kept per tenant; it expires with its slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowCharge {
    /// What is counted, e.g. `turns#<limit key>`.
    pub key: String,
    pub window: SlidingWindow,
    /// The end of the slot the charge falls in.
    pub slot_end: DateTime<Utc>,
    pub limit: u32,
}

/// What a guarded write expects to find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The item must not exist yet.
    Absent,
    /// The stored item must have this version.
    Version(u64),
}

impl Expect {
    /// The guard of a document write over `stored`, the record the writer
    /// read (`None`: there was none).
    pub fn document(stored: Option<&DocumentRecord>) -> Self {
        stored.map_or(Expect::Absent, |d| Expect::Version(u64::from(d.revision)))
    }

    /// Whether a stored document of `revision` (`None`: no record) is what
    /// this guard expects.
    pub fn admits_document(self, revision: Option<u32>) -> bool {
        match (self, revision) {
            (Expect::Absent, None) => true,
            (Expect::Version(v), Some(r)) => v == u64::from(r),
            _ => false,
        }
    }
}

/// A value to write and the condition it is written under. The value
/// already carries its new version.
#[derive(Debug, Clone)]
pub struct Guarded<T> {
    pub value: T,
    pub expect: Expect,
}

impl<T> Guarded<T> {
    pub fn create(value: T) -> Self {
        Guarded {
            value,
            expect: Expect::Absent,
        }
    }
    pub fn replacing(previous_version: u64, value: T) -> Self {
        Guarded {
            value,
            expect: Expect::Version(previous_version),
        }
    }
}

/// Increments of the usage counters that a change brings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CounterDelta {
    pub sessions_created: i64,
    pub sessions_completed: i64,
    pub sessions_abandoned: i64,
    /// Sum of completion percentage changes across sessions.
    pub completion_points: i64,
    pub session_minutes: i64,
    /// Messages, counted on the day (UTC) they were stored.
    pub messages: i64,
    pub messages_day: Option<NaiveDate>,
    pub final_goals: Vec<GoalType>,
    /// Final goals kept below the threshold (attempts ran out), of `final_goals`.
    #[serde(default)]
    pub goals_below_threshold: i64,
    /// Sum of final goal scores in hundredths (integers keep counters exact).
    pub score_hundredths: i64,
    /// Model tokens (input + output), counted in the month of `month_of`.
    #[serde(default)]
    pub tokens: i64,
    /// A request refused by a limit (its `Refusal::code`), counted in the
    /// month of `month_of`.
    #[serde(default)]
    pub refused: Option<String>,
    #[serde(default)]
    pub month_of: Option<NaiveDate>,
    /// Sessions erased on request (employee or admin). Erased sessions stay
    /// counted in `sessions_created` and the other totals: counters hold
    /// numbers, never whose.
    #[serde(default)]
    pub sessions_erased: i64,
    /// Sessions deleted when their tenant's retention period passed.
    #[serde(default)]
    pub sessions_expired_by_retention: i64,
}

impl CounterDelta {
    pub fn is_empty(&self) -> bool {
        *self == CounterDelta::default()
    }

    /// The named counter increments this delta makes. Every adapter stores
    /// counters under these names, once per tenant and once globally.
    pub fn increments(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = [
            ("sessions_created", self.sessions_created),
            ("sessions_completed", self.sessions_completed),
            ("sessions_abandoned", self.sessions_abandoned),
            ("completion_points", self.completion_points),
            ("session_minutes", self.session_minutes),
            ("score_hundredths", self.score_hundredths),
            ("sessions_erased", self.sessions_erased),
            (
                "sessions_expired_by_retention",
                self.sessions_expired_by_retention,
            ),
            (GOALS_BELOW_THRESHOLD, self.goals_below_threshold),
        ]
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        if let (Some(day), true) = (self.messages_day, self.messages != 0) {
            out.push((messages_counter(day), self.messages));
        }
        for goal_type in &self.final_goals {
            out.push((format!("goals_{goal_type}"), 1));
        }
        if let Some(day) = self.month_of {
            if self.tokens != 0 {
                out.push((monthly_counter(TOKENS, day), self.tokens));
            }
            if let Some(code) = &self.refused {
                out.push((monthly_counter(&refused_counter(code), day), 1));
            }
        }
        out
    }
}

/// The counter of final goals kept below the threshold.
pub const GOALS_BELOW_THRESHOLD: &str = "goals_below_threshold";

/// Names of the monthly counters: tokens, and refusals per kind.
pub const TOKENS: &str = "tokens";

pub fn refused_counter(code: &str) -> String {
    format!("refused_{code}")
}

/// The counter name of a month's total of `name` (`tokens#2026-11`).
pub fn monthly_counter(name: &str, day: NaiveDate) -> String {
    format!("{name}#{}", crate::domain::limits::month_of(day))
}

/// The counter name of one day's messages.
pub fn messages_counter(day: NaiveDate) -> String {
    format!("messages#{day}")
}

/// Scope names under which counters are kept.
pub const GLOBAL_SCOPE: &str = "global";

pub fn tenant_scope(tenant_id: &str) -> String {
    format!("tenant#{tenant_id}")
}

/// Counter names of the platform's tenant totals (global scope only).
pub const TENANTS_TOTAL: &str = "tenants_total";
pub const TENANTS_ACTIVE: &str = "tenants_active";

/// Everything one session-scoped request changes, written atomically.
#[derive(Debug, Clone, Default)]
pub struct SessionChange {
    pub tenant_id: String,
    pub session_id: String,
    pub session: Option<Guarded<Session>>,
    pub state: Option<Guarded<ConversationState>>,
    pub messages: Vec<Message>,
    pub goals: Vec<Goal>,
    pub links: Vec<GoalLink>,
    pub audit: Vec<AuditEntry>,
    pub counters: CounterDelta,
    /// Bookkeeping: the session's last access, written without a guard and
    /// without a new version, so it never conflicts with (nor fails) a
    /// guarded change. Only when `session` is `None` (a change that
    /// replaces the session carries its own `last_accessed_at`).
    pub touched_at: Option<DateTime<Utc>>,
    /// Windowed counters this change increments; one that is full refuses
    /// the whole change with `LimitReached`.
    pub charges: Vec<WindowCharge>,
    /// Audit entries due once per tenant and month when the month's tokens
    /// (`counters.tokens` in the month of `counters.month_of`) reach their
    /// level.
    pub budget: Option<BudgetAlerts>,
    /// The tenant's retention: a store that deletes by itself (DynamoDB's
    /// TTL) keeps the session this long after its last activity. `None`:
    /// the default retention.
    pub retention_days: Option<u32>,
}

/// Audit entries a change writes once per tenant and month, when the
/// month's token total, this change's tokens included, has reached their
/// level. Decided inside the change's atomic write: of any number of
/// concurrent changes, exactly one writes each alert (and a later change
/// writes one that is due but was never written).
#[derive(Debug, Clone, Default)]
pub struct BudgetAlerts {
    /// The month's tokens before this change as the writer last read them.
    /// A hint: a store that keeps its own tally for the alerts starts it
    /// from here, and guesses from it which alerts are due.
    pub tokens_seen: i64,
    pub alerts: Vec<BudgetAlert>,
}

#[derive(Debug, Clone)]
pub struct BudgetAlert {
    /// Names the alert within its tenant and month (`warning@800`): one
    /// entry per key and month, ever.
    pub key: String,
    /// The month's total from which it is due.
    pub level: i64,
    pub entry: AuditEntry,
}

impl BudgetAlerts {
    /// Whether alert `alert` is due after `delta` tokens on a month's total
    /// of `total`, unless already written.
    pub fn reached(alert: &BudgetAlert, total: i64, delta: i64) -> bool {
        total.saturating_add(delta) >= alert.level
    }
}

impl SessionChange {
    pub fn new(tenant_id: &str, session_id: &str) -> Self {
        SessionChange {
            tenant_id: tenant_id.into(),
            session_id: session_id.into(),
            ..Default::default()
        }
    }
}

/// Usage counters for one tenant or, summed, for the platform.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageCounters {
    pub total_tenants: i64,
    pub active_tenants: i64,
    pub sessions_created: i64,
    pub sessions_completed: i64,
    pub sessions_abandoned: i64,
    pub completion_points: i64,
    pub session_minutes: i64,
    pub messages_today: i64,
    pub goals_future: i64,
    pub goals_values: i64,
    pub goals_actions: i64,
    pub score_hundredths: i64,
    /// Final goals kept below the threshold.
    #[serde(default)]
    pub goals_below_threshold: i64,
    /// This month's model tokens.
    pub tokens_month: i64,
    /// This month's refused requests by `Refusal::code`.
    pub refused_month: std::collections::BTreeMap<String, i64>,
    pub sessions_erased: i64,
    pub sessions_expired_by_retention: i64,
}

impl UsageCounters {
    /// Folds one stored counter into the totals; unknown names are ignored.
    pub fn absorb(&mut self, name: &str, value: i64, today: NaiveDate) {
        match name {
            TENANTS_TOTAL => self.total_tenants += value,
            TENANTS_ACTIVE => self.active_tenants += value,
            "sessions_created" => self.sessions_created += value,
            "sessions_completed" => self.sessions_completed += value,
            "sessions_abandoned" => self.sessions_abandoned += value,
            "completion_points" => self.completion_points += value,
            "session_minutes" => self.session_minutes += value,
            "score_hundredths" => self.score_hundredths += value,
            "sessions_erased" => self.sessions_erased += value,
            "sessions_expired_by_retention" => self.sessions_expired_by_retention += value,
            "goals_future" => self.goals_future += value,
            "goals_values" => self.goals_values += value,
            "goals_actions" => self.goals_actions += value,
            GOALS_BELOW_THRESHOLD => self.goals_below_threshold += value,
            other if other == messages_counter(today) => self.messages_today += value,
            other if other == monthly_counter(TOKENS, today) => self.tokens_month += value,
            other => {
                for refusal in crate::domain::limits::Refusal::ALL {
                    if other == monthly_counter(&refused_counter(refusal.code()), today) {
                        *self
                            .refused_month
                            .entry(refusal.code().to_string())
                            .or_default() += value;
                    }
                }
            }
        }
    }
}

/// Everything stored about one session, read together.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSnapshot {
    pub session: Session,
    pub state: ConversationState,
    /// Oldest first.
    pub messages: Vec<Message>,
    /// Oldest first.
    pub goals: Vec<Goal>,
    pub links: Vec<GoalLink>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// `None` only for the platform admin: every tenant.
    pub tenant_id: Option<String>,
    pub session_id: Option<String>,
    /// Only entries of this action (`session.resumed`).
    pub action: Option<String>,
    /// Only entries by this actor (an employee code, `system_admin`, …).
    pub actor: Option<String>,
    /// Only entries made at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only entries made before this instant.
    pub to: Option<DateTime<Utc>>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
}

impl AuditQuery {
    /// Whether it selects by more than tenant and session.
    pub fn filters_entries(&self) -> bool {
        self.action.is_some() || self.actor.is_some() || self.from.is_some() || self.to.is_some()
    }

    /// Whether `entry` passes the action, actor and time filters (for
    /// stores that cannot apply them where they read).
    pub fn admits(&self, entry: &AuditEntry) -> bool {
        self.action.as_ref().is_none_or(|a| *a == entry.action)
            && self.actor.as_ref().is_none_or(|a| *a == entry.actor)
            && self.from.is_none_or(|from| entry.created_at >= from)
            && self.to.is_none_or(|to| entry.created_at < to)
    }
}

/// A session's erasure: the session, its conversation state, messages,
/// goals and links removed; its earlier audit entries masked
/// ([`AuditEntry::with_personal_data_erased`]); `audit` (who erased it, and
/// when) and `counters` written. Erasing a session that is gone writes
/// nothing.
#[derive(Debug, Clone)]
pub struct SessionErasure {
    pub tenant_id: String,
    pub session_id: String,
    pub audit: AuditEntry,
    pub counters: CounterDelta,
}

/// What an erasure removed or masked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ErasedItems {
    pub messages: u64,
    pub goals: u64,
    pub links: u64,
    pub audit_entries_masked: u64,
}

/// What a tenant holds in the state store, counted by kind: offboarding's
/// dry run, and its proof that nothing is left.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TenantInventory {
    /// 1 while the tenant's record exists.
    pub tenant: u64,
    pub sessions: u64,
    /// Conversation states, messages, goals and links.
    pub session_items: u64,
    pub documents: u64,
    pub audit_entries: u64,
    /// The tenant's usage counters, budget ledgers and limit windows.
    pub counters: u64,
    /// Superseded versions of its settings.
    pub settings_versions: u64,
}

impl TenantInventory {
    pub fn is_empty(&self) -> bool {
        *self == TenantInventory::default()
    }
}

/// A tenant record to write in place of the one read at `expected_revision`.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantReplacement {
    pub expected_revision: u64,
    /// Its `revision` is `expected_revision + 1`.
    pub record: TenantRecord,
    /// The settings version the record's replaces, when its settings changed.
    pub superseded: Option<SettingsVersion>,
    pub audit: AuditEntry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub total: u64,
}

#[async_trait]
pub trait StateStore: Send + Sync {
    /// The adapter's name, as `/api/health` reports it.
    fn name(&self) -> &'static str;

    /// Names the database this store commits to when another adapter on
    /// the same database can join its transactions (the embedded vector
    /// store commits a document's chunks, record and audit entry together);
    /// `None`: no shared transactions.
    fn transaction_scope(&self) -> Option<String> {
        None
    }

    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a tenant; `Conflict` when its id, slug, domain or key hash is taken.
    async fn create_tenant(
        &self,
        record: &TenantRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a tenant's identity fields (status, name, contact).
    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<(), StoreError>;

    /// Replaces a tenant's configuration; `Conflict` when there is no such tenant.
    async fn update_tenant_config(
        &self,
        tenant_id: &str,
        config: &TenantConfig,
        audit: &AuditEntry,
    ) -> Result<(), StoreError>;

    /// Replaces a tenant's record whole (settings, keys) when its stored
    /// `revision` is still `expected_revision`, keeping the superseded
    /// settings version and the audit entry in the same write; `Conflict`
    /// when the record changed meanwhile or there is no such tenant, or a
    /// new key's hash is taken.
    async fn replace_tenant(&self, change: &TenantReplacement) -> Result<(), StoreError>;

    /// A tenant's superseded settings versions, newest first.
    async fn settings_versions(&self, tenant_id: &str) -> Result<Vec<SettingsVersion>, StoreError>;

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError>;
    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRecord>, StoreError>;
    /// The tenant holding `key_hash` as an active key (a revoked key finds none).
    async fn tenant_by_admin_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<TenantRecord>, StoreError>;
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError>;

    /// Applies a session change atomically; `Conflict` if any guard fails,
    /// in which case nothing is written.
    async fn apply(&self, change: SessionChange) -> Result<(), StoreError>;

    async fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>, StoreError>;
    async fn conversation(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<ConversationState>, StoreError>;
    /// A session's messages, oldest first.
    async fn messages(&self, tenant_id: &str, session_id: &str)
    -> Result<Vec<Message>, StoreError>;
    /// A session's goals, oldest first, and the links among them.
    async fn goals(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError>;

    /// The session with its state, messages, goals and links. The default
    /// composes the single reads; a store that keeps a session together
    /// answers with one read.
    async fn session_snapshot(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<SessionSnapshot>, StoreError> {
        let Some(session) = self.session(tenant_id, session_id).await? else {
            return Ok(None);
        };
        let state = self
            .conversation(tenant_id, session_id)
            .await?
            .ok_or_else(|| {
                StoreError::Unavailable(format!("session {session_id} has no conversation state"))
            })?;
        let messages = self.messages(tenant_id, session_id).await?;
        let (goals, links) = self.goals(tenant_id, session_id).await?;
        Ok(Some(SessionSnapshot {
            session,
            state,
            messages,
            goals,
            links,
        }))
    }

    /// Erases a session and everything stored about it (see
    /// [`SessionErasure`]); `None` when there is no such session. A store
    /// that cannot do it in one transaction removes the session's item last,
    /// so that an interrupted erasure is finished by running it again.
    async fn erase_session(
        &self,
        erasure: &SessionErasure,
    ) -> Result<Option<ErasedItems>, StoreError>;

    /// Up to `limit` of a tenant's sessions in id order (ULIDs: creation
    /// order), after session `after` when given; fewer only at the end.
    /// A store that deletes expired sessions lazily lists those it has not
    /// deleted yet, so that erasures and the retention sweep reach them.
    async fn sessions_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError>;

    /// What the tenant holds (see [`TenantInventory`]).
    async fn tenant_inventory(&self, tenant_id: &str) -> Result<TenantInventory, StoreError>;

    /// Deletes up to about `batch` of the tenant's items — its sessions with
    /// everything in them, document records, audit entries and counters,
    /// and last its record (taking it out of the platform's tenant
    /// counters); returns how many it deleted, 0 once nothing is left.
    /// Each call leaves a consistent store, so a purge stopped between
    /// calls resumes by calling again.
    async fn purge_tenant(&self, tenant_id: &str, batch: u32) -> Result<u64, StoreError>;

    /// Records an audit entry that belongs to no session change (admin actions).
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;
    /// One page of the entries `query` selects, newest first (write order
    /// reversed), with how many it selects in all.
    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;

    /// Usage counters of one tenant, or of every tenant; `today` picks the
    /// message counter and the month of the monthly ones.
    async fn usage(
        &self,
        tenant_id: Option<&str>,
        today: NaiveDate,
    ) -> Result<UsageCounters, StoreError>;

    /// Writes a document record if the stored one is as `expect` says:
    /// `Absent` (no record of that id) or `Version(r)` (the record at
    /// revision `r`); otherwise `Conflict`, with nothing written. Concurrent
    /// writes expecting the same revision: exactly one wins.
    async fn put_document(
        &self,
        document: &DocumentRecord,
        expect: Expect,
    ) -> Result<(), StoreError>;
    async fn document(
        &self,
        tenant_id: &str,
        document_id: &str,
    ) -> Result<Option<DocumentRecord>, StoreError>;
    /// A tenant's documents, newest first.
    async fn documents(&self, tenant_id: &str) -> Result<Vec<DocumentRecord>, StoreError>;
    /// Removes a document record at `revision`; `Conflict` when the stored
    /// record has another revision or is gone, with nothing removed.
    async fn delete_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        revision: u32,
    ) -> Result<(), StoreError>;
}

/// The time source; tests move it forward.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}
