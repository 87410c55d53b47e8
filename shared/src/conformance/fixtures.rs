//! Records for adapter tests: a tenant, a session, a message, a goal, an
//! audit entry, and a session created through `apply`.

use chrono::{Duration, Utc};
use serde_json::json;

use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::conversation::ConversationState;
use crate::domain::goal::Goal;
use crate::domain::ids::new_id;
use crate::domain::message::{Message, Role};
use crate::domain::phase::{GoalType, Phase, Step};
use crate::domain::scoring::ScoreCard;
use crate::domain::session::{EmployeeProfile, Session, SessionStatus};
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord, TenantStatus};
use crate::ports::state_store::{CounterDelta, Guarded, SessionChange, StateStore};

pub fn tenant_record(id: &str) -> TenantRecord {
    let now = Utc::now();
    TenantRecord {
        tenant: Tenant {
            id: id.into(),
            slug: id.into(),
            name: format!("Tenant {id}"),
            domain: format!("{id}.example.com"),
            status: TenantStatus::Active,
            contact_email: "admin@example.com".into(),
            contact_name: None,
            created_at: now,
            updated_at: now,
        },
        config: TenantConfig::defaults(),
        admin_key_hash: format!("hash-{id}"),
        admin_keys: vec![],
        settings: Default::default(),
        revision: 0,
    }
}

pub fn audit(tenant: &str, session: Option<&str>, what: &str) -> AuditEntry {
    AuditEntry::new(
        new_id(),
        tenant,
        session,
        "suite",
        what,
        ("test", "x"),
        json!({}),
        &RequestOrigin::default(),
        Utc::now(),
    )
}

pub fn session(tenant: &str, id: &str) -> Session {
    let now = Utc::now();
    Session {
        id: id.into(),
        tenant_id: tenant.into(),
        status: SessionStatus::Active,
        profile: EmployeeProfile::default(),
        completion_percentage: 0,
        user_agent_hash: None,
        ip_hash: None,
        resume_token_hash: "h".into(),
        metadata: json!({}),
        expires_at: now + Duration::days(14),
        created_at: now,
        updated_at: now,
        last_accessed_at: now,
        completed_at: None,
        version: 1,
    }
}

pub fn message(tenant: &str, session: &str, text: &str) -> Message {
    Message {
        id: new_id(),
        session_id: session.into(),
        tenant_id: tenant.into(),
        role: Role::User,
        content: text.into(),
        phase: Phase::G4Future,
        step: Step::Collect,
        tokens_prompt: 1,
        tokens_completion: 2,
        latency_ms: 3,
        model_used: None,
        created_at: Utc::now(),
        sources: vec![],
    }
}

pub fn goal(tenant: &str, session: &str, goal_type: GoalType, score: f64) -> Goal {
    Goal {
        id: new_id(),
        session_id: session.into(),
        tenant_id: tenant.into(),
        goal_type,
        phase: goal_type.phase(),
        content: format!("{goal_type} goal"),
        score,
        is_final: score >= 7.0,
        below_threshold: false,
        version: 1,
        score_details: ScoreCard {
            overall: score,
            criteria: vec![],
            feedback: String::new(),
            suggestions: vec![],
            meets_threshold: score >= 7.0,
            threshold: 7.0,
        },
        created_at: Utc::now(),
    }
}

pub async fn create_session(store: &dyn StateStore, tenant: &str) -> (Session, ConversationState) {
    let id = new_id();
    let s = session(tenant, &id);
    let state = ConversationState::new(&id, tenant, Utc::now());
    let mut change = SessionChange::new(tenant, &id);
    change.session = Some(Guarded::create(s.clone()));
    change.state = Some(Guarded::create(state.clone()));
    change
        .audit
        .push(audit(tenant, Some(&id), action::SESSION_CREATED));
    change.counters = CounterDelta {
        sessions_created: 1,
        ..Default::default()
    };
    store.apply(change).await.expect("create session");
    (s, state)
}
