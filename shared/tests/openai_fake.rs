//! The OpenAI adapters against a wire-level fake of the API: the real
//! async-openai client, real SSE, real HTTP — retries, timeouts, cut
//! streams, disconnects, the conformance suites and a whole chat session
//! through the HTTP router.

#[path = "support/router.rs"]
mod router;
#[path = "openai_fake/server.rs"]
mod server;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, BodyDataStream};
use axum::http::Request;
use futures::StreamExt;
use petraf_core::adapters::embedded::HashingEmbedder;
use petraf_core::adapters::openai::{OpenAiEmbedder, OpenAiModel, OpenAiSettings};
use petraf_core::adapters::resilience::Resilience;
use petraf_core::app::ingestion::{DocumentUpload, ingest_upload};
use petraf_core::app::{App, demo, judging, settings, tenants};
use petraf_core::config::test_env as env;
use petraf_core::conformance::{self, sarah_context};
use petraf_core::domain::audit::RequestOrigin;
use petraf_core::domain::conversation::ConversationState;
use petraf_core::domain::message::{Message, Role, Usage};
use petraf_core::domain::phase::Phase;
use petraf_core::domain::scoring::Rubric;
use petraf_core::domain::tenant::{CoachRetrieval, TenantConfig};
use petraf_core::ports::Embedder;
use petraf_core::ports::chat_model::{ChatModel, CoachPurpose, ModelError, Readiness, StreamPiece};
use router::{call_as_admin, names, sarahs_session, turn};
use serde_json::json;
use server::{DEFAULT_PIECES, Delays, FakeOpenAi, Op, Recorded, Reply};
use tower::ServiceExt;

const KEY: &str = "sk-test-fake-key-0123456789";

fn quick() -> Resilience {
    Resilience {
        connect_timeout: Duration::from_secs(2),
        first_token_timeout: Duration::from_millis(400),
        call_timeout: Duration::from_secs(10),
        max_retries: 2,
        base_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

fn settings(fake: &FakeOpenAi) -> OpenAiSettings {
    let mut s = OpenAiSettings::new(KEY);
    s.base_url = fake.base_url.clone();
    s.resilience = quick();
    s
}

fn adapters(fake: &FakeOpenAi) -> (OpenAiModel, OpenAiEmbedder) {
    settings(fake).models().unwrap()
}

fn g4_rubric() -> Rubric {
    TenantConfig::defaults()
        .rubric(Phase::G4Future)
        .unwrap()
        .clone()
}

/// Drains a coach stream (one that asks for no verdict) into its text, its
/// usage and its error, if any.
async fn drain(model: &OpenAiModel) -> (String, Usage, Option<ModelError>) {
    let forced = CoachPurpose::Collect {
        readiness: Readiness::Forced,
    };
    let mut stream = model
        .coach(&sarah_context(), forced)
        .await
        .expect("the stream opens");
    let (mut text, mut usage, mut error) = (String::new(), Usage::default(), None);
    while let Some(piece) = stream.next().await {
        match piece {
            Ok(StreamPiece::Text(t)) => text.push_str(&t),
            Ok(StreamPiece::Usage(u)) => usage += u,
            Ok(StreamPiece::Verdict { .. }) => panic!("no verdict was asked for"),
            Err(e) => error = Some(e),
        }
    }
    (text, usage, error)
}

#[tokio::test]
async fn openai_on_the_fake_conforms() {
    let fake = FakeOpenAi::start().await;
    let (model, embedder) = adapters(&fake);
    conformance::chat_model(Arc::new(model)).await;
    conformance::embedder(Arc::new(embedder)).await;
    assert!(fake.count(Op::Coach) == 2 && fake.count(Op::Score) == 1);
}

#[tokio::test]
async fn the_coach_streams_text_and_usage_with_the_tenants_model_and_key() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    let (text, usage, error) = drain(&model).await;
    assert_eq!(error, None);
    assert_eq!(text, DEFAULT_PIECES.concat());
    assert_eq!(
        usage,
        Usage {
            input: 250,
            output: 4
        }
    );
    let request = &fake.requests()[0];
    assert_eq!(request.body["model"], "gpt-4o-mini");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["stream_options"]["include_usage"], true);
    assert_eq!(
        request.authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    let messages = request.body["messages"].as_array().unwrap();
    assert!(
        messages[1]["content"]
            .as_str()
            .unwrap()
            .contains("<company_context>")
    );
    assert_eq!(messages.last().unwrap()["role"], "user");
}

#[tokio::test]
async fn a_judging_reply_leads_with_its_verdict_which_never_shows_as_text() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script_verdicts(["READY: no\n\n", "**Ready:** perhaps\n", ""]);
    let judge = || CoachPurpose::Collect {
        readiness: Readiness::Judge,
    };
    for expected in [Some(false), Some(false), Some(false), Some(true)] {
        let stream = model.coach(&sarah_context(), judge()).await.unwrap();
        let pieces: Vec<StreamPiece> = stream.map(|p| p.unwrap()).collect().await;
        let verdicts: Vec<bool> = pieces
            .iter()
            .filter_map(|p| match p {
                StreamPiece::Verdict { ready } => Some(*ready),
                _ => None,
            })
            .collect();
        assert_eq!(verdicts.first().copied(), expected);
        assert_eq!(verdicts.len(), 1);
        assert!(matches!(pieces[0], StreamPiece::Verdict { .. }), "first");
        let text: String = pieces
            .iter()
            .filter_map(|p| match p {
                StreamPiece::Text(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            text,
            DEFAULT_PIECES.concat(),
            "the verdict line is stripped"
        );
    }
    assert!(server::asks_for_verdict(&fake.requests()[0].body));
    drain(&model).await;
    assert!(
        !server::asks_for_verdict(&fake.requests().last().unwrap().body),
        "a forced wrap-up asks for none"
    );
}

#[tokio::test]
async fn json_calls_use_json_mode_capped_and_report_usage() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    let refined = model.refine(&sarah_context(), None).await.unwrap();
    assert_eq!(
        refined.usage,
        Usage {
            input: 120,
            output: 40
        }
    );
    let rubric = g4_rubric();
    model
        .score(&sarah_context(), "A goal", &rubric)
        .await
        .unwrap();
    let requests = fake.requests();
    for (request, cap) in requests.iter().zip([300, 1200]) {
        assert_eq!(request.body["response_format"]["type"], "json_object");
        assert_eq!(request.body["max_tokens"], cap, "{:?}", request.op);
    }
}

#[tokio::test]
async fn a_429_is_retried_after_its_retry_after_then_succeeds() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script(Op::Coach, [Reply::rate_limited("0.3")]);
    let started = std::time::Instant::now();
    let (text, _, error) = drain(&model).await;
    assert_eq!(error, None);
    assert_eq!(text, DEFAULT_PIECES.concat());
    assert_eq!(fake.count(Op::Coach), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "Retry-After is honoured"
    );

    fake.script(Op::Score, [Reply::server_error()]);
    let rubric = g4_rubric();
    model
        .score(&sarah_context(), "A goal", &rubric)
        .await
        .expect("a 500 is retried");
    assert_eq!(fake.count(Op::Score), 2);
}

#[tokio::test]
async fn retries_are_bounded() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script(Op::Score, (0..3).map(|_| Reply::rate_limited("0")));
    let rubric = g4_rubric();
    let err = model
        .score(&sarah_context(), "A goal", &rubric)
        .await
        .unwrap_err();
    assert_eq!(err, ModelError::RateLimited);
    assert_eq!(fake.count(Op::Score), 3, "one try and two retries");

    fake.script(
        Op::Refine,
        [Reply::Status {
            status: 400,
            retry_after: None,
            body: json!({"error": {"message": "bad model"}}).to_string(),
        }],
    );
    let err = model.refine(&sarah_context(), None).await.unwrap_err();
    assert_eq!(err, ModelError::Upstream("HTTP 400: bad model".into()));
    assert_eq!(fake.count(Op::Refine), 1, "a 400 is not retried");
}

#[tokio::test]
async fn a_stream_cut_after_text_is_an_error_and_not_retried() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script(
        Op::Coach,
        [Reply::Stream {
            pieces: DEFAULT_PIECES.iter().map(|p| p.to_string()).collect(),
            first_delay: Duration::ZERO,
            chunk_delay: Duration::from_millis(5),
            cut_after: Some(2),
        }],
    );
    let (text, usage, error) = drain(&model).await;
    assert_eq!(text, DEFAULT_PIECES[..2].concat());
    assert!(matches!(error, Some(ModelError::Upstream(_))), "{error:?}");
    assert_eq!(usage, Usage::default(), "a cut stream never sent its usage");
    assert_eq!(fake.count(Op::Coach), 1, "no retry once text has streamed");
}

#[tokio::test]
async fn a_slow_first_token_times_out() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script(
        Op::Coach,
        [Reply::Stream {
            pieces: vec!["late".into()],
            first_delay: Duration::from_secs(3),
            chunk_delay: Duration::ZERO,
            cut_after: None,
        }],
    );
    let started = std::time::Instant::now();
    let (text, _, error) = drain(&model).await;
    assert_eq!(error, Some(ModelError::Timeout));
    assert!(text.is_empty());
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn an_unusable_score_is_malformed() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    let rubric = g4_rubric();
    for reply in [
        Reply::Content(r#"{"criteria": [{"name": "specificity", "score": 9"#.into()),
        Reply::Content("I would rather not say.".into()),
        Reply::content(json!({"criteria": [{"name": "specificity", "score": 12}]})),
    ] {
        fake.script(Op::Score, [reply]);
        let err = model
            .score(&sarah_context(), "goal", &rubric)
            .await
            .unwrap_err();
        assert!(matches!(err, ModelError::Malformed(_)), "{err:?}");
    }
    assert_eq!(
        fake.count(Op::Score),
        3,
        "the adapter never retries a malformed answer"
    );
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let fake = FakeOpenAi::start().await;
    let (model, _) = adapters(&fake);
    fake.script(Op::Coach, [long_reply()]);
    let forced = CoachPurpose::Collect {
        readiness: Readiness::Forced,
    };
    let mut stream = model.coach(&sarah_context(), forced).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first, StreamPiece::Text("word0 ".into()));
    drop(stream);
    assert!(
        fake.wait_closed(1, Duration::from_secs(2)).await,
        "the fake saw the connection close"
    );
    let sent = fake.timings()[0].sent.len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        fake.timings()[0].sent.len(),
        sent,
        "nothing is sent after the close"
    );
    assert!(sent < 10, "the reply stopped early: {sent} chunks");
}

#[tokio::test]
async fn embeddings_batch_many_inputs_and_keep_their_order() {
    let fake = FakeOpenAi::start().await;
    let (_, embedder) = adapters(&fake);
    let texts: Vec<String> = (0..300)
        .map(|i| format!("passage number {i} about mentoring"))
        .collect();
    let vectors = embedder.embed(&texts).await.unwrap();
    assert_eq!(fake.count(Op::Embed), 2, "256 inputs a request");
    let reference = HashingEmbedder::new(1536);
    assert_eq!(vectors[0], reference.embed_one(&texts[0]));
    assert_eq!(vectors[299], reference.embed_one(&texts[299]));
    assert_eq!(fake.requests()[0].body["model"], "text-embedding-3-small");

    let mut shorter = settings(&fake);
    shorter.embed_dimension = 256;
    shorter.request_dimension = true;
    let (_, embedder) = shorter.models().unwrap();
    assert_eq!(embedder.embed(&texts[..1]).await.unwrap()[0].len(), 256);
    assert_eq!(fake.requests().last().unwrap().body["dimensions"], 256);

    let mut wrong = settings(&fake);
    wrong.embed_dimension = 768;
    let (_, embedder) = wrong.models().unwrap();
    assert!(matches!(
        embedder.embed(&texts[..1]).await,
        Err(ModelError::Malformed(_))
    ));
}

#[tokio::test]
async fn configuration_needs_the_key_and_never_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let openai = [("PETRAF_DATA_DIR", d), ("PETRAF_MODEL_PROVIDER", "openai")];
    for (case, more, variable) in [
        ("a key is required", &[][..], "OPENAI_API_KEY"),
        (
            "an unknown embed model needs its size",
            &[
                ("OPENAI_API_KEY", KEY),
                ("PETRAF_OPENAI_EMBED_MODEL", "nomic-embed-text"),
            ][..],
            "PETRAF_EMBEDDING_DIMENSION",
        ),
    ] {
        let refused = petraf_core::config::from_env(&env(&[&openai[..], more].concat()))
            .await
            .err()
            .unwrap_or_else(|| panic!("case '{case}': the configuration was accepted"));
        assert_eq!(refused.variable, variable, "case '{case}'");
    }

    let fake = FakeOpenAi::start().await;
    let app = petraf_core::config::from_env(&env(&[
        ("PETRAF_DATA_DIR", d),
        ("PETRAF_MODEL_PROVIDER", "openai"),
        ("OPENAI_API_KEY", KEY),
        ("OPENAI_BASE_URL", &fake.base_url),
        ("PETRAF_MODEL_MAX_RETRIES", "1"),
    ]))
    .await
    .unwrap();
    assert_eq!(app.model.provider(), "openai");
    assert_eq!(app.embedder.dimension(), 1536);
    app.embedder.embed(&["hello".into()]).await.unwrap();
    assert_eq!(fake.count(Op::Embed), 1, "OPENAI_BASE_URL is used");
    let health = petraf_core::http::full_api(app)
        .oneshot(Request::get("/api/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(health.into_body(), usize::MAX)
        .await
        .unwrap();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert!(body.contains("\"chat_model\":\"openai\""), "{body}");
    assert!(!body.contains(KEY) && !body.contains("sk-"), "{body}");
}

// ---- The whole chat flow through the HTTP router ----

/// The fake, and an app on it in a data directory of its own.
async fn on_fake() -> (FakeOpenAi, App, tempfile::TempDir) {
    let fake = FakeOpenAi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (model, embedder) = adapters(&fake);
    let app = router::app_with(Arc::new(model), Arc::new(embedder), dir.path());
    (fake, app, dir)
}

#[tokio::test]
async fn a_whole_session_runs_on_the_fake_through_the_router() {
    let (fake, app, _dir) = on_fake().await;
    demo::seed_if_empty(&app)
        .await
        .unwrap()
        .expect("the demo tenant and its documents");
    assert!(
        fake.count(Op::Embed) >= 1,
        "documents are embedded through the fake"
    );
    let session = sarahs_session(&app).await;

    fake.script_verdicts(["READY: no\n\n", "READY: yes\n\n"]);
    let first = turn(
        &app,
        &session,
        "I want to become a senior engineer and maybe start leading a small team.",
    )
    .await;
    assert_eq!(names(&first), ["start", "message", "complete"]);
    let complete = &first.last().unwrap().1;
    assert_eq!(complete["full_response"], DEFAULT_PIECES.concat());
    assert_eq!(
        complete["tokens_used"]["input"], 250,
        "the coach's reply is the only call"
    );
    assert_eq!(fake.count(Op::Refine), 0);

    let second = turn(
        &app,
        &session,
        "I'd like to lead a team of 3-4 developers on our payment processing platform.",
    )
    .await;
    assert_eq!(
        names(&second),
        [
            "start", "message", "state", "refined", "state", "score", "state", "complete"
        ]
    );
    let score = &second.iter().find(|(n, _)| n == "score").unwrap().1;
    assert_eq!(score["overall"], 8.5);
    assert_eq!(score["meets_threshold"], true);
    let refined = &second.iter().find(|(n, _)| n == "refined").unwrap().1;
    assert!(
        refined["goal"]
            .as_str()
            .unwrap()
            .starts_with("Within 24 months")
    );
    let last_state = &second.iter().rev().find(|(n, _)| n == "state").unwrap().1;
    assert_eq!(last_state["phase"], "g6_values");

    // The coach saw the retrieved company context and the earlier turn.
    let coach = last_coach(&fake);
    let prompt = coach.body["messages"].to_string();
    assert!(prompt.contains("<company_context>") && prompt.contains("source: "));
    assert!(prompt.contains("start leading a small team"));

    let tenant = tenants::DEMO_TENANT_ID;
    let (goals, _) = app.store.goals(tenant, &session.0).await.unwrap();
    assert_eq!(goals.len(), 1);
    assert!(goals[0].is_final);
}

/// The ops of the requests the fake received from `from` on.
fn ops_since(fake: &FakeOpenAi, from: usize) -> Vec<Op> {
    fake.requests()[from..].iter().map(|r| r.op).collect()
}

/// The last request for the coach's reply.
fn last_coach(fake: &FakeOpenAi) -> Recorded {
    fake.requests()
        .into_iter()
        .rfind(|r| r.op == Op::Coach)
        .expect("a coach request")
}

async fn conversation(app: &App, session: &(String, String)) -> ConversationState {
    app.store
        .conversation(tenants::DEMO_TENANT_ID, &session.0)
        .await
        .unwrap()
        .unwrap()
}

async fn stored_messages(app: &App, session: &(String, String)) -> Vec<Message> {
    app.store
        .messages(tenants::DEMO_TENANT_ID, &session.0)
        .await
        .unwrap()
}

/// A coach reply of 50 words, 50 ms apart: long enough to leave mid-way.
fn long_reply() -> Reply {
    Reply::Stream {
        pieces: (0..50).map(|i| format!("word{i} ")).collect(),
        first_delay: Duration::ZERO,
        chunk_delay: Duration::from_millis(50),
        cut_after: None,
    }
}

/// Starts a turn through the router and reads its body up to the first
/// text; dropping what it returns is the client leaving.
async fn turn_until_text(app: &App, session: &(String, String), message: &str) -> BodyDataStream {
    let request = Request::post("/api/chat/g4_future/stream")
        .header("x-tenant-id", tenants::DEMO_TENANT_ID)
        .header("authorization", format!("Bearer {}", session.1))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"session_id": session.0, "message": message}).to_string(),
        ))
        .unwrap();
    let response = petraf_core::http::full_api(app.clone())
        .oneshot(request)
        .await
        .unwrap();
    let mut body = response.into_body().into_data_stream();
    let mut seen = String::new();
    while !seen.contains("event: message") {
        seen.push_str(std::str::from_utf8(&body.next().await.unwrap().unwrap()).unwrap());
    }
    body
}

/// [`on_fake`] with the demo tenant seeded and Sarah's session in g4.
async fn seeded() -> (FakeOpenAi, App, (String, String), tempfile::TempDir) {
    let (fake, app, dir) = on_fake().await;
    demo::seed_if_empty(&app).await.unwrap();
    let session = sarahs_session(&app).await;
    (fake, app, session, dir)
}

const READY_TURN: [&str; 8] = [
    "start", "message", "state", "refined", "state", "score", "state", "complete",
];

#[tokio::test]
async fn no_model_call_waits_in_front_of_the_coachs_stream() {
    let (fake, app, session, _dir) = seeded().await;
    // A JSON or embedding call made before the coach's request would never
    // be answered.
    fake.hold_json_until_coach_requests(1);
    fake.hold_embed_until_coach_requests(1);
    let before = fake.requests().len();
    let events = tokio::time::timeout(
        Duration::from_secs(20),
        turn(
            &app,
            &session,
            "I want to lead a team of 3-4 developers within 2 years.",
        ),
    )
    .await
    .expect("the turn completes");
    assert_eq!(names(&events), READY_TURN);
    let mut ops = ops_since(&fake, before);
    ops.sort_by_key(|op| format!("{op:?}"));
    assert_eq!(
        ops,
        [Op::Coach, Op::Embed, Op::Refine, Op::Score],
        "the coach, the turn's own retrieval alongside it; no readiness call"
    );
    // The coach was grounded by the profile's query, searched in the index.
    let coach = fake
        .requests()
        .into_iter()
        .find(|r| r.op == Op::Coach)
        .unwrap();
    let prompt = coach.body["messages"].to_string();
    assert!(prompt.contains("<company_context>") && prompt.contains("source: "));
    let complete = &events.last().unwrap().1;
    assert!(!complete["sources"].as_array().unwrap().is_empty());
}

const GUILDS: &str = "The Kubernetes guild elects a captain every spring; \
    captains run the cluster upgrade rota.";

/// A passage in a g4 category that only a message naming it finds.
async fn upload_guilds(app: &App) {
    let upload = DocumentUpload {
        tenant_id: tenants::DEMO_TENANT_ID.into(),
        category: "career_framework".into(),
        filename: "guilds.md".into(),
        bytes: format!("# Guilds\n\n{GUILDS}\n").into_bytes(),
        metadata: json!({"title": "Guilds"}),
    };
    ingest_upload(app, upload, "test", &RequestOrigin::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn the_coach_gets_the_passage_its_latest_message_names_without_embedding_it_first() {
    let (fake, app, session, _dir) = seeded().await;
    let tenant = app
        .store
        .tenant(tenants::DEMO_TENANT_ID)
        .await
        .unwrap()
        .unwrap();
    upload_guilds(&app).await;
    // The phase's remembered query (the profile's) alone does not find it.
    let state = conversation(&app, &session).await;
    let remembered = state.query_for(Phase::G4Future).unwrap().to_vec().unwrap();
    let by_query = judging::search_documents(&app, &tenant, Phase::G4Future, &remembered)
        .await
        .unwrap();
    assert!(
        !by_query
            .iter()
            .any(|d| d.content.contains("Kubernetes guild"))
    );

    fake.hold_embed_until_coach_requests(1);
    fake.set_ready(false);
    let events = turn(
        &app,
        &session,
        "In two years I want to be captain of the Kubernetes guild.",
    )
    .await;
    assert_eq!(names(&events), ["start", "message", "complete"]);
    let coach = last_coach(&fake);
    let prompt = coach.body["messages"].to_string();
    assert!(
        prompt.contains("Kubernetes guild elects a captain"),
        "the latest message's words reranked the candidates: {prompt}"
    );
}

#[tokio::test]
async fn a_per_turn_tenant_embeds_the_turn_before_the_coach_is_asked() {
    let (fake, app, _dir) = on_fake().await;
    let admin_key = demo::seed_if_empty(&app).await.unwrap().unwrap().admin_key;
    upload_guilds(&app).await;
    let session = sarahs_session(&app).await;
    let path = format!("/api/admin/tenants/{}/settings", tenants::DEMO_TENANT_ID);
    let (status, body) = call_as_admin(&app, "GET", &path, &admin_key, json!(null)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""coach_retrieval":"ahead""#), "{body}");
    let (status, body) = call_as_admin(
        &app,
        "PATCH",
        &path,
        &admin_key,
        json!({"coach_retrieval": "sometimes"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains(r#""code":"invalid_settings""#), "{body}");
    let (status, body) = call_as_admin(
        &app,
        "PATCH",
        &path,
        &admin_key,
        json!({"coach_retrieval": "per_turn"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""coach_retrieval":"per_turn""#), "{body}");

    // The coach's request cannot come before the embedding's answer if
    // the turn waits for it (under `ahead` it comes a search later).
    let embedding_takes = Duration::from_millis(300);
    fake.set_delays(Delays {
        embed: embedding_takes,
        ..Delays::default()
    });
    let before = fake.requests().len();
    let sent = tokio::time::Instant::now();
    let events = turn(
        &app,
        &session,
        "In two years I want to be captain of the Kubernetes guild.",
    )
    .await;
    assert_eq!(names(&events), READY_TURN);
    assert_eq!(
        ops_since(&fake, before),
        [Op::Embed, Op::Coach, Op::Refine, Op::Score],
        "the turn's embedding, then the coach"
    );
    let coach_asked = fake.timings().last().unwrap().received;
    assert!(coach_asked - sent >= embedding_takes);
    let coach = last_coach(&fake);
    assert!(
        coach.body["messages"]
            .to_string()
            .contains("Kubernetes guild elects")
    );

    let (status, body) = call_as_admin(
        &app,
        "GET",
        "/api/admin/audit-logs?limit=200",
        &admin_key,
        json!(null),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let audit: serde_json::Value = serde_json::from_str(&body).unwrap();
    let change = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "tenant.settings_changed")
        .expect("the change is audited");
    assert_eq!(
        change["changes"]["coach_retrieval"],
        json!({"from": "ahead", "to": "per_turn"})
    );
}

#[tokio::test]
async fn a_per_turn_tenant_whose_turn_cannot_be_embedded_is_coached_from_the_remembered_query() {
    let (fake, app, session, _dir) = seeded().await;
    settings::set_coach_retrieval(
        &app,
        tenants::DEMO_TENANT_ID,
        CoachRetrieval::PerTurn,
        "test",
        &RequestOrigin::default(),
    )
    .await
    .unwrap();
    // The turn's embedding fails on every attempt.
    fake.script(Op::Embed, (0..3).map(|_| Reply::server_error()));
    fake.set_ready(false);
    let events = turn(&app, &session, "I want to lead a team.").await;
    assert_eq!(names(&events), ["start", "message", "complete"]);
    let coach = last_coach(&fake);
    let prompt = coach.body["messages"].to_string();
    assert!(prompt.contains("<company_context>") && prompt.contains("source: "));
}

#[tokio::test]
async fn the_profile_embeds_each_phases_first_query_in_one_call() {
    let (fake, app, _dir) = on_fake().await;
    demo::seed_if_empty(&app).await.unwrap();
    let before = fake.requests().len();
    let session = sarahs_session(&app).await;
    let embeds: Vec<_> = fake.requests()[before..].to_vec();
    assert_eq!(embeds.len(), 1, "one embedding call at profile time");
    let inputs = embeds[0].body["input"].as_array().unwrap();
    assert_eq!(inputs.len(), 3, "one query a conversational phase");
    assert!(
        inputs[0]
            .as_str()
            .unwrap()
            .starts_with("Software Engineer, Engineering, L4. ")
    );
    let state = conversation(&app, &session).await;
    assert_eq!(state.queries.len(), 3);

    // Later turns search by the turn before's query; each turn replaces it.
    let first = state.query_for(Phase::G4Future).cloned();
    fake.script_verdicts(["READY: no\n\n"]);
    turn(&app, &session, "I want to lead a team.").await;
    let state = conversation(&app, &session).await;
    assert_ne!(state.query_for(Phase::G4Future).cloned(), first);
    assert_eq!(state.queries.len(), 3);
}

#[tokio::test]
async fn without_a_profile_query_the_turn_retrieves_first_and_the_profile_is_kept() {
    let (fake, app, _dir) = on_fake().await;
    demo::seed_if_empty(&app).await.unwrap();
    // The profile's embedding fails on every attempt.
    fake.script(Op::Embed, (0..3).map(|_| Reply::server_error()));
    let session = sarahs_session(&app).await;
    let state = conversation(&app, &session).await;
    assert_eq!(state.phase, Phase::G4Future, "the profile was saved");
    assert!(state.queries.is_empty());

    fake.set_ready(false);
    let before = fake.requests().len();
    let events = turn(&app, &session, "I want to lead a team.").await;
    assert_eq!(names(&events), ["start", "message", "complete"]);
    assert_eq!(ops_since(&fake, before), [Op::Embed, Op::Coach]);
    let state = conversation(&app, &session).await;
    assert!(
        state.query_for(Phase::G4Future).is_some(),
        "the turn's query is kept for the next"
    );
}

#[tokio::test]
async fn a_client_leaving_while_the_turns_retrieval_runs_cancels_it_too() {
    let (fake, app, session, _dir) = seeded().await;
    fake.hold_embed_until_coach_requests(usize::MAX);
    fake.script_verdicts(["READY: no\n\n"]);
    fake.script(Op::Coach, [long_reply()]);
    let body = turn_until_text(&app, &session, "I want to lead a team.").await;
    drop(body);
    assert!(
        fake.wait_closed(1, Duration::from_secs(3)).await,
        "the coach's stream was closed"
    );
    assert!(
        fake.wait_abandoned_embed(1, Duration::from_secs(3)).await,
        "the turn's embedding call was given up too"
    );
}

#[tokio::test]
async fn a_missing_or_garbled_verdict_is_a_normal_collect_reply() {
    let (fake, app, session, _dir) = seeded().await;
    fake.script_verdicts(["READY: perhaps\n\n", ""]);
    for message in ["I want to lead.", "A team."] {
        let events = turn(&app, &session, message).await;
        assert_eq!(
            names(&events),
            ["start", "message", "complete"],
            "{message}"
        );
        let complete = &events.last().unwrap().1;
        assert_eq!(complete["full_response"], DEFAULT_PIECES.concat());
        assert_eq!(complete["step"], "collect");
    }
    assert_eq!(fake.count(Op::Refine), 0, "both turns keep collecting");
}

#[tokio::test]
async fn the_forced_refine_asks_for_no_verdict_and_drafts_alongside_the_coach() {
    let (fake, app, session, _dir) = seeded().await;
    fake.set_ready(false);
    for message in ["I want to lead.", "A team."] {
        let events = turn(&app, &session, message).await;
        assert_eq!(names(&events), ["start", "message", "complete"]);
    }
    fake.hold_json_until_coach_requests(fake.count(Op::Coach) + 1);
    let before = fake.requests().len();
    let events = tokio::time::timeout(
        Duration::from_secs(20),
        turn(&app, &session, "Within two years."),
    )
    .await
    .expect("the turn completes");
    assert_eq!(names(&events), READY_TURN);
    let mut ops = ops_since(&fake, before);
    ops.sort_by_key(|op| format!("{op:?}"));
    assert_eq!(ops, [Op::Coach, Op::Embed, Op::Refine, Op::Score]);
    let coach = last_coach(&fake);
    assert!(!server::asks_for_verdict(&coach.body));
}

#[tokio::test]
async fn tokens_used_sums_every_call_of_the_turn() {
    let (fake, app, session, _dir) = seeded().await;
    fake.set_default_score(4.0);
    let events = turn(&app, &session, "I want to lead a team of 3-4 developers.").await;
    let advice = events
        .iter()
        .filter(|(n, d)| n == "message" && d["step"] == "score")
        .count();
    assert_eq!(advice, DEFAULT_PIECES.len(), "the advice streamed");
    let tokens = &events.last().unwrap().1["tokens_used"];
    // coach (with its verdict chunk), refine, score, advice
    assert_eq!(tokens["input"], 250 + 120 + 120 + 250);
    assert_eq!(tokens["output"], 5 + 40 + 40 + 4);
    assert_eq!(tokens["total"], 740 + 89);
}

#[tokio::test]
async fn a_client_leaving_while_the_goal_is_drafted_cancels_the_draft_too() {
    let (fake, app, session, _dir) = seeded().await;
    fake.hold_json_until_coach_requests(usize::MAX);
    fake.script(Op::Coach, [long_reply()]);
    let body = turn_until_text(&app, &session, "I want to lead a team of four.").await;
    for _ in 0..100 {
        if fake.count(Op::Refine) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        fake.count(Op::Refine),
        1,
        "refining started with the verdict"
    );
    drop(body);
    assert!(
        fake.wait_closed(1, Duration::from_secs(3)).await,
        "the coach's stream was closed"
    );
    assert!(
        fake.wait_abandoned_json(1, Duration::from_secs(3)).await,
        "the refine call was given up too"
    );
}

#[tokio::test]
async fn a_malformed_score_is_asked_once_more_then_ends_the_turn_with_an_error() {
    let (fake, app, session, _dir) = seeded().await;
    fake.script(
        Op::Score,
        [
            Reply::Content(r#"{"criteria": [{"name": "specificity", "score": 9"#.into()),
            Reply::Content("Sorry, I can't score that.".into()),
        ],
    );
    let message = "I'd like to lead a team of 3-4 developers on our payment processing platform within 2 years.";
    let events = turn(&app, &session, message).await;
    let (name, error) = events.last().unwrap();
    assert_eq!(name, "error");
    assert_eq!(error["code"], "model_malformed_output");
    assert!(!events.iter().any(|(n, _)| n == "score" || n == "complete"));
    assert_eq!(fake.count(Op::Score), 2, "asked once more");

    let tenant = tenants::DEMO_TENANT_ID;
    let (goals, _) = app.store.goals(tenant, &session.0).await.unwrap();
    assert!(goals.is_empty(), "no goal is saved");
    let messages = app.store.messages(tenant, &session.0).await.unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m.role == Role::User && m.content == message)
    );
    let assistant = messages
        .iter()
        .rfind(|m| m.role == Role::Assistant)
        .unwrap();
    assert_eq!(
        assistant.content,
        DEFAULT_PIECES.concat(),
        "what streamed is kept"
    );
    assert_eq!(
        (assistant.tokens_prompt, assistant.tokens_completion),
        (250 + 120, 5 + 40),
        "the failed turn records the coach's and the refine's tokens"
    );
}

#[tokio::test]
async fn a_turn_that_fails_before_any_text_still_records_its_cost() {
    let (fake, app, session, _dir) = seeded().await;
    fake.script(Op::Coach, (0..3).map(|_| Reply::server_error()));
    let events = turn(&app, &session, "I want to lead a team.").await;
    assert_eq!(events.last().unwrap().1["code"], "model_unavailable");
    let messages = stored_messages(&app, &session).await;
    let assistant = messages
        .iter()
        .rfind(|m| m.role == Role::Assistant)
        .expect("an assistant row");
    assert!(assistant.content.is_empty());
    assert_eq!(assistant.tokens_prompt, 0, "no call was billed");
    assert!(assistant.latency_ms > 0, "its latency");
    assert_eq!(assistant.model_used.as_deref(), Some("gpt-4o-mini"));

    // The next turn works, and its prompt leaves the empty row out.
    let events = turn(&app, &session, "I want to lead a team of four.").await;
    assert_eq!(events.last().unwrap().0, "complete");
    let coach = last_coach(&fake);
    let empty_turns = coach.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["content"] == "")
        .count();
    assert_eq!(empty_turns, 0);
}

#[tokio::test]
async fn a_client_leaving_mid_reply_cancels_the_upstream_call() {
    let (fake, app, session, _dir) = seeded().await;
    fake.script_verdicts(["READY: no\n\n"]);
    fake.script(Op::Coach, [long_reply()]);
    let body = turn_until_text(&app, &session, "I want to lead a team.").await;
    drop(body);
    assert!(
        fake.wait_closed(1, Duration::from_secs(3)).await,
        "the fake saw the upstream connection close"
    );
    assert!(fake.timings()[0].sent.len() < 10);

    // The turn committed what streamed and released the session.
    let mut events = vec![];
    for _ in 0..50 {
        events = turn(&app, &session, "I want to lead a team of four.").await;
        if events.last().map(|(n, _)| n.as_str()) != Some("error") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(events.last().unwrap().0, "complete");
    let messages = stored_messages(&app, &session).await;
    let cancelled = messages.iter().find(|m| m.role == Role::Assistant).unwrap();
    assert!(cancelled.content.starts_with("word0 "));
}
