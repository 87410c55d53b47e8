//! The Bedrock adapters on the SDK's own test tooling: ConverseStream
//! answered with real event-stream frames (encoded with the SDK's frame
//! writer and the headers Bedrock sends), Converse and InvokeModel with
//! canned JSON and error responses.

#[path = "support/router.rs"]
mod router;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_bedrockruntime::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_bedrockruntime::{Client, Config};
use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient, infallible_client_fn};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use futures::StreamExt;
use petraf_core::adapters::bedrock::{BedrockSettings, DEFAULT_CHAT_MODEL};
use petraf_core::adapters::embedded::HashingEmbedder;
use petraf_core::adapters::resilience::Resilience;
use petraf_core::config::test_env as env;
use petraf_core::conformance::{self, sarah_context};
use petraf_core::domain::message::Usage;
use petraf_core::domain::phase::Phase;
use petraf_core::domain::tenant::TenantConfig;
use petraf_core::ports::Embedder;
use petraf_core::ports::chat_model::{ChatModel, CoachPurpose, ModelError, Readiness, StreamPiece};
use serde_json::{Value, json};

fn settings() -> BedrockSettings {
    BedrockSettings {
        resilience: Resilience {
            connect_timeout: Duration::from_secs(1),
            first_token_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(10),
            max_retries: 2,
            base_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
        },
        ..BedrockSettings::default()
    }
}

fn client(http: impl aws_sdk_bedrockruntime::config::HttpClient + 'static) -> Client {
    let config = Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .http_client(http)
        .build();
    Client::from_conf(config)
}

/// One event-stream frame as Bedrock sends it.
fn frame(event_type: &str, payload: Value) -> Vec<u8> {
    encoded(":event-type", event_type, "event", payload)
}

fn exception_frame(exception_type: &str, message: &str) -> Vec<u8> {
    encoded(
        ":exception-type",
        exception_type,
        "exception",
        json!({"message": message}),
    )
}

/// A frame of `message_type` whose `type_header` names it `name`.
fn encoded(
    type_header: &'static str,
    name: &str,
    message_type: &'static str,
    payload: Value,
) -> Vec<u8> {
    let message = Message::new(payload.to_string().into_bytes())
        .add_header(Header::new(
            type_header,
            HeaderValue::String(name.to_string().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(message_type.into()),
        ));
    let mut bytes = vec![];
    aws_smithy_eventstream::frame::write_message_to(&message, &mut bytes).unwrap();
    bytes
}

const PIECES: &[&str] = &[
    "That's a clear ",
    "direction. How many ",
    "people would you lead?",
];

/// messageStart, a block of text deltas, messageStop, metadata.
fn stream_body(pieces: &[&str], finish: bool) -> Vec<u8> {
    let mut body = frame(
        "messageStart",
        json!({"p": "abcdefgh", "role": "assistant"}),
    );
    for piece in pieces {
        body.extend(frame(
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"text": piece}, "p": "abcd"}),
        ));
    }
    if finish {
        body.extend(frame(
            "contentBlockStop",
            json!({"contentBlockIndex": 0, "p": "abc"}),
        ));
        body.extend(frame(
            "messageStop",
            json!({"stopReason": "end_turn", "p": "a"}),
        ));
        body.extend(frame(
            "metadata",
            json!({"usage": {"inputTokens": 250, "outputTokens": 12, "totalTokens": 262}, "metrics": {"latencyMs": 410}, "p": "abcdef"}),
        ));
    }
    body
}

fn forced() -> CoachPurpose {
    CoachPurpose::Collect {
        readiness: Readiness::Forced,
    }
}

fn request(path: &str) -> http::Request<SdkBody> {
    http::Request::builder()
        .uri(format!(
            "https://bedrock-runtime.us-east-1.amazonaws.com{path}"
        ))
        .body(SdkBody::empty())
        .unwrap()
}

fn stream_reply(body: Vec<u8>) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/vnd.amazon.eventstream")
        .header("x-amzn-requestid", "req-stream")
        .body(SdkBody::from(body))
        .unwrap()
}

fn converse_reply(text: &str) -> http::Response<SdkBody> {
    let body = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 100, "outputTokens": 20, "totalTokens": 120},
        "metrics": {"latencyMs": 321}
    });
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

fn throttled() -> http::Response<SdkBody> {
    http::Response::builder()
        .status(429)
        .header("content-type", "application/json")
        .header(
            "x-amzn-errortype",
            "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/",
        )
        .body(SdkBody::from(
            r#"{"message":"Too many requests, please wait before trying again."}"#,
        ))
        .unwrap()
}

fn event(path: &str, response: http::Response<SdkBody>) -> ReplayEvent {
    ReplayEvent::new(request(path), response)
}

fn score_json() -> String {
    let rubric = TenantConfig::defaults()
        .rubric(Phase::G4Future)
        .unwrap()
        .clone();
    let criteria: Vec<Value> = rubric
        .criteria
        .iter()
        .map(|c| json!({"name": c.name, "score": 8, "reasoning": "ok"}))
        .collect();
    json!({"criteria": criteria, "feedback": "Good.", "suggestions": []}).to_string()
}

/// Titan v2 over a function of the request: each text gets its own vector.
fn titan(calls: Arc<AtomicUsize>, seen: Arc<Mutex<Vec<String>>>) -> Client {
    client(infallible_client_fn(
        move |request: http::Request<SdkBody>| {
            calls.fetch_add(1, Ordering::SeqCst);
            assert!(
                request
                    .uri()
                    .path()
                    .ends_with("/model/amazon.titan-embed-text-v2%3A0/invoke"),
                "{}",
                request.uri()
            );
            let body: Value = serde_json::from_slice(request.body().bytes().unwrap()).unwrap();
            assert_eq!(body["dimensions"], 1024);
            assert_eq!(body["normalize"], true);
            let text = body["inputText"].as_str().unwrap().to_string();
            seen.lock().unwrap().push(text.clone());
            let reply = json!({"embedding": HashingEmbedder::new(1024).embed_one(&text), "inputTextTokenCount": 7});
            http::Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(SdkBody::from(reply.to_string()))
                .unwrap()
        },
    ))
}

/// The replayed requests went to these paths, in order.
fn assert_paths(replay: &StaticReplayClient, paths: &[String]) {
    let sent: Vec<String> = replay
        .actual_requests()
        .map(|r| r.uri().to_string())
        .collect();
    assert_eq!(sent.len(), paths.len(), "{sent:?}");
    for (uri, path) in sent.iter().zip(paths) {
        assert!(uri.ends_with(path.as_str()), "{uri} is not {path}");
    }
}

fn model_path(op: &str) -> String {
    format!("/model/{}/{op}", DEFAULT_CHAT_MODEL.replace(':', "%3A"))
}

#[tokio::test]
async fn bedrock_on_replayed_responses_conforms() {
    let judged: Vec<&str> = std::iter::once("READY: no\n\n")
        .chain(PIECES.iter().copied())
        .collect();
    let replay = StaticReplayClient::new(vec![
        event(
            &model_path("converse-stream"),
            stream_reply(stream_body(&judged, true)),
        ),
        event(
            &model_path("converse-stream"),
            stream_reply(stream_body(PIECES, true)),
        ),
        event(
            &model_path("converse"),
            converse_reply(
                r#"{"goal": "Within 24 months, I will lead a team of 3-4 developers."}"#,
            ),
        ),
        event(&model_path("converse"), converse_reply(&score_json())),
    ]);
    let (model, _) = settings().models(&client(replay.clone()));
    conformance::chat_model(Arc::new(model)).await;
    assert_paths(
        &replay,
        &[
            model_path("converse-stream"),
            model_path("converse-stream"),
            model_path("converse"),
            model_path("converse"),
        ],
    );

    let (_, embedder) = settings().models(&titan(Arc::default(), Arc::default()));
    conformance::embedder(Arc::new(embedder)).await;
}

#[tokio::test]
async fn the_coach_streams_frames_into_text_and_usage() {
    let replay = StaticReplayClient::new(vec![event(
        &model_path("converse-stream"),
        stream_reply(stream_body(PIECES, true)),
    )]);
    let (model, _) = settings().models(&client(replay.clone()));
    let mut stream = model.coach(&sarah_context(), forced()).await.unwrap();
    let mut pieces = vec![];
    while let Some(piece) = stream.next().await {
        pieces.push(piece.unwrap());
    }
    let mut expected: Vec<StreamPiece> = PIECES
        .iter()
        .map(|p| StreamPiece::Text(p.to_string()))
        .collect();
    expected.push(StreamPiece::Usage(Usage {
        input: 250,
        output: 12,
    }));
    assert_eq!(pieces, expected);

    let sent = replay.actual_requests().next().unwrap();
    assert!(
        sent.uri().ends_with(&model_path("converse-stream")),
        "the default model: {}",
        sent.uri()
    );
    let body: Value = serde_json::from_slice(sent.body().bytes().unwrap()).unwrap();
    assert!(
        body["system"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Sunrise Corporation")
    );
    let roles: Vec<&str> = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
}

#[tokio::test]
async fn a_verdict_split_over_frames_is_read_and_stripped() {
    let frames = ["REA", "DY: y", "es\n", "\nThat's a clear ", "goal."];
    let replay = StaticReplayClient::new(vec![event(
        &model_path("converse-stream"),
        stream_reply(stream_body(&frames, true)),
    )]);
    let (model, _) = settings().models(&client(replay.clone()));
    let judge = CoachPurpose::Collect {
        readiness: Readiness::Judge,
    };
    let stream = model.coach(&sarah_context(), judge).await.unwrap();
    let pieces: Vec<StreamPiece> = stream.map(|p| p.unwrap()).collect().await;
    assert_eq!(
        pieces,
        vec![
            StreamPiece::Verdict { ready: true },
            StreamPiece::Text("That's a clear ".into()),
            StreamPiece::Text("goal.".into()),
            StreamPiece::Usage(Usage {
                input: 250,
                output: 12
            }),
        ]
    );
    let sent = replay.actual_requests().next().unwrap();
    let body: Value = serde_json::from_slice(sent.body().bytes().unwrap()).unwrap();
    assert!(
        body["system"]
            .to_string()
            .contains("`READY: yes` or `READY: no`")
    );
}

#[tokio::test]
async fn a_tenants_bedrock_model_id_is_used() {
    let id = "us.anthropic.claude-3-5-sonnet-20241022-v2:0";
    let replay = StaticReplayClient::new(vec![event(
        &format!("/model/{}/converse", id.replace(':', "%3A")),
        converse_reply(r#"{"goal": "Lead a team of four by 2027."}"#),
    )]);
    let (model, _) = settings().models(&client(replay.clone()));
    let mut ctx = sarah_context();
    ctx.model = id.into();
    assert_eq!(model.model_for(&ctx), id);
    model.refine(&ctx, None).await.unwrap();
    assert_paths(
        &replay,
        &[format!("/model/{}/converse", id.replace(':', "%3A"))],
    );
}

#[tokio::test]
async fn throttling_is_retried_and_bounded() {
    let replay = StaticReplayClient::new(vec![
        event(&model_path("converse"), throttled()),
        event(
            &model_path("converse"),
            converse_reply("Sure. {\"goal\": \"Lead a team of four by 2027.\"} Hope it helps."),
        ),
    ]);
    let (model, _) = settings().models(&client(replay.clone()));
    let refined = model.refine(&sarah_context(), None).await.unwrap();
    assert_eq!(
        refined.value, "Lead a team of four by 2027.",
        "the first JSON object in the text"
    );
    assert_eq!(
        refined.usage,
        Usage {
            input: 100,
            output: 20
        }
    );
    assert_eq!(replay.actual_requests().count(), 2);
    let body: Value = serde_json::from_slice(
        replay
            .actual_requests()
            .last()
            .unwrap()
            .body()
            .bytes()
            .unwrap(),
    )
    .unwrap();
    assert!(
        body["system"]
            .to_string()
            .contains("Respond with a single JSON object")
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 300, "capped");

    let replay = StaticReplayClient::new(
        (0..3)
            .map(|_| event(&model_path("converse"), throttled()))
            .collect(),
    );
    let (model, _) = settings().models(&client(replay.clone()));
    assert_eq!(
        model.refine(&sarah_context(), None).await.unwrap_err(),
        ModelError::RateLimited
    );
    assert_eq!(
        replay.actual_requests().count(),
        3,
        "one try and two retries, the SDK's own retries off"
    );
}

#[tokio::test]
async fn an_exception_after_text_ends_the_stream_without_a_retry() {
    let mut body = stream_body(&PIECES[..2], false);
    body.extend(exception_frame(
        "modelStreamErrorException",
        "The model stopped.",
    ));
    let replay = StaticReplayClient::new(vec![
        event(&model_path("converse-stream"), stream_reply(body)),
        event(
            &model_path("converse-stream"),
            stream_reply(stream_body(PIECES, true)),
        ),
    ]);
    let (model, _) = settings().models(&client(replay.clone()));
    let stream = model.coach(&sarah_context(), forced()).await.unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[0], Ok(StreamPiece::Text(PIECES[0].into())));
    assert!(
        matches!(items[2], Err(ModelError::Upstream(_))),
        "{:?}",
        items[2]
    );
    assert_eq!(replay.actual_requests().count(), 1);
}

#[tokio::test]
async fn a_stream_that_ends_early_is_an_error() {
    let replay = StaticReplayClient::new(vec![event(
        &model_path("converse-stream"),
        stream_reply(stream_body(&PIECES[..1], false)),
    )]);
    let (model, _) = settings().models(&client(replay));
    let stream = model.coach(&sarah_context(), forced()).await.unwrap();
    let items: Vec<_> = stream.collect().await;
    assert!(
        matches!(items.last(), Some(Err(ModelError::Upstream(_)))),
        "{items:?}"
    );
}

#[tokio::test]
async fn an_unusable_score_is_malformed() {
    let replay = StaticReplayClient::new(vec![event(
        &model_path("converse"),
        converse_reply(r#"{"criteria": [{"name": "specificity", "score": 9}]}"#),
    )]);
    let (model, _) = settings().models(&client(replay));
    let rubric = TenantConfig::defaults()
        .rubric(Phase::G4Future)
        .unwrap()
        .clone();
    let err = model
        .score(&sarah_context(), "goal", &rubric)
        .await
        .unwrap_err();
    assert!(matches!(err, ModelError::Malformed(_)), "{err:?}");
}

#[tokio::test]
async fn titan_embeds_one_text_a_call_in_order() {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(Mutex::new(vec![]));
    let (_, embedder) = settings().models(&titan(calls.clone(), seen.clone()));
    let texts: Vec<String> = (0..10)
        .map(|i| format!("passage {i} on mentoring"))
        .collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 10);
    assert_eq!(embedder.dimension(), 1024);
    let reference = HashingEmbedder::new(1024);
    for (text, vector) in texts.iter().zip(&vectors) {
        assert_eq!(vector, &reference.embed_one(text));
    }
}

#[tokio::test]
async fn configuration_builds_bedrock_from_the_sdk_config() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let bad = petraf_core::config::from_env(&env(&[
        ("PETRAF_DATA_DIR", d),
        ("PETRAF_MODEL_PROVIDER", "bedrock"),
        ("PETRAF_BEDROCK_EMBED_DIMENSIONS", "300"),
    ]))
    .await
    .err()
    .expect("Titan v2 has no 300-dimension vectors");
    assert_eq!(bad.variable, "PETRAF_BEDROCK_EMBED_DIMENSIONS");

    // The region comes from the SDK's own chain; set it so nothing probes
    // the instance metadata endpoint.
    // SAFETY: no other test in this binary reads the environment.
    unsafe { std::env::set_var("AWS_REGION", "eu-west-1") };
    let app = petraf_core::config::from_env(&env(&[
        ("PETRAF_DATA_DIR", d),
        ("PETRAF_MODEL_PROVIDER", "bedrock"),
        ("PETRAF_BEDROCK_CHAT_MODEL", "amazon.nova-lite-v1:0"),
        ("PETRAF_BEDROCK_EMBED_DIMENSIONS", "512"),
    ]))
    .await
    .unwrap();
    assert_eq!(app.model.provider(), "bedrock");
    assert_eq!(
        app.model.model_for(&sarah_context()),
        "amazon.nova-lite-v1:0"
    );
    assert_eq!(app.embedder.dimension(), 512);
}

/// Bedrock answering a whole turn by path: Titan embeddings, a coach
/// stream (leading with `READY: yes` when asked for a verdict), refine and
/// score through Converse. Records which call each request was.
fn bedrock_service(calls: Arc<Mutex<Vec<&'static str>>>, embeds_fail: Arc<AtomicBool>) -> Client {
    client(infallible_client_fn(
        move |request: http::Request<SdkBody>| {
            let path = request.uri().path().to_string();
            let body: Value =
                serde_json::from_slice(request.body().bytes().unwrap_or_default()).unwrap();
            let system = body["system"].to_string();
            let call = if path.ends_with("/invoke") {
                "embed"
            } else if path.ends_with("/converse-stream") {
                "coach"
            } else if system.contains("goal scoring expert") {
                "score"
            } else {
                "refine"
            };
            calls.lock().unwrap().push(call);
            match call {
                "embed" if embeds_fail.load(Ordering::SeqCst) => invalid_request(),
                "embed" => {
                    let text = body["inputText"].as_str().unwrap();
                    let reply = json!({"embedding": HashingEmbedder::new(1024).embed_one(text), "inputTextTokenCount": 7});
                    json_reply(reply)
                }
                "coach" if system.contains("`READY: yes` or `READY: no`") => {
                    stream_reply(stream_body(&["READY: yes\n\n", PIECES[0], PIECES[1]], true))
                }
                "coach" => stream_reply(stream_body(PIECES, true)),
                "score" => converse_reply(&score_json()),
                _ => converse_reply(
                    r#"{"goal": "Within 24 months, I will lead a team of 3-4 developers."}"#,
                ),
            }
        },
    ))
}

/// A 400 Bedrock does not want retried.
fn invalid_request() -> http::Response<SdkBody> {
    http::Response::builder()
        .status(400)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", "ValidationException")
        .body(SdkBody::from(r#"{"message":"Malformed input request"}"#))
        .unwrap()
}

fn json_reply(body: Value) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .body(SdkBody::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_ready_turn_on_bedrock_makes_no_call_in_front_of_the_coach() {
    let calls = Arc::new(Mutex::new(vec![]));
    let embeds_fail = Arc::new(AtomicBool::new(false));
    let (model, embedder) = settings().models(&bedrock_service(calls.clone(), embeds_fail.clone()));
    let dir = tempfile::tempdir().unwrap();
    let app = router::app_with(Arc::new(model), Arc::new(embedder), dir.path());
    petraf_core::app::demo::seed_if_empty(&app).await.unwrap();
    calls.lock().unwrap().clear();
    let session = router::sarahs_session(&app).await;
    assert_eq!(
        *calls.lock().unwrap(),
        ["embed"; 3],
        "the profile embeds each phase's first retrieval query"
    );
    calls.lock().unwrap().clear();
    let events = router::turn(&app, &session, "I want to lead a team of 3-4 developers.").await;
    assert_eq!(
        router::names(&events),
        [
            "start", "message", "state", "refined", "state", "score", "state", "complete"
        ]
    );
    let complete = &events.last().unwrap().1;
    assert_eq!(
        complete["full_response"],
        PIECES[..2].concat(),
        "the verdict is never shown"
    );
    assert_eq!(
        complete["tokens_used"]["input"],
        250 + 100 + 100,
        "coach, refine and score"
    );
    let calls = calls.lock().unwrap().clone();
    let mut first_two = calls[..2].to_vec();
    first_two.sort();
    assert_eq!(
        first_two,
        ["coach", "embed"],
        "the coach starts with the turn's own retrieval alongside, not after it"
    );
    assert_eq!(
        calls[2..],
        ["refine", "score"],
        "no readiness call; the goal is drafted once the verdict is in"
    );
}

#[tokio::test]
async fn on_bedrock_the_coach_needs_no_embedding_of_the_turn() {
    let calls = Arc::new(Mutex::new(vec![]));
    let embeds_fail = Arc::new(AtomicBool::new(false));
    let (model, embedder) = settings().models(&bedrock_service(calls.clone(), embeds_fail.clone()));
    let dir = tempfile::tempdir().unwrap();
    let app = router::app_with(Arc::new(model), Arc::new(embedder), dir.path());
    petraf_core::app::demo::seed_if_empty(&app).await.unwrap();
    let session = router::sarahs_session(&app).await;
    // From here every embedding fails: the coach's passages come from the
    // profile's query, searched in the index; the turn's own retrieval
    // failing costs the turn nothing.
    embeds_fail.store(true, Ordering::SeqCst);
    calls.lock().unwrap().clear();
    let events = router::turn(&app, &session, "I want to lead a team of 3-4 developers.").await;
    assert_eq!(
        router::names(&events),
        [
            "start", "message", "state", "refined", "state", "score", "state", "complete"
        ]
    );
    let sources = events.last().unwrap().1["sources"]
        .as_array()
        .unwrap()
        .clone();
    assert!(!sources.is_empty(), "the coach was grounded all the same");
    assert!(calls.lock().unwrap().contains(&"embed"), "the turn did try");
}
