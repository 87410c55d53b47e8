//! Sarah's journey against the artifacts Lambda runs: the six bootstraps
//! built as `sam build` builds them (`scripts/lambda/build.sh`: arm64, run
//! here under qemu-user), each started against a Runtime API emulator with
//! the template's environment, on the stand-ins (DynamoDB, S3 and Secrets
//! Manager on moto, pgvector on PostgreSQL). The JSON route groups go
//! through an emulated HTTP API (payload 2.0 events), chat-stream through
//! its Function URL with response streaming, rag-upload gets an S3 event,
//! and a panic inside a turn must end in an SSE `error` with the session
//! released and the sandbox alive.
//!
//! Without the stand-ins or the built artifacts this test says "skipped",
//! unless PETRAF_REQUIRE_STANDINS=1 / PETRAF_REQUIRE_LAMBDA_ARTIFACTS=1
//! (`.ci/run` sets both).

use std::time::Instant;

use futures::StreamExt;
use petraf_core::extraction::staging::STAGING_PREFIX;
use petraf_tests::documents::{read_fixture, upload_form};
use petraf_tests::journey::{
    G4_FIRST, G4_SECOND, G6_VALUES, G8_ACTIONS, UA, check_pass, check_stream, fixture, names,
    upload_documents,
};
use petraf_tests::lambda::artifacts::{Artifact, artifacts_dir};
use petraf_tests::lambda::runtime_api::Outcome;
use petraf_tests::lambda::stack::{DataApi, Deployment, FUNCTIONS, Stack};
use petraf_tests::lambda::xray_daemon::XrayDaemon;
use petraf_tests::{Client, parse_sse};
use serde_json::{Value, json};

const PANIC_PHRASE: &str = "petraf-e2e-panic-7f3a";

fn required(variable: &str) -> bool {
    std::env::var(variable).as_deref() == Ok("1")
}

fn standin(variable: &str) -> Option<String> {
    match std::env::var(variable) {
        Ok(v) if !v.trim().is_empty() => Some(v),
        _ if required("PETRAF_REQUIRE_STANDINS") => {
            panic!("PETRAF_REQUIRE_STANDINS=1 but {variable} is not set: run scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: {variable} is not set (scripts/test.sh starts the stand-ins)");
            None
        }
    }
}

fn artifacts_built() -> bool {
    let missing: Vec<&str> = FUNCTIONS
        .iter()
        .copied()
        .filter(|f| Artifact::find(f).is_none())
        .collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "no bootstrap for {missing:?} under {} (scripts/lambda/build.sh builds them)",
        artifacts_dir().display()
    );
    assert!(!required("PETRAF_REQUIRE_LAMBDA_ARTIFACTS"), "{message}");
    eprintln!("skipped: {message}");
    false
}

/// The functions reach Aurora through the RDS Data API only: none links a
/// PostgreSQL driver. A linked crate leaves its source paths in the binary
/// (panic locations survive `strip`), so sqlx would show as `sqlx-core`.
#[test]
fn no_function_links_a_postgresql_driver() {
    if !artifacts_built() {
        return;
    }
    for name in FUNCTIONS {
        let bootstrap = Artifact::find(name).unwrap().bootstrap;
        let binary = std::fs::read(&bootstrap).unwrap();
        let linked = |marker: &[u8]| binary.windows(marker.len()).any(|w| w == marker);
        // Without an SDK crate's paths the binary keeps none, and the check
        // below proves nothing.
        // Every function but extract keeps its state in DynamoDB; extract
        // links the parsers, and no AWS SDK at all.
        let sdk: &[u8] = if name == "extract" {
            assert!(!linked(b"aws-sdk-"), "{name} links an AWS SDK crate");
            b"pdf_oxide"
        } else {
            b"aws-sdk-dynamodb"
        };
        assert!(linked(sdk), "{name}: no crate source paths left to read");
        assert!(
            !linked(b"sqlx-core"),
            "{name} links sqlx: {}",
            bootstrap.display()
        );
    }
}

/// A chat turn through the Function URL, read as it streams: the events,
/// and when each arrived.
async fn chat_streamed(
    door: &str,
    tenant: &str,
    token: &str,
    phase: &str,
    session: &str,
    message: &str,
) -> (u16, Vec<(String, Value)>, Vec<Instant>) {
    let response = petraf_tests::http_client()
        .post(format!("{door}/api/chat/{phase}/stream"))
        .header("X-Tenant-ID", tenant)
        .header("Authorization", format!("Bearer {token}"))
        .header("User-Agent", UA)
        .json(&json!({"session_id": session, "message": message, "step": "collect"}))
        .send()
        .await
        .expect("the Function URL answers");
    let status = response.status().as_u16();
    let mut body = response.bytes_stream();
    let (mut text, mut arrivals) = (String::new(), vec![]);
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.expect("a body chunk")));
        let complete_events = text.matches("\n\n").count();
        arrivals.resize(complete_events, Instant::now());
    }
    (status, parse_sse(&text), arrivals)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sarahs_journey_on_the_built_lambda_artifacts() {
    let (Some(moto), Some(postgres), Some(_)) = (
        standin("PETRAF_TEST_MOTO_ENDPOINT"),
        standin("PETRAF_TEST_DATABASE_URL"),
        standin("PETRAF_TEST_DATA_API_URL"),
    ) else {
        return;
    };
    let data_api = DataApi::from_env().expect("the Data API stand-in's ARNs beside its URL");
    if !artifacts_built() {
        return;
    }
    let machine = Artifact::find("session").unwrap().machine;
    eprintln!(
        "artifacts: {} ({})",
        artifacts_dir().display(),
        machine.lambda_name()
    );

    // What `sam deploy`, `petraf migrate` and `petraf tenant create` do.
    let stack = Stack::create(&moto, &postgres, data_api).await;
    let (tenant_id, admin_key) = stack.create_tenant().await;

    let started = Instant::now();
    let deployment = Deployment::start(
        &stack,
        &[("chat-stream", "PETRAF_TEST_PANIC_PHRASE", PANIC_PHRASE)],
    )
    .await;
    eprintln!("six functions initialised in {:?}", started.elapsed());
    let api = Client {
        http: petraf_tests::http_client(),
        base: deployment.http_api.base.clone(),
    };

    // The session function; secrets came from Secrets Manager at init.
    let health = api.get("/api/health").send().await;
    assert_eq!(health.status, 200, "{}", health.text);
    assert_eq!(health.json()["services"]["state_store"], "dynamodb");
    let public = api
        .get(&format!("/api/tenant?tenant={tenant_id}"))
        .tenant(&tenant_id)
        .send()
        .await;
    assert_eq!(public.status, 200, "{}", public.text);
    assert_eq!(public.json()["name"], "Sunrise Corporation");
    let unknown = api.get("/api/nothing-here").send().await;
    assert_eq!(unknown.status, 404, "no route, as HTTP API answers");

    // John's documents through the admin function (multipart, base64 in
    // the event); Markdown is read in-process, a DOCX or PDF by the
    // extract function.
    upload_documents(&api, &tenant_id, &admin_key).await;
    read_by_the_extract_function(&api, &stack, &tenant_id, &admin_key).await;
    let wrong_key = api
        .get("/api/admin/stats/overview")
        .admin("admin_sk_wrong")
        .send()
        .await;
    assert_eq!(wrong_key.status, 401, "{}", wrong_key.text);
    assert!(wrong_key.json()["error"]["code"].is_string());

    // Sarah: session and profile through the HTTP API.
    let created = api
        .post("/api/session/create")
        .tenant(&tenant_id)
        .header("User-Agent", UA)
        .json(&json!({"metadata": {"source": "web", "device": "desktop"}}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let cookie = created.headers["set-cookie"].to_str().unwrap().to_string();
    let created = created.json();
    let session = created["session_id"].as_str().unwrap().to_string();
    let token = created["resume_token"].as_str().unwrap().to_string();
    assert!(
        cookie.starts_with(&format!("resume_token={token};")),
        "{cookie}"
    );
    let info = api
        .put(&format!("/api/session/{session}/info"))
        .tenant(&tenant_id)
        .bearer(&token)
        .json(&json!({
            "employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer",
            "grade": "L4", "years_of_service": 3, "age_range": "28-32", "job_type": "full_time"
        }))
        .send()
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    assert_eq!(info.json()["current_phase"], "g4_future");

    // The coach through chat-stream's Function URL, streamed: the first
    // event reaches the client before the function has sent its last.
    let door = deployment.chat_url.base.clone();
    let (status, events, arrivals) =
        chat_streamed(&door, &tenant_id, &token, "g4_future", &session, G4_FIRST).await;
    assert_eq!(status, 200, "{events:?}");
    check_stream(&events, "g4_future");
    let timings = deployment
        .chat_timings
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    let (last_sent, _) = *timings.chunks.last().unwrap();
    assert!(
        timings.chunks.len() >= events.len(),
        "each event is a chunk of its own: {} chunks for {} events",
        timings.chunks.len(),
        events.len()
    );
    assert!(
        arrivals[0] < last_sent,
        "the first event arrived {:?} after the function's last chunk: buffered, not streamed",
        arrivals[0] - last_sent
    );
    eprintln!(
        "first event after {:?}, last chunk sent {:?} later",
        arrivals[0] - timings.chunks[0].0,
        last_sent - arrivals[0]
    );

    let turn = |phase: &'static str, message: &'static str| {
        let (door, tenant_id, token, session) = (
            door.clone(),
            tenant_id.clone(),
            token.clone(),
            session.clone(),
        );
        async move {
            let (status, events, _) =
                chat_streamed(&door, &tenant_id, &token, phase, &session, message).await;
            assert_eq!(status, 200, "{events:?}");
            events
        }
    };
    let future = check_pass(
        &turn("g4_future", G4_SECOND).await,
        "g4_future",
        "g6_values",
        33,
    );
    let values = check_pass(
        &turn("g6_values", G6_VALUES).await,
        "g6_values",
        "g8_actions",
        66,
    );
    let actions = check_pass(
        &turn("g8_actions", G8_ACTIONS).await,
        "g8_actions",
        "completed",
        100,
    );

    // Completion, goals and resume: session and goals functions.
    let done = api
        .post(&format!("/api/session/{session}/complete"))
        .tenant(&tenant_id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(done.status, 200, "{}", done.text);
    let goals = api
        .get(&format!("/api/goals/session/{session}?final_only=true"))
        .tenant(&tenant_id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(goals.status, 200, "{}", goals.text);
    let goals = goals.json();
    let ids: Vec<&str> = goals["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [future.as_str(), values.as_str(), actions.as_str()]);
    assert_eq!(goals["summary"]["message_count"], 8);
    let resumed = api
        .post("/api/session/resume")
        .tenant(&tenant_id)
        .json(&json!({"resume_token": token}))
        .send()
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json()["status"], "completed");
    let by_cookie = api
        .get(&format!("/api/goals/session/{session}"))
        .tenant(&tenant_id)
        .header("Cookie", &format!("theme=dark; resume_token={token}"))
        .send()
        .await;
    assert_eq!(
        by_cookie.status, 200,
        "the cookie travels in the event's cookies: {}",
        by_cookie.text
    );

    // John's views through the admin function.
    let stats = api
        .get("/api/admin/stats/overview")
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(stats.status, 200, "{}", stats.text);
    let audit = api
        .get(&format!(
            "/api/admin/audit-logs?session_id={session}&limit=50"
        ))
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(audit.status, 200, "{}", audit.text);
    assert!(!audit.json()["logs"].as_array().unwrap().is_empty());

    drop_folder(&deployment, &api, &stack, &tenant_id, &admin_key).await;
    panicking_turn(&deployment, &api, &tenant_id).await;
    metrics_in_the_logs(&deployment, &tenant_id);
    subsegments_sent();

    for function in &deployment.functions {
        assert!(function.is_alive(), "{} stayed up", function.name);
    }
}

/// Admin stages a document that needs a parser in the bucket and invokes
/// the extract function: a DOCX is indexed, a password-protected PDF gets
/// the refusal the worker gives, and nothing is left staged.
async fn read_by_the_extract_function(api: &Client, stack: &Stack, tenant: &str, admin_key: &str) {
    let upload = |filename: &'static str, fixture: &'static str| {
        api.post(&format!("/api/admin/rag/upload/{tenant}"))
            .admin(admin_key)
            .multipart(upload_form(
                filename,
                read_fixture(fixture),
                "career_framework",
            ))
            .send()
    };
    let report = upload("report.docx", "office/libreoffice-report.docx").await;
    assert_eq!(report.status, 200, "{}", report.text);
    assert!(report.json()["chunks_created"].as_u64().unwrap() >= 1);
    let locked = upload("locked.pdf", "gen/enc-aes256-userpw.pdf").await;
    assert_eq!(locked.status, 422, "{}", locked.text);
    assert_eq!(locked.json()["error"]["code"], "password_protected");

    let staged = petraf_tests::http_client()
        .get(format!(
            "{}/{}?list-type=2&prefix={STAGING_PREFIX}",
            stack.moto, stack.bucket
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(staged.contains("<KeyCount>0</KeyCount>"), "{staged}");
}

/// A PDF put into the drop folder through a presigned URL, then the S3
/// event S3 would send rag-upload.
async fn drop_folder(
    deployment: &Deployment,
    api: &Client,
    stack: &Stack,
    tenant: &str,
    admin_key: &str,
) {
    let url = api
        .post(&format!("/api/admin/rag/upload-url/{tenant}"))
        .admin(admin_key)
        .json(&json!({"category": "career_framework", "filename": "career framework.pdf"}))
        .send()
        .await;
    assert_eq!(url.status, 200, "{}", url.text);
    let url = url.json();
    let pdf = fixture("company_career_framework.pdf");
    let put = petraf_tests::http_client()
        .put(url["upload_url"].as_str().unwrap())
        .body(pdf.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let key = url["key"].as_str().unwrap();
    let event = stack.s3_object_created(&key.replace(' ', "+"), pdf.len());
    let indexed = match deployment.function("rag-upload").invoke(&event).await {
        Outcome::Buffered(payload) => serde_json::from_slice::<Value>(&payload).unwrap(),
        other => panic!("rag-upload: {other:?}"),
    };
    let reports = indexed["indexed"].as_array().expect("{indexed}");
    assert_eq!(reports.len(), 1, "{indexed}");
    assert_eq!(reports[0]["document_id"], url["document_id"]);
    assert!(
        reports[0]["chunks_created"].as_u64().unwrap() >= 1,
        "{indexed}"
    );

    let listing = api
        .get(&format!("/api/admin/rag/documents/{tenant}"))
        .admin(admin_key)
        .send()
        .await
        .json();
    let dropped = listing["documents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["source"] == "drop_folder")
        .unwrap_or_else(|| panic!("{listing}"))
        .clone();
    assert_eq!(dropped["status"], "indexed", "{dropped}");
    assert_eq!(dropped["filename"], "career framework.pdf");
}

/// A turn whose model panics mid-reply: the artifact catches it (it is
/// built with panic = "unwind"), answers an SSE `error` and releases the
/// session; the sandbox lives on and the next message is taken.
async fn panicking_turn(deployment: &Deployment, api: &Client, tenant: &str) {
    let created = api
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    let session = created["session_id"].as_str().unwrap();
    let token = created["resume_token"].as_str().unwrap();
    let info = api
        .put(&format!("/api/session/{session}/info"))
        .tenant(tenant)
        .bearer(token)
        .json(&json!({"employee_code": "EMP2", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(info.status, 200, "{}", info.text);
    let chat = deployment.function("chat-stream");
    let door = &deployment.chat_url.base;
    let message = format!("{G4_FIRST} {PANIC_PHRASE}");
    let (status, events, _) =
        chat_streamed(door, tenant, token, "g4_future", session, &message).await;
    assert_eq!(status, 200, "{events:?}");
    let last = events.last().expect("events before the panic");
    assert_eq!(
        (last.0.as_str(), last.1["code"].as_str()),
        ("error", Some("internal_error")),
        "{:?}",
        names(&events)
    );
    assert!(chat.is_alive(), "the panic did not take the sandbox down");
    assert!(
        std::fs::read_to_string(&chat.log)
            .unwrap()
            .contains("a chat turn panicked"),
        "the panic is logged"
    );
    let (status, events, _) =
        chat_streamed(door, tenant, token, "g4_future", session, G4_FIRST).await;
    assert_eq!(status, 200, "the session was released: {events:?}");
    assert_eq!(events.first().unwrap().0, "start", "{:?}", names(&events));
    assert_eq!(events.last().unwrap().0, "complete", "{:?}", names(&events));
}

/// The X-Ray subsegments the journey's invocations sent to the daemon
/// stand-in (every invocation sampled, as under `TracingMode=Active`): the
/// model calls, retrieval and the store calls, each in the trace of the
/// invocation that made it and nested as they ran.
fn subsegments_sent() {
    let daemon = XrayDaemon::shared();
    let documents = daemon.documents();
    let issued = daemon.issued();
    let ids: std::collections::HashSet<&str> =
        documents.iter().filter_map(|d| d["id"].as_str()).collect();
    let function_of = |document: &Value| -> &str {
        let trace = issued
            .iter()
            .find(|t| d_str(document, "trace_id") == t.root)
            .unwrap_or_else(|| panic!("a trace the emulator issued: {document}"));
        let parent = d_str(document, "parent_id");
        assert!(
            parent == trace.parent || ids.contains(parent),
            "the invocation's segment or a subsegment of it: {document}"
        );
        assert_eq!(document["type"], "subsegment", "{document}");
        let (start, end) = (
            document["start_time"].as_f64(),
            document["end_time"].as_f64(),
        );
        assert!(start.unwrap() <= end.unwrap(), "{document}");
        &trace.function
    };
    let by = |function: &str, name: &str| -> Vec<&Value> {
        documents
            .iter()
            .filter(|d| function_of(d) == function && d["name"] == name)
            .collect()
    };
    let calls: Vec<&str> = by("chat-stream", "model")
        .iter()
        .filter_map(|d| d["annotations"]["call"].as_str())
        .collect();
    for call in ["coach", "refine", "score"] {
        assert!(calls.contains(&call), "a {call} model call: {calls:?}");
    }
    let ids_of = |list: Vec<&Value>| -> Vec<String> {
        list.iter().map(|d| d_str(d, "id").to_string()).collect()
    };
    let retrievals = ids_of(by("chat-stream", "retrieval"));
    let searches: Vec<&Value> = by("chat-stream", "vector_search")
        .into_iter()
        .filter(|d| retrievals.iter().any(|r| r == d_str(d, "parent_id")))
        .collect();
    assert!(!searches.is_empty(), "a vector search inside a retrieval");
    let searches = ids_of(searches);
    assert!(
        by("chat-stream", "RDS Data")
            .iter()
            .any(|d| d["namespace"] == "aws" && searches.iter().any(|s| s == d_str(d, "parent_id"))),
        "the search's Data API call inside it"
    );
    assert!(
        by("chat-stream", "DynamoDB")
            .iter()
            .any(|d| d["aws"]["operation"].is_string()),
        "the turn's DynamoDB calls"
    );
    assert!(
        !by("session", "DynamoDB").is_empty(),
        "the session function's store calls"
    );
    assert!(
        by("rag-upload", "S3")
            .iter()
            .any(|d| d["aws"]["operation"] == "GetObject"),
        "the dropped document read from S3"
    );
    assert!(
        !by("rag-upload", "embedding").is_empty(),
        "its chunks embedded"
    );
    assert!(
        by("rag-upload", "Lambda")
            .iter()
            .any(|d| d["aws"]["operation"] == "Invoke"),
        "the extract function invoked"
    );
    // The extract function reaches its staging through presigned URLs.
    let staging: Vec<&str> = by("extract", "staging")
        .iter()
        .filter_map(|d| d["annotations"]["call"].as_str())
        .collect();
    for call in ["fetch", "deliver"] {
        assert!(
            staging.contains(&call),
            "the extract function's staging: {call} in {staging:?}"
        );
    }
}

fn d_str<'a>(document: &'a Value, field: &str) -> &'a str {
    document[field].as_str().unwrap_or_default()
}

/// The metrics the journey wrote as CloudWatch Embedded Metric Format lines
/// into the functions' logs: what CloudWatch would turn into metrics.
fn metrics_in_the_logs(deployment: &Deployment, tenant: &str) {
    let emf = |function: &str| -> Vec<Value> {
        let log = std::fs::read_to_string(&deployment.function(function).log).unwrap();
        log.lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|v| v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Petraf")
            .collect()
    };
    let sum = |lines: &[Value], metric: &str, filter: &dyn Fn(&Value) -> bool| -> u64 {
        lines
            .iter()
            .filter(|v| v[metric].is_u64() && filter(v))
            .map(|v| v[metric].as_u64().unwrap())
            .sum()
    };
    let chat = emf("chat-stream");
    for line in &chat {
        assert_eq!(line["Function"], "petraf-chat-stream", "{line}");
    }
    let ours = |v: &Value| v["Tenant"] == tenant;
    // Sarah's three goals passed (and the panicked session's retry may
    // pass too); her first answer only collected.
    let passed = |v: &Value| ours(v) && v["Outcome"] == "goal_passed";
    assert!(sum(&chat, "Turns", &passed) >= 3, "{chat:#?}");
    let panicked = |v: &Value| ours(v) && v["Outcome"] == "internal_error";
    assert_eq!(sum(&chat, "Turns", &panicked), 1, "{chat:#?}");
    let collected = |v: &Value| ours(v) && v["Outcome"] == "collected";
    assert!(sum(&chat, "Turns", &collected) >= 1, "{chat:#?}");
    assert!(sum(&chat, "TokensOut", &ours) > 0, "{chat:#?}");
    let timed = chat
        .iter()
        .filter(|v| v["FirstTokenLatency"].is_u64() && v["Provider"].is_string())
        .count();
    assert!(
        timed >= 4,
        "a first-token latency per answered turn: {chat:#?}"
    );
    let upload = emf("rag-upload");
    assert!(sum(&upload, "DocumentsIndexed", &ours) >= 1, "{upload:#?}");
}
