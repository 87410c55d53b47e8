//! A storage fault at a turn's commit: the client hears of it, the user's
//! message stays stored, and the session is released at once rather than
//! locked until the lease expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use chrono::NaiveDate;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config;
use petraf_core::domain::audit::AuditEntry;
use petraf_core::domain::conversation::ConversationState;
use petraf_core::domain::document::DocumentRecord;
use petraf_core::domain::goal::{Goal, GoalLink};
use petraf_core::domain::message::Message;
use petraf_core::domain::session::Session;
use petraf_core::domain::tenant::{Tenant, TenantConfig, TenantRecord};
use petraf_core::ports::StateStore;
use petraf_core::ports::state_store::{
    AuditPage, AuditQuery, SessionChange, StoreError, UsageCounters,
};
use petraf_tests::TestServer;
use petraf_tests::journey::{G4_FIRST, G4_SECOND, chat};
use serde_json::json;

/// The embedded store, failing the first change that saves a goal.
struct FailGoalCommitOnce {
    inner: Arc<dyn StateStore>,
    failed: AtomicBool,
}

#[async_trait]
impl StateStore for FailGoalCommitOnce {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
    async fn create_tenant(
        &self,
        record: &TenantRecord,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.inner.create_tenant(record, audit).await
    }
    async fn update_tenant(&self, tenant: &Tenant, audit: &AuditEntry) -> Result<(), StoreError> {
        self.inner.update_tenant(tenant, audit).await
    }
    async fn update_tenant_config(
        &self,
        tenant_id: &str,
        config: &TenantConfig,
        audit: &AuditEntry,
    ) -> Result<(), StoreError> {
        self.inner
            .update_tenant_config(tenant_id, config, audit)
            .await
    }
    async fn tenant(&self, id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant(id).await
    }
    async fn tenant_by_domain(&self, domain: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant_by_domain(domain).await
    }
    async fn tenant_by_admin_key_hash(
        &self,
        hash: &str,
    ) -> Result<Option<TenantRecord>, StoreError> {
        self.inner.tenant_by_admin_key_hash(hash).await
    }
    async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.inner.list_tenants().await
    }
    async fn apply(&self, change: SessionChange) -> Result<(), StoreError> {
        if !change.goals.is_empty() && !self.failed.swap(true, Ordering::SeqCst) {
            return Err(StoreError::Unavailable("injected fault".into()));
        }
        self.inner.apply(change).await
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
    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.append_audit(entry).await
    }
    async fn audit_log(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        self.inner.audit_log(query).await
    }
    async fn usage(
        &self,
        tenant: Option<&str>,
        today: NaiveDate,
    ) -> Result<UsageCounters, StoreError> {
        self.inner.usage(tenant, today).await
    }
    async fn put_document(&self, document: &DocumentRecord) -> Result<(), StoreError> {
        self.inner.put_document(document).await
    }
    async fn document(&self, t: &str, d: &str) -> Result<Option<DocumentRecord>, StoreError> {
        self.inner.document(t, d).await
    }
    async fn documents(&self, t: &str) -> Result<Vec<DocumentRecord>, StoreError> {
        self.inner.documents(t).await
    }
    async fn delete_document(&self, t: &str, d: &str) -> Result<(), StoreError> {
        self.inner.delete_document(t, d).await
    }
}

#[tokio::test]
async fn a_failed_commit_releases_the_session_and_keeps_the_users_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    ports.store = Arc::new(FailGoalCommitOnce {
        inner: ports.store,
        failed: AtomicBool::new(false),
    });
    let server = TestServer::with_ports(ports, dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let created = client
        .post("/api/session/create")
        .tenant(&tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let r = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(&tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        chat(&client, &tenant, &token, "g4_future", &id, G4_FIRST)
            .await
            .status,
        200
    );

    // The scored turn's commit fails.
    let events = chat(&client, &tenant, &token, "g4_future", &id, G4_SECOND)
        .await
        .events();
    let last = events.last().unwrap();
    assert_eq!(last.0, "error");
    assert_eq!(last.1["code"], "commit_failed");
    let state = server
        .app
        .store
        .conversation(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(state.lease.is_none(), "the session is released at once");
    assert_eq!(
        state.phase.as_str(),
        "g4_future",
        "nothing of the failed turn is applied"
    );
    let messages = server.app.store.messages(&tenant, &id).await.unwrap();
    assert!(
        messages.iter().any(|m| m.content == G4_SECOND),
        "the user's message is kept"
    );
    assert!(
        server
            .app
            .store
            .goals(&tenant, &id)
            .await
            .unwrap()
            .0
            .is_empty()
    );

    // The next message goes through and scores.
    let events = chat(&client, &tenant, &token, "g4_future", &id, G4_SECOND)
        .await
        .events();
    assert!(
        events
            .iter()
            .any(|(n, d)| n == "score" && d["meets_threshold"] == true)
    );
    assert_eq!(events.last().unwrap().0, "complete");
}

/// The offline model, except that the coach panics (a bug).
struct PanickingModel(petraf_core::adapters::embedded::OfflineModel);

#[async_trait]
impl petraf_core::ports::ChatModel for PanickingModel {
    fn provider(&self) -> &'static str {
        "offline-panicking"
    }
    fn model_for(&self, ctx: &petraf_core::domain::coaching::PhaseContext) -> String {
        self.0.model_for(ctx)
    }
    async fn coach(
        &self,
        _ctx: &petraf_core::domain::coaching::PhaseContext,
        _purpose: petraf_core::ports::chat_model::CoachPurpose,
    ) -> Result<
        petraf_core::ports::chat_model::TextStream,
        petraf_core::ports::chat_model::ModelError,
    > {
        panic!("a bug in the model adapter")
    }
    async fn refine(
        &self,
        ctx: &petraf_core::domain::coaching::PhaseContext,
        draft: Option<&str>,
    ) -> Result<
        petraf_core::ports::chat_model::Generated<String>,
        petraf_core::ports::chat_model::ModelError,
    > {
        self.0.refine(ctx, draft).await
    }
    async fn score(
        &self,
        ctx: &petraf_core::domain::coaching::PhaseContext,
        goal: &str,
        rubric: &petraf_core::domain::scoring::Rubric,
    ) -> Result<
        petraf_core::ports::chat_model::Generated<petraf_core::domain::scoring::Judgement>,
        petraf_core::ports::chat_model::ModelError,
    > {
        self.0.score(ctx, goal, rubric).await
    }
}

#[tokio::test]
async fn a_turn_that_panics_reports_an_error_and_releases_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    ports.model = Arc::new(PanickingModel(
        petraf_core::adapters::embedded::OfflineModel,
    ));
    let server = TestServer::with_ports(ports, dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let created = client
        .post("/api/session/create")
        .tenant(&tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let r = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(&tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(r.status, 200);
    let events = chat(&client, &tenant, &token, "g4_future", &id, G4_FIRST)
        .await
        .events();
    let last = events.last().unwrap();
    assert_eq!(
        (last.0.as_str(), last.1["code"].as_str()),
        ("error", Some("internal_error"))
    );
    let state = server
        .app
        .store
        .conversation(&tenant, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(state.lease.is_none(), "the session is released");
    let messages = server.app.store.messages(&tenant, &id).await.unwrap();
    assert_eq!(messages[0].content, G4_FIRST, "the user's message is kept");
    // The next message is not refused as a turn in progress.
    let r = chat(&client, &tenant, &token, "g4_future", &id, G4_FIRST).await;
    assert_eq!(r.status, 200);
}
