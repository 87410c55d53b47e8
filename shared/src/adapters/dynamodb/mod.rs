//! The production state store: one DynamoDB table, single-table design.
//!
//! Every request path reads only its tenant's partitions (keys start with
//! the tenant id), with strongly consistent GetItem and Query calls; no
//! Scan anywhere. Each `apply` is one TransactWriteItems. The layout, every
//! access pattern and its cost are in `infra/dynamodb-table.md`.

mod audit;
mod budget;
mod counters;
mod documents;
mod erasure;
mod items;
mod keys;
mod offboarding;
mod sessions;
mod table;
mod tenants;
mod transaction;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::NaiveDate;

pub use table::{TableOutcome, create_table};
pub use transaction::MAX_TRANSACTION_ITEMS;

use crate::domain::audit::AuditEntry;
use crate::domain::conversation::ConversationState;
use crate::domain::document::DocumentRecord;
use crate::domain::goal::{Goal, GoalLink};
use crate::domain::message::Message;
use crate::domain::session::Session;
use crate::domain::settings::SettingsVersion;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord};
use crate::ports::state_store::{
    AuditPage, AuditQuery, Clock, ErasedItems, Expect, GLOBAL_SCOPE, SessionChange, SessionErasure,
    SessionSnapshot, StateStore, StoreError, SystemClock, TenantInventory, TenantReplacement,
    UsageCounters, tenant_scope,
};

#[derive(Clone)]
pub struct DynamoStateStore {
    client: Client,
    table: String,
    /// Decides which items have expired (TTL deletion lags) and stamps TTLs.
    clock: Arc<dyn Clock>,
}

impl DynamoStateStore {
    /// A store on `table`, which `create_table` made.
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStateStore {
            client,
            table: table.into(),
            clock: Arc::new(SystemClock),
        }
    }

    /// The same store judging expiry by `clock`: give it the application's
    /// clock when that is not the system's (tests that move time).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[async_trait]
impl StateStore for DynamoStateStore {
    fn name(&self) -> &'static str {
        "dynamodb"
    }

    /// A GetItem of a key that never exists: proves table, credentials
    /// and network without the low rate limit of DescribeTable.
    async fn ping(&self) -> Result<(), StoreError> {
        self.client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(items::key("PING", "PING")))
            .send()
            .await
            .map_err(items::sdk_error)?;
        Ok(())
    }

    async fn create_tenant(
        &self,
        record: &TenantRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        tenants::create(&self.client, &self.table, record, audit).await
    }

    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<(), StoreError> {
        tenants::update(&self.client, &self.table, tenant, audit).await
    }

    async fn update_tenant_config(
        &self,
        tenant_id: &str,
        config: &TenantConfig,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        tenants::update_config(&self.client, &self.table, tenant_id, config, audit).await
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        tenants::by_id(&self.client, &self.table, tenant_id).await
    }

    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRecord>, StoreError> {
        tenants::by_domain(&self.client, &self.table, domain).await
    }

    async fn tenant_by_admin_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<TenantRecord>, StoreError> {
        tenants::by_admin_key_hash(&self.client, &self.table, key_hash).await
    }

    async fn replace_tenant(&self, change: &TenantReplacement) -> Result<(), StoreError> {
        tenants::replace(&self.client, &self.table, change).await
    }

    async fn settings_versions(&self, tenant_id: &str) -> Result<Vec<SettingsVersion>, StoreError> {
        tenants::settings_versions(&self.client, &self.table, tenant_id).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        tenants::list(&self.client, &self.table).await
    }

    async fn apply(&self, change: SessionChange) -> Result<(), StoreError> {
        sessions::apply(&self.client, &self.table, change, self.clock.now()).await
    }

    async fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        sessions::get_session(
            &self.client,
            &self.table,
            tenant_id,
            session_id,
            self.clock.now(),
        )
        .await
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        sessions::get_body(
            &self.client,
            &self.table,
            tenant_id,
            session_id,
            keys::STATE_SK,
            self.clock.now(),
        )
        .await
    }

    async fn messages(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Vec<Message>, StoreError> {
        sessions::messages(
            &self.client,
            &self.table,
            tenant_id,
            session_id,
            self.clock.now(),
        )
        .await
    }

    async fn goals(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError> {
        sessions::goals(
            &self.client,
            &self.table,
            tenant_id,
            session_id,
            self.clock.now(),
        )
        .await
    }

    async fn session_snapshot(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<SessionSnapshot>, StoreError> {
        sessions::snapshot(
            &self.client,
            &self.table,
            tenant_id,
            session_id,
            self.clock.now(),
        )
        .await
    }

    async fn erase_session(
        &self,
        erasure: &SessionErasure,
    ) -> Result<Option<ErasedItems>, StoreError> {
        erasure::erase(&self.client, &self.table, erasure).await
    }

    async fn sessions_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        erasure::sessions_page(&self.client, &self.table, tenant_id, after, limit).await
    }

    async fn tenant_inventory(&self, tenant_id: &str) -> Result<TenantInventory, StoreError> {
        offboarding::inventory(&self.client, &self.table, tenant_id).await
    }

    async fn purge_tenant(&self, tenant_id: &str, batch: u32) -> Result<u64, StoreError> {
        offboarding::purge(&self.client, &self.table, tenant_id, batch).await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        audit::append(&self.client, &self.table, entry).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        audit::list(&self.client, &self.table, query).await
    }

    async fn usage(
        &self,
        tenant_id: Option<&str>,
        today: NaiveDate,
    ) -> Result<UsageCounters, StoreError> {
        let scope = tenant_id
            .map(tenant_scope)
            .unwrap_or_else(|| GLOBAL_SCOPE.to_string());
        counters::read(&self.client, &self.table, &scope, today).await
    }

    async fn put_document(
        &self,
        document: &DocumentRecord,
        expect: Expect,
    ) -> Result<(), StoreError> {
        documents::put(&self.client, &self.table, document, expect).await
    }

    async fn document(
        &self,
        tenant_id: &str,
        document_id: &str,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        documents::get(&self.client, &self.table, tenant_id, document_id).await
    }

    async fn documents(&self, tenant_id: &str) -> Result<Vec<DocumentRecord>, StoreError> {
        documents::list(&self.client, &self.table, tenant_id).await
    }

    async fn delete_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        revision: u32,
    ) -> Result<(), StoreError> {
        documents::delete(&self.client, &self.table, tenant_id, document_id, revision).await
    }
}
