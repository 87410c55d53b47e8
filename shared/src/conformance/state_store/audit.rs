//! The audit log: appended in order, paged per tenant and per session.

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
        })
        .await
        .unwrap();
    assert_eq!(of_a.total, 4);
    let actions: Vec<&str> = of_a.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![action::SESSION_CREATED, "step.0"],
        "oldest first, paged"
    );
    let page2 = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 2,
            per_page: 2,
        })
        .await
        .unwrap();
    let actions: Vec<&str> = page2.entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, vec!["step.1", "step.2"]);
    let past_end = store
        .audit_log(&AuditQuery {
            tenant_id: Some(tenant.clone()),
            session_id: Some(a.id.clone()),
            page: 9,
            per_page: 2,
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
        })
        .await
        .unwrap();
    assert_eq!(of_b.total, 1);
}
