//! What the steps' tests start from: a scratch application (embedded
//! stores, the offline model), the demo tenant and a session whose profile
//! is filled, at `g4_future`.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::admission::{self, AdmittedTurn, TurnRequest};
use super::events::ChatEvent;
use super::outbox::Outbox;
use crate::app::{App, AppResult, Services, Settings, sessions, tenants};
use crate::domain::audit::RequestOrigin;
use crate::domain::conversation::ConversationState;
use crate::domain::phase::{Phase, Step};
use crate::domain::session::ProfileInput;
use crate::domain::tenant::TenantRecord;
use crate::ports::SystemClock;

/// A message the offline model judges ready to refine into a passing goal.
pub(super) const READY_ANSWER: &str = "I want to master distributed systems and microservices \
    architecture. I'd like to lead a team of 3-4 developers and work on our payment \
    processing platform.";

/// A first answer the coach asks more about.
pub(super) const FIRST_ANSWER: &str =
    "I want to become a senior engineer and maybe start leading a small team.";

pub(super) struct Fixture {
    pub(super) app: App,
    pub(super) tenant: TenantRecord,
    pub(super) session_id: String,
    pub(super) token: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub(super) async fn new() -> Self {
        Self::with_settings(Settings::default()).await
    }

    pub(super) async fn with_settings(settings: Settings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let env: HashMap<&'static str, String> = HashMap::new();
        let ports = crate::config::embedded_ports(dir.path()).unwrap();
        let secrets = crate::config::secrets(&env, dir.path()).unwrap();
        let app = Arc::new(Services::new(
            ports,
            Arc::new(SystemClock),
            secrets,
            settings,
        ));
        let tenant = tenants::create_tenant(&app, tenants::demo_tenant())
            .await
            .unwrap()
            .record;
        let origin = RequestOrigin::default();
        let created = sessions::create(&app, &tenant, json!({}), &origin)
            .await
            .unwrap();
        let profile = ProfileInput {
            employee_code: "EMP12345".into(),
            department: "Engineering".into(),
            position: "Software Engineer".into(),
            grade: Some("L4".into()),
            years_of_service: Some(3),
            age_range: None,
            job_type: None,
        };
        sessions::update_info(&app, &tenant, created.session.clone(), profile, &origin)
            .await
            .unwrap();
        Fixture {
            app,
            tenant,
            session_id: created.session.id,
            token: created.resume_token,
            _dir: dir,
        }
    }

    pub(super) fn request(&self, message: &str) -> TurnRequest {
        TurnRequest {
            session_id: self.session_id.clone(),
            message: message.into(),
            step: "collect".into(),
            context: Value::Null,
        }
    }

    /// Admits a collect turn at `g4_future`.
    pub(super) async fn admit(&self, message: &str) -> AppResult<AdmittedTurn> {
        admission::admit(
            self.app.clone(),
            self.tenant.clone(),
            Phase::G4Future,
            Step::Collect,
            self.request(message),
            Some(&self.token),
            RequestOrigin::default(),
        )
        .await
    }

    /// The conversation as stored.
    pub(super) async fn conversation(&self) -> ConversationState {
        let store = &self.app.store;
        store
            .conversation(&self.tenant.tenant.id, &self.session_id)
            .await
            .unwrap()
            .unwrap()
    }
}

/// An outbox for `turn` and the client's end of its stream.
pub(super) fn outbox(turn: &AdmittedTurn) -> (Outbox, mpsc::Receiver<ChatEvent>) {
    let (tx, rx) = mpsc::channel(256);
    (Outbox::new(tx, turn.phase), rx)
}

/// The events sent so far.
pub(super) fn sent(rx: &mut mpsc::Receiver<ChatEvent>) -> Vec<ChatEvent> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// The names of `events`, in order, a run of messages as one.
pub(super) fn names(events: &[ChatEvent]) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = events.iter().map(ChatEvent::name).collect();
    names.dedup_by(|a, b| *a == "message" && *b == "message");
    names
}

impl Fixture {
    /// Makes `text` a one-passage document of `category` in the tenant's index.
    pub(super) async fn index(&self, category: &str, text: &str) {
        use crate::ports::vector_store::ChunkRecord;
        let texts = [text.to_string()];
        let embedding = self.app.embedder.embed(&texts).await.unwrap().remove(0);
        let document_id = crate::domain::ids::new_id();
        let chunk = ChunkRecord {
            id: crate::domain::ids::new_id(),
            tenant_id: self.tenant.tenant.id.clone(),
            document_id: document_id.clone(),
            chunk_index: 0,
            category: category.into(),
            content: text.into(),
            metadata: json!({"title": "Career Framework", "page": 5}),
            embedding,
            created_at: chrono::Utc::now(),
        };
        self.app
            .vectors
            .upsert_document(&self.tenant.tenant.id, &document_id, vec![chunk])
            .await
            .unwrap();
    }
}

/// `app` with some of its ports replaced (a failing model, say).
pub(super) fn rewired(app: &App, change: impl FnOnce(&mut crate::ports::Ports)) -> App {
    let mut ports = crate::ports::Ports {
        store: app.store.clone(),
        vectors: app.vectors.clone(),
        objects: app.objects.clone(),
        model: app.model.clone(),
        embedder: app.embedder.clone(),
    };
    change(&mut ports);
    Arc::new(Services::new(
        ports,
        app.clock.clone(),
        app.secrets.clone(),
        app.settings.clone(),
    ))
}

/// A port that refuses every call.
pub(super) fn down() -> Arc<crate::adapters::unwired::Unwired> {
    Arc::new(crate::adapters::unwired::Unwired::named("down"))
}
