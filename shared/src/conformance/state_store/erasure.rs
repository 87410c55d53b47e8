//! Erasure and the tenant's session listing: an erased session leaves no
//! row and no personal value behind, its audit trail keeps its shape, the
//! counters keep their numbers, and nothing of another session changes.

use chrono::Utc;
use serde_json::json;

use crate::conformance::fixtures::{audit, create_session, goal, message};
use crate::conformance::unique;
use crate::domain::audit::{AuditEntry, ERASED_VALUE, RequestOrigin, action};
use crate::domain::goal::{GoalLink, LinkType};
use crate::domain::ids::new_id;
use crate::domain::phase::GoalType;
use crate::ports::state_store::{
    AuditQuery, CounterDelta, ErasedItems, Guarded, SessionChange, SessionErasure, StateStore,
};

/// A value only the erased session holds.
const MARKER: &str = "ERASE-ME-7f3a";

fn session_entries(tenant: &str, session: &str) -> AuditQuery {
    AuditQuery {
        tenant_id: Some(tenant.into()),
        session_id: Some(session.into()),
        page: 1,
        per_page: 100,
        ..Default::default()
    }
}

fn erasure_of(tenant: &str, session: &str) -> SessionErasure {
    SessionErasure {
        tenant_id: tenant.into(),
        session_id: session.into(),
        audit: AuditEntry::new(
            new_id(),
            tenant,
            Some(session),
            "employee",
            action::SESSION_ERASED,
            ("session", session),
            json!({"requested_by": "employee"}),
            &RequestOrigin::default(),
            Utc::now(),
        ),
        counters: CounterDelta {
            sessions_erased: 1,
            ..Default::default()
        },
    }
}

pub(super) async fn erasure(store: &dyn StateStore) {
    let tenant = unique("t");
    let (kept, _) = create_session(store, &tenant).await;
    let (s, _) = create_session(store, &tenant).await;
    let today = Utc::now().date_naive();

    // The session gets a profile, a message, goals, a link and personal
    // audit entries, each holding the marker.
    let mut profiled = s.clone();
    profiled.profile.employee_code = Some(MARKER.into());
    profiled.version += 1;
    let (future, mut actions) = (
        goal(&tenant, &s.id, GoalType::Future, 8.0),
        goal(&tenant, &s.id, GoalType::Actions, 8.0),
    );
    actions.content = format!("{MARKER} goal");
    let mut change = SessionChange::new(&tenant, &s.id);
    change.session = Some(Guarded::replacing(s.version, profiled));
    change.messages.push(message(&tenant, &s.id, MARKER));
    change.links.push(GoalLink {
        id: new_id(),
        goal_id: actions.id.clone(),
        parent_goal_id: future.id.clone(),
        link_type: LinkType::ContributesTo,
        strength: 9,
        notes: MARKER.into(),
        created_at: Utc::now(),
    });
    change.goals.extend([future, actions]);
    let mut personal = audit(&tenant, Some(&s.id), action::SESSION_INFO_UPDATED);
    personal.actor = MARKER.into();
    personal.payload = json!({"employee_code": MARKER, "years_of_service": 3});
    change.audit.push(personal);
    store.apply(change).await.expect("history");
    store
        .apply({
            let mut other = SessionChange::new(&tenant, &kept.id);
            other.messages.push(message(&tenant, &kept.id, "kept"));
            other
        })
        .await
        .unwrap();
    let before = store.usage(Some(&tenant), today).await.unwrap();
    let trail_before = store
        .audit_log(&session_entries(&tenant, &s.id))
        .await
        .unwrap();
    assert_eq!(trail_before.total, 2);

    // The listing: id order, paged, this tenant's only.
    let mut ids = vec![kept.id.clone(), s.id.clone()];
    ids.sort();
    let listed: Vec<String> = store
        .sessions_page(&tenant, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed, ids);
    let second = store
        .sessions_page(&tenant, Some(&ids[0]), 1)
        .await
        .unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, ids[1]);
    assert!(
        store
            .sessions_page(&tenant, Some(&ids[1]), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .sessions_page(&unique("t"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let erased = store
        .erase_session(&erasure_of(&tenant, &s.id))
        .await
        .expect("erase")
        .expect("the session existed");
    assert_eq!(
        erased,
        ErasedItems {
            messages: 1,
            goals: 2,
            links: 1,
            audit_entries_masked: 2,
        }
    );

    // Nothing of the session is readable.
    assert_eq!(store.session(&tenant, &s.id).await.unwrap(), None);
    assert_eq!(store.conversation(&tenant, &s.id).await.unwrap(), None);
    assert_eq!(store.session_snapshot(&tenant, &s.id).await.unwrap(), None);
    assert!(store.messages(&tenant, &s.id).await.unwrap().is_empty());
    let (goals, links) = store.goals(&tenant, &s.id).await.unwrap();
    assert!(goals.is_empty() && links.is_empty());
    let listed: Vec<String> = store
        .sessions_page(&tenant, None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(listed.as_slice(), std::slice::from_ref(&kept.id));

    // The trail keeps its entries, masked, and the erasure's own.
    let trail = store
        .audit_log(&session_entries(&tenant, &s.id))
        .await
        .unwrap();
    assert_eq!(trail.total, 3, "{:?}", trail.entries);
    assert_eq!(trail.entries[0].action, action::SESSION_ERASED);
    for entry in &trail.entries[1..] {
        assert_eq!(entry.actor, ERASED_VALUE);
        let ids: Vec<&str> = trail_before.entries.iter().map(|e| e.id.as_str()).collect();
        assert!(ids.contains(&entry.id.as_str()), "same entries, same ids");
    }
    let whole = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            page: 1,
            per_page: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let text = serde_json::to_string(&whole.entries).unwrap();
    assert!(!text.contains(MARKER), "{text}");
    let info = whole
        .entries
        .iter()
        .find(|e| e.action == action::SESSION_INFO_UPDATED)
        .expect("the entry stays");
    assert_eq!(
        info.payload,
        json!({"employee_code": ERASED_VALUE, "years_of_service": ERASED_VALUE})
    );

    // Counters keep their numbers and count the erasure.
    let after = store.usage(Some(&tenant), today).await.unwrap();
    assert_eq!(after.sessions_created, before.sessions_created);
    assert_eq!(after.sessions_erased, before.sessions_erased + 1);

    // Again: nothing to erase, nothing written.
    assert_eq!(
        store
            .erase_session(&erasure_of(&tenant, &s.id))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .usage(Some(&tenant), today)
            .await
            .unwrap()
            .sessions_erased,
        after.sessions_erased
    );
    assert_eq!(
        store
            .audit_log(&session_entries(&tenant, &s.id))
            .await
            .unwrap()
            .total,
        3
    );

    // The other session is whole.
    assert!(store.session(&tenant, &kept.id).await.unwrap().is_some());
    assert_eq!(store.messages(&tenant, &kept.id).await.unwrap().len(), 1);
}

/// A tenant with a session (and its history), a document record, audit
/// entries and counters.
async fn populated_tenant(store: &dyn StateStore) -> String {
    let tenant = unique("t");
    let record = crate::conformance::fixtures::tenant_record(&tenant);
    store
        .create_tenant(&record, &audit(&tenant, None, action::TENANT_CREATED))
        .await
        .expect("create tenant");
    for _ in 0..2 {
        let (s, _) = create_session(store, &tenant).await;
        let mut change = SessionChange::new(&tenant, &s.id);
        change.messages.push(message(&tenant, &s.id, "hello"));
        change
            .goals
            .push(goal(&tenant, &s.id, GoalType::Future, 8.0));
        change.counters.messages = 1;
        change.counters.messages_day = Some(Utc::now().date_naive());
        store.apply(change).await.unwrap();
    }
    let document = super::documents::document_record(&tenant, &unique("d"), 1);
    store
        .put_document(&document, crate::ports::state_store::Expect::Absent)
        .await
        .unwrap();
    tenant
}

/// A tenant's purge removes every item it counted, a batch at a time (a
/// purge stopped between batches resumes), and nothing of another tenant.
pub(super) async fn tenant_purge(store: &dyn StateStore) {
    let (gone, kept) = (populated_tenant(store).await, populated_tenant(store).await);
    let today = Utc::now().date_naive();
    let tenants_before = store.usage(None, today).await.unwrap().total_tenants;
    let before = store.tenant_inventory(&gone).await.unwrap();
    assert_eq!(
        (before.tenant, before.sessions, before.documents),
        (1, 2, 1)
    );
    assert_eq!(before.session_items, 6, "two states, messages and goals");
    assert!(
        before.audit_entries >= 3 && before.counters >= 1,
        "{before:?}"
    );
    let kept_before = store.tenant_inventory(&kept).await.unwrap();
    assert_eq!(kept_before.sessions, 2);

    // One small batch: something went, something is left.
    let first = store.purge_tenant(&gone, 2).await.unwrap();
    assert!(first > 0);
    let halfway = store.tenant_inventory(&gone).await.unwrap();
    assert!(!halfway.is_empty() && halfway != before, "{halfway:?}");
    assert_eq!(halfway.tenant, 1, "the record goes last");

    // Resumed until nothing is left.
    let mut rounds = 0;
    while store.purge_tenant(&gone, 2).await.unwrap() > 0 {
        rounds += 1;
        assert!(rounds < 100, "a purge ends");
    }
    assert!(store.tenant_inventory(&gone).await.unwrap().is_empty());
    assert!(store.tenant(&gone).await.unwrap().is_none());
    let record = crate::conformance::fixtures::tenant_record(&gone);
    assert!(
        store
            .tenant_by_domain(&record.tenant.domain)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .tenant_by_admin_key_hash(&record.admin_key_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.purge_tenant(&gone, 2).await.unwrap(), 0, "idempotent");
    assert_eq!(
        store.usage(None, today).await.unwrap().total_tenants,
        tenants_before - 1
    );
    assert_eq!(store.tenant_inventory(&kept).await.unwrap(), kept_before);
    assert!(store.tenant(&kept).await.unwrap().is_some());
}
