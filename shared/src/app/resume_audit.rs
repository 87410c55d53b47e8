//! When a resume is worth an audit entry.
//!
//! The employee page restores the session it holds on every load, so each
//! reload used to write `session.resumed`. A resume is recorded when it is
//! a return: the session sat idle for [`RESUME_QUIET`], or the caller is
//! not the client whose request the session's trail saw last (another
//! device, another browser, a link handed on). A reload by the client that
//! is using the session is only bookkeeping.

use chrono::{DateTime, Duration, Utc};

use super::App;
use crate::domain::audit::RequestOrigin;
use crate::domain::session::Session;
use crate::ports::state_store::{AuditQuery, StoreError};

/// Idle time after which a resume is a return, whoever makes it.
pub const RESUME_QUIET: Duration = Duration::minutes(30);

/// Whether this resume of `session` by `origin` writes `session.resumed`.
pub async fn is_a_return(
    app: &App,
    session: &Session,
    origin: &RequestOrigin,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    if now - session.last_accessed_at >= RESUME_QUIET {
        return Ok(true);
    }
    let latest = app
        .store
        .audit_log(&AuditQuery {
            tenant_id: Some(session.tenant_id.clone()),
            session_id: Some(session.id.clone()),
            page: 1,
            per_page: 1,
            ..Default::default()
        })
        .await?;
    let same_client = latest.entries.first().is_some_and(|last| {
        last.ip_hash == origin.ip_hash && last.user_agent_hash == origin.user_agent_hash
    });
    Ok(!same_client)
}
