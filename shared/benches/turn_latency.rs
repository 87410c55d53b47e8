//! What an employee waits for during a chat turn, with a model service as
//! slow as a real one: whole `POST /api/chat/g4_future/stream` turns through
//! the router against the wire-level fake OpenAI server, which answers
//! embeddings in 150 ms, JSON completions in 700 ms, and streams replies
//! with the first token at 400 ms, then 30 chunks 25 ms apart.
//!
//! Reported, p50 and p99, as the client reading the SSE body sees them:
//! - first `message`: from sending the request to the first coach chunk
//!   (collect turns, and turns that become ready);
//! - last chunk → `score`: from the coach's last collect chunk to the
//!   `score` event, on a turn that becomes ready;
//! - last chunk → advice: from the coach's last collect chunk to the first
//!   chunk of its advice, on a turn whose goal scores below the threshold;
//! - to the coach's request: from sending the request to the fake receiving
//!   the coach's streamed request (on the fake's clock, the same process):
//!   what the turn spends before the model can start.
//!
//! Scenarios: collect turns, turns that become ready, ready turns scoring
//! low (the default `ahead` coach retrieval), then collect turns of a
//! tenant set to `per_turn` (the turn's embedding before the coach).
//!
//! Run: `cargo bench -p petraf-core --features openai --bench turn_latency`
//! (`--profile dev --workspace --all-features` reuses a debug build).

#[path = "../tests/openai_fake/server.rs"]
mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt;
use petraf_core::adapters::openai::OpenAiSettings;
use petraf_core::app::{App, demo, settings, tenants};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::tenant::CoachRetrieval;
use petraf_core::ports::SystemClock;
use serde_json::{Value, json};
use server::{Delays, FakeOpenAi};
use tokio::time::Instant;
use tower::ServiceExt;

/// Turns per scenario, and how many run at once (each in its own session).
const TURNS: usize = 60;
const CONCURRENT: usize = 5;
const WARMUP: usize = 5;
const CHUNKS: usize = 30;

fn delays() -> Delays {
    Delays {
        embed: Duration::from_millis(150),
        json: Duration::from_millis(700),
        first_token: Duration::from_millis(400),
        chunk: Duration::from_millis(25),
    }
}

async fn call(app: &App, method: &str, path: &str, token: Option<&str>, body: Value) -> Body {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-tenant-id", tenants::DEMO_TENANT_ID)
        .header("content-type", "application/json");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    petraf_core::http::full_api(app.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap()
        .into_body()
}

async fn json_of(body: Body) -> Value {
    serde_json::from_slice(&axum::body::to_bytes(body, usize::MAX).await.unwrap()).unwrap()
}

async fn new_session(app: &App) -> (String, String) {
    let created = json_of(call(app, "POST", "/api/session/create", None, json!({})).await).await;
    let id = created["session_id"].as_str().unwrap().to_string();
    let token = created["resume_token"].as_str().unwrap().to_string();
    let profile = json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer"});
    json_of(
        call(
            app,
            "PUT",
            &format!("/api/session/{id}/info"),
            Some(&token),
            profile,
        )
        .await,
    )
    .await;
    (id, token)
}

/// An SSE event as the client received it.
struct Arrived {
    name: String,
    data: Value,
    at: Instant,
}

/// One turn in a fresh session: its start and its events.
async fn one_turn(app: &App) -> (Instant, Vec<Arrived>) {
    let (id, token) = new_session(app).await;
    let started = Instant::now();
    let body = call(
        app,
        "POST",
        "/api/chat/g4_future/stream",
        Some(&token),
        json!({"session_id": id, "message": "I want to become a senior engineer and lead a team of 3-4 developers within two years."}),
    )
    .await;
    let mut frames = body.into_data_stream();
    let mut events = vec![];
    let mut pending = String::new();
    while let Some(bytes) = frames.next().await {
        let at = Instant::now();
        pending.push_str(std::str::from_utf8(&bytes.unwrap()).unwrap());
        while let Some(end) = pending.find("\n\n") {
            let block: String = pending.drain(..end + 2).collect();
            let (mut name, mut data) = (String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            if !name.is_empty() {
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                events.push(Arrived { name, data, at });
            }
        }
    }
    (started, events)
}

fn chunk_of(e: &Arrived, step: &str) -> bool {
    e.name == "message" && e.data["step"] == step
}

#[derive(Default)]
struct Samples {
    to_coach_request: Vec<Duration>,
    first_message: Vec<Duration>,
    last_chunk_to_score: Vec<Duration>,
    last_chunk_to_advice: Vec<Duration>,
}

impl Samples {
    fn add(&mut self, started: Instant, events: &[Arrived]) {
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert!(
            !names.contains(&"error") && names.last() == Some(&"complete"),
            "{names:?}"
        );
        let first = events.iter().find(|e| chunk_of(e, "collect")).unwrap();
        self.first_message.push(first.at - started);
        let last = events.iter().rfind(|e| chunk_of(e, "collect")).unwrap();
        if let Some(score) = events.iter().find(|e| e.name == "score") {
            self.last_chunk_to_score.push(score.at - last.at);
        }
        if let Some(advice) = events.iter().find(|e| chunk_of(e, "score")) {
            self.last_chunk_to_advice.push(advice.at - last.at);
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(scenario: &str, samples: &mut Samples) {
    for (what, values) in [
        ("to coach request", &mut samples.to_coach_request),
        ("first message", &mut samples.first_message),
        ("last chunk -> score", &mut samples.last_chunk_to_score),
        ("last chunk -> advice", &mut samples.last_chunk_to_advice),
    ] {
        if values.is_empty() {
            continue;
        }
        values.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{scenario:<10} {what:<21} n={:<4} p50={:>7.1} ms p99={:>7.1} ms max={:>7.1} ms",
            values.len(),
            ms(percentile(values, 0.50)),
            ms(percentile(values, 0.99)),
            ms(*values.last().unwrap())
        );
    }
}

/// `TURNS` turns after a warm-up, `CONCURRENT` at a time.
async fn scenario(app: &App, fake: &FakeOpenAi) -> Samples {
    let mut samples = Samples::default();
    for _ in 0..WARMUP {
        one_turn(app).await;
    }
    for _ in 0..TURNS / CONCURRENT {
        let streams_before = fake.timings().len();
        let batch = futures::future::join_all((0..CONCURRENT).map(|_| one_turn(app))).await;
        for (started, events) in &batch {
            samples.add(*started, events);
        }
        // The batch's first coach requests, paired with its turns in order
        // (later ones are the advice of low scores).
        let mut arrived: Vec<Instant> = fake.timings()[streams_before..]
            .iter()
            .map(|t| t.received)
            .collect();
        arrived.sort();
        let mut starts: Vec<Instant> = batch.iter().map(|(s, _)| *s).collect();
        starts.sort();
        for (start, at) in starts.iter().zip(arrived) {
            samples.to_coach_request.push(at - *start);
        }
    }
    samples
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let fake = FakeOpenAi::start().await;
        fake.set_default_pieces((0..CHUNKS).map(|i| format!("word{i} ")).collect());
        let mut settings = OpenAiSettings::new("sk-bench");
        settings.base_url = fake.base_url.clone();
        let dir = tempfile::tempdir().unwrap();
        let mut ports = petraf_core::config::embedded_ports(dir.path()).unwrap();
        let (model, embedder) = settings.models().unwrap();
        ports.model = Arc::new(model);
        ports.embedder = Arc::new(embedder);
        let env = petraf_core::config::test_env(&[(
            "PETRAF_JWT_SECRET",
            "bench-secret-bench-secret-bench-secret-01",
        )]);
        let app: App = petraf_core::config::services(ports, petraf_core::config::secrets(&env, dir.path()).unwrap(), Arc::new(SystemClock));
        demo::seed_if_empty(&app).await.unwrap();
        fake.set_delays(delays());
        println!(
            "turn latency against the fake OpenAI server: embeddings 150 ms, JSON 700 ms, \
             first token 400 ms, {CHUNKS} chunks 25 ms apart; {TURNS} turns a scenario, {CONCURRENT} at once"
        );
        fake.set_ready(false);
        report("collect", &mut scenario(&app, &fake).await);
        fake.set_ready(true);
        report("ready", &mut scenario(&app, &fake).await);
        fake.set_default_score(4.0);
        report("low score", &mut scenario(&app, &fake).await);
        // A tenant that chose exact per-turn grounding: the turn's
        // embedding before the coach's request.
        settings::set_coach_retrieval(
            &app,
            tenants::DEMO_TENANT_ID,
            CoachRetrieval::PerTurn,
            "bench",
            &RequestOrigin::default(),
        )
        .await
        .unwrap();
        fake.set_ready(false);
        report("per_turn", &mut scenario(&app, &fake).await);
    });
}
