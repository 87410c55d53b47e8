//! The embedded state store: one SQLite file under the data directory.
//!
//! SQLite in WAL mode lets `petraf tenant create` write while `petraf serve`
//! runs; every session change is one IMMEDIATE transaction. One file per
//! table or aggregate; this one holds the store and the port's methods.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde::de::DeserializeOwned;

use crate::domain::audit::AuditEntry;
use crate::domain::conversation::ConversationState;
use crate::domain::document::DocumentRecord;
use crate::domain::goal::{Goal, GoalLink};
use crate::domain::message::Message;
use crate::domain::session::Session;
use crate::domain::settings::SettingsVersion;
use crate::domain::tenant::{Tenant, TenantConfig, TenantRecord};
use crate::ports::state_store::{
    AuditPage, AuditQuery, ErasedItems, Expect, GLOBAL_SCOPE, SessionChange, SessionErasure,
    StateStore, StoreError, TenantInventory, TenantReplacement, UsageCounters, tenant_scope,
};

mod audit;
mod counters;
mod database;
mod documents;
mod erasure;
mod offboarding;
mod sessions;
mod tenants;

pub(super) use self::audit::insert_audit;
pub(super) use self::database::{db_error, from_json, open_database, to_json, unavailable};
pub(super) use self::documents::{delete_document_row, put_document_row};

#[derive(Clone)]
pub struct SqliteStateStore {
    conn: Arc<Mutex<Connection>>,
    /// The database file, canonical: what [`StateStore::transaction_scope`] names.
    file: String,
}

impl SqliteStateStore {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let (conn, file) = open_database(path)?;
        Ok(SqliteStateStore {
            conn: Arc::new(Mutex::new(conn)),
            file,
        })
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn
                .lock()
                .map_err(|_| unavailable("state store lock poisoned"))?;
            work(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }

    /// The JSON body of the one row `sql` selects, if any.
    async fn one_body<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        args: Vec<String>,
    ) -> Result<Option<T>, StoreError> {
        self.run(move |conn| {
            let body: Option<String> = conn
                .query_row(sql, rusqlite::params_from_iter(&args), |r| r.get(0))
                .optional()
                .map_err(db_error)?;
            body.map(|b| from_json(&b)).transpose()
        })
        .await
    }

    async fn session_rows<T: DeserializeOwned + Send + 'static>(
        &self,
        table: &'static str,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Vec<T>, StoreError> {
        let (tenant_id, session_id) = (tenant_id.to_string(), session_id.to_string());
        self.run(move |conn| {
            let mut stmt = conn
                .prepare(&format!(
                    "SELECT body FROM {table} WHERE tenant_id = ?1 AND session_id = ?2 ORDER BY seq"
                ))
                .map_err(db_error)?;
            let rows = stmt
                .query_map([tenant_id, session_id], |r| r.get::<_, String>(0))
                .map_err(db_error)?;
            rows.map(|r| r.map_err(db_error).and_then(|b| from_json(&b)))
                .collect()
        })
        .await
    }
}

#[async_trait]
impl StateStore for SqliteStateStore {
    fn name(&self) -> &'static str {
        "embedded-sqlite"
    }

    fn transaction_scope(&self) -> Option<String> {
        Some(self.file.clone())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.run(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(db_error))
            .await
    }

    async fn create_tenant(
        &self,
        record: &TenantRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (record, audit) = (record.clone(), audit.clone());
        self.run(move |conn| tenants::create(conn, &record, &audit))
            .await
    }

    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<(), StoreError> {
        let (tenant, audit) = (tenant.clone(), audit.clone());
        self.run(move |conn| tenants::update(conn, tenant, &audit))
            .await
    }

    async fn update_tenant_config(
        &self,
        tenant_id: &str,
        config: &TenantConfig,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        let (tenant_id, config, audit) = (tenant_id.to_string(), config.clone(), audit.clone());
        self.run(move |conn| tenants::update_config(conn, &tenant_id, config, &audit))
            .await
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM tenants WHERE id = ?1",
            vec![tenant_id.to_string()],
        )
        .await
    }

    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM tenants WHERE domain = ?1",
            vec![domain.to_string()],
        )
        .await
    }

    async fn tenant_by_admin_key_hash(
        &self,
        key_hash: &str,
    ) -> Result<Option<TenantRecord>, StoreError> {
        let key_hash = key_hash.to_string();
        self.run(move |conn| tenants::by_admin_key_hash(conn, &key_hash))
            .await
    }

    async fn replace_tenant(&self, change: &TenantReplacement) -> Result<(), StoreError> {
        let change = change.clone();
        self.run(move |conn| tenants::replace(conn, &change)).await
    }

    async fn settings_versions(&self, tenant_id: &str) -> Result<Vec<SettingsVersion>, StoreError> {
        let tenant_id = tenant_id.to_string();
        self.run(move |conn| tenants::settings_versions(conn, &tenant_id))
            .await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.run(|conn| tenants::list(conn)).await
    }

    async fn apply(&self, change: SessionChange) -> Result<(), StoreError> {
        self.run(move |conn| sessions::apply(conn, &change)).await
    }

    async fn session(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<Session>, StoreError> {
        self.one_body(
            "SELECT body FROM sessions WHERE tenant_id = ?1 AND id = ?2",
            vec![tenant_id.to_string(), session_id.to_string()],
        )
        .await
    }

    async fn conversation(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<ConversationState>, StoreError> {
        self.one_body(
            "SELECT body FROM conversations WHERE tenant_id = ?1 AND session_id = ?2",
            vec![tenant_id.to_string(), session_id.to_string()],
        )
        .await
    }

    async fn messages(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Vec<Message>, StoreError> {
        self.session_rows("messages", tenant_id, session_id).await
    }

    async fn goals(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<(Vec<Goal>, Vec<GoalLink>), StoreError> {
        let goals = self.session_rows("goals", tenant_id, session_id).await?;
        let links = self
            .session_rows("goal_links", tenant_id, session_id)
            .await?;
        Ok((goals, links))
    }

    async fn erase_session(
        &self,
        erasure: &SessionErasure,
    ) -> Result<Option<ErasedItems>, StoreError> {
        let erasure = erasure.clone();
        self.run(move |conn| erasure::erase(conn, &erasure)).await
    }

    async fn sessions_page(
        &self,
        tenant_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Session>, StoreError> {
        let (tenant_id, after) = (tenant_id.to_string(), after.map(str::to_string));
        self.run(move |conn| erasure::sessions_page(conn, &tenant_id, after.as_deref(), limit))
            .await
    }

    async fn tenant_inventory(&self, tenant_id: &str) -> Result<TenantInventory, StoreError> {
        let tenant_id = tenant_id.to_string();
        self.run(move |conn| offboarding::inventory(conn, &tenant_id))
            .await
    }

    async fn purge_tenant(&self, tenant_id: &str, batch: u32) -> Result<u64, StoreError> {
        let tenant_id = tenant_id.to_string();
        self.run(move |conn| offboarding::purge(conn, &tenant_id, batch))
            .await
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let entry = entry.clone();
        self.run(move |conn| insert_audit(conn, &entry)).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let query = query.clone();
        self.run(move |conn| audit::page(conn, &query)).await
    }

    async fn usage(
        &self,
        tenant_id: Option<&str>,
        today: NaiveDate,
    ) -> Result<UsageCounters, StoreError> {
        let scope = tenant_id
            .map(tenant_scope)
            .unwrap_or_else(|| GLOBAL_SCOPE.to_string());
        self.run(move |conn| counters::usage(conn, &scope, today))
            .await
    }

    async fn put_document(
        &self,
        document: &DocumentRecord,
        expect: Expect,
    ) -> Result<(), StoreError> {
        let document = document.clone();
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            put_document_row(&tx, &document, expect)?;
            tx.commit().map_err(db_error)
        })
        .await
    }

    async fn document(
        &self,
        tenant_id: &str,
        document_id: &str,
    ) -> Result<Option<DocumentRecord>, StoreError> {
        self.one_body(
            "SELECT body FROM documents WHERE tenant_id = ?1 AND id = ?2",
            vec![tenant_id.to_string(), document_id.to_string()],
        )
        .await
    }

    async fn documents(&self, tenant_id: &str) -> Result<Vec<DocumentRecord>, StoreError> {
        let tenant_id = tenant_id.to_string();
        self.run(move |conn| documents::list(conn, &tenant_id))
            .await
    }

    async fn delete_document(
        &self,
        tenant_id: &str,
        document_id: &str,
        revision: u32,
    ) -> Result<(), StoreError> {
        let (tenant_id, document_id) = (tenant_id.to_string(), document_id.to_string());
        self.run(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(db_error)?;
            delete_document_row(&tx, &tenant_id, &document_id, revision)?;
            tx.commit().map_err(db_error)
        })
        .await
    }
}
