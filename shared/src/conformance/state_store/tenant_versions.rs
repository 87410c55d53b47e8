//! Tenant records replaced whole: settings versions kept, admin keys added
//! and revoked (a revoked key finds no tenant at once), and a stale
//! revision refused with nothing written.

use chrono::Utc;

use crate::conformance::fixtures::{audit, tenant_record};
use crate::conformance::unique;
use crate::domain::admin_keys::AdminKey;
use crate::domain::audit::action;
use crate::domain::example_drafts::{ExampleDraft, Verdict};
use crate::domain::phase::Phase;
use crate::domain::settings::{FieldChange, SettingsStamp, SettingsVersion};
use crate::domain::tenant::TenantRecord;
use crate::ports::state_store::{AuditQuery, StateStore, StoreError, TenantReplacement};

fn key(name: &str) -> AdminKey {
    AdminKey {
        prefix: format!("admin_sk_x_{name}"),
        hash: unique(&format!("hash-{name}")),
        created_at: Utc::now(),
        created_by: "suite".into(),
        revoked_at: None,
        revoked_by: None,
    }
}

fn replacement(
    before: &TenantRecord,
    after: &TenantRecord,
    superseded: Option<SettingsVersion>,
    what: &str,
) -> TenantReplacement {
    let mut record = after.clone();
    record.revision = before.revision + 1;
    TenantReplacement {
        expected_revision: before.revision,
        record,
        superseded,
        audit: audit(&before.tenant.id, None, what),
    }
}

async fn tenant_of(store: &dyn StateStore, hash: &str) -> Option<String> {
    store
        .tenant_by_admin_key_hash(hash)
        .await
        .unwrap()
        .map(|r| r.tenant.id)
}

pub(super) async fn settings_versions_and_keys(store: &dyn StateStore) {
    let id = unique("t");
    let first = key("first");
    let created = TenantRecord::new(
        tenant_record(&id).tenant,
        tenant_record(&id).config,
        first.clone(),
    );
    store
        .create_tenant(&created, &audit(&id, None, action::TENANT_CREATED))
        .await
        .unwrap();
    assert_eq!(tenant_of(store, &first.hash).await, Some(id.clone()));
    assert!(store.settings_versions(&id).await.unwrap().is_empty());

    // A new settings version and a second key, in one write.
    let second = key("second");
    let mut v2 = created.clone();
    v2.config.threshold = 8.0;
    // A list setting travels with the record and stays out of the old version.
    v2.config.example_drafts = vec![ExampleDraft {
        phase: Phase::G4Future,
        goal: "Lead the payments team by 2027.".into(),
        expect: Some(Verdict::Pass),
        note: Some("strong".into()),
    }];
    v2.settings = SettingsStamp {
        version: 2,
        changed_by: "suite".into(),
        changed_at: Some(Utc::now()),
        changes: vec![FieldChange {
            path: "threshold".into(),
            from: 7.0.into(),
            to: 8.0.into(),
        }],
    };
    v2.admin_keys.push(second.clone());
    let superseded = SettingsVersion {
        stamp: created.settings.clone(),
        config: created.config.clone(),
    };
    let change = replacement(
        &created,
        &v2,
        Some(superseded.clone()),
        action::TENANT_SETTINGS_CHANGED,
    );
    store.replace_tenant(&change).await.expect("replace");
    let stored = store.tenant(&id).await.unwrap().unwrap();
    assert_eq!(stored, change.record);
    assert_eq!(stored.config.example_drafts.len(), 1);
    assert_eq!(stored.revision, 1);
    assert_eq!(
        store.settings_versions(&id).await.unwrap(),
        std::slice::from_ref(&superseded)
    );
    assert_eq!(tenant_of(store, &first.hash).await, Some(id.clone()));
    assert_eq!(tenant_of(store, &second.hash).await, Some(id.clone()));
    let by_domain = store.tenant_by_domain(&stored.tenant.domain).await.unwrap();
    assert_eq!(by_domain.unwrap().config.threshold, 8.0, "copies follow");

    // A write based on a stale revision changes nothing.
    let mut stale = created.clone();
    stale.config.threshold = 3.0;
    let refused = store
        .replace_tenant(&replacement(&created, &stale, None, "stale"))
        .await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );
    assert_eq!(store.tenant(&id).await.unwrap().unwrap(), stored);
    assert_eq!(store.settings_versions(&id).await.unwrap().len(), 1);

    // Revoking the first key: it finds no tenant from then on.
    let mut v3 = stored.clone();
    v3.admin_keys[0].revoked_at = Some(Utc::now());
    v3.admin_keys[0].revoked_by = Some("suite".into());
    store
        .replace_tenant(&replacement(&stored, &v3, None, action::ADMIN_KEY_REVOKED))
        .await
        .expect("revoke");
    assert_eq!(tenant_of(store, &first.hash).await, None, "revoked at once");
    let by_second = store.tenant_by_admin_key_hash(&second.hash).await.unwrap();
    assert!(by_second.unwrap().admin_keys[0].revoked_at.is_some());

    // Other writes of the tenant move its revision too.
    let now = store.tenant(&id).await.unwrap().unwrap();
    let mut config = now.config.clone();
    config.max_collect_turns = 4;
    store
        .update_tenant_config(&id, &config, &audit(&id, None, "config"))
        .await
        .unwrap();
    let refused = store
        .replace_tenant(&replacement(&now, &now, None, "after another write"))
        .await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))));

    let mut nobody = tenant_record(&unique("t"));
    nobody.revision = 0;
    assert!(matches!(
        store
            .replace_tenant(&replacement(&nobody, &nobody, None, "x"))
            .await,
        Err(StoreError::Conflict(_))
    ));

    // Each write kept its audit entry.
    let log = store
        .audit_log(&AuditQuery {
            tenant_id: Some(id.clone()),
            page: 1,
            per_page: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    for what in [action::TENANT_SETTINGS_CHANGED, action::ADMIN_KEY_REVOKED] {
        assert!(actions.contains(&what), "{actions:?}");
    }
    assert!(!actions.contains(&"stale"), "{actions:?}");
}
