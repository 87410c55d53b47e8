//! Erasure (GDPR art. 17): a session and everything derived from it —
//! profile, conversation state (with its embedded retrieval queries),
//! messages, goals, links, the resume token's hash — removed; its earlier
//! audit entries masked; one `session.erased` entry saying who and when,
//! never whose. Usage counters keep their numbers (an erased session stays
//! counted as created, completed, …) and count it in `sessions_erased`.
//!
//! Nothing else holds employee text: the object store and the vector store
//! hold the company's documents only (retrieval queries live on the
//! conversation state, erased with it).

use serde::Serialize;
use serde_json::json;

use super::tenants::Admin;
use super::{App, AppError, AppResult};
use crate::domain::audit::{AuditEntry, RequestOrigin, action};
use crate::domain::ids::{is_ulid, new_id};
use crate::domain::session::{Session, SessionStatus};
use crate::ports::state_store::{CounterDelta, ErasedItems, SessionErasure};

/// The actor of an erasure the employee asked for with the resume token.
pub const EMPLOYEE_ACTOR: &str = "employee";

/// Sessions read per page while looking for an employee code.
const PAGE: u32 = 100;

/// What an erasure request removed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ErasureReport {
    /// The erased sessions (ULIDs).
    pub erased_sessions: Vec<String>,
    /// Summed over the erased sessions.
    pub erased: ErasedItems,
}

/// The counters an erasure or a deletion by retention brings: a session
/// never completed nor marked abandoned counts as abandoned from now, so
/// that `active_sessions` stays the sessions that can still go on.
pub fn counters_of_deletion(session: &Session, delta: CounterDelta) -> CounterDelta {
    CounterDelta {
        sessions_abandoned: i64::from(session.status == SessionStatus::Active),
        ..delta
    }
}

/// Erases one session as read; `None` when it is gone meanwhile.
/// `requested_by` names the kind of requester in the entry's payload
/// (`employee`, `tenant_admin`, `platform_admin`).
pub async fn erase_session(
    app: &App,
    session: &Session,
    actor: &str,
    requested_by: &str,
) -> AppResult<Option<ErasedItems>> {
    let (tenant_id, session_id) = (session.tenant_id.as_str(), session.id.as_str());
    let now = app.clock.now();
    // No request origin: the requester may be the employee, whose address
    // is personal data too.
    let audit = AuditEntry::new(
        new_id(),
        tenant_id,
        Some(session_id),
        actor,
        action::SESSION_ERASED,
        ("session", session_id),
        json!({"requested_by": requested_by}),
        &RequestOrigin::default(),
        now,
    );
    let erasure = SessionErasure {
        tenant_id: tenant_id.into(),
        session_id: session_id.into(),
        audit,
        counters: counters_of_deletion(
            session,
            CounterDelta {
                sessions_erased: 1,
                ..Default::default()
            },
        ),
    };
    Ok(app.store.erase_session(&erasure).await?)
}

/// What an admin asks to erase: exactly one of a session, or every session
/// of an employee code.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// A session id (ULID).
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub session_id: Option<String>,
    /// Every session whose profile holds this employee code (exact match,
    /// surrounding spaces ignored).
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub employee_code: Option<String>,
}

/// An admin's erasure, by session id or employee code (exactly one).
pub async fn erase_for_admin(
    app: &App,
    admin: &Admin,
    tenant_id: &str,
    request: ErasureRequest,
) -> AppResult<ErasureReport> {
    let requested_by = match admin {
        Admin::Platform => "platform_admin",
        Admin::Tenant { .. } => "tenant_admin",
    };
    let code = request
        .employee_code
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let sessions = match (request.session_id.as_deref(), code) {
        (Some(id), None) => {
            if !is_ulid(id) {
                return Err(AppError::bad_request(
                    "invalid_session_id",
                    "session ids are ULIDs",
                ));
            }
            let session = app
                .store
                .session(tenant_id, id)
                .await?
                .ok_or_else(|| AppError::not_found("session_not_found", "no such session"))?;
            vec![session]
        }
        (None, Some(code)) if code.chars().count() <= 100 => {
            sessions_of_employee(app, tenant_id, code).await?
        }
        _ => {
            return Err(AppError::bad_request(
                "invalid_erasure",
                "send exactly one of session_id (a ULID) or employee_code (1-100 characters)",
            ));
        }
    };
    let mut report = ErasureReport {
        erased_sessions: vec![],
        erased: ErasedItems::default(),
    };
    for session in sessions {
        if let Some(erased) = erase_session(app, &session, &admin.actor(), requested_by).await? {
            report.erased.messages += erased.messages;
            report.erased.goals += erased.goals;
            report.erased.links += erased.links;
            report.erased.audit_entries_masked += erased.audit_entries_masked;
            report.erased_sessions.push(session.id);
        }
    }
    Ok(report)
}

/// The tenant's sessions whose profile holds `code`.
async fn sessions_of_employee(app: &App, tenant_id: &str, code: &str) -> AppResult<Vec<Session>> {
    let mut ids = vec![];
    let mut after: Option<String> = None;
    loop {
        let page = app
            .store
            .sessions_page(tenant_id, after.as_deref(), PAGE)
            .await?;
        let Some(last) = page.last().map(|s| s.id.clone()) else {
            return Ok(ids);
        };
        ids.extend(
            page.into_iter()
                .filter(|s| s.profile.employee_code.as_deref() == Some(code)),
        );
        after = Some(last);
    }
}
