//! What our chat path adds on top of the model: before the first streamed
//! byte and per chunk, measured against the fake OpenAI server's own
//! timing in the same process (one clock).
//!
//! - adapter: `OpenAiModel::coach` (async-openai, SSE parsing, resilience
//!   guard) — time to first text minus the fake's own time to its first
//!   chunk; per chunk, the fake's write to our stream yielding it.
//! - turn: a whole `POST /api/chat/g4_future/stream` through the router —
//!   time to the first SSE `message` event minus the fake's time to its
//!   first text chunk (the one after the verdict chunk), so it includes
//!   retrieval's embedding call and the store; per chunk, the fake's write
//!   to the client reading the SSE event.
//!
//! Run: `cargo bench -p petraf-core --features openai --bench chat_overhead`

#[path = "../tests/openai_fake/server.rs"]
mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use futures::StreamExt;
use petraf_core::adapters::openai::OpenAiSettings;
use petraf_core::app::{App, demo, tenants};
use petraf_core::conformance::sarah_context;
use petraf_core::ports::SystemClock;
use petraf_core::ports::chat_model::{ChatModel, CoachPurpose, Readiness, StreamPiece};
use serde_json::{Value, json};
use server::{FakeOpenAi, Op, Reply};
use tokio::time::Instant;
use tower::ServiceExt;

const PIECES: usize = 20;
const ADAPTER_RUNS: usize = 300;
const TURN_RUNS: usize = 100;
const WARMUP: usize = 10;

fn pieces() -> Vec<String> {
    (0..PIECES).map(|i| format!("word{i} ")).collect()
}

fn stream_reply() -> Reply {
    Reply::Stream {
        pieces: pieces(),
        first_delay: Duration::ZERO,
        chunk_delay: Duration::from_millis(1),
        cut_after: None,
    }
}

#[derive(Default)]
struct Samples {
    first_byte: Vec<Duration>,
    per_chunk: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn report(name: &str, samples: &mut Samples) {
    for (what, values) in [
        ("before first byte", &mut samples.first_byte),
        ("per chunk", &mut samples.per_chunk),
    ] {
        values.sort();
        println!(
            "{name:<8} {what:<18} n={:<6} p50={:>9.1?} p99={:>9.1?} max={:>9.1?}",
            values.len(),
            percentile(values, 0.50),
            percentile(values, 0.99),
            values.last().unwrap()
        );
    }
}

/// Our time before the first byte: the client's wait minus the fake's own.
fn overhead(client_wait: Duration, fake_wait: Duration) -> Duration {
    client_wait.saturating_sub(fake_wait)
}

async fn bench_adapter(fake: &FakeOpenAi, settings: &OpenAiSettings) -> Samples {
    let (model, _) = settings.models().unwrap();
    let ctx = sarah_context();
    let mut samples = Samples::default();
    for run in 0..WARMUP + ADAPTER_RUNS {
        fake.script(Op::Coach, [stream_reply()]);
        let started = Instant::now();
        let mut stream = model
            .coach(
                &ctx,
                CoachPurpose::Collect {
                    readiness: Readiness::Forced,
                },
            )
            .await
            .unwrap();
        let mut arrived = vec![];
        while let Some(piece) = stream.next().await {
            if let StreamPiece::Text(_) = piece.unwrap() {
                arrived.push(Instant::now());
            }
        }
        let timing = fake.timings().pop().unwrap();
        assert_eq!(arrived.len(), PIECES);
        if run < WARMUP {
            continue;
        }
        samples.first_byte.push(overhead(
            arrived[0] - started,
            timing.sent[0] - timing.received,
        ));
        for (got, sent) in arrived.iter().zip(&timing.sent) {
            samples.per_chunk.push(got.saturating_duration_since(*sent));
        }
    }
    samples
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

async fn bench_turns(
    fake: &FakeOpenAi,
    settings: &OpenAiSettings,
    dir: &std::path::Path,
) -> Samples {
    let mut ports = petraf_core::config::embedded_ports(dir).unwrap();
    let (model, embedder) = settings.models().unwrap();
    ports.model = Arc::new(model);
    ports.embedder = Arc::new(embedder);
    let env = petraf_core::config::test_env(&[(
        "PETRAF_JWT_SECRET",
        "bench-secret-bench-secret-bench-secret-01",
    )]);
    let app: App = petraf_core::config::services(
        ports,
        petraf_core::config::secrets(&env, dir).unwrap(),
        Arc::new(SystemClock),
    );
    demo::seed_if_empty(&app).await.unwrap();
    let mut samples = Samples::default();
    for run in 0..WARMUP + TURN_RUNS {
        // A fresh session a turn, each answer judged not ready: the coach
        // streams its verdict, then its reply.
        let (id, token) = new_session(&app).await;
        fake.script_verdicts(["READY: no\n\n"]);
        fake.script(Op::Coach, [stream_reply()]);
        let started = Instant::now();
        let body = call(
            &app,
            "POST",
            "/api/chat/g4_future/stream",
            Some(&token),
            json!({"session_id": id, "message": "I want to become a senior engineer and lead a small team."}),
        )
        .await;
        let mut frames = body.into_data_stream();
        let mut arrived = vec![];
        let mut pending = String::new();
        while let Some(bytes) = frames.next().await {
            let now = Instant::now();
            pending.push_str(std::str::from_utf8(&bytes.unwrap()).unwrap());
            while let Some(end) = pending.find("\n\n") {
                if pending[..end].starts_with("event: message") {
                    arrived.push(now);
                }
                pending.drain(..end + 2);
            }
        }
        let timing = fake.timings().pop().unwrap();
        assert_eq!(arrived.len(), PIECES, "every chunk reached the client");
        if run < WARMUP {
            continue;
        }
        // The fake's first chunk is the verdict, which is never shown.
        let text_sent = &timing.sent[1..];
        samples.first_byte.push(overhead(
            arrived[0] - started,
            text_sent[0] - timing.received,
        ));
        for (got, sent) in arrived.iter().zip(text_sent) {
            samples.per_chunk.push(got.saturating_duration_since(*sent));
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
        let mut settings = OpenAiSettings::new("sk-bench");
        settings.base_url = fake.base_url.clone();
        let dir = tempfile::tempdir().unwrap();
        println!(
            "chat path overhead against the fake OpenAI server ({PIECES} chunks a reply, 1 ms apart)"
        );
        report("adapter", &mut bench_adapter(&fake, &settings).await);
        report("turn", &mut bench_turns(&fake, &settings, dir.path()).await);
    });
}
