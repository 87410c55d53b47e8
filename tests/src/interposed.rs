//! A state store that runs a test's hooks around every session change and
//! passes everything else to the store it wraps: how the fault tests pause,
//! delay or fail a turn's commit.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use futures::future::BoxFuture;
use petraf_core::domain::audit::AuditEntry;
use petraf_core::domain::conversation::ConversationState;
use petraf_core::domain::document::DocumentRecord;
use petraf_core::domain::goal::{Goal, GoalLink};
use petraf_core::domain::message::Message;
use petraf_core::domain::session::Session;
use petraf_core::domain::settings::SettingsVersion;
use petraf_core::domain::tenant::{Tenant, TenantConfig, TenantRecord};
use petraf_core::ports::StateStore;
use petraf_core::ports::state_store::{
    AuditPage, AuditQuery, ErasedItems, SessionChange, SessionErasure, StoreError, TenantInventory,
    TenantReplacement, UsageCounters,
};

/// Runs before a change is applied; an error is returned instead of applying it.
pub type Before =
    Box<dyn Fn(&SessionChange) -> BoxFuture<'static, Result<(), StoreError>> + Send + Sync>;
/// Starts before a change is applied and is awaited after it was.
pub type After = Box<dyn Fn(&SessionChange) -> BoxFuture<'static, ()> + Send + Sync>;

pub struct InterposedStore {
    inner: Arc<dyn StateStore>,
    before: Option<Before>,
    after: Option<After>,
}

impl InterposedStore {
    pub fn before(inner: Arc<dyn StateStore>, hook: Before) -> Arc<dyn StateStore> {
        Arc::new(InterposedStore {
            inner,
            before: Some(hook),
            after: None,
        })
    }

    pub fn after(inner: Arc<dyn StateStore>, hook: After) -> Arc<dyn StateStore> {
        Arc::new(InterposedStore {
            inner,
            before: None,
            after: Some(hook),
        })
    }
}

#[async_trait]
impl StateStore for InterposedStore {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_tenant(&self, r: &TenantRecord, a: &AuditEntry) -> Result<(), StoreError> {
        self.inner.create_tenant(r, a).await
    }
    async fn update_tenant(&self, t: &Tenant, a: &AuditEntry) -> Result<(), StoreError> {
        self.inner.update_tenant(t, a).await
    }
    async fn update_tenant_config(
        &self,
        t: &str,
        c: &TenantConfig,
        a: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.inner.update_tenant_config(t, c, a).await
    }
    async fn replace_tenant(&self, change: &TenantReplacement) -> Result<(), StoreError> {
        self.inner.replace_tenant(change).await
    }
    async fn settings_versions(&self, t: &str) -> Result<Vec<SettingsVersion>, StoreError> {
        self.inner.settings_versions(t).await
    }
    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant(id).await
    }
    async fn tenant_by_domain(&self, d: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant_by_domain(d).await
    }
    async fn tenant_by_admin_key_hash(&self, h: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant_by_admin_key_hash(h).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.list_tenants().await
    }
    async fn apply(&self, change: SessionChange) -> Result<(), StoreError> {
        if let Some(before) = &self.before {
            before(&change).await?;
        }
        let after = self.after.as_ref().map(|after| after(&change));
        let result = self.inner.apply(change).await;
        if let Some(after) = after {
            after.await;
        }
        result
    }
    async fn session(&self, t: &str, s: &str) -> Result<Option<Session>, StoreError> {
        self.inner.session(t, s).await
    }
    async fn conversation(
        &self,
        t: &str,
        s: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        self.inner.conversation(t, s).await
    }
    async fn messages(&self, t: &str, s: &str) -> Result<Vec<Message>, StoreError> {
        self.inner.messages(t, s).await
    }
    async fn goals(&self, t: &str, s: &str) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError> {
        self.inner.goals(t, s).await
    }
    async fn erase_session(&self, e: &SessionErasure) -> Result<Option<ErasedItems>, StoreError> {
        self.inner.erase_session(e).await
    }
    async fn sessions_page(
        &self,
        t: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        self.inner.sessions_page(t, after, limit).await
    }
    async fn tenant_inventory(&self, t: &str) -> Result<TenantInventory, StoreError> {
        self.inner.tenant_inventory(t).await
    }
    async fn purge_tenant(&self, t: &str, batch: u32) -> Result<u64, StoreError> {
        self.inner.purge_tenant(t, batch).await
    }
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.append_audit(entry).await
    }
    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.audit_log(query).await
    }
    async fn usage(&self, t: Option<&str>, today: NaiveDate) -> Result<UsageCounters, StoreError> {
        self.inner.usage(t, today).await
    }
    async fn put_document(
        &self,
        document: &DocumentRecord,
        expect: petraf_core::ports::state_store::Expect,
    ) -> Result<(), StoreError> {
        self.inner.put_document(document, expect).await
    }
    async fn document(&self, t: &str, d: &str) -> Result<Option<DocumentRecord>, StoreError> {
        self.inner.document(t, d).await
    }
    async fn documents(&self, t: &str) -> Result<Vec<DocumentRecord>, StoreError> {
        self.inner.documents(t).await
    }
    async fn delete_document(&self, t: &str, d: &str, revision: u32) -> Result<(), StoreError> {
        self.inner.delete_document(t, d, revision).await
    }
}
