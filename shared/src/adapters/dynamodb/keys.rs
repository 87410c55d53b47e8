//! The key layout of the single table; `infra/dynamodb-table.md` explains it.

use std::borrow::Cow;
use std::sync::Mutex;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::domain::session::Session;

/// Attribute names.
pub const PK: &str = "PK";
pub const SK: &str = "SK";
pub const GSI1: &str = "GSI1";
pub const GSI1_PK: &str = "GSI1PK";
pub const GSI1_SK: &str = "GSI1SK";
pub const TTL: &str = "ttl";
/// An entity as JSON: sessions, states, messages, goals, links, audit entries.
pub const BODY: &str = "body";
pub const VERSION: &str = "version";
/// The session's last access, kept beside its body (written unguarded).
pub const TOUCHED_AT: &str = "touched_at";
/// A tenant record as JSON (tenant item and the lookup markers).
pub const RECORD: &str = "record";
/// A tenant's identity fields as JSON: what the tenant listing projects.
pub const SUMMARY: &str = "summary";
/// Optimistic revision of a tenant item.
pub const REVISION: &str = "rev";
pub const TENANT_ID: &str = "tenant_id";
/// An audit entry's action, actor and time (fixed-width, so it compares
/// as text), kept beside its body for the listing's filters.
pub const AUDIT_ACTION: &str = "action";
pub const AUDIT_ACTOR: &str = "actor";
pub const AUDIT_AT: &str = "at";

/// An instant as the audit items store it: fixed width, sorts as text.
pub fn audit_instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Sort keys of fixed items.
pub const TENANT_SK: &str = "TENANT";
pub const MARKER_SK: &str = "MARKER";
pub const SESSION_SK: &str = "SESSION";
pub const STATE_SK: &str = "STATE";
pub const TOTALS_SK: &str = "TOTALS";
/// Superseded settings versions in a tenant's partition: `SETTINGS#` and
/// the version, zero-padded so that they sort.
pub const SETTINGS_PREFIX: &str = "SETTINGS#";

pub fn settings_sk(version: u32) -> String {
    format!("{SETTINGS_PREFIX}{version:010}")
}

/// Sort-key prefixes inside a session's partition. Goals and links share
/// `G#` so one Query reads both.
pub const MESSAGE_PREFIX: &str = "MSG#";
pub const GOALS_AND_LINKS_PREFIX: &str = "G#";
pub const GOAL_PREFIX: &str = "G#GOAL#";
pub const LINK_PREFIX: &str = "G#LINK#";
pub const DAY_PREFIX: &str = "DAY#";
pub const MONTH_PREFIX: &str = "MONTH#";
pub const WINDOW_PREFIX: &str = "W#";
/// The count of a limit slot's sliding window.
pub const COUNT: &str = "n";

/// The GSI1 partition that lists tenants (sorted by slug).
pub const TENANT_LIST: &str = "TENANTS";

/// Global and tenant counters are spread over this many items each, so
/// that concurrent transactions rarely touch the same counter item.
pub const COUNTER_SHARDS: u32 = 8;

/// The longest a session can be valid (`session_expiration_days` is 1-365).
pub const MAX_SESSION_LIFETIME: Duration = Duration::days(365);
/// Daily counter items are only read on their day; keep them a while.
pub const DAY_COUNTER_RETENTION: Duration = Duration::days(400);

/// Escapes the separator so that joined keys stay unambiguous.
fn part(s: &str) -> Cow<'_, str> {
    if s.contains(['#', '%']) {
        Cow::Owned(s.replace('%', "%25").replace('#', "%23"))
    } else {
        Cow::Borrowed(s)
    }
}

pub fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{}", part(tenant_id))
}

pub fn slug_pk(slug: &str) -> String {
    format!("SLUG#{}", part(slug))
}

pub fn domain_pk(domain: &str) -> String {
    format!("DOMAIN#{}", part(domain))
}

pub fn admin_key_pk(key_hash: &str) -> String {
    format!("ADMINKEY#{}", part(key_hash))
}

pub fn tenant_list_sk(slug: &str, tenant_id: &str) -> String {
    format!("{}#{}", part(slug), part(tenant_id))
}

pub fn session_pk(tenant_id: &str, session_id: &str) -> String {
    format!("SESSION#{}#{}", part(tenant_id), part(session_id))
}

/// GSI1 partition listing a tenant's sessions (sort key: the session id),
/// written on the session item.
pub fn sessions_list_pk(tenant_id: &str) -> String {
    format!("SESSIONS#{}", part(tenant_id))
}

/// The partition of a tenant's document records.
pub fn documents_pk(tenant_id: &str) -> String {
    format!("DOCS#{}", part(tenant_id))
}

pub fn document_sk(document_id: &str) -> String {
    format!("DOC#{}", part(document_id))
}

pub fn audit_pk(tenant_id: &str) -> String {
    format!("AUDIT#{}", part(tenant_id))
}

/// GSI1 partition of one session's audit entries.
pub fn audit_session_pk(tenant_id: &str, session_id: &str) -> String {
    format!("AUDIT#{}#{}", part(tenant_id), part(session_id))
}

pub fn counter_pk(scope: &str, shard: u32) -> String {
    format!("COUNTER#{}#{shard}", part(scope))
}

/// The partition of a tenant's budget ledgers, one item a month.
pub fn budget_pk(tenant_id: &str) -> String {
    format!("BUDGET#{}", part(tenant_id))
}

pub fn day_sk(day: &str) -> String {
    format!("{DAY_PREFIX}{day}")
}

pub fn month_sk(month: &str) -> String {
    format!("{MONTH_PREFIX}{month}")
}

/// The partition of one windowed limit counter of a tenant: one per
/// counted thing (an address hash), so a large tenant's counters spread
/// over as many partitions as it has client addresses.
pub fn limit_pk(tenant_id: &str, key: &str) -> String {
    format!("LIMIT#{}#{}", part(tenant_id), part(key))
}

/// A slot's item within its counter's partition, by the slot's end: it
/// holds the count of the sliding window that ends with that slot.
pub fn window_sk(slot_end: DateTime<Utc>) -> String {
    format!("{WINDOW_PREFIX}{}", slot_end.timestamp())
}

/// A slot's item is checked only during its slot; TTL removes it a little
/// after the slot ended.
pub fn window_ttl(slot_end: DateTime<Utc>) -> i64 {
    (slot_end + Duration::hours(1)).timestamp()
}

/// The counter shard of a session (or tenant): stable, so one session's
/// counters always land on the same items.
pub fn shard_of(id: &str) -> u32 {
    // FNV-1a: tiny, deterministic across processes and releases.
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash % u64::from(COUNTER_SHARDS)) as u32
}

/// A new sort key that orders after every key this process made before.
/// Entity ids are ULIDs too, but `Ulid::new()` is random within a
/// millisecond; the monotonic generator keeps insertion order.
pub fn next_order() -> String {
    static GENERATOR: Mutex<ulid::Generator> = Mutex::new(ulid::Generator::new());
    let mut generator = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
    generator
        .generate()
        .unwrap_or_else(|_| ulid::Ulid::new())
        .to_string()
}

/// TTL of a session item: its tenant's retention after its last activity
/// (the later of its last access and its last write).
pub fn session_ttl(session: &Session, retention_days: u32) -> i64 {
    let last_activity = session.last_accessed_at.max(session.updated_at);
    (last_activity + Duration::days(i64::from(retention_days))).timestamp()
}

/// TTL of the session item after a touch at `at`.
pub fn touched_ttl(at: DateTime<Utc>, retention_days: u32) -> i64 {
    (at + Duration::days(i64::from(retention_days))).timestamp()
}

/// TTL of the other items of a session (state, messages, goals, links):
/// never before the session item's. Activity needs a valid resume token,
/// so it ends by the session's expiry: that plus the retention bounds the
/// session item's TTL. When this write does not know the expiry, the
/// longest a session can be valid from its creation (its ULID) does.
pub fn session_item_ttl(
    session_id: &str,
    expires_at: Option<DateTime<Utc>>,
    retention_days: u32,
    now: DateTime<Utc>,
) -> i64 {
    let last_possible_activity = expires_at.unwrap_or_else(|| {
        let created = ulid::Ulid::from_string(session_id)
            .ok()
            .map(|u| DateTime::<Utc>::from(u.datetime()))
            .filter(|created| *created <= now)
            .unwrap_or(now);
        created + MAX_SESSION_LIFETIME
    });
    (last_possible_activity.max(now) + Duration::days(i64::from(retention_days))).timestamp()
}

pub fn day_counter_ttl(day: NaiveDate) -> i64 {
    (day.and_time(chrono::NaiveTime::MIN).and_utc() + DAY_COUNTER_RETENTION).timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joined_keys_stay_unambiguous() {
        assert_ne!(session_pk("a#b", "c"), session_pk("a", "b#c"));
        assert_eq!(session_pk("t1", "01J"), "SESSION#t1#01J");
        assert_eq!(tenant_pk("50%#"), "TENANT#50%25%23");
    }

    #[test]
    fn order_keys_increase_within_a_millisecond() {
        let keys: Vec<String> = (0..1000).map(|_| next_order()).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn limit_keys_separate_tenants_and_windows() {
        assert_ne!(limit_pk("a#b", "c"), limit_pk("a", "b#c"));
        let end: DateTime<Utc> = "2026-11-26T08:16:00Z".parse().unwrap();
        assert_eq!(window_sk(end), format!("W#{}", end.timestamp()));
        assert!(window_ttl(end) > end.timestamp());
    }

    #[test]
    fn shards_are_stable_and_in_range() {
        assert_eq!(shard_of("session-1"), shard_of("session-1"));
        assert!((0..100).all(|i| shard_of(&i.to_string()) < COUNTER_SHARDS));
    }

    #[test]
    fn items_of_a_session_outlive_the_session_item() {
        let now = Utc::now();
        let id = crate::domain::ids::new_id();
        let mut session = crate::conformance::fixtures::session("t", &id);
        // The latest a session can be active: its token's last second.
        session.expires_at = now + MAX_SESSION_LIFETIME;
        session.last_accessed_at = session.expires_at;
        for days in [30, 365, 3650] {
            assert!(session_item_ttl(&id, None, days, now) >= session_ttl(&session, days) - 1);
            assert!(
                session_item_ttl(&id, Some(session.expires_at), days, now)
                    >= session_ttl(&session, days)
            );
        }
    }
}
