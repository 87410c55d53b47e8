//! Sessions: creation, the profile, completion, resume and token checks.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use super::{App, AppError, AppResult, judging};
use crate::app::limits;
use crate::app::tenants::digests_match;
use crate::app::validation::check_metadata_size;
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::conversation::ConversationState;
use crate::domain::grounding::{QuantizedVector, profile_query};
use crate::domain::ids::{is_ulid, new_id};
use crate::domain::limits::Window;
use crate::domain::phase::{Phase, Step};
use crate::domain::resume_token::{ResumeClaims, TokenError, hash_token};
use crate::domain::session::{EmployeeProfile, ProfileInput, Session, SessionStatus};
use crate::domain::tenant::TenantRecord;
use crate::ports::state_store::{CounterDelta, Guarded, SessionChange, SessionSnapshot};

/// A session as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SessionView {
    pub id: String,
    pub tenant_id: String,
    pub status: SessionStatus,
    #[serde(flatten)]
    pub profile: EmployeeProfile,
    pub completion_percentage: u8,
    pub current_phase: Phase,
    pub current_step: Step,
    pub expires_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_accessed_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl SessionView {
    pub fn new(session: &Session, state: &ConversationState) -> Self {
        SessionView {
            id: session.id.clone(),
            tenant_id: session.tenant_id.clone(),
            status: session.status,
            profile: session.profile.clone(),
            completion_percentage: session.completion_percentage,
            current_phase: state.phase,
            current_step: state.step,
            expires_at: session.expires_at,
            created_at: session.created_at,
            updated_at: session.updated_at,
            last_accessed_at: session.last_accessed_at,
            completed_at: session.completed_at,
        }
    }
}

/// A new session and the token that resumes it.
#[derive(Debug, Clone)]
pub struct CreatedSession {
    pub session: Session,
    pub resume_token: String,
}

pub async fn create(
    app: &App,
    tenant: &TenantRecord,
    metadata: Value,
    origin: &RequestOrigin,
) -> AppResult<CreatedSession> {
    if !metadata.is_null() {
        check_metadata_size(&metadata)?;
    }
    let metadata = if metadata.is_null() {
        json!({})
    } else {
        metadata
    };
    let now = app.clock.now();
    let id = new_id();
    let valid_for = Duration::days(tenant.config.session_expiration_days as i64);
    let issued = app
        .secrets
        .signer
        .issue(&id, &tenant.tenant.id, now, valid_for);
    let session = Session {
        id: id.clone(),
        tenant_id: tenant.tenant.id.clone(),
        status: SessionStatus::Active,
        profile: EmployeeProfile::default(),
        completion_percentage: 0,
        user_agent_hash: origin.user_agent_hash.clone(),
        ip_hash: origin.ip_hash.clone(),
        resume_token_hash: issued.hash.clone(),
        metadata: metadata.clone(),
        expires_at: issued.expires_at,
        created_at: now,
        updated_at: now,
        last_accessed_at: now,
        completed_at: None,
        version: 1,
    };
    let mut change = SessionChange::new(&tenant.tenant.id, &id);
    change.retention_days = Some(tenant.config.retention_days);
    change.session = Some(Guarded::create(session.clone()));
    change.state = Some(Guarded::create(ConversationState::new(
        &id,
        &tenant.tenant.id,
        now,
    )));
    change.audit.push(AuditEntry::new(
        new_id(),
        &tenant.tenant.id,
        Some(&id),
        "anonymous",
        action::SESSION_CREATED,
        ("session", &id),
        metadata,
        origin,
        now,
    ));
    change.counters = CounterDelta {
        sessions_created: 1,
        ..Default::default()
    };
    change.charges.extend(limits::address_charge(
        limits::SESSIONS,
        origin,
        tenant.config.limits.sessions_per_address_per_hour,
        Window::Hour,
        now,
    ));
    if let Err(e) = app.store.apply(change.clone()).await {
        if let Some(refused) = limits::charge_refused(&e, &change.charges, now) {
            limits::count_refusal(app, &tenant.tenant.id, &refused).await;
            return Err(refused);
        }
        return Err(e.into());
    }
    Ok(CreatedSession {
        session,
        resume_token: issued.token,
    })
}

fn token_error(e: TokenError) -> AppError {
    match e {
        TokenError::Expired => {
            AppError::unauthorized("token_expired", "the resume token has expired")
        }
        other => AppError::unauthorized("invalid_token", other.to_string()),
    }
}

/// Checks that `token` is the resume token of `session_id` in this tenant
/// and returns the session. Every session-scoped call goes through here.
pub async fn authorize(
    app: &App,
    tenant: &TenantRecord,
    session_id: &str,
    token: Option<&str>,
) -> AppResult<Session> {
    let token = claim_session(app, tenant, session_id, token).await?;
    let session = app
        .store
        .session(&tenant.tenant.id, session_id)
        .await?
        .ok_or_else(session_not_found)?;
    check_token_hash(token, &session)?;
    Ok(session)
}

/// Like [`authorize`], reading everything stored about the session at once
/// (a chat turn's one read).
pub async fn authorize_snapshot(
    app: &App,
    tenant: &TenantRecord,
    session_id: &str,
    token: Option<&str>,
) -> AppResult<SessionSnapshot> {
    let token = claim_session(app, tenant, session_id, token).await?;
    let snapshot = app
        .store
        .session_snapshot(&tenant.tenant.id, session_id)
        .await?
        .ok_or_else(session_not_found)?;
    check_token_hash(token, &snapshot.session)?;
    Ok(snapshot)
}

/// The checks a token passes before anything is read: present, for a
/// well-formed session id, signed with HS256 by us, a resume token, not
/// expired, and for this tenant and session.
async fn claim_session<'t>(
    app: &App,
    tenant: &TenantRecord,
    session_id: &str,
    token: Option<&'t str>,
) -> AppResult<&'t str> {
    let token = token.ok_or_else(|| {
        AppError::unauthorized(
            "missing_token",
            "send the session's resume token as the resume_token cookie or a Bearer token",
        )
    })?;
    if !is_ulid(session_id) {
        return Err(AppError::bad_request(
            "invalid_session_id",
            "session ids are ULIDs",
        ));
    }
    let claims = verify(app, tenant, token).await?;
    if claims.tenant_id != tenant.tenant.id || claims.session_id != session_id {
        return Err(AppError::forbidden(
            "forbidden_session",
            "this token belongs to another session",
        ));
    }
    Ok(token)
}

/// Verifies a token; an expired one marks its session abandoned first.
async fn verify(app: &App, tenant: &TenantRecord, token: &str) -> AppResult<ResumeClaims> {
    match app.secrets.signer.verify(token, app.clock.now()) {
        Err(TokenError::Expired) => {
            mark_abandoned(app, tenant, token).await;
            Err(token_error(TokenError::Expired))
        }
        other => other.map_err(token_error),
    }
}

fn session_not_found() -> AppError {
    AppError::not_found("session_not_found", "no such session")
}

/// The stored session must hold this token's hash.
fn check_token_hash(token: &str, session: &Session) -> AppResult<()> {
    if digests_match(&session.resume_token_hash, &hash_token(token)) {
        Ok(())
    } else {
        Err(AppError::unauthorized(
            "invalid_token",
            "the resume token is not valid for this session",
        ))
    }
}

/// A session whose token expired before it was completed counts as
/// abandoned, once: the write is guarded by the session's version. Best
/// effort — the caller reports the expiry whatever happens here.
async fn mark_abandoned(app: &App, tenant: &TenantRecord, token: &str) {
    let Ok(claims) = app.secrets.signer.verify_ignoring_expiry(token) else {
        return;
    };
    if claims.tenant_id != tenant.tenant.id {
        return;
    }
    let Ok(Some(session)) = app
        .store
        .session(&claims.tenant_id, &claims.session_id)
        .await
    else {
        return;
    };
    if session.status != SessionStatus::Active
        || !digests_match(&session.resume_token_hash, &hash_token(token))
    {
        return;
    }
    let mut expired = session.clone();
    expired.status = SessionStatus::Expired;
    expired.updated_at = app.clock.now();
    expired.version += 1;
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.retention_days = Some(tenant.config.retention_days);
    change.session = Some(Guarded::replacing(session.version, expired));
    change.counters.sessions_abandoned = 1;
    if let Err(e) = app.store.apply(change).await {
        tracing::debug!(error = %e, "an expired session was marked meanwhile");
    }
}

pub async fn conversation(app: &App, session: &Session) -> AppResult<ConversationState> {
    app.store
        .conversation(&session.tenant_id, &session.id)
        .await?
        .ok_or_else(|| AppError::internal("state_missing", "the session has no conversation state"))
}

/// Attempts at a profile update when the session changed meanwhile (a chat
/// turn's commit, another tab's update): the last update wins. Each lost
/// race means another write won, so this bounds a burst, not a deadlock.
const PROFILE_ATTEMPTS: u32 = 16;

pub async fn update_info(
    app: &App,
    tenant: &TenantRecord,
    session: Session,
    input: ProfileInput,
    origin: &RequestOrigin,
) -> AppResult<SessionView> {
    let profile = input
        .into_profile()
        .map_err(|e| AppError::bad_request("invalid_profile", e.to_string()))?;
    let mut session = session;
    let mut attempt = 1;
    let mut queries = None;
    loop {
        let (change, view) =
            profile_change(app, tenant, &session, profile.clone(), origin, &mut queries).await?;
        match app.store.apply(change).await {
            Err(crate::ports::state_store::StoreError::Conflict(_))
                if attempt < PROFILE_ATTEMPTS =>
            {
                attempt += 1;
                // A little jitter so a burst of updates does not collide in lockstep.
                let pause = rand::random::<u64>() % (2 * attempt as u64) + 1;
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                session = app
                    .store
                    .session(&session.tenant_id, &session.id)
                    .await?
                    .ok_or_else(session_not_found)?;
            }
            Err(e) => return Err(concurrent(e)),
            Ok(()) => return Ok(view),
        }
    }
}

/// The change a profile update makes to `session` as read. The update that
/// opens the conversation also embeds what each phase's first turn will
/// retrieve by (once, into `queries`, across attempts).
async fn profile_change(
    app: &App,
    tenant: &TenantRecord,
    session: &Session,
    profile: EmployeeProfile,
    origin: &RequestOrigin,
    queries: &mut Option<Vec<(Phase, QuantizedVector)>>,
) -> AppResult<(SessionChange, SessionView)> {
    if session.status == SessionStatus::Completed {
        return Err(AppError::conflict(
            "session_completed",
            "a completed session's profile cannot change",
        ));
    }
    let state = conversation(app, session).await?;
    let now = app.clock.now();
    let mut updated = session.clone();
    updated.profile = profile;
    if updated.completion_percentage < Phase::G2Basic.completion_when_done() {
        updated.completion_percentage = Phase::G2Basic.completion_when_done();
    }
    updated.updated_at = now;
    updated.last_accessed_at = now;
    updated.version += 1;
    let fields = updated.profile.filled_fields();
    let p = &updated.profile;
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.retention_days = Some(tenant.config.retention_days);
    change.audit.push(
        AuditEntry::new(
            new_id(),
            &session.tenant_id,
            Some(&session.id),
            updated.actor(),
            action::SESSION_INFO_UPDATED,
            ("session", &session.id),
            json!({"employee_code": p.employee_code, "department": p.department, "position": p.position}),
            origin,
            now,
        )
        .with_changes(json!({"fields_updated": fields})),
    );
    change.counters.completion_points =
        updated.completion_percentage as i64 - session.completion_percentage as i64;
    let mut next_state = state.clone();
    if state.phase == Phase::G2Basic {
        if state.turn_in_progress(now) {
            return Err(AppError::conflict(
                "turn_in_progress",
                "another request for this session is in progress",
            ));
        }
        next_state.complete_profile(now);
        if queries.is_none() {
            *queries = Some(profile_queries(app, tenant, &updated.profile).await);
        }
        for (phase, vector) in queries.iter().flatten() {
            next_state.remember_query(*phase, vector.clone());
        }
        next_state.version += 1;
        change.state = Some(Guarded::replacing(state.version, next_state.clone()));
    }
    change.session = Some(Guarded::replacing(session.version, updated.clone()));
    Ok((change, SessionView::new(&updated, &next_state)))
}

/// The embedded profile query of every conversational phase, in one call.
/// None when retrieval is off or the embedder fails: the profile is saved
/// all the same, and each phase's first turn then retrieves by itself.
async fn profile_queries(
    app: &App,
    tenant: &TenantRecord,
    profile: &EmployeeProfile,
) -> Vec<(Phase, QuantizedVector)> {
    let texts: Vec<String> = Phase::CONVERSATIONAL
        .iter()
        .map(|p| profile_query(profile, tenant.config.prompts.for_phase(*p)))
        .collect();
    match judging::embed_queries(app, tenant, &texts).await {
        Ok(Some(vectors)) => Phase::CONVERSATIONAL
            .into_iter()
            .zip(vectors.iter().map(|v| QuantizedVector::new(v)))
            .collect(),
        Ok(None) => vec![],
        Err(e) => {
            tracing::warn!(error = %e.message, "could not embed the profile's retrieval queries; first turns retrieve by themselves");
            vec![]
        }
    }
}

/// A guarded write lost a race with another request on the same session.
pub fn concurrent(e: crate::ports::state_store::StoreError) -> AppError {
    match e {
        crate::ports::state_store::StoreError::Conflict(_) => AppError::conflict(
            "concurrent_update",
            "the session changed meanwhile; fetch it and try again",
        ),
        other => other.into(),
    }
}

/// Confirms completion. The conversation completes the session itself when
/// the last goal passes, so this only succeeds once every phase is done.
pub async fn complete(app: &App, session: &Session) -> AppResult<()> {
    let state = conversation(app, session).await?;
    if state.phase != Phase::Completed || session.status != SessionStatus::Completed {
        return Err(AppError::conflict(
            "session_incomplete",
            format!(
                "the session is still in phase {}; every phase needs a final goal first",
                state.phase
            ),
        ));
    }
    Ok(())
}

pub async fn resume(
    app: &App,
    tenant: &TenantRecord,
    token: Option<&str>,
    origin: &RequestOrigin,
) -> AppResult<(SessionView, String)> {
    let token = token.ok_or_else(|| {
        AppError::unauthorized(
            "missing_token",
            "send resume_token in the body or as the resume_token cookie",
        )
    })?;
    let now = app.clock.now();
    let claims = verify(app, tenant, token).await?;
    if claims.tenant_id != tenant.tenant.id {
        return Err(AppError::forbidden(
            "forbidden_session",
            "this token belongs to another tenant",
        ));
    }
    let session = match app
        .store
        .session(&tenant.tenant.id, &claims.session_id)
        .await?
    {
        Some(s) if digests_match(&s.resume_token_hash, &hash_token(token)) => s,
        _ => {
            return Err(AppError::unauthorized(
                "invalid_token",
                "the resume token is not valid",
            ));
        }
    };
    let state = conversation(app, &session).await?;
    let mut updated = session.clone();
    let since = |t: DateTime<Utc>| (now - t).num_days();
    let payload = match session.completed_at {
        Some(done) => json!({"days_since_completion": since(done)}),
        None => json!({"days_since_last_access": since(session.last_accessed_at)}),
    };
    updated.last_accessed_at = now;
    let mut change = SessionChange::new(&session.tenant_id, &session.id);
    change.retention_days = Some(tenant.config.retention_days);
    if super::resume_audit::is_a_return(app, &session, origin, now).await? {
        change.audit.push(AuditEntry::new(
            new_id(),
            &session.tenant_id,
            Some(&session.id),
            session.actor(),
            action::SESSION_RESUMED,
            ("session", &session.id),
            payload,
            origin,
            now,
        ));
    }
    // Bookkeeping only: several tabs resuming at once, or a resume beside a
    // running turn, never conflict.
    change.touched_at = Some(now);
    app.store.apply(change).await?;
    Ok((SessionView::new(&updated, &state), token.to_string()))
}
