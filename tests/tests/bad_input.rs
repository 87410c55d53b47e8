//! Every bad input gets a clear JSON error with the right status, and
//! changes nothing.
//!
//! The refusals are tables of cases (name, request, expected reply) run by
//! `petraf_tests::cases::run`; what must be unchanged is checked after each
//! table.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use chrono::Duration;
use petraf_core::adapters::embedded::OfflineModel;
use petraf_core::app::tenants::{NewTenant, demo_tenant, set_status};
use petraf_core::config;
use petraf_core::domain::coaching::PhaseContext;
use petraf_core::domain::scoring::{Judgement, Rubric};
use petraf_core::domain::tenant::{TenantConfig, TenantStatus};
use petraf_core::ports::chat_model::{ChatModel, CoachPurpose, Generated, ModelError, TextStream};
use petraf_tests::cases::Expect::{Refused, Status};
use petraf_tests::cases::run;
use petraf_tests::journey::{G4_FIRST, chat, chat_call};
use petraf_tests::{Client, TestServer};
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

struct Session {
    id: String,
    token: String,
}

async fn new_session(client: &Client, tenant: &str) -> Session {
    let reply = client
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let body = reply.json();
    Session {
        id: body["session_id"].as_str().unwrap().into(),
        token: body["resume_token"].as_str().unwrap().into(),
    }
}

async fn with_profile(client: &Client, tenant: &str) -> Session {
    let s = new_session(client, tenant).await;
    let reply = client
        .put(&format!("/api/session/{}/info", s.id))
        .tenant(tenant)
        .bearer(&s.token)
        .json(&json!({"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    s
}

async fn setup() -> (TestServer, String, String) {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let id = created.record.tenant.id.clone();
    (server, id, created.admin_key)
}

fn other_tenant(slug: &str) -> NewTenant {
    NewTenant {
        id: None,
        slug: slug.into(),
        name: format!("{slug} Inc"),
        domain: format!("{slug}.petraf.com"),
        admin_email: format!("hr@{slug}.com"),
        contact_name: None,
        config: TenantConfig::defaults(),
    }
}

fn chat_body(session: &str, message: &str, step: &str) -> Value {
    json!({"session_id": session, "message": message, "step": step})
}

/// Asserts that the refusals stored no message in `session`.
async fn assert_no_messages(server: &TestServer, tenant: &str, session: &str, why: &str) {
    let messages = server.messages(tenant, session).await;
    assert!(messages.is_empty(), "{why}: {messages:?}");
}

/// An upload form: `file` holding `bytes`, in `category`, with `metadata`.
fn upload(file: &str, bytes: &[u8], category: &str, metadata: Option<&str>) -> Form {
    let form = Form::new()
        .part(
            "file",
            Part::bytes(bytes.to_vec()).file_name(file.to_string()),
        )
        .text("category", category.to_string());
    match metadata {
        Some(m) => form.text("metadata", m.to_string()),
        None => form,
    }
}

#[tokio::test]
async fn session_calls_without_the_sessions_token_are_refused() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let sarah = with_profile(&client, &tenant).await;
    let mallory = with_profile(&client, &tenant).await;
    let other = server
        .create_tenant(other_tenant("acme"))
        .await
        .record
        .tenant
        .id;
    let outsider = with_profile(&client, &other).await;
    let info = json!({"employee_code": "X", "department": "Y", "position": "Z"});
    let info_path = format!("/api/session/{}/info", sarah.id);
    let goals = |session: &Session| {
        client
            .get(&format!("/api/goals/session/{}", session.id))
            .tenant(&tenant)
    };
    let mut forged = sarah.token.clone();
    forged.pop();
    forged.push(if sarah.token.ends_with('A') { 'B' } else { 'A' });

    run([
        (
            "info without a token",
            client.put(&info_path).tenant(&tenant).json(&info),
            Refused(401, "missing_token"),
        ),
        (
            "chat without a token",
            client
                .post("/api/chat/g4_future/stream")
                .tenant(&tenant)
                .json(&chat_body(&sarah.id, "hi", "collect")),
            Refused(401, "missing_token"),
        ),
        (
            "goals without a token",
            goals(&sarah),
            Refused(401, "missing_token"),
        ),
        (
            "complete without a token",
            client
                .post(&format!("/api/session/{}/complete", sarah.id))
                .tenant(&tenant),
            Refused(401, "missing_token"),
        ),
        (
            "info with another session's token",
            client
                .put(&info_path)
                .tenant(&tenant)
                .bearer(&mallory.token)
                .json(&info),
            Refused(403, "forbidden_session"),
        ),
        (
            "chat with another session's token",
            chat_call(
                &client,
                &tenant,
                &mallory.token,
                "g4_future",
                &sarah.id,
                "hi",
            ),
            Refused(403, "forbidden_session"),
        ),
        (
            "goals with another session's token",
            goals(&sarah).bearer(&mallory.token),
            Status(403),
        ),
        (
            "goals with a tampered token",
            goals(&sarah).bearer(&forged),
            Refused(401, "invalid_token"),
        ),
        (
            "goals with a token that is no JWT",
            goals(&sarah).bearer("not-a-jwt"),
            Refused(401, "invalid_token"),
        ),
        (
            "goals of another tenant's session, through this tenant",
            goals(&outsider).bearer(&outsider.token),
            Refused(403, "forbidden_session"),
        ),
        (
            "resuming another tenant's session, through this tenant",
            client
                .post("/api/session/resume")
                .tenant(&tenant)
                .json(&json!({"resume_token": outsider.token})),
            Status(403),
        ),
    ])
    .await;

    // Nothing changed for Sarah.
    let stored = server.stored_session(&tenant, &sarah.id).await;
    assert_eq!(stored.profile.employee_code.as_deref(), Some("EMP1"));
    assert_no_messages(&server, &tenant, &sarah.id, "refused calls store nothing").await;
}

#[tokio::test]
async fn expired_tokens_and_unknown_sessions_are_refused() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    let resume = || client.post("/api/session/resume").tenant(&tenant);
    let goals = |session: &str| {
        client
            .get(&format!("/api/goals/session/{session}"))
            .tenant(&tenant)
            .bearer(&s.token)
    };
    run([
        (
            "resume without a token",
            resume(),
            Refused(401, "missing_token"),
        ),
        (
            "resume with a garbage token",
            resume().json(&json!({"resume_token": "garbage"})),
            Refused(401, "invalid_token"),
        ),
        (
            "resume by the cookie when the body is empty",
            resume().header("Cookie", &format!("resume_token={}", s.token)),
            Status(200),
        ),
    ])
    .await;

    server.clock.advance(Duration::days(15));
    run([
        (
            "resume with an expired token",
            resume().json(&json!({"resume_token": s.token})),
            Refused(401, "token_expired"),
        ),
        (
            "goals with an expired token",
            goals(&s.id),
            Refused(401, "token_expired"),
        ),
    ])
    .await;
    // An expired, unfinished session counts as abandoned, once.
    let stored = server.stored_session(&tenant, &s.id).await;
    assert_eq!(
        stored.status,
        petraf_core::domain::session::SessionStatus::Expired
    );
    let usage = server
        .app
        .store
        .usage(Some(&tenant), server.clock_today())
        .await
        .unwrap();
    assert_eq!(usage.sessions_abandoned, 1);
    let stats = client
        .get("/api/admin/stats/overview")
        .admin(petraf_tests::PLATFORM_KEY)
        .send()
        .await
        .json();
    assert_eq!(
        (
            stats["abandoned_sessions"].as_i64(),
            stats["active_sessions"].as_i64()
        ),
        (Some(1), Some(0))
    );
    run([(
        "goals of a session id that is no ULID",
        goals("not-a-ulid"),
        Refused(400, "invalid_session_id"),
    )])
    .await;
}

#[tokio::test]
async fn turns_for_another_phase_or_step_are_refused_and_store_nothing() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let fresh = new_session(&client, &tenant).await;
    let s = with_profile(&client, &tenant).await;
    let turn = |phase: &str, body: Value| {
        client
            .post(&format!("/api/chat/{phase}/stream"))
            .tenant(&tenant)
            .bearer(&s.token)
            .json(&body)
    };
    let raw_turn = |content_type: &str, body: &'static str| {
        client
            .post("/api/chat/g4_future/stream")
            .tenant(&tenant)
            .bearer(&s.token)
            .body(content_type, body)
    };
    run([
        (
            "a turn before the profile",
            chat_call(
                &client,
                &tenant,
                &fresh.token,
                "g4_future",
                &fresh.id,
                "hello",
            ),
            Refused(409, "profile_required"),
        ),
        (
            "a turn for a later phase",
            turn("g6_values", chat_body(&s.id, "I value honesty", "collect")),
            Refused(409, "phase_mismatch"),
        ),
        (
            "a turn for a later step",
            turn("g4_future", chat_body(&s.id, "hi", "score")),
            Refused(409, "step_mismatch"),
        ),
        (
            "an edit with no draft",
            turn("g4_future", chat_body(&s.id, "My goal", "refine")),
            Refused(409, "nothing_to_edit"),
        ),
        (
            "a phase that does not exist",
            turn("g5_dreams", chat_body(&s.id, "hi", "collect")),
            Refused(400, "unknown_phase"),
        ),
        (
            "the profile phase, which is no chat",
            turn("g2_basic", chat_body(&s.id, "hi", "collect")),
            Refused(400, "unknown_phase"),
        ),
        (
            "a step that does not exist",
            turn("g4_future", chat_body(&s.id, "hi", "write")),
            Refused(400, "unknown_step"),
        ),
        (
            "a blank message",
            turn("g4_future", chat_body(&s.id, "   ", "collect")),
            Refused(400, "empty_message"),
        ),
        (
            "a message over 4000 characters",
            turn("g4_future", chat_body(&s.id, &"a".repeat(4001), "collect")),
            Refused(400, "message_too_long"),
        ),
        (
            "a body over the size limit",
            turn(
                "g4_future",
                json!({"session_id": s.id, "message": "x".repeat(70_000)}),
            ),
            Refused(413, "body_too_large"),
        ),
        (
            "an unknown field",
            turn(
                "g4_future",
                json!({"session_id": s.id, "message": "hi", "mood": "great"}),
            ),
            Refused(400, "invalid_body"),
        ),
        (
            "no message",
            turn("g4_future", json!({"session_id": s.id})),
            Refused(400, "invalid_body"),
        ),
        (
            "a body that is no JSON",
            raw_turn("application/json", "{not json"),
            Refused(400, "invalid_json"),
        ),
        (
            "a body that is plain text",
            raw_turn("text/plain", "hi"),
            Refused(415, "unsupported_media_type"),
        ),
    ])
    .await;

    assert_no_messages(&server, &tenant, &s.id, "refused turns store nothing").await;
    let state = server.conversation(&tenant, &s.id).await;
    assert_eq!(
        (
            state.phase.as_str(),
            state.step.as_str(),
            state.lease.is_none()
        ),
        ("g4_future", "collect", true)
    );
    run([(
        "completing a session in g4",
        client
            .post(&format!("/api/session/{}/complete", s.id))
            .tenant(&tenant)
            .bearer(&s.token),
        Refused(409, "session_incomplete"),
    )])
    .await;
}

#[tokio::test]
async fn bad_profiles_and_bodies_change_nothing() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let s = new_session(&client, &tenant).await;
    let profile = |body: Value| {
        client
            .put(&format!("/api/session/{}/info", s.id))
            .tenant(&tenant)
            .bearer(&s.token)
            .json(&body)
    };
    run([
        (
            "an empty employee code",
            profile(json!({"employee_code": "", "department": "D", "position": "P"})),
            Refused(400, "invalid_profile"),
        ),
        (
            "99 years of service",
            profile(
                json!({"employee_code": "E", "department": "D", "position": "P", "years_of_service": 99}),
            ),
            Refused(400, "invalid_profile"),
        ),
        (
            "an unknown job type",
            profile(
                json!({"employee_code": "E", "department": "D", "position": "P", "job_type": "pirate"}),
            ),
            Refused(400, "invalid_body"),
        ),
        (
            "an unknown profile field",
            profile(json!({"employee_code": "E", "department": "D", "position": "P", "salary": 1})),
            Refused(400, "invalid_body"),
        ),
        (
            "no employee code",
            profile(json!({"department": "D", "position": "P"})),
            Refused(400, "invalid_body"),
        ),
    ])
    .await;
    let stored = server.stored_session(&tenant, &s.id).await;
    assert_eq!((stored.completion_percentage, stored.version), (0, 1));
    assert_eq!(
        server.conversation(&tenant, &s.id).await.phase.as_str(),
        "g2_basic"
    );

    let create = || client.post("/api/session/create").tenant(&tenant);
    run([
        (
            "a create body that is no JSON",
            create().body("application/json", "[1,2"),
            Refused(400, "invalid_json"),
        ),
        (
            // serde would read a struct from an array, field by field.
            "a create body that is an array",
            create().body("application/json", "[]"),
            Refused(400, "invalid_body"),
        ),
        (
            "metadata that is no object",
            create().json(&json!({"metadata": [1]})),
            Refused(400, "invalid_metadata"),
        ),
        (
            "metadata over the size limit",
            create().json(&json!({"metadata": {"blob": "x".repeat(3000)}})),
            Refused(400, "invalid_metadata"),
        ),
        (
            "a final_only that is no boolean",
            client
                .get(&format!("/api/goals/session/{}?final_only=maybe", s.id))
                .tenant(&tenant)
                .bearer(&s.token),
            Refused(400, "invalid_query"),
        ),
    ])
    .await;
    let usage = server
        .app
        .store
        .usage(Some(&tenant), server.clock_today())
        .await
        .unwrap();
    assert_eq!(
        usage.sessions_created, 1,
        "refused creations create nothing"
    );

    run([
        (
            "a route that does not exist",
            client.get("/api/nothing/here"),
            Refused(404, "route_not_found"),
        ),
        (
            "a route with the wrong method",
            client.get("/api/session/create"),
            Refused(405, "method_not_allowed"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn unknown_and_inactive_tenants_are_refused_and_the_host_resolves_tenants() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let create = || client.post("/api/session/create");
    run([
        (
            "an oversized tenant id, which is no tenant's",
            create().tenant(&"x".repeat(3000)),
            Refused(404, "tenant_not_found"),
        ),
        (
            "an unknown tenant id",
            create().tenant("no-such-tenant"),
            Refused(404, "tenant_not_found"),
        ),
        (
            "an unknown Host",
            create().header("Host", "unknown.petraf.com"),
            Refused(404, "tenant_not_found"),
        ),
        (
            "the Host header's domain resolves the tenant",
            create().header("Host", "sunrise.petraf.com:443"),
            Status(201),
        ),
    ])
    .await;

    let s = with_profile(&client, &tenant).await;
    set_status(&server.app, &tenant, TenantStatus::Inactive)
        .await
        .unwrap();
    run([
        (
            "a new session of an inactive tenant",
            create().tenant(&tenant),
            Refused(403, "tenant_inactive"),
        ),
        (
            "a turn of an inactive tenant",
            chat_call(&client, &tenant, &s.token, "g4_future", &s.id, "hi"),
            Refused(403, "tenant_inactive"),
        ),
    ])
    .await;
    assert_no_messages(
        &server,
        &tenant,
        &s.id,
        "an inactive tenant's turn stores nothing",
    )
    .await;
}

#[tokio::test]
async fn admin_keys_see_only_their_own_tenant() {
    let (server, tenant, key) = setup().await;
    let client = server.client();
    let acme = server.create_tenant(other_tenant("acme")).await;
    let form = || upload("values.md", b"Be kind. Ship often.", "values", None);
    let path = format!("/api/admin/rag/upload/{tenant}");
    let upload_as =
        |admin_key: &str, form: Form| client.post(&path).admin(admin_key).multipart(form);
    run([
        (
            "an upload without an admin key",
            client.post(&path).multipart(form()),
            Refused(401, "missing_admin_key"),
        ),
        (
            "an upload with a wrong admin key",
            upload_as("admin_sk_sunrise_wrong", form()),
            Refused(401, "invalid_admin_key"),
        ),
        (
            "an upload with another tenant's key",
            upload_as(&acme.admin_key, form()),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "stats with another tenant's key",
            client
                .get(&format!("/api/admin/stats/overview?tenant_id={tenant}"))
                .admin(&acme.admin_key),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "audit logs with another tenant's key",
            client
                .get(&format!("/api/admin/audit-logs?tenant_id={tenant}"))
                .admin(&acme.admin_key),
            Status(403),
        ),
        (
            "the tenant list with a tenant's key",
            client.get("/api/admin/tenants").admin(&key),
            Refused(403, "platform_admin_only"),
        ),
    ])
    .await;

    // Acme's key sees Acme's trail only.
    let r = client
        .get("/api/admin/audit-logs")
        .admin(&acme.admin_key)
        .send()
        .await;
    let logs = r.json()["logs"].as_array().unwrap().clone();
    assert!(
        logs.iter()
            .all(|l| l["tenant_id"] == acme.record.tenant.id.as_str())
    );

    let audit_page = |query: &str| {
        client
            .get(&format!("/api/admin/audit-logs?{query}"))
            .admin(&key)
    };
    run([
        (
            "offset paging is bounded",
            audit_page("limit=200&page=4000000"),
            Refused(400, "invalid_page"),
        ),
        (
            "a limit of 0",
            audit_page("limit=0&page=1"),
            Refused(400, "invalid_limit"),
        ),
        (
            "a limit over 200",
            audit_page("limit=201&page=1"),
            Refused(400, "invalid_limit"),
        ),
        (
            "page 0",
            audit_page("limit=10&page=0"),
            Refused(400, "invalid_page"),
        ),
        (
            "a limit that is no number",
            audit_page("limit=x&page=1"),
            Refused(400, "invalid_query"),
        ),
    ])
    .await;

    // Bad uploads.
    run([
        (
            "an executable",
            upload_as(
                &key,
                upload("framework.exe", b"MZ\x90\x00", "career_framework", None),
            ),
            Refused(415, "unsupported_type"),
        ),
        (
            "HTML named .pdf",
            upload_as(
                &key,
                upload(
                    "framework.pdf",
                    b"<html>not a pdf</html>",
                    "career_framework",
                    None,
                ),
            ),
            Refused(415, "format_mismatch"),
        ),
        (
            "an empty document",
            upload_as(&key, upload("notes.txt", b"", "values", None)),
            Refused(400, "empty_document"),
        ),
        (
            "text that is no UTF-8",
            upload_as(&key, upload("notes.txt", b"\xff\xfe", "values", None)),
            Refused(400, "invalid_encoding"),
        ),
        (
            "a category that is no slug",
            upload_as(
                &key,
                upload("notes.txt", b"Text.", "Career Framework", None),
            ),
            Refused(400, "invalid_category"),
        ),
        (
            "metadata that is no JSON",
            upload_as(
                &key,
                upload("notes.txt", b"Text.", "values", Some("{not json")),
            ),
            Refused(400, "invalid_metadata"),
        ),
        (
            "metadata that is no object",
            upload_as(&key, upload("notes.txt", b"Text.", "values", Some("[1]"))),
            Refused(400, "invalid_metadata"),
        ),
        (
            "no category",
            upload_as(
                &key,
                Form::new().part("file", Part::bytes(b"x".to_vec()).file_name("a.md")),
            ),
            Refused(400, "missing_category"),
        ),
        (
            "a JSON body instead of a form",
            client.post(&path).admin(&key).json(&json!({})),
            Status(415),
        ),
        (
            "an upload to an unknown tenant",
            client
                .post("/api/admin/rag/upload/no-such-tenant")
                .admin(petraf_tests::PLATFORM_KEY)
                .multipart(form()),
            Refused(404, "tenant_not_found"),
        ),
    ])
    .await;

    // None of that indexed anything; each refusal of a known tenant's
    // upload is audited as `rag.upload_failed` (issue 22).
    let logs = client
        .get("/api/admin/audit-logs")
        .admin(&key)
        .send()
        .await
        .json();
    let actions: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    let mut expected = vec!["rag.upload_failed"; 9];
    expected.push("tenant.created");
    assert_eq!(actions, expected, "{logs}");
    let found = server
        .app
        .vectors
        .search(
            &tenant,
            &[],
            &server.app.embedder.embed(&["kind".into()]).await.unwrap()[0],
            5,
        )
        .await
        .unwrap();
    assert!(found.is_empty());

    // Presigned drop-folder URLs need S3; the embedded store says so.
    let url_path = format!("/api/admin/rag/upload-url/{tenant}");
    let upload_url =
        |admin_key: &str, body: Value| client.post(&url_path).admin(admin_key).json(&body);
    run([
        (
            "a presigned URL on the embedded store",
            upload_url(&key, json!({"category": "values", "filename": "v.md"})),
            Refused(501, "presigned_uploads_unavailable"),
        ),
        (
            "a presigned URL for an executable",
            upload_url(&key, json!({"category": "values", "filename": "v.exe"})),
            Refused(415, "unsupported_type"),
        ),
        (
            "a presigned URL with another tenant's key",
            upload_url(
                &acme.admin_key,
                json!({"category": "values", "filename": "v.md"}),
            ),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "a presigned URL with no file name",
            upload_url(&key, json!({"category": "values"})),
            Refused(400, "invalid_body"),
        ),
        // The good upload works.
        ("the good upload", upload_as(&key, form()), Status(200)),
    ])
    .await;
}

#[tokio::test]
async fn a_vague_goal_fails_is_kept_as_a_draft_and_an_edit_can_pass() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    for turn in 1..=3 {
        let r = chat(
            &client,
            &tenant,
            &s.token,
            "g4_future",
            &s.id,
            "I want to do better",
        )
        .await;
        assert_eq!(r.status, 200);
        let events = r.events();
        let names: Vec<&str> = events
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "message")
            .collect();
        if turn < 3 {
            assert_eq!(
                names,
                vec!["start", "complete"],
                "turn {turn} keeps collecting"
            );
            continue;
        }
        // The third turn reaches max_collect_turns: refine and score, and fail.
        assert_eq!(
            names,
            vec![
                "start", "state", "refined", "state", "score", "state", "complete"
            ]
        );
        let score = &events.iter().find(|(n, _)| n == "score").unwrap().1;
        assert_eq!(score["meets_threshold"], false);
        assert!(score["overall"].as_f64().unwrap() < 7.0);
        assert!(!score["suggestions"].as_array().unwrap().is_empty());
        let advice: String = events
            .iter()
            .filter(|(n, d)| n == "message" && d["step"] == "score")
            .map(|(_, d)| d["content"].as_str().unwrap())
            .collect();
        assert!(
            advice.contains("To raise it"),
            "the coach says what would raise the score: {advice}"
        );
        let last_state = &events.iter().rev().find(|(n, _)| n == "state").unwrap().1;
        assert_eq!(
            *last_state,
            json!({"phase": "g4_future", "step": "collect", "completion_percentage": 10})
        );
    }
    let state = server.conversation(&tenant, &s.id).await;
    assert_eq!(
        (
            state.retry_count,
            state.consecutive_low_scores,
            state.attempts
        ),
        (1, 1, 1)
    );
    assert!(state.draft_goal.is_some() && state.last_score.unwrap() < 7.0);
    let goals = client
        .get(&format!("/api/goals/session/{}?final_only=true", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await
        .json();
    assert_eq!(goals["total"], 0);
    let goals = client
        .get(&format!("/api/goals/session/{}?final_only=false", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await
        .json();
    assert_eq!(goals["total"], 1);
    assert_eq!(
        (
            goals["goals"][0]["is_final"].as_bool(),
            goals["goals"][0]["version"].as_u64()
        ),
        (Some(false), Some(1))
    );

    // The employee edits the goal and sends it back: scored directly.
    let edited = "Within 24 months, advance to Senior Engineer (L5) by leading a team of 3-4 developers on the payment processing platform and mentoring 2 junior developers in distributed systems.";
    let r = client
        .post("/api/chat/g4_future/stream")
        .tenant(&tenant)
        .bearer(&s.token)
        .json(&chat_body(&s.id, edited, "refine"))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let events = r.events();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "start", "state", "refined", "state", "score", "state", "complete"
        ]
    );
    let refined = &events[2].1;
    assert_eq!(
        (refined["goal"].as_str(), refined["version"].as_u64()),
        (Some(edited), Some(2))
    );
    assert_eq!(events[4].1["meets_threshold"], true, "{}", events[4].1);
    let goals = client
        .get(&format!("/api/goals/session/{}?final_only=false", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await
        .json();
    let versions: Vec<(bool, u64)> = goals["goals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["is_final"].as_bool().unwrap(),
                g["version"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(versions, vec![(false, 1), (true, 2)]);
    let audit = client
        .get(&format!("/api/admin/audit-logs?session_id={}", s.id))
        .admin(petraf_tests::PLATFORM_KEY)
        .send()
        .await
        .json();
    let scored: Vec<bool> = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "goal.scored")
        .map(|l| l["payload"]["meets_threshold"].as_bool().unwrap())
        .collect();
    assert_eq!(scored, vec![true, false], "newest first");
}

/// The offline model, slowed down so two turns overlap.
struct SlowModel(OfflineModel);

#[async_trait]
impl ChatModel for SlowModel {
    fn provider(&self) -> &'static str {
        "offline-slow"
    }
    fn model_for(&self, ctx: &PhaseContext) -> String {
        self.0.model_for(ctx)
    }
    async fn coach(
        &self,
        ctx: &PhaseContext,
        purpose: CoachPurpose,
    ) -> Result<TextStream, ModelError> {
        tokio::time::sleep(StdDuration::from_millis(400)).await;
        self.0.coach(ctx, purpose).await
    }
    async fn refine(
        &self,
        ctx: &PhaseContext,
        draft: Option<&str>,
    ) -> Result<Generated<String>, ModelError> {
        self.0.refine(ctx, draft).await
    }
    async fn score(
        &self,
        ctx: &PhaseContext,
        goal: &str,
        rubric: &Rubric,
    ) -> Result<Generated<Judgement>, ModelError> {
        self.0.score(ctx, goal, rubric).await
    }
}

#[tokio::test]
async fn of_two_concurrent_turns_exactly_one_proceeds() {
    let dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(dir.path()).unwrap();
    ports.model = Arc::new(SlowModel(OfflineModel));
    let server = TestServer::with_ports(ports, dir).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    let (a, b) = tokio::join!(
        chat(&client, &tenant, &s.token, "g4_future", &s.id, G4_FIRST),
        chat(&client, &tenant, &s.token, "g4_future", &s.id, G4_FIRST),
    );
    let mut statuses = vec![a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, vec![200, 409]);
    let refused = if a.status == 409 { &a } else { &b };
    assert_eq!(refused.code(), "turn_in_progress");
    let messages = server.messages(&tenant, &s.id).await;
    assert_eq!(
        messages.len(),
        2,
        "one user message and one reply, nothing twice"
    );
    let state = server.conversation(&tenant, &s.id).await;
    assert!(state.lease.is_none(), "the winner released the session");
    assert_eq!(state.collect_turns, 1);
}
