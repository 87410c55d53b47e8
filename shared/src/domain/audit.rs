//! The audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Success,
    Failure,
}

/// The actions the audit log records.
pub mod action {
    pub const TENANT_CREATED: &str = "tenant.created";
    pub const TENANT_STATUS_CHANGED: &str = "tenant.status_changed";
    pub const RAG_DOCUMENT_UPLOADED: &str = "rag.document_uploaded";
    pub const RAG_DOCUMENT_REPLACED: &str = "rag.document_replaced";
    pub const RAG_DOCUMENT_DELETED: &str = "rag.document_deleted";
    pub const RAG_DOCUMENT_FAILED: &str = "rag.document_failed";
    pub const SESSION_CREATED: &str = "session.created";
    pub const SESSION_INFO_UPDATED: &str = "session.info_updated";
    pub const GOAL_SCORED: &str = "goal.scored";
    pub const SESSION_COMPLETED: &str = "session.completed";
    pub const SESSION_RESUMED: &str = "session.resumed";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub tenant_id: String,
    pub session_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub payload: Value,
    pub changes: Option<Value>,
    pub status: AuditStatus,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who did something, from where; attached to every audit entry a request makes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOrigin {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl AuditEntry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        tenant_id: &str,
        session_id: Option<&str>,
        actor: impl Into<String>,
        action: &str,
        resource: (&str, &str),
        payload: Value,
        origin: &RequestOrigin,
        now: DateTime<Utc>,
    ) -> Self {
        AuditEntry {
            id,
            tenant_id: tenant_id.to_string(),
            session_id: session_id.map(str::to_string),
            actor: actor.into(),
            action: action.to_string(),
            resource_type: resource.0.to_string(),
            resource_id: resource.1.to_string(),
            payload,
            changes: None,
            status: AuditStatus::Success,
            ip_address: origin.ip.clone(),
            user_agent: origin.user_agent.clone(),
            created_at: now,
        }
    }

    pub fn with_changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }

    /// The entry as an admin listing shows it: the IP masked and the user
    /// agent shortened to its product token.
    pub fn masked_for_listing(mut self) -> Self {
        self.ip_address = self.ip_address.map(|_| "***".to_string());
        self.user_agent = self.user_agent.map(|ua| match ua.split_once(' ') {
            Some((product, _)) => format!("{product}..."),
            None => ua,
        });
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_mask_the_ip_and_shorten_the_user_agent() {
        let origin = RequestOrigin {
            ip: Some("203.0.113.45".into()),
            user_agent: Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)".into()),
        };
        let entry = AuditEntry::new(
            "a".into(),
            "t",
            None,
            "x",
            action::SESSION_CREATED,
            ("session", "s"),
            Value::Null,
            &origin,
            Utc::now(),
        )
        .masked_for_listing();
        assert_eq!(entry.ip_address.as_deref(), Some("***"));
        assert_eq!(entry.user_agent.as_deref(), Some("Mozilla/5.0..."));
    }
}
