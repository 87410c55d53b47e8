//! Limits on the request path: per-address counters charged inside the
//! writes a request makes anyway, the per-phase turn cap, the monthly token
//! budget, refusals counted by kind, and the operator's settings.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::conversation::ConversationState;
use crate::domain::goal::Goal;
use crate::domain::ids::new_id;
use crate::domain::limits::{BudgetState, Refusal, UsageLimits, Window, next_month, seconds_until};
use crate::domain::message::Message;
use crate::domain::phase::Phase;
use crate::domain::tenant::TenantRecord;
use crate::domain::way_forward::{Attempts, NextStep};
use crate::ports::state_store::{
    BudgetAlert, BudgetAlerts, SessionChange, SessionSnapshot, StoreError, WindowCharge,
};
use crate::telemetry::metrics::{self, Metric};

/// What the per-address counters count.
pub const SESSIONS: &str = "sessions";
pub const TURNS: &str = "turns";

/// The charge of one request from the caller's address against `limit`
/// per `window` (sliding); none when the limit is off or the request came
/// from no address (every entry point knows one: the socket peer, or
/// Lambda's request context). The counter is keyed by the keyed hash of
/// the address's limit bucket, never the address.
pub fn address_charge(
    what: &str,
    origin: &RequestOrigin,
    limit: u32,
    window: Window,
    now: DateTime<Utc>,
) -> Option<WindowCharge> {
    let bucket = origin.limit_key.as_deref().filter(|_| limit > 0)?;
    let window = window.sliding();
    Some(WindowCharge {
        key: format!("{what}#{bucket}"),
        window,
        slot_end: window.slot_end(now),
        limit,
    })
}

/// The answer to a change refused by one of its charges; other errors pass.
pub fn charge_refused(
    e: &StoreError,
    charges: &[WindowCharge],
    now: DateTime<Utc>,
) -> Option<AppError> {
    let StoreError::LimitReached(key) = e else {
        return None;
    };
    let charge = charges.iter().find(|c| &c.key == key)?;
    let what = if key.starts_with(SESSIONS) {
        "sessions"
    } else {
        "messages"
    };
    Some(
        AppError::too_many(
            Refusal::RateLimited.code(),
            format!(
                "too many {what} from this address (at most {}); try again later",
                charge.limit
            ),
        )
        // The soonest the window can have room: when its oldest slot leaves.
        .with_retry_after(seconds_until(charge.slot_end, now)),
    )
}

/// Where the session's current phase stands against its limits: the
/// cap (`max_collect_turns` plus the tenant's extra turns) counts the
/// user's messages since the phase began or was last restarted.
pub fn phase_attempts(tenant: &TenantRecord, snapshot: &SessionSnapshot) -> Attempts {
    attempts_of(tenant, &snapshot.state, &snapshot.messages, &snapshot.goals)
}

/// [`phase_attempts`] from the parts a turn holds.
pub fn attempts_of(
    tenant: &TenantRecord,
    state: &ConversationState,
    history: &[Message],
    goals: &[Goal],
) -> Attempts {
    let limits = &tenant.config.limits;
    Attempts::of(
        state,
        history,
        goals,
        limits.turns_per_phase(tenant.config.max_collect_turns),
        limits.keep_best_after_attempts,
    )
}

/// What a client shows of the current phase's standing: the messages left
/// before the cap (none once the session is completed) and the ways
/// forward open now.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PhaseStanding {
    /// Messages the employee may still send in the current phase before
    /// its cap; null once every phase is done.
    pub turns_left: Option<u32>,
    /// Whether the phase has a draft that fell short which the employee
    /// may edit (a turn with step `refine`); a restart clears it.
    pub draft_editable: bool,
    /// The ways forward once the phase's attempts ran out (keep the best
    /// draft, start over); absent while attempts are left.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_steps: Option<Vec<NextStep>>,
}

impl PhaseStanding {
    pub fn of(
        tenant: &TenantRecord,
        session_id: &str,
        state: &ConversationState,
        history: &[Message],
        goals: &[Goal],
    ) -> Self {
        if !state.phase.is_conversational() {
            let turns_left = (state.phase != Phase::Completed).then(|| {
                tenant
                    .config
                    .limits
                    .turns_per_phase(tenant.config.max_collect_turns)
            });
            return PhaseStanding {
                turns_left,
                draft_editable: false,
                next_steps: None,
            };
        }
        let attempts = attempts_of(tenant, state, history, goals);
        let steps = attempts.next_steps(session_id, state.phase);
        PhaseStanding {
            turns_left: Some(attempts.turns_left()),
            draft_editable: state.draft_goal.is_some(),
            next_steps: (!steps.is_empty()).then_some(steps),
        }
    }
}

/// Refuses a turn beyond the phase's cap, naming the ways forward (keep
/// the best draft, start the step over) in the refusal.
pub fn check_turn_cap(tenant: &TenantRecord, snapshot: &SessionSnapshot) -> AppResult<()> {
    let attempts = phase_attempts(tenant, snapshot);
    if attempts.turns_left() == 0 {
        let phase = snapshot.state.phase;
        let cap = attempts.cap;
        return Err(AppError::too_many(
            Refusal::TurnLimitReached.code(),
            format!(
                "this session has used its {cap} messages for {phase}: keep your best draft, or start this step over"
            ),
        )
        .with_next_steps(attempts.next_steps(&snapshot.session.id, phase)));
    }
    Ok(())
}

/// The month's tokens so far when the tenant has a budget (one read of
/// the usage counters), refusing the turn when the budget is spent.
pub async fn check_budget(app: &App, tenant: &TenantRecord) -> AppResult<Option<i64>> {
    let limits = &tenant.config.limits;
    if limits.monthly_token_budget == 0 {
        return Ok(None);
    }
    let now = app.clock.now();
    let used = app
        .store
        .usage(Some(&tenant.tenant.id), now.date_naive())
        .await?
        .tokens_month;
    if limits.budget_state(used) == BudgetState::Exhausted {
        return Err(AppError::too_many(
            Refusal::TokenBudgetExhausted.code(),
            "this company's monthly AI budget is used up; the coach is available again next month",
        )
        .with_retry_after(seconds_until(next_month(now), now)));
    }
    Ok(Some(used))
}

/// Counts a refused request by kind, for the admin stats: the one write a
/// refusal makes. Best effort: a failure is logged, the refusal stands.
pub async fn count_refusal(app: &App, tenant_id: &str, refusal: &AppError) {
    if refusal.kind != super::ErrorKind::TooManyRequests {
        return;
    }
    metrics::count(
        Metric::Refusals,
        &[("Kind", refusal.code), ("Tenant", tenant_id)],
        1,
    );
    // Spread over the counter shards like sessions are.
    let mut change = SessionChange::new(tenant_id, &new_id());
    change.counters.refused = Some(refusal.code.to_string());
    change.counters.month_of = Some(app.clock.now().date_naive());
    if let Err(e) = app.store.apply(change).await {
        tracing::warn!(error = %e, code = refusal.code, "could not count a refused request");
    }
}

/// The budget alerts a change that spends tokens carries, when the tenant
/// has a budget (`tokens_seen`: the month's tokens read at admission): the
/// warning level (unless it is the budget itself) and the budget. The store
/// writes each once per month, when the month's total reaches it, however
/// many turns commit at once.
pub fn budget_alerts(
    tenant: &TenantRecord,
    tokens_seen: Option<i64>,
    session_id: &str,
    now: DateTime<Utc>,
) -> Option<BudgetAlerts> {
    let tokens_seen = tokens_seen?;
    let limits = &tenant.config.limits;
    let budget = i64::try_from(limits.monthly_token_budget)
        .ok()
        .filter(|b| *b > 0)?;
    // The least total that `budget_state` calls a warning.
    let warning = (budget * i64::from(limits.budget_warning_percent) + 99) / 100;
    let levels = [
        (warning < budget).then_some(("warning", warning, action::TOKEN_BUDGET_WARNING)),
        Some(("exhausted", budget, action::TOKEN_BUDGET_EXHAUSTED)),
    ];
    let id = &tenant.tenant.id;
    let alerts = levels
        .into_iter()
        .flatten()
        .map(|(kind, level, what)| BudgetAlert {
            key: format!("{kind}@{level}"),
            level,
            entry: AuditEntry::new(
                new_id(),
                id,
                Some(session_id),
                "system",
                what,
                ("tenant", id),
                json!({
                    "month": crate::domain::limits::month_of(now.date_naive()),
                    "level_tokens": level,
                    "monthly_token_budget": limits.monthly_token_budget,
                    "budget_warning_percent": limits.budget_warning_percent,
                }),
                &RequestOrigin::default(),
                now,
            ),
        })
        .collect();
    Some(BudgetAlerts {
        tokens_seen,
        alerts,
    })
}

/// A tenant's limits as they stand.
pub async fn limits_of(app: &App, tenant_id: &str) -> AppResult<UsageLimits> {
    Ok(super::tenants::existing(app, tenant_id)
        .await?
        .config
        .limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client_address::ClientAddress;

    fn origin(ip: &str) -> RequestOrigin {
        RequestOrigin::new(Some(ip.parse().unwrap()), None, b"key")
    }

    #[test]
    fn charges_key_by_the_bucket_hash_and_skip_when_off_or_unknown() {
        let now: DateTime<Utc> = "2026-11-26T08:15:42Z".parse().unwrap();
        let a = address_charge(TURNS, &origin("203.0.113.7"), 5, Window::Minute, now).unwrap();
        let b = address_charge(TURNS, &origin("203.0.113.8"), 5, Window::Minute, now).unwrap();
        assert_ne!(a.key, b.key);
        assert!(!a.key.contains("203.0.113"), "no raw address in a key");
        assert_eq!(
            a.slot_end,
            "2026-11-26T08:15:45Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(a.window, Window::Minute.sliding());
        let mapped = address_charge(TURNS, &origin("::ffff:203.0.113.7"), 5, Window::Minute, now);
        assert_eq!(mapped.unwrap().key, a.key, "a mapped address is its IPv4");
        let v6 = |ip| {
            address_charge(TURNS, &origin(ip), 5, Window::Minute, now)
                .unwrap()
                .key
        };
        assert_eq!(v6("2001:db8:0:7::1"), v6("2001:db8:0:7:a:b:c:d"), "one /64");
        assert_ne!(v6("2001:db8:0:7::1"), v6("2001:db8:0:8::1"));
        let unparseable = RequestOrigin::of_client(Some(ClientAddress::Unparseable), None, b"key");
        assert!(address_charge(TURNS, &unparseable, 5, Window::Minute, now).is_some());
        assert!(address_charge(TURNS, &origin("203.0.113.7"), 0, Window::Minute, now).is_none());
        assert!(address_charge(TURNS, &RequestOrigin::default(), 5, Window::Minute, now).is_none());
    }

    #[test]
    fn a_full_charge_becomes_a_429_with_retry_after() {
        let now: DateTime<Utc> = "2026-11-26T08:15:42Z".parse().unwrap();
        let charge =
            address_charge(SESSIONS, &origin("203.0.113.7"), 3, Window::Hour, now).unwrap();
        let e = charge_refused(
            &StoreError::LimitReached(charge.key.clone()),
            std::slice::from_ref(&charge),
            now,
        )
        .unwrap();
        assert_eq!(e.code, "rate_limited");
        assert_eq!(e.kind, super::super::ErrorKind::TooManyRequests);
        assert_eq!(e.retry_after, Some(14 * 60 + 18), "to the slot's end");
        assert!(charge_refused(&StoreError::Conflict("x".into()), &[charge], now).is_none());
    }

    #[test]
    fn a_budgeted_tenants_turn_carries_the_warning_and_the_budget() {
        let mut tenant = crate::app::tenants::demo_tenant();
        tenant.config.limits.monthly_token_budget = 1001;
        tenant.config.limits.budget_warning_percent = 80;
        let mut record = TenantRecord {
            tenant: crate::domain::tenant::Tenant {
                id: "t1".into(),
                slug: tenant.slug,
                name: tenant.name,
                domain: tenant.domain,
                status: crate::domain::tenant::TenantStatus::Active,
                contact_email: tenant.admin_email,
                contact_name: None,
                created_at: Utc::now(),
                updated_at: Utc::now(),
            },
            config: tenant.config,
            admin_key_hash: "h".into(),
            admin_keys: vec![],
            settings: Default::default(),
            revision: 0,
        };
        let now = Utc::now();
        let alerts = budget_alerts(&record, Some(700), "s1", now).unwrap();
        assert_eq!(alerts.tokens_seen, 700);
        let levels: Vec<(&str, i64, &str)> = alerts
            .alerts
            .iter()
            .map(|a| (a.key.as_str(), a.level, a.entry.action.as_str()))
            .collect();
        assert_eq!(
            levels,
            [
                ("warning@801", 801, action::TOKEN_BUDGET_WARNING),
                ("exhausted@1001", 1001, action::TOKEN_BUDGET_EXHAUSTED)
            ]
        );
        // The warning level is the least total `budget_state` warns at.
        let limits = &record.config.limits;
        assert_eq!(limits.budget_state(800), BudgetState::Ok);
        assert_eq!(limits.budget_state(801), BudgetState::Warning);
        assert_eq!(alerts.alerts[1].entry.payload["level_tokens"], 1001);
        assert!(
            budget_alerts(&record, None, "s1", now).is_none(),
            "no budget read"
        );
        record.config.limits.budget_warning_percent = 100;
        let only_budget = budget_alerts(&record, Some(0), "s1", now).unwrap();
        assert_eq!(only_budget.alerts.len(), 1);
        record.config.limits.monthly_token_budget = 0;
        assert!(budget_alerts(&record, Some(0), "s1", now).is_none());
    }
}
