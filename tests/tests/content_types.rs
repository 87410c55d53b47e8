//! JSON endpoints read `application/json` only. `text/plain`, form and
//! multipart bodies are what a foreign page may send without a preflight;
//! taking them would let it create or resume sessions (and plant its own
//! token as the cookie) from the victim's browser.

use petraf_core::app::tenants::demo_tenant;
use petraf_tests::{Client, Reply, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

const FOREIGN_TYPES: [&str; 5] = [
    "text/plain",
    "text/plain; charset=utf-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/vnd.api+json",
];

fn assert_415(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 415, "{what}: {}", reply.text);
    assert_eq!(reply.code(), "unsupported_media_type", "{what}");
    assert!(
        reply.headers.get("set-cookie").is_none(),
        "{what}: a refused request sets no cookie"
    );
}

async fn create(client: &Client, tenant: &str) -> (String, String) {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .json(&json!({}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    )
}

#[tokio::test]
async fn session_create_and_resume_refuse_simple_request_bodies() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let (_, token) = create(&client, &tenant).await;
    let (_, attackers_token) = create(&client, &tenant).await;

    let resume_body = json!({"resume_token": attackers_token}).to_string();
    for content_type in FOREIGN_TYPES {
        let r = client
            .post("/api/session/create")
            .tenant(&tenant)
            .body(content_type, r#"{"metadata":{"source":"web"}}"#)
            .send()
            .await;
        assert_415(&r, &format!("create, {content_type}"));
        // A foreign page's resume carrying the attacker's token, beside the
        // victim's cookie: refused, and the victim's cookie stays.
        let r = client
            .post("/api/session/resume")
            .tenant(&tenant)
            .header("Cookie", &format!("resume_token={token}"))
            .header("Origin", "https://evil.example.com")
            .body(content_type, resume_body.clone())
            .send()
            .await;
        assert_415(&r, &format!("resume, {content_type}"));
    }
    // A foreign type with an empty body, and a body with no type at all.
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .body("text/plain", "")
        .send()
        .await;
    assert_415(&r, "create, empty text/plain");
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .header("Cookie", &format!("resume_token={token}"))
        .body("application/x-www-form-urlencoded", "")
        .send()
        .await;
    assert_415(&r, "resume, empty form");
    let untyped = petraf_tests::http_client()
        .post(format!("{}/api/session/resume", server.base))
        .header("X-Tenant-ID", &tenant)
        .body(resume_body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(untyped.status(), 415, "a body without a Content-Type");

    let usage = server
        .app
        .store
        .usage(Some(&tenant), server.clock_today())
        .await
        .unwrap();
    assert_eq!(
        usage.sessions_created, 2,
        "refused creations create nothing"
    );

    // JSON with parameters, and the optional body left out, still work.
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .body(
            "application/json; charset=utf-8",
            r#"{"metadata":{"source":"web"}}"#,
        )
        .send()
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = client
        .post("/api/session/create")
        .tenant(&tenant)
        .send()
        .await;
    assert_eq!(r.status, 201, "no body, no type: {}", r.text);
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .body("Application/JSON;charset=UTF-8", resume_body)
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = client
        .post("/api/session/resume")
        .tenant(&tenant)
        .header("Cookie", &format!("resume_token={token}"))
        .send()
        .await;
    assert_eq!(r.status, 200, "cookie alone, no body: {}", r.text);
}

/// Every operation the OpenAPI document gives a JSON body answers 415 to
/// anything else, whatever it is: the document lists the routes, so a new
/// one is held to the rule without this test changing.
#[tokio::test]
async fn every_json_operation_refuses_other_media_types() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let (tenant, key) = (created.record.tenant.id, created.admin_key);
    let client = server.client();
    let (session, token) = create(&client, &tenant).await;

    let document = client.get("/api/openapi.json").send().await.json();
    let mut checked = vec![];
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            if !content.contains_key("application/json") {
                continue;
            }
            let concrete = path
                .replace("{tenant_id}", &tenant)
                .replace("{id}", &session)
                .replace("{phase}", "g4_future")
                .replace("{document_id}", "01JH0000000000000000000000");
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            for content_type in FOREIGN_TYPES {
                let r = client
                    .request(method.clone(), &concrete)
                    .tenant(&tenant)
                    .bearer(&token)
                    .admin(&key)
                    .body(content_type, Value::Object(Default::default()).to_string())
                    .send()
                    .await;
                assert_415(&r, &format!("{method} {path}, {content_type}"));
            }
            checked.push(format!("{method} {path}"));
        }
    }
    checked.sort();
    for expected in [
        "POST /api/session/create",
        "POST /api/session/resume",
        "PUT /api/session/{id}/info",
        "POST /api/chat/{phase}/stream",
        "POST /api/admin/rag/upload-url/{tenant_id}",
        "PATCH /api/admin/tenants/{tenant_id}/settings",
    ] {
        assert!(
            checked.iter().any(|c| c == expected),
            "{expected} not among {checked:?}"
        );
    }
}
