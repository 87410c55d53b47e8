//! Test harness: Petraf served over real HTTP on the embedded adapters, a
//! clock the tests move, and a small client that reads SSE.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use petraf_core::app::tenants::{self, CreatedTenant, NewTenant};
use petraf_core::app::{App, Services, Settings};
use petraf_core::config::ServerLimits;
use petraf_core::config::{self, Ports};
use petraf_core::domain::conversation::ConversationState;
use petraf_core::domain::message::Message;
use petraf_core::domain::session::Session;
use petraf_core::http::server;
use petraf_core::ports::{Clock, StateStore};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;

pub mod cases;
pub mod cost;
pub mod documents;
pub mod gate;
pub mod interposed;
pub mod journey;
pub mod lambda;
pub mod moto;

pub const PLATFORM_KEY: &str = "platform-admin-key-for-tests-0123456789";

/// A clock that stands still until a test moves it.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        ManualClock(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

/// The walkthrough's morning: 2025-01-10 09:00 UTC.
pub fn walkthrough_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new("2025-01-10T09:00:00Z".parse().unwrap()))
}

/// This package's `petraf-extract-worker` binary, which cargo builds before
/// the integration tests (it sits beside their `deps/` directory).
pub fn extract_worker() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target profile directory");
    profile_dir.join(format!(
        "petraf-extract-worker{}",
        std::env::consts::EXE_SUFFIX
    ))
}

/// Petraf listening on a free loopback port.
pub struct TestServer {
    pub base: String,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub data_dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl TestServer {
    /// Every port embedded, in a fresh data directory.
    pub async fn embedded() -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let ports = config::embedded_ports(data_dir.path()).expect("embedded ports");
        Self::with_ports(ports, data_dir).await
    }

    /// Serves `ports` (tests of other adapters replace some of them).
    pub async fn with_ports(ports: Ports, data_dir: tempfile::TempDir) -> Self {
        Self::with_ports_and_clock(ports, data_dir, walkthrough_clock()).await
    }

    /// Serves `ports` on `clock`, for adapters that read the clock themselves.
    pub async fn with_ports_and_clock(
        ports: Ports,
        data_dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
    ) -> Self {
        Self::configured(
            ports,
            data_dir,
            clock,
            Settings::default(),
            ServerLimits::default(),
        )
        .await
    }

    /// Every port embedded, with these settings and server limits.
    pub async fn embedded_with(settings: Settings, limits: ServerLimits) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let ports = config::embedded_ports(data_dir.path()).expect("embedded ports");
        Self::configured(ports, data_dir, walkthrough_clock(), settings, limits).await
    }

    /// Serves through `petraf serve`'s server (its limits, its shutdown).
    pub async fn configured(
        ports: Ports,
        data_dir: tempfile::TempDir,
        clock: Arc<ManualClock>,
        settings: Settings,
        limits: ServerLimits,
    ) -> Self {
        let env = config::test_env(&[
            (
                "PETRAF_JWT_SECRET",
                "test-secret-test-secret-test-secret-0123",
            ),
            ("PETRAF_PLATFORM_ADMIN_KEY", PLATFORM_KEY),
        ]);
        let secrets = config::secrets(&env, data_dir.path()).expect("secrets");
        let settings = Settings {
            extract_worker: settings.extract_worker.or_else(|| Some(extract_worker())),
            ..settings
        };
        let app: App = Arc::new(Services::new(ports, clock.clone(), secrets, settings));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = app.clone();
        let server = tokio::spawn(async move {
            server::serve(listener, served, limits, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer {
            base: format!("http://{addr}"),
            app,
            clock,
            data_dir,
            server,
            stop: Some(stop),
        }
    }

    /// Every port embedded but the state store, which is `store` when
    /// given (DynamoDB on moto), on `clock`.
    pub async fn on_store(store: Option<Arc<dyn StateStore>>, clock: Arc<ManualClock>) -> Self {
        Self::on_store_with(store, clock, Settings::default()).await
    }

    /// [`TestServer::on_store`] with these settings.
    pub async fn on_store_with(
        store: Option<Arc<dyn StateStore>>,
        clock: Arc<ManualClock>,
        settings: Settings,
    ) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let mut ports = config::embedded_ports(data_dir.path()).expect("embedded ports");
        if let Some(store) = store {
            ports.store = store;
        }
        Self::configured(ports, data_dir, clock, settings, ServerLimits::default()).await
    }

    /// A tenant of its own (a fresh id, slug and domain; the demo's
    /// configuration): (id, admin key).
    pub async fn fresh_tenant(&self) -> (String, String) {
        let id = petraf_core::domain::ids::new_id();
        let slug = format!("t-{}", id.to_lowercase());
        let created = self
            .create_tenant(NewTenant {
                id: Some(id.clone()),
                slug: slug.clone(),
                domain: format!("{slug}.example.com"),
                ..tenants::demo_tenant()
            })
            .await;
        (id, created.admin_key)
    }

    pub async fn create_tenant(&self, new: NewTenant) -> CreatedTenant {
        tenants::create_tenant(&self.app, new)
            .await
            .expect("create tenant")
    }

    /// Shuts the server down as SIGTERM does and waits until it stopped.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.server).await;
    }

    pub fn addr(&self) -> SocketAddr {
        self.base
            .trim_start_matches("http://")
            .parse()
            .expect("a socket address")
    }

    /// Today on the test clock.
    pub fn clock_today(&self) -> chrono::NaiveDate {
        self.clock.now().date_naive()
    }

    /// A session as stored; it must exist.
    pub async fn stored_session(&self, tenant: &str, session: &str) -> Session {
        self.app
            .store
            .session(tenant, session)
            .await
            .expect("read the session")
            .expect("the session exists")
    }

    /// A session's conversation state as stored; it must exist.
    pub async fn conversation(&self, tenant: &str, session: &str) -> ConversationState {
        self.app
            .store
            .conversation(tenant, session)
            .await
            .expect("read the conversation")
            .expect("the conversation exists")
    }

    /// A session's stored messages, oldest first.
    pub async fn messages(&self, tenant: &str, session: &str) -> Vec<Message> {
        self.app
            .store
            .messages(tenant, session)
            .await
            .expect("read the messages")
    }

    pub fn client(&self) -> Client {
        Client {
            http: http_client(),
            base: self.base.clone(),
        }
    }
}

/// One response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// The error code of a JSON error body.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The SSE events of a streamed body, as (event, data).
    pub fn events(&self) -> Vec<(String, Value)> {
        parse_sse(&self.text)
    }
}

pub fn parse_sse(text: &str) -> Vec<(String, Value)> {
    let mut events = vec![];
    for block in text.split("\n\n") {
        let mut name = String::from("message");
        let mut data = String::new();
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if !data.is_empty() {
            events.push((
                name,
                serde_json::from_str(&data)
                    .unwrap_or_else(|e| panic!("bad SSE data ({e}): {data}")),
            ));
        }
    }
    events
}

/// A request builder with the headers tests need.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Call {
    builder: reqwest::RequestBuilder,
}

impl Client {
    pub fn request(&self, method: Method, path: &str) -> Call {
        Call {
            builder: self.http.request(method, format!("{}{path}", self.base)),
        }
    }

    pub fn get(&self, path: &str) -> Call {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Call {
        self.request(Method::DELETE, path)
    }
}

impl Call {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn tenant(self, tenant_id: &str) -> Self {
        self.header("X-Tenant-ID", tenant_id)
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn admin(self, key: &str) -> Self {
        self.header("X-Admin-Key", key)
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    pub fn body(mut self, content_type: &str, body: impl Into<reqwest::Body>) -> Self {
        self.builder = self.builder.header("Content-Type", content_type).body(body);
        self
    }

    pub fn multipart(mut self, form: reqwest::multipart::Form) -> Self {
        self.builder = self.builder.multipart(form);
        self
    }

    pub async fn send(self) -> Reply {
        let response = self.builder.send().await.expect("request");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        Reply {
            status,
            headers,
            text,
        }
    }
}

/// An HTTP client for the tests. reqwest's rustls comes without a crypto
/// provider (petraf-core's features: ring, installed as the process
/// default by the code that needs TLS), so install ring first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
