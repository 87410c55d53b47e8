//! The audit log over HTTP, on both state stores (the embedded SQLite
//! store, and DynamoDB on moto's server: without it that test says
//! "skipped", unless PETRAF_REQUIRE_STANDINS=1): one `session.resumed` per
//! actual resume, newest first with filters, refused uploads recorded.
//!
//! The server trusts one proxy, so the client address is the last
//! `X-Forwarded-For` entry; with the user agent it tells clients apart.

use std::sync::Arc;

use chrono::Duration;
use petraf_core::app::Settings;
use petraf_core::ports::StateStore;
use petraf_tests::documents::upload_form;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Client, ManualClock, TestServer, walkthrough_clock};
use serde_json::{Value, json};

const LAPTOP: (&str, &str) = (
    "203.0.113.10",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
);
const PHONE: (&str, &str) = ("198.51.100.20", "Mozilla/5.0 (iPhone) Safari/604.1");

async fn server_on(store: Option<Arc<dyn StateStore>>, clock: Arc<ManualClock>) -> TestServer {
    let settings = Settings {
        trusted_proxies: 1,
        ..Settings::default()
    };
    TestServer::on_store_with(store, clock, settings).await
}

/// `query` of the tenant's audit log as its own admin: (total, actions).
async fn audit(client: &Client, key: &str, query: &str) -> (u64, Vec<Value>) {
    let reply = client
        .get(&format!("/api/admin/audit-logs?limit=200&{query}"))
        .admin(key)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    let body = reply.json();
    (
        body["total"].as_u64().unwrap(),
        body["logs"].as_array().unwrap().clone(),
    )
}

fn actions(logs: &[Value]) -> Vec<&str> {
    logs.iter().map(|l| l["action"].as_str().unwrap()).collect()
}

async fn resume(client: &Client, tenant: &str, token: &str, (ip, agent): (&str, &str)) {
    let reply = client
        .post("/api/session/resume")
        .tenant(tenant)
        .header("X-Forwarded-For", ip)
        .header("User-Agent", agent)
        .json(&json!({ "resume_token": token }))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
}

async fn resumes(client: &Client, key: &str, session: &str) -> u64 {
    let query = format!("action=session.resumed&session_id={session}");
    audit(client, key, &query).await.0
}

/// Reloads by the client using the session write nothing; another client,
/// or the same one after a quiet half hour, writes one entry each.
async fn one_resumed_entry_per_actual_resume(server: &TestServer) {
    let client = server.client();
    let (tenant, key) = server.fresh_tenant().await;
    let created = client
        .post("/api/session/create")
        .tenant(&tenant)
        .header("X-Forwarded-For", LAPTOP.0)
        .header("User-Agent", LAPTOP.1)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let session = body["session_id"].as_str().unwrap().to_string();
    let token = body["resume_token"].as_str().unwrap().to_string();

    for _ in 0..3 {
        resume(&client, &tenant, &token, LAPTOP).await;
    }
    assert_eq!(
        resumes(&client, &key, &session).await,
        0,
        "page loads restoring the session write nothing"
    );
    resume(&client, &tenant, &token, PHONE).await;
    resume(&client, &tenant, &token, PHONE).await;
    assert_eq!(
        resumes(&client, &key, &session).await,
        1,
        "another client's resume is recorded once"
    );
    server.clock.advance(Duration::minutes(31));
    resume(&client, &tenant, &token, PHONE).await;
    assert_eq!(
        resumes(&client, &key, &session).await,
        2,
        "a return after a quiet half hour is recorded"
    );
    resume(&client, &tenant, &token, LAPTOP).await;
    assert_eq!(resumes(&client, &key, &session).await, 3);
    let (_, logs) = audit(&client, &key, &format!("session_id={session}")).await;
    assert_eq!(
        actions(&logs),
        vec![
            "session.resumed",
            "session.resumed",
            "session.resumed",
            "session.created"
        ],
        "newest first"
    );
}

/// Newest first; by action, actor, day or instant; bad bounds refused.
async fn newest_first_with_filters(server: &TestServer) {
    let client = server.client();
    let (tenant, key) = server.fresh_tenant().await;
    for _ in 0..2 {
        let created = client
            .post("/api/session/create")
            .tenant(&tenant)
            .json(&json!({}))
            .send()
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        server.clock.advance(Duration::days(1));
    }
    let (total, logs) = audit(&client, &key, "").await;
    assert_eq!(total, 3);
    assert_eq!(
        actions(&logs),
        vec!["session.created", "session.created", "tenant.created"]
    );
    let times: Vec<&str> = logs
        .iter()
        .map(|l| l["created_at"].as_str().unwrap())
        .collect();
    assert!(times[0] > times[1], "newest first: {times:?}");

    let (total, logs) = audit(&client, &key, "action=session.created").await;
    assert_eq!((total, logs.len()), (2, 2));
    let (total, _) = audit(&client, &key, "actor=system_admin").await;
    assert_eq!(total, 1, "the tenant's creation");
    let (total, _) = audit(&client, &key, "actor=nobody").await;
    assert_eq!(total, 0);
    // The walkthrough clock starts on 2025-01-10: one creation that day
    // (with the tenant's), one the next.
    let (total, _) = audit(&client, &key, "from=2025-01-10&to=2025-01-10").await;
    assert_eq!(total, 2, "a day is the whole day");
    let (total, logs) = audit(&client, &key, "from=2025-01-11").await;
    assert_eq!((total, actions(&logs)), (1, vec!["session.created"]));
    let (total, _) = audit(&client, &key, "to=2025-01-10T09:00:00Z").await;
    assert_eq!(total, 0, "an instant's `to` is exclusive");
    let (total, _) = audit(
        &client,
        &key,
        "from=2025-01-10T09:00:00Z&to=2025-01-10T09:00:01Z&action=session.created",
    )
    .await;
    assert_eq!(total, 1);

    for (query, code) in [
        ("from=yesterday", "invalid_query"),
        // A bound given empty is no bound left out.
        ("to=", "invalid_query"),
        ("from=%20", "invalid_query"),
        ("from=2025-01-12&to=2025-01-11", "invalid_range"),
    ] {
        let reply = client
            .get(&format!("/api/admin/audit-logs?{query}"))
            .admin(&key)
            .send()
            .await;
        assert_eq!(reply.status, 400, "{query}");
        assert_eq!(reply.code(), code, "{query}");
    }
}

/// Refusals after authentication leave a `rag.upload_failed` entry with the
/// reason code and filename, never the content.
async fn refused_uploads_are_recorded(server: &TestServer) {
    let client = server.client();
    let (tenant, key) = server.fresh_tenant().await;
    let secret = "Quarterly salary bands, confidential";
    let cases = [
        ("bands.pdf", secret.as_bytes().to_vec(), "values"),
        ("bands.exe", secret.as_bytes().to_vec(), "values"),
        ("bands.md", secret.as_bytes().to_vec(), "Not A Category!"),
    ];
    let mut codes = vec![];
    for (name, bytes, category) in cases {
        let reply = client
            .post(&format!("/api/admin/rag/upload/{tenant}"))
            .admin(&key)
            .multipart(upload_form(name, bytes, category))
            .send()
            .await;
        assert!(reply.status.as_u16() >= 400, "{name}: {}", reply.text);
        codes.push(reply.code());
    }
    let refused = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .admin(&key)
        .body("text/plain", "not a form")
        .send()
        .await;
    assert_eq!(refused.status, 415, "{}", refused.text);
    codes.push(refused.code());
    let replace = client
        .put(&format!(
            "/api/admin/rag/documents/{tenant}/no-such-document"
        ))
        .admin(&key)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(secret.as_bytes().to_vec()).file_name("bands-v2.md"),
        ))
        .send()
        .await;
    assert_eq!(replace.status, 404, "{}", replace.text);
    codes.push(replace.code());
    // Not authenticated: nothing to attribute, nothing recorded.
    let anonymous = client
        .post(&format!("/api/admin/rag/upload/{tenant}"))
        .multipart(upload_form("x.md", b"hello".to_vec(), "values"))
        .send()
        .await;
    assert_eq!(anonymous.status, 401);

    let (total, logs) = audit(&client, &key, "action=rag.upload_failed").await;
    assert_eq!(total, 5, "{logs:?}");
    let reasons: Vec<&str> = logs
        .iter()
        .map(|l| l["payload"]["reason"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = codes.iter().rev().map(String::as_str).collect();
    assert_eq!(reasons, newest_first);
    assert_eq!(logs[4]["payload"]["filename"], "bands.pdf");
    assert_eq!(logs[4]["payload"]["category"], "values");
    assert_eq!(logs[4]["resource_id"], "bands.pdf");
    assert_eq!(logs[1]["payload"]["filename"], Value::Null);
    assert_eq!(
        (
            logs[0]["payload"]["filename"].as_str(),
            logs[0]["payload"]["document_id"].as_str()
        ),
        (Some("bands-v2.md"), Some("no-such-document")),
        "a refused replacement names its document"
    );
    for log in &logs {
        assert_eq!(log["status"], "failure");
        assert!(!log.to_string().contains("salary"), "no content: {log}");
    }
}

#[tokio::test]
async fn the_audit_log_on_the_embedded_store() {
    let server = server_on(None, walkthrough_clock()).await;
    one_resumed_entry_per_actual_resume(&server).await;
    refused_uploads_are_recorded(&server).await;
    let server = server_on(None, walkthrough_clock()).await;
    newest_first_with_filters(&server).await;
}

#[tokio::test]
async fn the_audit_log_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-audit", Some(clock.clone())).await else {
        return;
    };
    let server = server_on(Some(Arc::new(store)), clock).await;
    one_resumed_entry_per_actual_resume(&server).await;
    refused_uploads_are_recorded(&server).await;
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-audit", Some(clock.clone())).await else {
        return;
    };
    let server = server_on(Some(Arc::new(store)), clock).await;
    newest_first_with_filters(&server).await;
}
