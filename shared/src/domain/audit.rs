//! The audit trail.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client_address::ClientAddress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditStatus {
    Success,
    Failure,
}

/// The actions the audit log records.
pub mod action {
    pub const TENANT_CREATED: &str = "tenant.created";
    pub const TENANT_STATUS_CHANGED: &str = "tenant.status_changed";
    pub const TENANT_LIMITS_CHANGED: &str = "tenant.limits_changed";
    pub const TENANT_CONFIG_CHANGED: &str = "tenant.config_changed";
    /// A merge patch of the settings resource: a new version, with the diff.
    pub const TENANT_SETTINGS_CHANGED: &str = "tenant.settings_changed";
    /// Settings tried on the example drafts before saving (nothing saved;
    /// recorded because it spends the tenant's model tokens).
    pub const TENANT_SETTINGS_PREVIEWED: &str = "tenant.settings_previewed";
    pub const ADMIN_KEY_CREATED: &str = "tenant.admin_key_created";
    pub const ADMIN_KEY_REVOKED: &str = "tenant.admin_key_revoked";
    pub const RAG_DOCUMENT_UPLOADED: &str = "rag.document_uploaded";
    pub const RAG_DOCUMENT_REPLACED: &str = "rag.document_replaced";
    pub const RAG_DOCUMENT_DELETED: &str = "rag.document_deleted";
    pub const RAG_DOCUMENT_FAILED: &str = "rag.document_failed";
    /// An admin upload refused after authentication (status `failure`).
    pub const RAG_UPLOAD_FAILED: &str = "rag.upload_failed";
    pub const SESSION_CREATED: &str = "session.created";
    pub const SESSION_INFO_UPDATED: &str = "session.info_updated";
    pub const GOAL_SCORED: &str = "goal.scored";
    pub const SESSION_COMPLETED: &str = "session.completed";
    pub const SESSION_RESUMED: &str = "session.resumed";
    /// The employee kept a phase's best draft as final below the threshold.
    pub const GOAL_KEPT_BELOW_THRESHOLD: &str = "goal.kept_below_threshold";
    /// The employee started a phase over (a fresh allowance).
    pub const PHASE_RESTARTED: &str = "phase.restarted";
    /// An HR admin reopened a session's phase (a fresh allowance).
    pub const PHASE_REOPENED: &str = "phase.reopened";
    pub const TOKEN_BUDGET_WARNING: &str = "tenant.token_budget_warning";
    pub const TOKEN_BUDGET_EXHAUSTED: &str = "tenant.token_budget_exhausted";
    /// A session and everything derived from it erased (by the employee or
    /// an admin); the entry names who and when, never whose.
    pub const SESSION_ERASED: &str = "session.erased";
    /// A session deleted because its tenant's retention period passed.
    pub const SESSION_RETENTION_EXPIRED: &str = "session.retention_expired";
    /// A tenant admin took the tenant's data (NDJSON export).
    pub const TENANT_DATA_EXPORTED: &str = "tenant.data_exported";
    pub const TENANT_RETENTION_CHANGED: &str = "tenant.retention_changed";
    /// The platform operator removed a tenant and everything it held.
    pub const TENANT_OFFBOARDED: &str = "tenant.offboarded";
}

/// What replaces a personal value in an erased session's audit entries.
pub const ERASED_VALUE: &str = "[erased]";

/// Every string and number in `value` replaced by [`ERASED_VALUE`]: keys,
/// array lengths, booleans and nulls stay, so the entry keeps its shape.
fn erase_values(value: Value) -> Value {
    match value {
        Value::String(_) | Value::Number(_) => Value::String(ERASED_VALUE.into()),
        Value::Array(items) => Value::Array(items.into_iter().map(erase_values).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, erase_values(v)))
                .collect(),
        ),
        other => other,
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
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
    /// The caller's IP with the host part masked (never the raw address).
    pub ip_address: Option<String>,
    /// The user agent's product token only.
    pub user_agent: Option<String>,
    /// Keyed hashes of the full IP and user agent: equal callers match,
    /// nobody can read them back.
    #[serde(default)]
    pub ip_hash: Option<String>,
    #[serde(default)]
    pub user_agent_hash: Option<String>,
    /// The prefix of the admin key used, when an admin acted with a
    /// tenant key: every key's use is attributable, the actor stays the
    /// tenant's contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Who did something, from where, as it may be stored: attached to every
/// audit entry a request makes. Built from a trusted client address by
/// the HTTP layer; holds no raw IP or user agent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestOrigin {
    /// The masked IP (`203.0.113.0`).
    pub ip_masked: Option<String>,
    pub ip_hash: Option<String>,
    /// The user agent's product token (`Mozilla/5.0...`).
    pub user_agent_product: Option<String>,
    pub user_agent_hash: Option<String>,
    /// The keyed hash of the client's per-address limit bucket (its IPv4
    /// address, its IPv6 /64, or the one bucket of unparseable addresses);
    /// `None` when the request came from no address at all.
    pub limit_key: Option<String>,
    /// The prefix of the admin key the request was authenticated with.
    pub admin_key: Option<String>,
}

impl RequestOrigin {
    /// Masks and hashes (with the deployment's `hash_key`) what a caller sent.
    pub fn new(ip: Option<std::net::IpAddr>, user_agent: Option<&str>, hash_key: &[u8]) -> Self {
        Self::of_client(ip.map(ClientAddress::of_peer), user_agent, hash_key)
    }

    /// As [`RequestOrigin::new`], from a client address that may be
    /// unparseable: that one is counted by the limits, never stored.
    pub fn of_client(
        client: Option<ClientAddress>,
        user_agent: Option<&str>,
        hash_key: &[u8],
    ) -> Self {
        use super::privacy::{keyed_hash, mask_ip, user_agent_product};
        let ip = client.and_then(ClientAddress::ip);
        RequestOrigin {
            ip_masked: ip.map(mask_ip),
            ip_hash: ip.map(|ip| keyed_hash(hash_key, &ip.to_string())),
            user_agent_product: user_agent.map(user_agent_product),
            user_agent_hash: user_agent.map(|ua| keyed_hash(hash_key, ua)),
            limit_key: client.map(|c| keyed_hash(hash_key, &c.limit_bucket())),
            admin_key: None,
        }
    }
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
            ip_address: origin.ip_masked.clone(),
            user_agent: origin.user_agent_product.clone(),
            ip_hash: origin.ip_hash.clone(),
            user_agent_hash: origin.user_agent_hash.clone(),
            actor_key: origin.admin_key.clone(),
            created_at: now,
        }
    }

    pub fn with_changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }

    /// The entry of an erased session: the actor (an employee code), the
    /// payload's and changes' values, the caller's address and user agent
    /// masked, their hashes dropped; id, tenant, session, action, resource,
    /// status and time kept.
    pub fn with_personal_data_erased(mut self) -> Self {
        self.actor = ERASED_VALUE.into();
        self.payload = erase_values(self.payload);
        self.changes = self.changes.map(erase_values);
        self.ip_address = self.ip_address.map(|_| ERASED_VALUE.into());
        self.user_agent = self.user_agent.map(|_| ERASED_VALUE.into());
        self.ip_hash = None;
        self.user_agent_hash = None;
        self
    }

    /// The entry as an admin listing shows it: no IP at all, the user
    /// agent's product token (entries stored before masking are shortened
    /// here), no hashes.
    pub fn masked_for_listing(mut self) -> Self {
        self.ip_address = self.ip_address.map(|_| "***".to_string());
        self.user_agent = self.user_agent.map(|ua| {
            if ua.ends_with("...") {
                ua
            } else {
                super::privacy::user_agent_product(&ua)
            }
        });
        self.ip_hash = None;
        self.user_agent_hash = None;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listings_mask_the_ip_and_shorten_the_user_agent() {
        let origin = RequestOrigin::new(
            Some("203.0.113.45".parse().unwrap()),
            Some("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"),
            b"key",
        );
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
        );
        let stored = serde_json::to_string(&entry).unwrap();
        assert!(
            !stored.contains("203.0.113.45") && !stored.contains("Macintosh"),
            "no raw IP or user agent is stored: {stored}"
        );
        assert_eq!(entry.ip_address.as_deref(), Some("203.0.113.0"));
        assert_eq!(entry.ip_hash.as_ref().map(String::len), Some(64));
        let listed = entry.masked_for_listing();
        assert_eq!(listed.ip_address.as_deref(), Some("***"));
        assert_eq!(listed.user_agent.as_deref(), Some("Mozilla/5.0..."));
        assert_eq!((listed.ip_hash, listed.user_agent_hash), (None, None));
    }

    #[test]
    fn an_erased_entry_keeps_its_shape_and_loses_every_personal_value() {
        let origin =
            RequestOrigin::new(Some("203.0.113.45".parse().unwrap()), Some("Agent/1"), b"k");
        let entry = AuditEntry::new(
            "a".into(),
            "t",
            Some("s"),
            "EMP-MARKER",
            action::SESSION_INFO_UPDATED,
            ("session", "s"),
            serde_json::json!({"employee_code": "EMP-MARKER", "years": 3, "tags": ["x"], "ok": true, "none": null}),
            &origin,
            Utc::now(),
        )
        .with_changes(serde_json::json!({"fields_updated": ["employee_code"]}));
        let erased = entry.clone().with_personal_data_erased();
        assert!(!serde_json::to_string(&erased).unwrap().contains("MARKER"));
        assert_eq!(
            erased.payload,
            serde_json::json!({"employee_code": ERASED_VALUE, "years": ERASED_VALUE, "tags": [ERASED_VALUE], "ok": true, "none": null})
        );
        assert_eq!(erased.actor, ERASED_VALUE);
        assert_eq!(erased.ip_address.as_deref(), Some(ERASED_VALUE));
        assert_eq!((erased.ip_hash, erased.user_agent_hash), (None, None));
        assert_eq!(
            (
                erased.id,
                erased.action,
                erased.session_id,
                erased.created_at
            ),
            (entry.id, entry.action, entry.session_id, entry.created_at)
        );
    }

    #[test]
    fn an_origin_is_its_canonical_address_and_an_unparseable_one_is_not_stored() {
        let v4 = RequestOrigin::new(Some("198.51.100.7".parse().unwrap()), None, b"key");
        let mapped = RequestOrigin::new(Some("::ffff:198.51.100.7".parse().unwrap()), None, b"key");
        assert_eq!(v4, mapped);
        assert!(v4.limit_key.is_some());
        let unparseable = RequestOrigin::of_client(Some(ClientAddress::Unparseable), None, b"key");
        assert_eq!((unparseable.ip_masked, unparseable.ip_hash), (None, None));
        assert!(unparseable.limit_key.is_some());
        assert_ne!(unparseable.limit_key, v4.limit_key);
        assert_eq!(RequestOrigin::of_client(None, None, b"key").limit_key, None);
    }
}
