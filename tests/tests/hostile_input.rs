//! Hostile input and hostile connections: control characters and bidi
//! overrides, duplicate form parts, forged `X-Forwarded-For`, and slow
//! clients against the connection cap.

use std::time::{Duration, Instant};

use petraf_core::app::Settings;
use petraf_core::app::tenants::demo_tenant;
use petraf_core::config::ServerLimits;
use petraf_core::ports::state_store::AuditQuery;
use petraf_tests::TestServer;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn session_with_profile(server: &TestServer, tenant: &str) -> (String, String) {
    let client = server.client();
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let r = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(
            &json!({"employee_code": "EMP1", "department": "Engineering", "position": "Engineer"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 200);
    (id, token)
}

#[tokio::test]
async fn control_characters_and_bidi_overrides_are_refused_and_store_nothing() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let (id, token) = session_with_profile(&server, &tenant).await;
    let client = server.client();
    for message in [
        "I want\0 to lead",
        "I want to lead \u{202E}maet a",
        "goal \u{2066}isolated\u{2069}",
        "bell \u{7} ring",
        "escape \u{1b}[31m red",
    ] {
        let r = client
            .post("/api/chat/g4_future/stream")
            .tenant(&tenant)
            .bearer(&token)
            .json(&json!({"session_id": id, "message": message, "step": "collect"}))
            .send()
            .await;
        assert_eq!(r.status, 400, "{message:?}: {}", r.text);
        assert_eq!(r.code(), "invalid_characters");
    }
    assert!(
        server
            .app
            .store
            .messages(&tenant, &id)
            .await
            .unwrap()
            .is_empty(),
        "a refused message is not stored"
    );
    // Newlines, tabs and Windows line endings are ordinary text.
    let r = client
        .post("/api/chat/g4_future/stream")
        .tenant(&tenant)
        .bearer(&token)
        .json(&json!({"session_id": id, "message": "Line one\r\n\tline two", "step": "collect"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let stored = server.app.store.messages(&tenant, &id).await.unwrap();
    assert_eq!(stored[0].content, "Line one\n\tline two");

    // Profile fields refuse bidi overrides as they refuse control characters.
    let r = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(&tenant)
        .bearer(&token)
        .json(
            &json!({"employee_code": "EMP1", "department": "Eng\u{202E}", "position": "Engineer"}),
        )
        .send()
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.code(), "invalid_profile");
}

#[tokio::test]
async fn an_upload_with_two_parts_of_one_name_is_refused() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id, created.admin_key);
    let client = server.client();
    let file = |name: &str, text: &str| {
        reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name.to_string())
    };
    let forms = [
        reqwest::multipart::Form::new()
            .part("file", file("a.md", "# A\n\nFirst document."))
            .part("file", file("b.md", "# B\n\nSecond document."))
            .text("category", "values"),
        reqwest::multipart::Form::new()
            .part("file", file("a.md", "# A\n\nFirst document."))
            .text("category", "values")
            .text("category", "career_framework"),
    ];
    for form in forms {
        let r = client
            .post(&format!("/api/admin/rag/upload/{tenant}"))
            .admin(&key)
            .multipart(form)
            .send()
            .await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.code(), "duplicate_field");
    }
}

async fn audited_ips(
    server: &TestServer,
    tenant: &str,
    session: &str,
) -> Vec<(Option<String>, Option<String>)> {
    let query = AuditQuery {
        tenant_id: Some(tenant.to_string()),
        session_id: Some(session.to_string()),
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let page = server.app.store.audit_log(&query).await.unwrap();
    page.entries
        .into_iter()
        .map(|e| (e.ip_address, e.ip_hash))
        .collect()
}

#[tokio::test]
async fn a_forged_forwarded_for_is_ignored_and_audit_rows_hold_no_raw_ip() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let created = server
        .client()
        .post("/api/session/create")
        .tenant(&tenant)
        .header("X-Forwarded-For", "6.6.6.6, 7.7.7.7")
        .header("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Secret/1.2")
        .send()
        .await
        .json();
    let id = created["session_id"].as_str().unwrap();
    let rows = audited_ips(&server, &tenant, id).await;
    assert_eq!(rows.len(), 1);
    let (ip, hash) = &rows[0];
    assert_eq!(ip.as_deref(), Some("127.0.0.0"), "the socket peer, masked");
    assert_eq!(hash.as_ref().map(String::len), Some(64));
    let query = AuditQuery {
        tenant_id: Some(tenant.clone()),
        session_id: Some(id.to_string()),
        page: 1,
        per_page: 50,
        ..Default::default()
    };
    let stored =
        serde_json::to_string(&server.app.store.audit_log(&query).await.unwrap().entries).unwrap();
    for raw in [
        "6.6.6.6",
        "7.7.7.7",
        "127.0.0.1",
        "X11; Linux",
        "Secret/1.2",
    ] {
        assert!(!stored.contains(raw), "{raw} is stored: {stored}");
    }
}

#[tokio::test]
async fn behind_one_trusted_proxy_the_last_forwarded_hop_is_the_client() {
    let settings = Settings {
        trusted_proxies: 1,
        ..Settings::default()
    };
    let server = TestServer::embedded_with(settings, ServerLimits::default()).await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let created = server
        .client()
        .post("/api/session/create")
        .tenant(&tenant)
        .header("X-Forwarded-For", "6.6.6.6, 7.7.7.7")
        .send()
        .await
        .json();
    let rows = audited_ips(&server, &tenant, created["session_id"].as_str().unwrap()).await;
    assert_eq!(
        rows[0].0.as_deref(),
        Some("7.7.7.0"),
        "what the proxy saw, masked"
    );
}

/// Opens a connection that sends half a request head and then nothing.
async fn slow_client(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\nx-slow: ")
        .await
        .unwrap();
    socket
}

/// A raw `GET /api/health`: the status code, or `None` if the connection
/// closed without an answer.
async fn raw_health(addr: std::net::SocketAddr) -> Option<u16> {
    let mut socket = tokio::net::TcpStream::connect(addr).await.ok()?;
    socket
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
        .await
        .ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

#[tokio::test]
async fn slow_clients_meet_the_connection_cap_and_the_header_timeout() {
    let limits = ServerLimits {
        max_connections: 8,
        header_read_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let server = TestServer::embedded_with(Settings::default(), limits).await;
    let addr = server.addr();
    let mut slow = vec![];
    for _ in 0..8 {
        slow.push(slow_client(addr).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The cap is reached: more connections are told so at once.
    let started = Instant::now();
    for _ in 0..40 {
        assert_eq!(raw_health(addr).await, Some(503));
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "refusals are immediate"
    );
    // The slow clients are cut after the header timeout; health answers again
    // although they keep their sockets open.
    let started = Instant::now();
    loop {
        match raw_health(addr).await {
            Some(200) => break,
            Some(503) => {}
            other => panic!("health answered {other:?}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "health never came back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(slow);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let limits = ServerLimits {
        idle_timeout: Duration::from_secs(1),
        ..ServerLimits::default()
    };
    let server = TestServer::embedded_with(Settings::default(), limits).await;
    let mut socket = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    socket
        .write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer))
        .await
        .expect("the server closes the idle connection")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() >= Duration::from_millis(900));
}
