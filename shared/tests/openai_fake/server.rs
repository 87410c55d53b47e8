//! A wire-level fake of the OpenAI API on 127.0.0.1:0: streamed chat
//! completions as real SSE chunks (a usage chunk with empty choices when
//! asked, then `data: [DONE]`), JSON-mode completions and embeddings.
//! Each operation answers from its script, else with a sensible default,
//! and can be told to fail: statuses with Retry-After, a cut stream, a slow
//! first token, malformed JSON. A collect reply asked for a readiness
//! verdict leads with one (`READY: yes` unless told otherwise), in its own
//! chunk. It records every request, when each chunk went out, and when a
//! stream's connection closed.

#![allow(dead_code)]

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::serve::ListenerExt;
use futures::StreamExt;
use petraf_core::adapters::embedded::HashingEmbedder;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Which call a request is, told from its prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Coach,
    Refine,
    Score,
    Embed,
}

/// One scripted answer.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A streamed reply in these pieces.
    Stream {
        pieces: Vec<String>,
        first_delay: Duration,
        chunk_delay: Duration,
        /// Abort the connection after this many content chunks.
        cut_after: Option<usize>,
    },
    /// A JSON-mode completion whose message content is this text.
    Content(String),
    /// An error status.
    Status {
        status: u16,
        retry_after: Option<String>,
        body: String,
    },
}

impl Reply {
    pub fn text(pieces: &[&str]) -> Self {
        Reply::Stream {
            pieces: pieces.iter().map(|p| p.to_string()).collect(),
            first_delay: Duration::ZERO,
            chunk_delay: Duration::ZERO,
            cut_after: None,
        }
    }

    pub fn content(json: Value) -> Self {
        Reply::Content(json.to_string())
    }

    pub fn rate_limited(retry_after: &str) -> Self {
        Reply::Status {
            status: 429,
            retry_after: Some(retry_after.into()),
            body: json!({"error": {"message": "Rate limit reached for requests", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}).to_string(),
        }
    }

    pub fn server_error() -> Self {
        Reply::Status {
            status: 500,
            retry_after: None,
            body: json!({"error": {"message": "The server had an error while processing your request.", "type": "server_error", "param": null, "code": null}}).to_string(),
        }
    }
}

/// What a request looked like and when it came.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub op: Op,
    pub body: Value,
    pub authorization: Option<String>,
}

/// How long the fake takes, like a real model service: applied to every
/// embedding and JSON answer, and to default (unscripted) streamed replies.
#[derive(Debug, Clone, Copy, Default)]
pub struct Delays {
    pub embed: Duration,
    pub json: Duration,
    pub first_token: Duration,
    pub chunk: Duration,
}

/// Server-side timing of one streamed reply.
#[derive(Debug, Clone)]
pub struct StreamTiming {
    pub received: Instant,
    /// When each content chunk was handed to the connection.
    pub sent: Vec<Instant>,
}

#[derive(Default)]
struct Shared {
    scripts: Mutex<HashMap<Op, VecDeque<Reply>>>,
    requests: Mutex<Vec<Recorded>>,
    timings: Mutex<Vec<Arc<Mutex<StreamTiming>>>>,
    closed_streams: Mutex<usize>,
    closed: Notify,
    /// Default coach reply pieces.
    default_pieces: Mutex<Vec<String>>,
    delays: Mutex<Delays>,
    /// The default verdict is `READY: no` (else `READY: yes`).
    not_ready: Mutex<bool>,
    /// Verdict lines to lead with, used in order before the default.
    verdicts: Mutex<VecDeque<String>>,
    /// JSON answers wait until this many coach requests have arrived.
    hold_json_until_coach: Mutex<usize>,
    coach_arrived: Notify,
    /// JSON requests whose client went away before the answer.
    abandoned_json: Mutex<usize>,
    /// Embedding answers wait until this many coach requests have arrived.
    hold_embed_until_coach: Mutex<usize>,
    /// Embedding requests whose client went away before the answer.
    abandoned_embed: Mutex<usize>,
    /// The default score of every criterion (8.5 unless set).
    default_score: Mutex<Option<f64>>,
}

pub struct FakeOpenAi {
    pub base_url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub const DEFAULT_PIECES: &[&str] = &[
    "That's a clear direction. ",
    "How many people ",
    "would you like to lead, ",
    "and by when?",
];

impl FakeOpenAi {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        *shared.default_pieces.lock().unwrap() =
            DEFAULT_PIECES.iter().map(|p| p.to_string()).collect();
        let router = Router::new()
            .route("/v1/chat/completions", post(chat))
            .route("/v1/embeddings", post(embeddings))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Like the real API's edge: each SSE chunk leaves at once, not
        // held back by Nagle's algorithm until the client's delayed ACK.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FakeOpenAi {
            base_url: format!("http://{addr}/v1"),
            shared,
            server,
        }
    }

    /// Queues answers for `op`, used in order before the defaults.
    pub fn script(&self, op: Op, replies: impl IntoIterator<Item = Reply>) {
        self.shared
            .scripts
            .lock()
            .unwrap()
            .entry(op)
            .or_default()
            .extend(replies);
    }

    pub fn set_default_pieces(&self, pieces: Vec<String>) {
        *self.shared.default_pieces.lock().unwrap() = pieces;
    }

    pub fn set_delays(&self, delays: Delays) {
        *self.shared.delays.lock().unwrap() = delays;
    }

    /// The verdict replies lead with when none is scripted.
    pub fn set_ready(&self, ready: bool) {
        *self.shared.not_ready.lock().unwrap() = !ready;
    }

    /// Verdict chunks (`"READY: no\n\n"`, or anything a model might write
    /// instead, `""` for none) for the next replies asked for a verdict.
    pub fn script_verdicts<'a>(&self, lines: impl IntoIterator<Item = &'a str>) {
        self.shared
            .verdicts
            .lock()
            .unwrap()
            .extend(lines.into_iter().map(str::to_string));
    }

    /// JSON answers (refine, score) are held back until `n` coach requests
    /// have arrived in all.
    pub fn hold_json_until_coach_requests(&self, n: usize) {
        *self.shared.hold_json_until_coach.lock().unwrap() = n;
    }

    /// Embedding answers are held back until `n` coach requests have
    /// arrived in all.
    pub fn hold_embed_until_coach_requests(&self, n: usize) {
        *self.shared.hold_embed_until_coach.lock().unwrap() = n;
    }

    pub fn abandoned_embed(&self) -> usize {
        *self.shared.abandoned_embed.lock().unwrap()
    }

    /// Waits until `n` embedding requests were given up by their client.
    pub async fn wait_abandoned_embed(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.shared.closed.notified();
            if self.abandoned_embed() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.abandoned_embed() >= n;
            }
        }
    }

    /// What unscripted scores give every criterion.
    pub fn set_default_score(&self, score: f64) {
        *self.shared.default_score.lock().unwrap() = Some(score);
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn count(&self, op: Op) -> usize {
        self.requests().iter().filter(|r| r.op == op).count()
    }

    pub fn timings(&self) -> Vec<StreamTiming> {
        self.shared
            .timings
            .lock()
            .unwrap()
            .iter()
            .map(|t| t.lock().unwrap().clone())
            .collect()
    }

    pub fn closed_streams(&self) -> usize {
        *self.shared.closed_streams.lock().unwrap()
    }

    pub fn abandoned_json(&self) -> usize {
        *self.shared.abandoned_json.lock().unwrap()
    }

    /// Waits until `n` JSON requests were given up by their client.
    pub async fn wait_abandoned_json(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.shared.closed.notified();
            if self.abandoned_json() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.abandoned_json() >= n;
            }
        }
    }

    /// Waits until `n` streamed replies have lost their connection or ended.
    pub async fn wait_closed(&self, n: usize, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            let notified = self.shared.closed.notified();
            if self.closed_streams() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.closed_streams() >= n;
            }
        }
    }
}

fn op_of(body: &Value) -> Op {
    if body["stream"] == json!(true) {
        return Op::Coach;
    }
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    if system.contains("You are a goal scoring expert") {
        Op::Score
    } else {
        Op::Refine
    }
}

fn next_reply(shared: &Shared, op: Op) -> Option<Reply> {
    shared
        .scripts
        .lock()
        .unwrap()
        .get_mut(&op)
        .and_then(VecDeque::pop_front)
}

/// Scores of 8.5 (or the set default) for every criterion the prompt names.
fn default_score(shared: &Shared, body: &Value) -> Value {
    let score = shared.default_score.lock().unwrap().unwrap_or(8.5);
    let system = body["messages"][0]["content"].as_str().unwrap_or_default();
    let criteria: Vec<Value> = system
        .split("{\"name\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|name| json!({"name": name, "score": score, "reasoning": "clear and measurable"}))
        .collect();
    json!({"criteria": criteria, "feedback": "A strong goal.", "suggestions": []})
}

/// Whether a coach request asks for a leading readiness verdict.
pub fn asks_for_verdict(body: &Value) -> bool {
    body["messages"]
        .to_string()
        .contains("`READY: yes` or `READY: no`")
}

/// The verdict chunk the next reply asked for one leads with.
fn verdict_line(shared: &Shared) -> String {
    shared
        .verdicts
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| {
            let answer = if *shared.not_ready.lock().unwrap() {
                "no"
            } else {
                "yes"
            };
            format!("READY: {answer}\n\n")
        })
}

fn coach_count(shared: &Shared) -> usize {
    shared
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.op == Op::Coach)
        .count()
}

/// Waits, when told to, until enough coach requests have arrived.
async fn hold_json(shared: &Shared) {
    let wanted = *shared.hold_json_until_coach.lock().unwrap();
    hold_until_coach(shared, wanted).await;
}

async fn hold_until_coach(shared: &Shared, wanted: usize) {
    loop {
        let arrived = shared.coach_arrived.notified();
        if coach_count(shared) >= wanted {
            return;
        }
        arrived.await;
    }
}

fn default_content(shared: &Shared, op: Op, body: &Value) -> Value {
    match op {
        Op::Refine => {
            json!({"goal": "Within 24 months, I will become a Senior Engineer (L5) leading a team of 3-4 developers on our payment processing platform."})
        }
        _ => default_score(shared, body),
    }
}

fn record(shared: &Shared, op: Op, headers: &HeaderMap, body: &Value) {
    shared.requests.lock().unwrap().push(Recorded {
        op,
        body: body.clone(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    });
}

fn status_response(status: u16, retry_after: Option<String>, body: String) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body,
    )
        .into_response();
    if let Some(after) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", after.parse().unwrap());
    }
    response
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let received = Instant::now();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let op = op_of(&body);
    record(&shared, op, &headers, &body);
    let model = body["model"].as_str().unwrap_or("gpt-4o-mini").to_string();
    let delays = *shared.delays.lock().unwrap();
    if op == Op::Coach {
        shared.coach_arrived.notify_waiters();
    } else {
        let mut waiting = Unanswered(shared.clone(), true);
        hold_json(&shared).await;
        tokio::time::sleep(delays.json).await;
        waiting.1 = false;
    }
    match (op, next_reply(&shared, op)) {
        (
            _,
            Some(Reply::Status {
                status,
                retry_after,
                body,
            }),
        ) => status_response(status, retry_after, body),
        (Op::Coach, scripted) => {
            let reply = scripted.unwrap_or_else(|| Reply::Stream {
                pieces: shared.default_pieces.lock().unwrap().clone(),
                first_delay: delays.first_token,
                chunk_delay: delays.chunk,
                cut_after: None,
            });
            let reply = match reply {
                Reply::Stream {
                    mut pieces,
                    first_delay,
                    chunk_delay,
                    cut_after,
                } if asks_for_verdict(&body) => {
                    let verdict = verdict_line(&shared);
                    let led = !verdict.is_empty();
                    if led {
                        pieces.insert(0, verdict);
                    }
                    Reply::Stream {
                        pieces,
                        first_delay,
                        chunk_delay,
                        cut_after: cut_after.map(|n| n + usize::from(led)),
                    }
                }
                other => other,
            };
            let include_usage = body["stream_options"]["include_usage"] == json!(true);
            stream_response(shared, reply, &model, include_usage, received)
        }
        (_, Some(Reply::Content(text))) => completion(&model, &text),
        (op, _) => completion(&model, &default_content(&shared, op, &body).to_string()),
    }
}

fn completion(model: &str, content: &str) -> Response {
    let body = json!({
        "id": "chatcmpl-fake-json",
        "object": "chat.completion",
        "created": 1_732_579_200,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null, "annotations": []},
            "logprobs": null,
            "finish_reason": "stop"
        }],
        "usage": {
            "prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        },
        "service_tier": "default",
        "system_fingerprint": "fp_fake"
    });
    ([("content-type", "application/json")], body.to_string()).into_response()
}

/// One `data:` line. With include_usage every chunk has a `usage` key,
/// null until the last; without it there is none.
fn chunk(model: &str, choices: Value, usage: Option<Value>) -> Bytes {
    let mut data = json!({
        "id": "chatcmpl-fake-stream",
        "object": "chat.completion.chunk",
        "created": 1_732_579_200,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
        "choices": choices,
    });
    if let Some(usage) = usage {
        data["usage"] = usage;
    }
    Bytes::from(format!("data: {data}\n\n"))
}

/// Counts a JSON request dropped (its client went away) while still waiting.
struct Unanswered(Arc<Shared>, bool);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if self.1 {
            *self.0.abandoned_json.lock().unwrap() += 1;
            self.0.closed.notify_waiters();
        }
    }
}

/// Counts an embedding request dropped while still waiting.
struct UnansweredEmbedding(Arc<Shared>, bool);

impl Drop for UnansweredEmbedding {
    fn drop(&mut self) {
        if self.1 {
            *self.0.abandoned_embed.lock().unwrap() += 1;
            self.0.closed.notify_waiters();
        }
    }
}

/// Counts the stream's end when the body is dropped: after the last chunk,
/// or when the client went away.
struct ClosedGuard(Arc<Shared>);

impl Drop for ClosedGuard {
    fn drop(&mut self) {
        *self.0.closed_streams.lock().unwrap() += 1;
        self.0.closed.notify_waiters();
    }
}

fn stream_response(
    shared: Arc<Shared>,
    reply: Reply,
    model: &str,
    include_usage: bool,
    received: Instant,
) -> Response {
    let Reply::Stream {
        pieces,
        first_delay,
        chunk_delay,
        cut_after,
    } = reply
    else {
        unreachable!("coach replies are streams")
    };
    let timing = Arc::new(Mutex::new(StreamTiming {
        received,
        sent: vec![],
    }));
    shared.timings.lock().unwrap().push(timing.clone());
    let model = model.to_string();
    let output_tokens = pieces.len() as u32;
    // Frames as the API sends them: role first, content, finish, usage, [DONE].
    enum Frame {
        Bytes(Bytes),
        Content(Bytes),
        Cut,
    }
    let null_usage = include_usage.then_some(Value::Null);
    let mut frames = vec![Frame::Bytes(chunk(
        &model,
        json!([{"index": 0, "delta": {"role": "assistant", "content": "", "refusal": null}, "logprobs": null, "finish_reason": null}]),
        null_usage.clone(),
    ))];
    for (i, piece) in pieces.iter().enumerate() {
        if cut_after == Some(i) {
            frames.push(Frame::Cut);
            break;
        }
        frames.push(Frame::Content(chunk(
            &model,
            json!([{"index": 0, "delta": {"content": piece}, "logprobs": null, "finish_reason": null}]),
            null_usage.clone(),
        )));
    }
    if cut_after.is_none_or(|n| n >= pieces.len()) {
        frames.push(Frame::Bytes(chunk(
            &model,
            json!([{"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"}]),
            null_usage.clone(),
        )));
        if include_usage {
            frames.push(Frame::Bytes(chunk(
                &model,
                json!([]),
                Some(json!({"prompt_tokens": 250, "completion_tokens": output_tokens, "total_tokens": 250 + output_tokens,
                       "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}})),
            )));
        }
        frames.push(Frame::Bytes(Bytes::from_static(b"data: [DONE]\n\n")));
    }
    let guard = ClosedGuard(shared);
    let body = futures::stream::iter(frames.into_iter().enumerate()).then(move |(i, frame)| {
        let timing = timing.clone();
        let _keep = &guard;
        async move {
            if i == 1 && !first_delay.is_zero() {
                tokio::time::sleep(first_delay).await;
            } else if i > 1 && !chunk_delay.is_zero() {
                tokio::time::sleep(chunk_delay).await;
            }
            match frame {
                Frame::Bytes(b) => Ok(b),
                Frame::Content(b) => {
                    timing.lock().unwrap().sent.push(Instant::now());
                    Ok(b)
                }
                Frame::Cut => Err(std::io::Error::other("connection cut by the fake")),
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(body))
        .unwrap()
}

async fn embeddings(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap();
    record(&shared, Op::Embed, &headers, &body);
    let mut waiting = UnansweredEmbedding(shared.clone(), true);
    let wanted = *shared.hold_embed_until_coach.lock().unwrap();
    hold_until_coach(&shared, wanted).await;
    let delay = shared.delays.lock().unwrap().embed;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    waiting.1 = false;
    if let Some(Reply::Status {
        status,
        retry_after,
        body,
    }) = next_reply(&shared, Op::Embed)
    {
        return status_response(status, retry_after, body);
    }
    let dimension = body["dimensions"].as_u64().unwrap_or(1536) as usize;
    let embedder = HashingEmbedder::new(dimension);
    let inputs: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => vec![],
    };
    // Answered in reverse order: clients must sort by index.
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .rev()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embedder.embed_one(text)}))
        .collect();
    let tokens: usize = inputs.iter().map(|t| t.split_whitespace().count()).sum();
    let reply = json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens}
    });
    ([("content-type", "application/json")], reply.to_string()).into_response()
}
