//! Tenants: created unique by slug, domain and admin key, updated under
//! their counters, configured, and kept apart from each other.

use chrono::Utc;

use crate::conformance::fixtures::{audit, create_session, tenant_record};
use crate::conformance::unique;
use crate::domain::audit::action;
use crate::domain::tenant::{DocumentLimits, TenantStatus};
use crate::ports::state_store::{AuditQuery, StateStore, StoreError};

pub(super) async fn tenants(store: &dyn StateStore) {
    let today = Utc::now().date_naive();
    let before = store.usage(None, today).await.unwrap();
    let id = unique("t");
    let record = tenant_record(&id);
    store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await
        .expect("create tenant");
    assert_eq!(store.tenant(&id).await.unwrap().as_ref(), Some(&record));
    assert_eq!(
        store
            .tenant_by_domain(&record.tenant.domain)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .id,
        id
    );
    assert_eq!(
        store
            .tenant_by_admin_key_hash(&record.admin_key_hash)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .id,
        id
    );
    assert!(store.tenant("no-such-tenant").await.unwrap().is_none());
    assert!(
        store
            .tenant_by_domain("no-such.example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .list_tenants()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == id)
    );

    let mut same_domain = tenant_record(&unique("t"));
    same_domain.tenant.domain = record.tenant.domain.clone();
    let dup = store
        .create_tenant(
            &same_domain,
            &audit(&same_domain.tenant.id, None, action::TENANT_CREATED),
        )
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "a taken domain must conflict: {dup:?}"
    );
    let dup = store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await;
    assert!(
        matches!(dup, Err(StoreError::Conflict(_))),
        "a taken id must conflict"
    );
    assert!(
        store
            .tenant(&same_domain.tenant.id)
            .await
            .unwrap()
            .is_none(),
        "a refused tenant leaves nothing"
    );

    let mut inactive = record.tenant.clone();
    inactive.status = TenantStatus::Inactive;
    store
        .update_tenant(&inactive, &audit(&id, None, action::TENANT_STATUS_CHANGED))
        .await
        .unwrap();
    assert_eq!(
        store.tenant(&id).await.unwrap().unwrap().tenant.status,
        TenantStatus::Inactive
    );
    let after = store.usage(None, today).await.unwrap();
    assert_eq!(after.total_tenants - before.total_tenants, 1);
    assert_eq!(after.active_tenants - before.active_tenants, 0);

    // The configuration changes on its own; identity and lookups stay.
    let mut config = record.config.clone();
    config.document_limits = DocumentLimits {
        max_documents: 3,
        max_chunks: 70,
    };
    store
        .update_tenant_config(
            &id,
            &config,
            &audit(&id, None, action::TENANT_LIMITS_CHANGED),
        )
        .await
        .unwrap();
    let updated = store.tenant(&id).await.unwrap().unwrap();
    assert_eq!(updated.config, config);
    assert_eq!(updated.tenant.status, TenantStatus::Inactive);
    assert_eq!(
        store
            .tenant_by_domain(&record.tenant.domain)
            .await
            .unwrap()
            .unwrap()
            .config
            .document_limits,
        config.document_limits,
        "every copy of the record changes"
    );
    assert!(matches!(
        store
            .update_tenant_config(
                &unique("missing"),
                &config,
                &audit(&id, None, action::TENANT_LIMITS_CHANGED)
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
}

pub(super) async fn tenant_config_updates(store: &dyn StateStore) {
    let id = unique("t");
    let record = tenant_record(&id);
    store
        .create_tenant(&record, &audit(&id, None, action::TENANT_CREATED))
        .await
        .unwrap();
    let mut config = record.config.clone();
    config.limits.monthly_token_budget = 1234;
    store
        .update_tenant_config(
            &id,
            &config,
            &audit(&id, None, action::TENANT_LIMITS_CHANGED),
        )
        .await
        .unwrap();
    let read = |r: Option<crate::domain::tenant::TenantRecord>| r.unwrap().config.limits;
    assert_eq!(
        read(store.tenant(&id).await.unwrap()).monthly_token_budget,
        1234
    );
    // Every copy the request path resolves by says the same.
    assert_eq!(
        read(store.tenant_by_domain(&record.tenant.domain).await.unwrap()).monthly_token_budget,
        1234
    );
    assert_eq!(
        read(
            store
                .tenant_by_admin_key_hash(&record.admin_key_hash)
                .await
                .unwrap()
        )
        .monthly_token_budget,
        1234
    );
    assert!(matches!(
        store
            .update_tenant_config("no-such-tenant", &config, &audit(&id, None, "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));
}

pub(super) async fn isolation(store: &dyn StateStore) {
    let (a, b) = (unique("t"), unique("t"));
    let (s, _) = create_session(store, &a).await;
    assert!(
        store.session(&b, &s.id).await.unwrap().is_none(),
        "another tenant cannot read the session"
    );
    assert!(store.conversation(&b, &s.id).await.unwrap().is_none());
    assert!(store.messages(&b, &s.id).await.unwrap().is_empty());
    let log = store
        .audit_log(&AuditQuery {
            tenant_id: Some(b.clone()),
            session_id: None,
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.total, 0);
}
