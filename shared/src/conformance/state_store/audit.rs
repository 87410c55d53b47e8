//! The audit log: appended in order, read newest first, paged per tenant
//! and per session, filtered by action, actor and time.

use chrono::{Duration, Utc};

use crate::conformance::fixtures::{audit, create_session};
use crate::conformance::unique;
use crate::domain::audit::action;
use crate::ports::state_store::{AuditQuery, StateStore};

pub(super) async fn audit_log(store: &dyn StateStore) {
    let tenant = unique("t");
    let (a, _) = create_session(store, &tenant).await;
    let (b, _) = create_session(store, &tenant).await;
    for i in 0..3 {
        store
            .append_audit(&audit(&tenant, Some(&a.id), &format!("step.{i}")))
            .await
            .unwrap();
    }
    store
        .append_audit(&audit(&tenant, None, "tenant.thing"))
        .await
        .unwrap();
    let all = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: None,
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.total, 6,
        "two session creations, three steps, one tenant entry"
    );
    let of_a = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 1,
            per_page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_a.total, 4);
    let actions: Vec<&str> = of_a.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["step.2", "step.1"], "newest first, paged");
    let page2 = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 2,
            per_page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = page2.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["step.0", action::SESSION_CREATED]);
    let past_end = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 9,
            per_page: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(past_end.entries.is_empty());
    let of_b = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(b.id.clone()),
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(of_b.total, 1);
    filters(store).await;
}

/// Action, actor and time range select entries; the page and total follow.
async fn filters(store: &dyn StateStore) {
    let tenant = unique("t");
    let start = Utc::now() - Duration::hours(3);
    let at = |hours: i64| start + Duration::hours(hours);
    let entry = |what: &str, actor: &str, hours: i64| {
        let mut e = audit(&tenant, None, what);
        e.actor = actor.to_string();
        e.created_at = at(hours);
        e
    };
    for e in [
        entry("doc.failed", "tenant_admin", 0),
        entry("doc.uploaded", "tenant_admin", 1),
        entry("doc.failed", "system_admin", 2),
        entry("doc.failed", "tenant_admin", 3),
    ] {
        store.append_audit(&e).await.unwrap();
    }
    let select = |action: Option<&str>, actor: Option<&str>, from, to| AuditQuery {
        tenant_id: Some(tenant.clone()),
        action: action.map(str::to_string),
        actor: actor.map(str::to_string),
        from,
        to,
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let found = |page: crate::ports::state_store::AuditPage| {
        let hours: Vec<i64> = page
            .entries
            .iter()
            .map(|e| (e.created_at - start).num_hours())
            .collect();
        (page.total, hours)
    };
    let failed = store
        .audit_log(&select(Some("doc.failed"), None, None, None))
        .await
        .unwrap();
    assert_eq!(found(failed), (3, vec![3, 2, 0]), "by action, newest first");
    let by_tenant_admin = store
        .audit_log(&select(
            Some("doc.failed"),
            Some("tenant_admin"),
            None,
            None,
        ))
        .await
        .unwrap();
    assert_eq!(
        found(by_tenant_admin),
        (2, vec![3, 0]),
        "by action and actor"
    );
    let window = store
        .audit_log(&select(None, None, Some(at(1)), Some(at(3))))
        .await
        .unwrap();
    assert_eq!(
        found(window),
        (2, vec![2, 1]),
        "from is inclusive, to exclusive"
    );
    let mut second_page = select(Some("doc.failed"), None, Some(at(0)), None);
    second_page.per_page = 2;
    second_page.page = 2;
    let second = store.audit_log(&second_page).await.unwrap();
    assert_eq!(found(second), (3, vec![0]), "a filtered listing pages");
    let none = store
        .audit_log(&select(Some("doc.deleted"), None, None, None))
        .await
        .unwrap();
    assert_eq!(found(none), (0, vec![]));

    let (s, _) = create_session(store, &tenant).await;
    for hours in [1, 2] {
        let mut in_session = entry("doc.failed", "tenant_admin", hours);
        in_session.session_id = Some(s.id.clone());
        store.append_audit(&in_session).await.unwrap();
    }
    let mut of_session = select(Some("doc.failed"), Some("tenant_admin"), None, Some(at(2)));
    of_session.session_id = Some(s.id.clone());
    let found_in_session = store.audit_log(&of_session).await.unwrap();
    assert_eq!(
        found(found_in_session),
        (1, vec![1]),
        "one session's, filtered"
    );
    of_session.to = None;
    let both = store.audit_log(&of_session).await.unwrap();
    assert_eq!(found(both), (2, vec![2, 1]), "one session's, newest first");
}
