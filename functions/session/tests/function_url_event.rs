//! A Function URL / HTTP API (payload v2) event goes through lambda_http
//! into the same router `petraf serve` mounts.

use lambda_http::request::LambdaRequest;
use tower::ServiceExt;

fn event(method: &str, path: &str, body: Option<&str>) -> LambdaRequest {
    event_from(method, path, body, "192.168.1.100", "192.168.1.100")
}

/// An event whose caller API Gateway saw at `source_ip`, carrying the
/// (client-controlled) `forwarded_for` header.
fn event_from(
    method: &str,
    path: &str,
    body: Option<&str>,
    source_ip: &str,
    forwarded_for: &str,
) -> LambdaRequest {
    let json = serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "host": "abc123.lambda-url.us-east-1.on.aws",
            "x-tenant-id": "550e8400-e29b-41d4-a716-446655440000",
            "content-type": "application/json",
            "user-agent": "Mozilla/5.0 (Macintosh)",
            "x-forwarded-for": forwarded_for
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": source_ip, "userAgent": "Mozilla/5.0"},
            "requestId": "id",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Jan/2025:09:00:00 +0000",
            "timeEpoch": 1736499600000u64
        },
        "body": body,
        "isBase64Encoded": false
    });
    serde_json::from_value(json).expect("a valid payload v2 event")
}

#[tokio::test]
async fn health_and_session_create_answer_through_a_lambda_event() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: set before any other thread reads the environment in this test binary.
    unsafe {
        std::env::set_var("PETRAF_DATA_DIR", dir.path());
    }
    let app = petraf_core::config::from_env(&petraf_core::config::ProcessEnv)
        .await
        .unwrap();
    petraf_core::app::demo::seed_if_empty(&app).await.unwrap();
    let router = petraf_core::http::session_api(app);

    let request: lambda_http::Request = event("GET", "/api/health", None).into();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);

    let request: lambda_http::Request = event(
        "POST",
        "/api/session/create",
        Some(r#"{"metadata":{"source":"web"}}"#),
    )
    .into();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201);
    assert!(
        response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );

    // Routes of other groups are not served by this function.
    let request: lambda_http::Request = event("GET", "/api/admin/tenants", None).into();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn the_audit_ip_is_the_request_contexts_source_ip_not_the_forwarded_header() {
    let dir = tempfile::tempdir().unwrap();
    let env: std::collections::HashMap<&'static str, String> =
        [("PETRAF_DATA_DIR", dir.path().to_string_lossy().into_owned())].into();
    let app = petraf_core::config::from_env(&env).await.unwrap();
    petraf_core::app::demo::seed_if_empty(&app).await.unwrap();
    let router =
        petraf_core::http::lambda::with_source_ip(petraf_core::http::session_api(app.clone()));
    let request: lambda_http::Request = event_from(
        "POST",
        "/api/session/create",
        Some("{}"),
        "198.51.100.7",
        "6.6.6.6, 7.7.7.7",
    )
    .into();
    let response = router.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201);
    let query = petraf_core::ports::state_store::AuditQuery {
        tenant_id: Some("550e8400-e29b-41d4-a716-446655440000".into()),
        session_id: None,
        page: 1,
        per_page: 100,
        ..Default::default()
    };
    let entries = app.store.audit_log(&query).await.unwrap().entries;
    let created = entries
        .iter()
        .find(|e| e.action == "session.created")
        .expect("the session's audit entry");
    assert_eq!(created.ip_address.as_deref(), Some("198.51.100.0"));
}
