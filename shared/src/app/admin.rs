//! Admin views: usage statistics and the audit log.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::tenants::Admin;
use super::{App, AppError, AppResult};
use crate::domain::audit::AuditEntry;
use crate::domain::limits::{BudgetState, Refusal, UsageLimits};
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::ports::state_store::AuditQuery;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct GoalsByType {
    pub future: i64,
    pub values: i64,
    pub actions: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct StatsOverview {
    pub scope: &'static str,
    pub tenant_id: Option<String>,
    pub total_tenants: i64,
    pub active_tenants: i64,
    pub total_sessions: i64,
    pub active_sessions: i64,
    pub completed_sessions: i64,
    pub abandoned_sessions: i64,
    pub total_messages_today: i64,
    pub total_goals_created: i64,
    pub goals_by_type: GoalsByType,
    /// Final goals the employee kept below the threshold when the phase's
    /// attempts ran out (included in `total_goals_created`).
    pub goals_kept_below_threshold: i64,
    pub avg_completion_rate: f64,
    pub avg_session_duration_minutes: f64,
    pub avg_score: f64,
    /// Model tokens spent this calendar month (UTC).
    pub tokens_this_month: i64,
    /// The tenant's budget and where the month stands (tenant scope only).
    pub token_budget: Option<TokenBudgetView>,
    /// Requests refused by a limit this month, by error code.
    pub refusals_this_month: RefusalsByKind,
    /// Sessions erased on request. Erased and retention-deleted sessions
    /// stay counted in the totals above as numbers (one never completed
    /// counts as abandoned); nothing else of them is kept.
    pub erased_sessions: i64,
    /// Sessions deleted when their tenant's retention period passed.
    pub sessions_deleted_by_retention: i64,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenBudgetView {
    pub monthly_token_budget: u64,
    pub budget_warning_percent: u8,
    pub used_percent: f64,
    pub state: BudgetState,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct RefusalsByKind {
    pub rate_limited: i64,
    pub turn_limit_reached: i64,
    pub token_budget_exhausted: i64,
}

impl RefusalsByKind {
    fn from_counts(counts: &std::collections::BTreeMap<String, i64>) -> Self {
        let of = |r: Refusal| counts.get(r.code()).copied().unwrap_or(0);
        RefusalsByKind {
            rate_limited: of(Refusal::RateLimited),
            turn_limit_reached: of(Refusal::TurnLimitReached),
            token_budget_exhausted: of(Refusal::TokenBudgetExhausted),
        }
    }
}

fn budget_view(limits: &UsageLimits, used: i64) -> Option<TokenBudgetView> {
    let budget = limits.monthly_token_budget;
    (budget > 0).then(|| TokenBudgetView {
        monthly_token_budget: budget,
        budget_warning_percent: limits.budget_warning_percent,
        used_percent: (used as f64 / budget as f64 * 10_000.0).round() / 100.0,
        state: limits.budget_state(used),
    })
}

fn ratio(numerator: f64, denominator: i64) -> f64 {
    if denominator <= 0 {
        0.0
    } else {
        (numerator / denominator as f64 * 100.0).round() / 100.0
    }
}

pub async fn stats(
    app: &App,
    admin: &Admin,
    requested_tenant: Option<&str>,
) -> AppResult<StatsOverview> {
    let scope = admin.scope(requested_tenant)?;
    let now = app.clock.now();
    let usage = app.store.usage(scope.as_deref(), now.date_naive()).await?;
    let (total_tenants, active_tenants, token_budget) = match &scope {
        None => (usage.total_tenants, usage.active_tenants, None),
        Some(id) => {
            let record = app.store.tenant(id).await?.ok_or_else(|| {
                AppError::not_found("tenant_not_found", format!("no tenant {id}"))
            })?;
            (
                1,
                i64::from(record.tenant.status == TenantStatus::Active),
                budget_view(&record.config.limits, usage.tokens_month),
            )
        }
    };
    let goals = usage.goals_future + usage.goals_values + usage.goals_actions;
    Ok(StatsOverview {
        scope: if scope.is_some() {
            "tenant"
        } else {
            "platform"
        },
        tenant_id: scope,
        total_tenants,
        active_tenants,
        total_sessions: usage.sessions_created,
        active_sessions: usage.sessions_created
            - usage.sessions_completed
            - usage.sessions_abandoned,
        completed_sessions: usage.sessions_completed,
        abandoned_sessions: usage.sessions_abandoned,
        total_messages_today: usage.messages_today,
        total_goals_created: goals,
        goals_by_type: GoalsByType {
            future: usage.goals_future,
            values: usage.goals_values,
            actions: usage.goals_actions,
        },
        goals_kept_below_threshold: usage.goals_below_threshold,
        avg_completion_rate: ratio(usage.completion_points as f64, usage.sessions_created),
        avg_session_duration_minutes: ratio(usage.session_minutes as f64, usage.sessions_completed),
        avg_score: ratio(usage.score_hundredths as f64 / 100.0, goals),
        tokens_this_month: usage.tokens_month,
        token_budget,
        refusals_this_month: RefusalsByKind::from_counts(&usage.refused_month),
        erased_sessions: usage.sessions_erased,
        sessions_deleted_by_retention: usage.sessions_expired_by_retention,
        timestamp: now,
    })
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditListing {
    pub logs: Vec<AuditEntry>,
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
}

pub const MAX_PER_PAGE: u32 = 200;
/// How far back paging reaches (offset pages cost a read of what they skip).
pub const MAX_AUDIT_OFFSET: u64 = 100_000;
/// The last page, whatever the limit: one bound a client can know without
/// arithmetic (499 pages of 200 skip 99,800 entries, within the reach).
pub const MAX_PAGE: u32 = (MAX_AUDIT_OFFSET / MAX_PER_PAGE as u64) as u32;

/// What an audit listing selects besides its tenant; empty filters select all.
#[derive(Debug, Clone, Default)]
pub struct AuditFilters {
    pub session_id: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    /// Inclusive.
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub to: Option<DateTime<Utc>>,
}

/// One page of the audit log, newest first.
pub async fn audit_logs(
    app: &App,
    admin: &Admin,
    requested_tenant: Option<&str>,
    filters: AuditFilters,
    page: u32,
    per_page: u32,
) -> AppResult<AuditListing> {
    if let (Some(from), Some(to)) = (filters.from, filters.to)
        && from >= to
    {
        return Err(AppError::bad_request(
            "invalid_range",
            "from must be before to",
        ));
    }
    if page == 0 {
        return Err(AppError::bad_request("invalid_page", "page starts at 1"));
    }
    if per_page == 0 || per_page > MAX_PER_PAGE {
        return Err(AppError::bad_request(
            "invalid_limit",
            format!("limit must be within 1-{MAX_PER_PAGE}"),
        ));
    }
    if page > MAX_PAGE {
        return Err(AppError::bad_request(
            "invalid_page",
            format!("pages go up to {MAX_PAGE}; filter by session, action or time"),
        ));
    }
    let tenant_id = admin.scope(requested_tenant)?;
    let found = app
        .store
        .audit_log(&AuditQuery {
            tenant_id,
            session_id: filters.session_id,
            action: filters.action,
            actor: filters.actor,
            from: filters.from,
            to: filters.to,
            page,
            per_page,
        })
        .await?;
    Ok(AuditListing {
        logs: found
            .entries
            .into_iter()
            .map(AuditEntry::masked_for_listing)
            .collect(),
        total: found.total,
        page,
        per_page,
    })
}

pub async fn tenants(app: &App, admin: &Admin) -> AppResult<Vec<Tenant>> {
    admin.require_platform("lists tenants")?;
    Ok(app.store.list_tenants().await?)
}
