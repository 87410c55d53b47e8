//! A tenant's admin keys: at most two active at once (one to rotate to),
//! each known by its prefix and stored as a hash only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Active keys a tenant may hold at once.
pub const MAX_ACTIVE_KEYS: usize = 2;
/// Revoked keys kept for the listing (the oldest are dropped).
pub const KEPT_REVOKED_KEYS: usize = 10;
/// The prefix of a key created before keys could be rotated (its text is unknown).
pub const INITIAL_KEY_PREFIX: &str = "initial";
/// Random characters of a key its prefix shows.
pub const PREFIX_RANDOM_CHARS: usize = 6;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminKey {
    /// `admin_sk_{slug}_` and the first random characters: shown, never secret.
    pub prefix: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revoked_by: Option<String>,
}

impl AdminKey {
    pub fn is_active(&self) -> bool {
        self.revoked_at.is_none()
    }
}

/// The prefix a key is shown and audited by.
pub fn key_prefix(key: &str) -> String {
    // `admin_sk_{slug}_{random}`: the slug part ends at the last '_'.
    match key.rfind('_') {
        Some(at) => key.chars().take(at + 1 + PREFIX_RANDOM_CHARS).collect(),
        None => key.chars().take(PREFIX_RANDOM_CHARS).collect(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    /// Already two active keys: revoke one first.
    TooMany,
    NotFound(String),
    AlreadyRevoked(String),
    /// The caller's own key is the tenant's last active one.
    LastKey,
}

/// Adds `key` (active); refused when the tenant already holds the maximum.
pub fn add_key(keys: &mut Vec<AdminKey>, key: AdminKey) -> Result<(), KeyRefusal> {
    if keys.iter().filter(|k| k.is_active()).count() >= MAX_ACTIVE_KEYS {
        return Err(KeyRefusal::TooMany);
    }
    keys.push(key);
    Ok(())
}

/// Revokes the key with `prefix`. A caller using a tenant key (`caller_hash`)
/// may not revoke it when it is the tenant's last active key.
pub fn revoke_key(
    keys: &mut Vec<AdminKey>,
    prefix: &str,
    caller_hash: Option<&str>,
    by: &str,
    at: DateTime<Utc>,
) -> Result<AdminKey, KeyRefusal> {
    let active = keys.iter().filter(|k| k.is_active()).count();
    let key = keys
        .iter_mut()
        .find(|k| k.prefix == prefix)
        .ok_or_else(|| KeyRefusal::NotFound(prefix.to_string()))?;
    if !key.is_active() {
        return Err(KeyRefusal::AlreadyRevoked(prefix.to_string()));
    }
    if caller_hash == Some(key.hash.as_str()) && active == 1 {
        return Err(KeyRefusal::LastKey);
    }
    key.revoked_at = Some(at);
    key.revoked_by = Some(by.to_string());
    let revoked = key.clone();
    let revoked_count = keys.iter().filter(|k| !k.is_active()).count();
    if revoked_count > KEPT_REVOKED_KEYS {
        let oldest = keys.iter().position(|k| !k.is_active()).unwrap_or_default();
        keys.remove(oldest);
    }
    Ok(revoked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(prefix: &str) -> AdminKey {
        AdminKey {
            prefix: prefix.into(),
            hash: format!("hash-{prefix}"),
            created_at: Utc::now(),
            created_by: "test".into(),
            revoked_at: None,
            revoked_by: None,
        }
    }

    #[test]
    fn prefixes_show_the_slug_and_six_random_characters() {
        assert_eq!(
            key_prefix("admin_sk_sunrise_AbCdEfGhIjKlMnOp"),
            "admin_sk_sunrise_AbCdEf"
        );
    }

    #[test]
    fn two_keys_at_most_and_a_revoked_one_frees_a_place() {
        let mut keys = vec![key("a")];
        add_key(&mut keys, key("b")).unwrap();
        assert_eq!(add_key(&mut keys, key("c")), Err(KeyRefusal::TooMany));
        revoke_key(&mut keys, "a", None, "p", Utc::now()).unwrap();
        add_key(&mut keys, key("c")).unwrap();
        assert_eq!(
            revoke_key(&mut keys, "a", None, "p", Utc::now()),
            Err(KeyRefusal::AlreadyRevoked("a".into()))
        );
        assert_eq!(
            revoke_key(&mut keys, "zz", None, "p", Utc::now()),
            Err(KeyRefusal::NotFound("zz".into()))
        );
    }

    #[test]
    fn a_key_may_revoke_itself_only_when_another_stays() {
        let mut keys = vec![key("a")];
        assert_eq!(
            revoke_key(&mut keys, "a", Some("hash-a"), "a", Utc::now()),
            Err(KeyRefusal::LastKey)
        );
        add_key(&mut keys, key("b")).unwrap();
        revoke_key(&mut keys, "a", Some("hash-a"), "a", Utc::now()).unwrap();
        // The platform key may revoke the last one (a leaked key).
        revoke_key(&mut keys, "b", None, "platform", Utc::now()).unwrap();
        assert!(keys.iter().all(|k| !k.is_active()));
    }

    #[test]
    fn old_revoked_keys_are_dropped() {
        let mut keys = vec![key("k0")];
        for i in 1..=KEPT_REVOKED_KEYS + 3 {
            add_key(&mut keys, key(&format!("k{i}"))).unwrap();
            revoke_key(&mut keys, &format!("k{}", i - 1), None, "p", Utc::now()).unwrap();
        }
        assert_eq!(
            keys.iter().filter(|k| !k.is_active()).count(),
            KEPT_REVOKED_KEYS
        );
        assert!(keys.iter().any(|k| k.is_active()));
    }
}
