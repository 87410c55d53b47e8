//! A Lambda Runtime API emulator: one per function, serving the built
//! `bootstrap` the interface Lambda gives it (`/2018-06-01/runtime/...`),
//! buffered and streamed responses alike, and watching the process the way
//! the Lambda service does (init time, death mid-invocation).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use tokio::sync::{mpsc, oneshot};

use super::artifacts::Artifact;
use super::xray_daemon::XrayDaemon;

/// How an invocation ended, as the function reported it.
#[derive(Debug)]
pub enum Outcome {
    /// A whole response body (`RequestResponse`).
    Buffered(Bytes),
    /// A streamed body (`Lambda-Runtime-Function-Response-Mode: streaming`),
    /// chunk by chunk as the function sends them.
    Streamed(mpsc::UnboundedReceiver<Chunk>),
    /// The function reported an error (`/invocation/{id}/error`).
    Failed { error_type: String, body: String },
    /// The process ended without answering (a crash, an abort).
    Died(String),
}

/// A piece of a streamed response and when the emulator received it.
#[derive(Debug)]
pub struct Chunk {
    pub bytes: Bytes,
    pub at: Instant,
}

struct Pending {
    id: String,
    event: Bytes,
    reply: oneshot::Sender<Outcome>,
}

struct Shared {
    function_name: String,
    queue: mpsc::UnboundedSender<Pending>,
    waiting: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// When the runtime first asked for an invocation: the end of init.
    ready_at: Mutex<Option<Instant>>,
    ready: tokio::sync::Notify,
    init_error: Mutex<Option<String>>,
    death: Mutex<Option<String>>,
    next_id: AtomicU64,
}

/// What a function is started with besides its own environment.
pub struct Launch<'a> {
    pub name: &'a str,
    pub artifact: &'a Artifact,
    pub memory_mb: u32,
    pub env: Vec<(String, String)>,
    /// Stdout and stderr go here (the function's CloudWatch log).
    pub log_dir: &'a Path,
}

/// A running function: its bootstrap process and the Runtime API it polls.
pub struct Function {
    shared: Arc<Shared>,
    pub name: String,
    pub pid: u32,
    pub spawned_at: Instant,
    pub log: PathBuf,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Function {
    fn drop(&mut self) {
        self.server.abort();
        self.kill();
    }
}

impl Function {
    /// Starts the Runtime API on a free loopback port and the bootstrap
    /// against it, with the variables Lambda sets and `launch.env`.
    pub async fn start(launch: Launch<'_>) -> Function {
        let (queue, waiting) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_name: launch.name.to_string(),
            queue,
            waiting: tokio::sync::Mutex::new(waiting),
            in_flight: Mutex::new(HashMap::new()),
            ready_at: Mutex::new(None),
            ready: tokio::sync::Notify::new(),
            init_error: Mutex::new(None),
            death: Mutex::new(None),
            next_id: AtomicU64::new(1),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, shared.clone()));

        let log = launch.log_dir.join(format!("{}.log", launch.name));
        let out = std::fs::File::create(&log).expect("function log");
        let mut command = launch.artifact.command();
        command
            .env_clear()
            .envs(lambda_environment(launch.name, launch.memory_mb, addr))
            .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(launch.artifact.dir())
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out);
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", launch.name));
        let pid = child.id();
        let watched = shared.clone();
        let watched_log = log.clone();
        std::thread::spawn(move || {
            let status = child.wait();
            let reason = format!(
                "{} exited ({status:?}); its log ends:\n{}",
                watched.function_name,
                log_tail(&watched_log)
            );
            watched.die(reason);
        });
        Function {
            shared,
            name: launch.name.to_string(),
            pid,
            spawned_at,
            log,
            server,
        }
    }

    /// Waits until the runtime asks for its first invocation; the init
    /// duration as Lambda counts it.
    pub async fn initialised(&self, within: Duration) -> Duration {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.ready.notified();
            if let Some(at) = *self.shared.ready_at.lock().unwrap() {
                return at - self.spawned_at;
            }
            if let Some(reason) = self.failure() {
                panic!("{} did not initialise: {reason}", self.name);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "{} did not ask for an invocation within {within:?}; log:\n{}",
                    self.name,
                    log_tail(&self.log)
                );
            }
        }
    }

    fn failure(&self) -> Option<String> {
        if let Some(e) = self.shared.init_error.lock().unwrap().clone() {
            return Some(format!("init error {e}; log:\n{}", log_tail(&self.log)));
        }
        self.shared.death.lock().unwrap().clone()
    }

    /// Ends the process (SIGTERM), if it still runs.
    pub fn kill(&self) {
        if self.is_alive() {
            let _ = std::process::Command::new("kill")
                .arg(self.pid.to_string())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }

    pub fn is_alive(&self) -> bool {
        self.shared.death.lock().unwrap().is_none()
    }

    /// Invokes the function with `event` and waits for its outcome.
    pub async fn invoke(&self, event: &serde_json::Value) -> Outcome {
        if let Some(reason) = self.failure() {
            return Outcome::Died(reason);
        }
        let (reply, outcome) = oneshot::channel();
        let id = format!(
            "{}-{:08}",
            self.name,
            self.shared.next_id.fetch_add(1, Ordering::Relaxed)
        );
        let event = Bytes::from(serde_json::to_vec(event).unwrap());
        if self
            .shared
            .queue
            .send(Pending { id, event, reply })
            .is_err()
        {
            return Outcome::Died(format!("{}: the Runtime API is gone", self.name));
        }
        let deadline = Instant::now() + Duration::from_secs(300);
        tokio::pin!(outcome);
        loop {
            tokio::select! {
                answered = &mut outcome => {
                    return answered.unwrap_or_else(|_| {
                        Outcome::Died(self.failure().unwrap_or_else(|| {
                            format!("{}: the invocation was dropped", self.name)
                        }))
                    });
                }
                // A process that died before taking the event never answers.
                _ = tokio::time::sleep(Duration::from_millis(250)) => {
                    if let Some(reason) = self.shared.death.lock().unwrap().clone() {
                        return Outcome::Died(reason);
                    }
                    assert!(
                        Instant::now() < deadline,
                        "{} did not answer within 300 s; log:\n{}",
                        self.name,
                        log_tail(&self.log)
                    );
                }
            }
        }
    }

    /// The process's resident and peak memory now (`VmRSS`, `VmHWM`), KiB.
    pub fn memory_kib(&self) -> (u64, u64) {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Shared {
    /// Fails everything waiting on a process that ended.
    fn die(&self, reason: String) {
        *self.death.lock().unwrap() = Some(reason.clone());
        for (_, reply) in self.in_flight.lock().unwrap().drain() {
            let _ = reply.send(Outcome::Died(reason.clone()));
        }
        if let Ok(mut waiting) = self.waiting.try_lock() {
            while let Ok(pending) = waiting.try_recv() {
                let _ = pending.reply.send(Outcome::Died(reason.clone()));
            }
        }
        self.ready.notify_waiters();
    }
}

/// The variables Lambda sets for a provided.al2023 function.
fn lambda_environment(name: &str, memory_mb: u32, api: SocketAddr) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_RUNTIME_API", api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("petraf-{name}")),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            format!("/aws/lambda/petraf-{name}"),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "emulated".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("_HANDLER", "bootstrap".into()),
        ("LANG", "en_US.UTF-8".into()),
        ("TZ", ":UTC".into()),
        (
            "AWS_XRAY_DAEMON_ADDRESS",
            XrayDaemon::shared().address.to_string(),
        ),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The last lines of a log, for failure messages.
pub fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(shared);
    let _ = axum::serve(listener, app).await;
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    {
        let mut ready = shared.ready_at.lock().unwrap();
        if ready.is_none() {
            *ready = Some(Instant::now());
            shared.ready.notify_waiters();
        }
    }
    let pending = shared.waiting.lock().await.recv().await;
    let Some(pending) = pending else {
        return StatusCode::GONE.into_response();
    };
    shared
        .in_flight
        .lock()
        .unwrap()
        .insert(pending.id.clone(), pending.reply);
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 600_000;
    let arn = format!(
        "arn:aws:lambda:us-east-1:123456789012:function:petraf-{}",
        shared.function_name
    );
    Response::builder()
        .header("Content-Type", "application/json")
        .header("Lambda-Runtime-Aws-Request-Id", &pending.id)
        .header("Lambda-Runtime-Deadline-Ms", deadline.to_string())
        .header("Lambda-Runtime-Invoked-Function-Arn", arn)
        // Sampled, as under `TracingMode=Active`: the function's subsegments
        // go to the daemon stand-in, which knows this trace.
        .header(
            "Lambda-Runtime-Trace-Id",
            XrayDaemon::shared().issue(&shared.function_name),
        )
        .body(Body::from(pending.event))
        .unwrap()
}

async fn response(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> StatusCode {
    let Some(reply) = shared.in_flight.lock().unwrap().remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let streaming = headers
        .get("Lambda-Runtime-Function-Response-Mode")
        .is_some_and(|v| v == "streaming");
    if !streaming {
        let bytes = body
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let _ = reply.send(Outcome::Buffered(bytes));
        return StatusCode::ACCEPTED;
    }
    let (chunks, streamed) = mpsc::unbounded_channel();
    let _ = reply.send(Outcome::Streamed(streamed));
    let mut body = body;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(bytes) = frame.into_data() {
            let _ = chunks.send(Chunk {
                bytes,
                at: Instant::now(),
            });
        }
    }
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let Some(reply) = shared.in_flight.lock().unwrap().remove(&id) else {
        return StatusCode::BAD_REQUEST;
    };
    let error_type = headers
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_string();
    let _ = reply.send(Outcome::Failed {
        error_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    StatusCode::ACCEPTED
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    shared.ready.notify_waiters();
    StatusCode::ACCEPTED
}
