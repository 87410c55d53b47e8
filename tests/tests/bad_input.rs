//! Every bad input gets a clear JSON error with the right status, and
//! changes nothing.

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
use petraf_tests::journey::{G4_FIRST, chat};
use petraf_tests::{Client, TestServer};
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

#[tokio::test]
async fn session_calls_without_the_sessions_token_are_refused() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let sarah = with_profile(&client, &tenant).await;
    let mallory = with_profile(&client, &tenant).await;
    let info = json!({"employee_code": "X", "department": "Y", "position": "Z"});

    // No token at all.
    let r = client
        .put(&format!("/api/session/{}/info", sarah.id))
        .tenant(&tenant)
        .json(&info)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "missing_token".into()));
    let r = client
        .post("/api/chat/g4_future/stream")
        .tenant(&tenant)
        .json(&chat_body(&sarah.id, "hi", "collect"))
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "missing_token".into()));
    let r = client
        .get(&format!("/api/goals/session/{}", sarah.id))
        .tenant(&tenant)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "missing_token".into()));
    let r = client
        .post(&format!("/api/session/{}/complete", sarah.id))
        .tenant(&tenant)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "missing_token".into()));

    // Another session's token.
    let r = client
        .put(&format!("/api/session/{}/info", sarah.id))
        .tenant(&tenant)
        .bearer(&mallory.token)
        .json(&info)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_session".into())
    );
    let r = chat(
        &client,
        &tenant,
        &mallory.token,
        "g4_future",
        &sarah.id,
        "hi",
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_session".into())
    );
    let r = client
        .get(&format!("/api/goals/session/{}", sarah.id))
        .tenant(&tenant)
        .bearer(&mallory.token)
        .send()
        .await;
    assert_eq!(r.status, 403);

    // A forged or tampered token.
    let mut forged = sarah.token.clone();
    forged.pop();
    forged.push(if sarah.token.ends_with('A') { 'B' } else { 'A' });
    let r = client
        .get(&format!("/api/goals/session/{}", sarah.id))
        .tenant(&tenant)
        .bearer(&forged)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "invalid_token".into()));
    let r = client
        .get(&format!("/api/goals/session/{}", sarah.id))
        .tenant(&tenant)
        .bearer("not-a-jwt")
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "invalid_token".into()));

    // A session of another tenant, reached through this tenant.
    let other = server
        .create_tenant(other_tenant("acme"))
        .await
        .record
        .tenant
        .id;
    let outsider = with_profile(&client, &other).await;
    let r = client
        .get(&format!("/api/goals/session/{}", outsider.id))
        .tenant(&tenant)
        .bearer(&outsider.token)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_session".into())
    );
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .json(&json!({"resume_token": outsider.token}))
        .send()
        .await;
    assert_eq!(r.status, 403);

    // Nothing changed for Sarah.
    let stored = server
        .app
        .store
        .session(&tenant, &sarah.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.profile.employee_code.as_deref(), Some("EMP1"));
    assert!(
        server
            .app
            .store
            .messages(&tenant, &sarah.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn expired_tokens_and_unknown_sessions_are_refused() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "missing_token".into()));
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .json(&json!({"resume_token": "garbage"}))
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "invalid_token".into()));
    // The cookie works when the body is empty.
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .header("Cookie", &format!("resume_token={}", s.token))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    server.clock.advance(Duration::days(15));
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .json(&json!({"resume_token": s.token}))
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "token_expired".into()));
    let r = client
        .get(&format!("/api/goals/session/{}", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (401, "token_expired".into()));
    // An expired, unfinished session counts as abandoned, once.
    let stored = server
        .app
        .store
        .session(&tenant, &s.id)
        .await
        .unwrap()
        .unwrap();
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
    let r = client
        .get("/api/goals/session/not-a-ulid")
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_session_id".into())
    );
}

#[tokio::test]
async fn turns_for_another_phase_or_step_are_refused_and_store_nothing() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let fresh = new_session(&client, &tenant).await;
    let r = chat(
        &client,
        &tenant,
        &fresh.token,
        "g4_future",
        &fresh.id,
        "hello",
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "profile_required".into())
    );

    let s = with_profile(&client, &tenant).await;
    let send = |phase: &'static str, body: Value| {
        let client = server.client();
        let (tenant, token) = (tenant.clone(), s.token.clone());
        async move {
            client
                .post(&format!("/api/chat/{phase}/stream"))
                .tenant(&tenant)
                .bearer(&token)
                .json(&body)
                .send()
                .await
        }
    };
    let r = send("g6_values", chat_body(&s.id, "I value honesty", "collect")).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "phase_mismatch".into())
    );
    let r = send("g4_future", chat_body(&s.id, "hi", "score")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "step_mismatch".into()));
    let r = send("g4_future", chat_body(&s.id, "My goal", "refine")).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "nothing_to_edit".into())
    );
    let r = send("g5_dreams", chat_body(&s.id, "hi", "collect")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "unknown_phase".into()));
    let r = send("g2_basic", chat_body(&s.id, "hi", "collect")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "unknown_phase".into()));
    let r = send("g4_future", chat_body(&s.id, "hi", "write")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "unknown_step".into()));
    let r = send("g4_future", chat_body(&s.id, "   ", "collect")).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "empty_message".into()));
    let r = send("g4_future", chat_body(&s.id, &"a".repeat(4001), "collect")).await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "message_too_long".into())
    );
    let r = send(
        "g4_future",
        json!({"session_id": s.id, "message": "x".repeat(70_000)}),
    )
    .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (413, "body_too_large".into())
    );
    let r = send(
        "g4_future",
        json!({"session_id": s.id, "message": "hi", "mood": "great"}),
    )
    .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_body".into()));
    let r = send("g4_future", json!({"session_id": s.id})).await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_body".into()));

    let r = client
        .post("/api/chat/g4_future/stream")
        .tenant(&tenant)
        .bearer(&s.token)
        .body("application/json", "{not json")
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json".into()));
    let r = client
        .post("/api/chat/g4_future/stream")
        .tenant(&tenant)
        .bearer(&s.token)
        .body("text/plain", "hi")
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (415, "unsupported_media_type".into())
    );

    assert!(
        server
            .app
            .store
            .messages(&tenant, &s.id)
            .await
            .unwrap()
            .is_empty(),
        "refused turns store nothing"
    );
    let state = server
        .app
        .store
        .conversation(&tenant, &s.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            state.phase.as_str(),
            state.step.as_str(),
            state.lease.is_none()
        ),
        ("g4_future", "collect", true)
    );
    let r = client
        .post(&format!("/api/session/{}/complete", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (409, "session_incomplete".into())
    );
}

#[tokio::test]
async fn bad_profiles_and_bodies_change_nothing() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let s = new_session(&client, &tenant).await;
    for (body, code) in [
        (
            json!({"employee_code": "", "department": "D", "position": "P"}),
            "invalid_profile",
        ),
        (
            json!({"employee_code": "E", "department": "D", "position": "P", "years_of_service": 99}),
            "invalid_profile",
        ),
        (
            json!({"employee_code": "E", "department": "D", "position": "P", "job_type": "pirate"}),
            "invalid_body",
        ),
        (
            json!({"employee_code": "E", "department": "D", "position": "P", "salary": 1}),
            "invalid_body",
        ),
        (json!({"department": "D", "position": "P"}), "invalid_body"),
    ] {
        let r = client
            .put(&format!("/api/session/{}/info", s.id))
            .tenant(&tenant)
            .bearer(&s.token)
            .json(&body)
            .send()
            .await;
        assert_eq!(
            (r.status.as_u16(), r.code()),
            (400, code.to_string()),
            "{body}"
        );
    }
    let stored = server
        .app
        .store
        .session(&tenant, &s.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((stored.completion_percentage, stored.version), (0, 1));
    assert_eq!(
        server
            .app
            .store
            .conversation(&tenant, &s.id)
            .await
            .unwrap()
            .unwrap()
            .phase
            .as_str(),
        "g2_basic"
    );

    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .body("application/json", "[1,2")
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_json".into()));
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .json(&json!({"metadata": [1]}))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_metadata".into())
    );
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .json(&json!({"metadata": {"blob": "x".repeat(3000)}}))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_metadata".into())
    );
    let r = client
        .get(&format!("/api/goals/session/{}?final_only=maybe", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_query".into()));
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

    let r = client.get("/api/nothing/here").send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "route_not_found".into())
    );
    let r = client.get("/api/session/create").send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (405, "method_not_allowed".into())
    );
}

#[tokio::test]
async fn unknown_and_inactive_tenants_are_refused_and_the_host_resolves_tenants() {
    let (server, tenant, _) = setup().await;
    let client = server.client();
    let r = client
        .post("/api/session/create")
        .tenant(&"x".repeat(3000))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "tenant_not_found".into()),
        "an oversized id is no tenant's"
    );
    let r = client
        .post("/api/session/create")
        .tenant("no-such-tenant")
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "tenant_not_found".into())
    );
    let r = client
        .post("/api/session/create")
        .header("Host", "unknown.petraf.com")
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "tenant_not_found".into())
    );
    let r = client
        .post("/api/session/create")
        .header("Host", "sunrise.petraf.com:443")
        .send()
        .await;
    assert_eq!(
        r.status, 201,
        "the Host header's domain resolves the tenant: {}",
        r.text
    );

    let s = with_profile(&client, &tenant).await;
    set_status(&server.app, &tenant, TenantStatus::Inactive)
        .await
        .unwrap();
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "tenant_inactive".into())
    );
    let r = chat(&client, &tenant, &s.token, "g4_future", &s.id, "hi").await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "tenant_inactive".into())
    );
    assert!(
        server
            .app
            .store
            .messages(&tenant, &s.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn admin_keys_see_only_their_own_tenant() {
    let (server, tenant, key) = setup().await;
    let client = server.client();
    let acme = server.create_tenant(other_tenant("acme")).await;
    let form = || {
        reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"Be kind. Ship often.".to_vec())
                    .file_name("values.md"),
            )
            .text("category", "values")
    };
    let path = format!("/api/admin/rag/upload/{tenant}");
    let r = client.post(&path).multipart(form()).send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "missing_admin_key".into())
    );
    let r = client
        .post(&path)
        .admin("admin_sk_sunrise_wrong")
        .multipart(form())
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (401, "invalid_admin_key".into())
    );
    let r = client
        .post(&path)
        .admin(&acme.admin_key)
        .multipart(form())
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_tenant".into())
    );
    let r = client
        .get(&format!("/api/admin/stats/overview?tenant_id={tenant}"))
        .admin(&acme.admin_key)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_tenant".into())
    );
    let r = client
        .get(&format!("/api/admin/audit-logs?tenant_id={tenant}"))
        .admin(&acme.admin_key)
        .send()
        .await;
    assert_eq!(r.status, 403);
    let r = client.get("/api/admin/tenants").admin(&key).send().await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "platform_admin_only".into())
    );

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

    let r = client
        .get("/api/admin/audit-logs?limit=200&page=4000000")
        .admin(&key)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "invalid_page".into()),
        "offset paging is bounded"
    );
    for (limit, page, code) in [
        ("0", "1", "invalid_limit"),
        ("201", "1", "invalid_limit"),
        ("10", "0", "invalid_page"),
        ("x", "1", "invalid_query"),
    ] {
        let r = client
            .get(&format!("/api/admin/audit-logs?limit={limit}&page={page}"))
            .admin(&key)
            .send()
            .await;
        assert_eq!((r.status.as_u16(), r.code()), (400, code.to_string()));
    }

    // Bad uploads.
    let upload = |file: &'static str,
                  bytes: &'static [u8],
                  category: &'static str,
                  metadata: Option<&'static str>| {
        let mut form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(file),
            )
            .text("category", category);
        if let Some(m) = metadata {
            form = form.text("metadata", m);
        }
        form
    };
    for (form, status, code) in [
        (
            upload("framework.exe", b"MZ\x90\x00", "career_framework", None),
            415,
            "unsupported_type",
        ),
        (
            upload(
                "framework.pdf",
                b"<html>not a pdf</html>",
                "career_framework",
                None,
            ),
            415,
            "format_mismatch",
        ),
        (
            upload("notes.txt", b"", "values", None),
            400,
            "empty_document",
        ),
        (
            upload("notes.txt", b"\xff\xfe", "values", None),
            400,
            "invalid_encoding",
        ),
        (
            upload("notes.txt", b"Text.", "Career Framework", None),
            400,
            "invalid_category",
        ),
        (
            upload("notes.txt", b"Text.", "values", Some("{not json")),
            400,
            "invalid_metadata",
        ),
        (
            upload("notes.txt", b"Text.", "values", Some("[1]")),
            400,
            "invalid_metadata",
        ),
    ] {
        let r = client.post(&path).admin(&key).multipart(form).send().await;
        assert_eq!((r.status.as_u16(), r.code()), (status, code.to_string()));
    }
    let no_category = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.md"),
    );
    let r = client
        .post(&path)
        .admin(&key)
        .multipart(no_category)
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (400, "missing_category".into())
    );
    let r = client.post(&path).admin(&key).json(&json!({})).send().await;
    assert_eq!(r.status, 415);
    let r = client
        .post("/api/admin/rag/upload/no-such-tenant")
        .admin(petraf_tests::PLATFORM_KEY)
        .multipart(form())
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (404, "tenant_not_found".into())
    );

    // None of that indexed anything or wrote an audit entry.
    let logs = client
        .get("/api/admin/audit-logs")
        .admin(&key)
        .send()
        .await
        .json();
    assert_eq!(logs["total"], 1, "only tenant.created: {logs}");
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
    let r = client
        .post(&url_path)
        .admin(&key)
        .json(&json!({"category": "values", "filename": "v.md"}))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (501, "presigned_uploads_unavailable".into())
    );
    let r = client
        .post(&url_path)
        .admin(&key)
        .json(&json!({"category": "values", "filename": "v.exe"}))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (415, "unsupported_type".into())
    );
    let r = client
        .post(&url_path)
        .admin(&acme.admin_key)
        .json(&json!({"category": "values", "filename": "v.md"}))
        .send()
        .await;
    assert_eq!(
        (r.status.as_u16(), r.code()),
        (403, "forbidden_tenant".into())
    );
    let r = client
        .post(&url_path)
        .admin(&key)
        .json(&json!({"category": "values"}))
        .send()
        .await;
    assert_eq!((r.status.as_u16(), r.code()), (400, "invalid_body".into()));

    // The good upload works.
    let r = client
        .post(&path)
        .admin(&key)
        .multipart(form())
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
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
    let state = server
        .app
        .store
        .conversation(&tenant, &s.id)
        .await
        .unwrap()
        .unwrap();
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
    assert_eq!(scored, vec![false, true]);
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
    let messages = server.app.store.messages(&tenant, &s.id).await.unwrap();
    assert_eq!(
        messages.len(),
        2,
        "one user message and one reply, nothing twice"
    );
    let state = server
        .app
        .store
        .conversation(&tenant, &s.id)
        .await
        .unwrap()
        .unwrap();
    assert!(state.lease.is_none(), "the winner released the session");
    assert_eq!(state.collect_turns, 1);
}
