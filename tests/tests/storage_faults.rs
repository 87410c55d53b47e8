//! A storage fault at a turn's commit: the client hears of it, the user's
//! message stays stored, and the session is released at once rather than
//! locked until the lease expires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config;
use petraf_core::ports::StateStore;
use petraf_core::ports::state_store::{SessionChange, StoreError};
use petraf_tests::TestServer;
use petraf_tests::interposed::{Before, InterposedStore};
use petraf_tests::journey::{G4_FIRST, G4_SECOND, chat};
use serde_json::json;

/// The embedded store, failing the first change that saves a goal.
fn fail_goal_commit_once(inner: Arc<dyn StateStore>) -> Arc<dyn StateStore> {
    let failed = AtomicBool::new(false);
    let before: Before = Box::new(move |change: &SessionChange| {
        let fail = !change.goals.is_empty() && !failed.swap(true, Ordering::SeqCst);
        Box::pin(async move {
            if fail {
                return Err(StoreError::Unavailable("injected fault".into()));
            }
            Ok(())
        })
    });
    InterposedStore::before(inner, before)
}

#[tokio::test]
async fn a_failed_commit_releases_the_session_and_keeps_the_users_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    ports.store = fail_goal_commit_once(ports.store);
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
