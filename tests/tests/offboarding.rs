//! Offboarding a tenant: a dry run lists what would go and removes
//! nothing; a run removes every item, file and vector of the tenant and
//! nothing of another; a run stopped halfway is finished by the next.

use std::sync::Arc;

use petraf_core::app::App;
use petraf_core::app::offboarding::{self, OffboardOptions, PLATFORM_AUDIT_TENANT};
use petraf_core::domain::tenant::TenantStatus;
use petraf_core::ports::state_store::AuditQuery;
use petraf_tests::journey::{G4_FIRST, chat, upload_documents};
use petraf_tests::moto::moto_state_store;
use petraf_tests::{TestServer, walkthrough_clock};
use serde_json::json;

/// A tenant with documents and a session that had a turn.
async fn populated_tenant(server: &TestServer) -> String {
    let (id, admin_key) = server.fresh_tenant().await;
    let client = server.client();
    upload_documents(&client, &id, &admin_key).await;
    // A settings version and a second admin key, both the tenant's too.
    let changed = client
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/tenants/{id}/settings"),
        )
        .admin(&admin_key)
        .json(&json!({"threshold": 7.5}))
        .send()
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let second = client
        .post(&format!("/api/admin/tenants/{id}/admin-keys"))
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(second.status, 201, "{}", second.text);
    let session = client
        .post("/api/session/create")
        .tenant(&id)
        .send()
        .await
        .json();
    let (sid, token) = (
        session["session_id"].as_str().unwrap(),
        session["resume_token"].as_str().unwrap(),
    );
    let info = client
        .put(&format!("/api/session/{sid}/info"))
        .tenant(&id)
        .bearer(token)
        .json(&json!({"employee_code": "E1", "department": "D", "position": "P"}))
        .send()
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(
        chat(&client, &id, token, "g4_future", sid, G4_FIRST)
            .await
            .status,
        200
    );
    id
}

async fn chunks_of(app: &App, tenant: &str) -> usize {
    let query = app
        .embedder
        .embed(&["career growth".to_string()])
        .await
        .unwrap();
    app.vectors
        .search(tenant, &[], &query[0], 1000)
        .await
        .unwrap()
        .len()
}

async fn objects_of(app: &App, tenant: &str) -> usize {
    app.objects
        .keys_under(&format!("uploads/{tenant}/"))
        .await
        .unwrap()
        .map_or(0, |keys| keys.len())
}

async fn a_tenant_goes_whole_and_alone(server: &TestServer) {
    let app = &server.app;
    let gone = populated_tenant(server).await;
    let kept = populated_tenant(server).await;
    let kept_before = app.store.tenant_inventory(&kept).await.unwrap();
    let gone_keys = app
        .store
        .tenant(&gone)
        .await
        .unwrap()
        .unwrap()
        .active_key_hashes();
    assert_eq!(gone_keys.len(), 2);
    let kept_chunks = chunks_of(app, &kept).await;
    assert!(kept_chunks > 0);

    // The dry run lists, and removes nothing.
    let dry = offboarding::offboard(
        app,
        &gone,
        OffboardOptions {
            dry_run: true,
            ..Default::default()
        },
        "platform_operator",
    )
    .await
    .unwrap();
    assert!(!dry.finished);
    assert_eq!((dry.before.tenant, dry.before.sessions), (1, 1));
    assert!(dry.before.documents >= 1 && dry.before.session_items >= 3);
    assert_eq!(dry.before.settings_versions, 1);
    assert_eq!(dry.objects.len() as u64, dry.before.documents);
    assert_eq!(app.store.tenant_inventory(&gone).await.unwrap(), dry.before);
    assert_eq!(objects_of(app, &gone).await as u64, dry.before.documents);

    // A run stopped after one batch: the tenant is closed, the rest stays.
    let stopped = offboarding::offboard(
        app,
        &gone,
        OffboardOptions {
            batch: 2,
            max_batches: Some(1),
            ..Default::default()
        },
        "platform_operator",
    )
    .await
    .unwrap();
    assert!(!stopped.finished, "{stopped:?}");
    assert_eq!(stopped.after.as_ref().unwrap().tenant, 1);
    let record = app.store.tenant(&gone).await.unwrap().unwrap();
    assert_eq!(record.tenant.status, TenantStatus::Inactive);
    assert_eq!(objects_of(app, &gone).await, 0, "files go first");
    assert_eq!(chunks_of(app, &gone).await, 0, "and vectors");

    // The next run finishes it; another finds nothing to do.
    let finished =
        offboarding::offboard(app, &gone, OffboardOptions::default(), "platform_operator")
            .await
            .unwrap();
    assert!(finished.finished, "{finished:?}");
    assert!(app.store.tenant_inventory(&gone).await.unwrap().is_empty());
    assert!(app.store.tenant(&gone).await.unwrap().is_none());
    for hash in &gone_keys {
        let found = app.store.tenant_by_admin_key_hash(hash).await.unwrap();
        assert!(found.is_none(), "an admin key of the tenant still resolves");
    }
    let again = offboarding::offboard(app, &gone, OffboardOptions::default(), "platform_operator")
        .await
        .unwrap();
    assert!(again.finished && again.items_deleted == 0);

    // One record outside the tenant says so, once.
    let record = app
        .store
        .audit_log(&AuditQuery {
            tenant_id: Some(PLATFORM_AUDIT_TENANT.into()),
            action: Some("tenant.offboarded".into()),
            page: 1,
            per_page: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(record.total, 1);
    assert_eq!(record.entries[0].resource_id, gone);
    // Counts of what the finishing run found: the stopped run took the rest.
    assert!(record.entries[0].payload["items_deleted"].as_u64().unwrap() > 0);
    assert_eq!(record.entries[0].actor, "platform_operator");

    // The other tenant is untouched.
    assert_eq!(
        app.store.tenant_inventory(&kept).await.unwrap(),
        kept_before
    );
    assert_eq!(chunks_of(app, &kept).await, kept_chunks);
    assert_eq!(objects_of(app, &kept).await as u64, kept_before.documents);
}

#[tokio::test]
async fn offboarding_on_the_embedded_store() {
    a_tenant_goes_whole_and_alone(&TestServer::on_store(None, walkthrough_clock()).await).await;
}

#[tokio::test]
async fn offboarding_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-offboarding", Some(clock.clone())).await else {
        return;
    };
    a_tenant_goes_whole_and_alone(&TestServer::on_store(Some(Arc::new(store)), clock).await).await;
}
