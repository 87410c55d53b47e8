//! Retention by a fake clock, on both stores: a tenant keeps a session
//! `retention_days` after its last activity; the sweep then deletes it with
//! everything derived from it, records and counts it, and keeps the rest.

use std::sync::Arc;

use chrono::Duration;
use petraf_core::app::retention;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{TestServer, walkthrough_clock};
use serde_json::json;

/// (session id, resume token)
async fn new_session(server: &TestServer, tenant: &str) -> (String, String) {
    let created = server
        .client()
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    )
}

async fn expired_sessions_go_and_active_ones_stay(server: &TestServer) {
    let client = server.client();
    let (tenant, admin_key) = server.fresh_tenant().await;
    let path = format!("/api/admin/tenants/{tenant}/retention");
    let read = client.get(&path).admin(&admin_key).send().await;
    assert_eq!(read.json(), json!({"retention_days": 365}), "the default");
    for bad in [
        json!({"retention_days": 29}),
        json!({"retention_days": 3651}),
        json!({"days": 30}),
        json!({"retention_days": 30.5}),
    ] {
        let r = client.put(&path).admin(&admin_key).json(&bad).send().await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
    }
    let set = client
        .put(&path)
        .admin(&admin_key)
        // `30.0` is the integer 30 to JSON Schema, and so to the server.
        .json(&json!({"retention_days": 30.0}))
        .send()
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(set.json(), json!({"retention_days": 30}));
    let audit = client
        .get("/api/admin/audit-logs?action=tenant.retention_changed")
        .admin(&admin_key)
        .send()
        .await
        .json();
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(
        audit["logs"][0]["changes"],
        json!({"retention_days": {"from": 365, "to": 30}})
    );

    let (idle, _) = new_session(server, &tenant).await;
    let (busy, busy_token) = new_session(server, &tenant).await;
    // Another tenant keeps the default: its session stays.
    let (other_tenant, _) = server.fresh_tenant().await;
    let (other, _) = new_session(server, &other_tenant).await;

    // Activity on day 12, within the token's 14 days.
    server.clock.advance(Duration::days(12));
    let touched = client
        .put(&format!("/api/session/{busy}/info"))
        .tenant(&tenant)
        .bearer(&busy_token)
        .json(&json!({"employee_code": "E1", "department": "D", "position": "P"}))
        .send()
        .await;
    assert_eq!(touched.status, 200, "{}", touched.text);

    // Day 29: nothing is due.
    server.clock.advance(Duration::days(17));
    assert_eq!(
        retention::sweep(&server.app)
            .await
            .unwrap()
            .sessions_deleted,
        0
    );
    // Day 30: the idle session is due; the busy one (active on day 12) is not.
    server.clock.advance(Duration::days(1));
    let report = retention::sweep(&server.app).await.unwrap();
    assert_eq!(report.sessions_deleted, 1);
    let store = &server.app.store;
    assert!(store.session(&tenant, &idle).await.unwrap().is_none());
    assert!(store.conversation(&tenant, &idle).await.unwrap().is_none());
    assert!(store.session(&tenant, &busy).await.unwrap().is_some());
    assert!(
        store
            .session(&other_tenant, &other)
            .await
            .unwrap()
            .is_some()
    );
    // Day 42: the busy one is due too; sweeping again deletes nothing more.
    server.clock.advance(Duration::days(12));
    assert_eq!(
        retention::sweep(&server.app)
            .await
            .unwrap()
            .sessions_deleted,
        1
    );
    assert_eq!(
        retention::sweep(&server.app)
            .await
            .unwrap()
            .sessions_deleted,
        0
    );
    assert!(
        store
            .sessions_page(&tenant, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .session(&other_tenant, &other)
            .await
            .unwrap()
            .is_some()
    );

    let stats = client
        .get("/api/admin/stats/overview")
        .admin(&admin_key)
        .send()
        .await
        .json();
    assert_eq!(stats["sessions_deleted_by_retention"], 2, "{stats}");
    assert_eq!(stats["total_sessions"], 2);
    assert_eq!(stats["active_sessions"], 0, "{stats}");
    let deleted = client
        .get("/api/admin/audit-logs?action=session.retention_expired")
        .admin(&admin_key)
        .send()
        .await
        .json();
    assert_eq!(deleted["total"], 2, "{deleted}");
    assert_eq!(deleted["logs"][0]["actor"], "retention");
}

#[tokio::test]
async fn retention_on_the_embedded_store() {
    expired_sessions_go_and_active_ones_stay(
        &TestServer::on_store(None, walkthrough_clock()).await,
    )
    .await;
}

#[tokio::test]
async fn retention_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-retention", Some(clock.clone())).await else {
        return;
    };
    let server = TestServer::on_store(Some(Arc::new(store.clone())), clock).await;
    expired_sessions_go_and_active_ones_stay(&server).await;
}
