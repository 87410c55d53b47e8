//! Every phase can end. When a phase's attempts run out (its turn cap, or
//! the tenant's number of scored attempts below threshold), the employee
//! keeps their best-scoring draft as final — marked below threshold, the
//! conversation moving on as after a pass — or starts the step over with a
//! fresh allowance; an HR admin may reopen the session's current phase at
//! any time. Each is one guarded write of the session's change, audited.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::chat::commit::record_final;
use super::limits::{self, PhaseStanding};
use super::tenants::Admin;
use super::{App, AppError, AppResult, sessions};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::conversation::{ConversationState, Verdict};
use crate::domain::ids::{is_ulid, new_id};
use crate::domain::phase::{Phase, Step, UnknownName};
use crate::domain::session::SessionStatus;
use crate::domain::tenant::TenantRecord;
use crate::domain::way_forward::{
    Attempts, RestartReason, WayForwardError, best_attempt, check_current, check_keep_best,
    check_start_over, kept_goal,
};
use crate::ports::state_store::{Guarded, SessionChange, SessionSnapshot, StoreError};

/// The goal kept as a phase's final one below the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct KeptGoal {
    pub goal_id: String,
    pub phase: Phase,
    pub content: String,
    pub score: f64,
    pub threshold: f64,
    /// The attempt kept, from 1.
    pub version: u32,
    /// Always true: kept although it scored below the threshold.
    pub below_threshold: bool,
}

/// Where the session stands after a way forward.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WayForward {
    pub session_id: String,
    pub status: SessionStatus,
    #[schema(maximum = 100)]
    pub completion_percentage: u8,
    /// The phase the conversation is in now (the next one after keep best).
    pub current_phase: Phase,
    pub current_step: Step,
    /// Keep best only: the goal now final.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_goal: Option<KeptGoal>,
    #[serde(flatten)]
    pub standing: PhaseStanding,
}

/// The conversation phase a path names.
pub fn parse_phase(name: &str) -> AppResult<Phase> {
    let phase: Phase = name
        .parse()
        .map_err(|e: UnknownName| AppError::bad_request("unknown_phase", e.to_string()))?;
    if !phase.is_conversational() {
        return Err(AppError::bad_request(
            "unknown_phase",
            format!("{phase} is not a conversation phase"),
        ));
    }
    Ok(phase)
}

fn refused(e: WayForwardError) -> AppError {
    AppError::conflict(e.code(), e.to_string())
}

fn conflict(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict(_) => AppError::conflict(
            "conflict",
            "the session changed meanwhile (a message being answered?); try again",
        ),
        other => other.into(),
    }
}

/// An employee's way forward, checked: the phase named, the session as its
/// token opens it, and the attempts the phase has seen.
struct Asked {
    phase: Phase,
    snapshot: SessionSnapshot,
    now: DateTime<Utc>,
    attempts: Attempts,
}

/// What keep-best and start-over both do first: read the phase, open the
/// session with its token, count the attempts and let `check` refuse.
async fn asked(
    app: &App,
    tenant: &TenantRecord,
    (session_id, token): (&str, Option<&str>),
    phase: &str,
    check: fn(&ConversationState, Phase, &Attempts, DateTime<Utc>) -> Result<(), WayForwardError>,
) -> AppResult<Asked> {
    let phase = parse_phase(phase)?;
    let snapshot = sessions::authorize_snapshot(app, tenant, session_id, token).await?;
    let now = app.clock.now();
    let attempts = limits::phase_attempts(tenant, &snapshot);
    check(&snapshot.state, phase, &attempts, now).map_err(refused)?;
    Ok(Asked {
        phase,
        snapshot,
        now,
        attempts,
    })
}

/// Keeps the best-scoring draft of the session's current phase as final,
/// marked below threshold, once the phase's attempts ran out.
pub async fn keep_best(
    app: &App,
    tenant: &TenantRecord,
    session_id: &str,
    token: Option<&str>,
    phase: &str,
    origin: &RequestOrigin,
) -> AppResult<WayForward> {
    let Asked {
        phase,
        snapshot,
        now,
        attempts,
    } = asked(app, tenant, (session_id, token), phase, check_keep_best).await?;
    let best = best_attempt(&snapshot.goals, phase)
        .ok_or_else(|| refused(WayForwardError::NoScoredDraft))?;
    let kept = kept_goal(best, new_id(), now);
    let session = &snapshot.session;

    let mut state = snapshot.state.clone();
    let Verdict::Passed { next, .. } = state.keep_best(now) else {
        unreachable!("keeping the best draft always moves on")
    };
    state.version += 1;
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.state = Some(Guarded::replacing(snapshot.state.version, state.clone()));
    change.audit.push(AuditEntry::new(
        new_id(),
        &session.tenant_id,
        Some(&session.id),
        session.actor(),
        action::GOAL_KEPT_BELOW_THRESHOLD,
        ("goal", &kept.id),
        json!({
            "phase": phase, "type": kept.goal_type, "from_goal_id": best.id,
            "version": kept.version, "score": kept.score,
            "threshold": kept.score_details.threshold,
            "turns_used": attempts.used, "attempts_below_threshold": attempts.low_scores,
        }),
        origin,
        now,
    ));
    let progress = record_final(
        session,
        &snapshot.goals,
        &kept,
        (phase, next),
        origin,
        &mut change,
    );
    let (moved_on, points) = progress.applied_to(session);
    change.counters.completion_points = points;
    change.session = Some(Guarded::replacing(session.version, moved_on.clone()));
    change.goals.push(kept.clone());
    app.store.apply(change).await.map_err(conflict)?;

    let mut goals = snapshot.goals.clone();
    goals.push(kept.clone());
    let after = SessionSnapshot {
        session: moved_on,
        state,
        goals,
        ..snapshot
    };
    let mut outcome = outcome(tenant, &after);
    outcome.kept_goal = Some(KeptGoal {
        goal_id: kept.id,
        phase,
        content: kept.content,
        score: kept.score,
        threshold: kept.score_details.threshold,
        version: kept.version,
        below_threshold: true,
    });
    Ok(outcome)
}

/// Starts the session's current phase over once its attempts ran out: a
/// fresh allowance, the draft cleared, earlier messages and goals kept.
pub async fn start_over(
    app: &App,
    tenant: &TenantRecord,
    session_id: &str,
    token: Option<&str>,
    phase: &str,
    origin: &RequestOrigin,
) -> AppResult<WayForward> {
    let Asked {
        phase,
        snapshot,
        attempts,
        ..
    } = asked(app, tenant, (session_id, token), phase, check_start_over).await?;
    let actor = snapshot.session.actor();
    restart(
        app,
        tenant,
        snapshot,
        RestartReason::StartedOver,
        (&actor, action::PHASE_RESTARTED),
        origin,
        json!({"phase": phase, "turns_used": attempts.used, "attempts_below_threshold": attempts.low_scores}),
    )
    .await
}

/// An HR admin gives the session's current phase a fresh allowance,
/// whether or not its attempts ran out. A tenant admin reaches only its
/// own tenant's sessions (another's are not found); the platform key names
/// the tenant (`tenant_id`).
pub async fn reopen(
    app: &App,
    admin: &Admin,
    requested_tenant: Option<&str>,
    session_id: &str,
    phase: &str,
    origin: &RequestOrigin,
) -> AppResult<WayForward> {
    let phase = parse_phase(phase)?;
    let not_found = || AppError::not_found("session_not_found", "no such session");
    let tenant_id = match (admin, requested_tenant) {
        (Admin::Platform, None) => {
            return Err(AppError::bad_request(
                "tenant_required",
                "the platform key names the session's tenant (tenant_id)",
            ));
        }
        (Admin::Platform, Some(t)) => t.to_string(),
        // Another tenant's session, named or not, is not found.
        (Admin::Tenant { record: r, .. }, Some(t)) if t != r.tenant.id => return Err(not_found()),
        (Admin::Tenant { record: r, .. }, _) => r.tenant.id.clone(),
    };
    if !is_ulid(session_id) {
        return Err(AppError::bad_request(
            "invalid_session_id",
            "session ids are ULIDs",
        ));
    }
    let tenant = app.store.tenant(&tenant_id).await?.ok_or_else(not_found)?;
    let snapshot = app
        .store
        .session_snapshot(&tenant_id, session_id)
        .await?
        .ok_or_else(not_found)?;
    let now = app.clock.now();
    check_current(&snapshot.state, phase, now).map_err(refused)?;
    let attempts = limits::phase_attempts(&tenant, &snapshot);
    restart(
        app,
        &tenant,
        snapshot,
        RestartReason::Reopened,
        (&admin.actor(), action::PHASE_REOPENED),
        origin,
        json!({"phase": phase, "turns_used": attempts.used, "attempts_below_threshold": attempts.low_scores}),
    )
    .await
}

/// Gives the current phase a fresh allowance, audited as `what` by `actor`.
async fn restart(
    app: &App,
    tenant: &TenantRecord,
    snapshot: SessionSnapshot,
    reason: RestartReason,
    (actor, what): (&str, &str),
    origin: &RequestOrigin,
    payload: serde_json::Value,
) -> AppResult<WayForward> {
    let now = app.clock.now();
    let session = &snapshot.session;
    let mut state = snapshot.state.clone();
    state.restart_phase(&snapshot.messages, reason, now);
    state.version += 1;
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.state = Some(Guarded::replacing(snapshot.state.version, state.clone()));
    change.audit.push(AuditEntry::new(
        new_id(),
        &session.tenant_id,
        Some(&session.id),
        actor,
        what,
        ("session", &session.id),
        payload,
        origin,
        now,
    ));
    app.store.apply(change).await.map_err(conflict)?;
    Ok(outcome(tenant, &SessionSnapshot { state, ..snapshot }))
}

fn outcome(tenant: &TenantRecord, after: &SessionSnapshot) -> WayForward {
    let SessionSnapshot {
        session,
        state,
        messages,
        goals,
        ..
    } = after;
    WayForward {
        session_id: session.id.clone(),
        status: session.status,
        completion_percentage: session.completion_percentage,
        current_phase: state.phase,
        current_step: state.step,
        kept_goal: None,
        standing: PhaseStanding::of(tenant, &session.id, state, messages, goals),
    }
}
