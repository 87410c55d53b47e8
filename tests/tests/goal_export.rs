//! The public tenant endpoint and the goal export, over HTTP.

use petraf_core::app::export::read_back::pdftotext;
use petraf_core::app::tenants::demo_tenant;
use petraf_tests::TestServer;
use petraf_tests::journey::{G4_FIRST, G4_SECOND, chat};
use serde_json::json;

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
    let profile = json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer"});
    let reply = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(&profile)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    (id, token)
}

#[tokio::test]
async fn the_public_tenant_view_names_the_tenant_and_its_profile_fields_only() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant;
    let reply = server
        .client()
        .get("/api/tenant")
        .tenant(&tenant.id)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["name"], tenant.name);
    assert_eq!(body["threshold"], 7.0);
    assert_eq!(body["ui_flags"]["show_grade"], true);
    assert!(body.get("prompts").is_none() && body.get("admin_key_hash").is_none());

    let unknown = server
        .client()
        .get("/api/tenant")
        .tenant("nope")
        .send()
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), "tenant_not_found");
}

#[tokio::test]
async fn the_export_needs_the_sessions_token_and_a_known_format() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let (id, token) = session_with_profile(&server, &tenant).await;
    let (_, other_token) = session_with_profile(&server, &tenant).await;
    let client = server.client();
    let path = format!("/api/goals/session/{id}/export?format=md");

    let none = client.get(&path).tenant(&tenant).send().await;
    assert_eq!(
        (none.status.as_u16(), none.code().as_str()),
        (401, "missing_token")
    );
    let other = client
        .get(&path)
        .tenant(&tenant)
        .bearer(&other_token)
        .send()
        .await;
    assert_eq!(
        (other.status.as_u16(), other.code().as_str()),
        (403, "forbidden_session")
    );
    let bad = client
        .get(&format!("/api/goals/session/{id}/export?format=docx"))
        .tenant(&tenant)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(
        (bad.status.as_u16(), bad.code().as_str()),
        (400, "invalid_format")
    );

    let md = client
        .get(&path)
        .tenant(&tenant)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(md.status, 200);
    assert!(
        md.text
            .contains("No goal has reached the passing score yet."),
        "{}",
        md.text
    );
}

#[tokio::test]
async fn a_final_goal_is_exported_as_markdown_and_as_a_pdf_download() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant;
    let (id, token) = session_with_profile(&server, &tenant.id).await;
    let client = server.client();
    for message in [G4_FIRST, G4_SECOND] {
        chat(&client, &tenant.id, &token, "g4_future", &id, message).await;
    }
    let md = client
        .get(&format!("/api/goals/session/{id}/export?format=md"))
        .tenant(&tenant.id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(md.status, 200, "{}", md.text);
    assert_eq!(md.headers["content-type"], "text/markdown; charset=utf-8");
    assert!(
        md.text
            .starts_with(&format!("# {}: development goals", tenant.name))
    );
    assert!(
        md.text.contains("## Where I will be in two years"),
        "{}",
        md.text
    );
    assert!(md.text.contains("- Employee code: EMP12345"));

    let pdf = client
        .get(&format!("/api/goals/session/{id}/export"))
        .tenant(&tenant.id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(pdf.status, 200);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    assert_eq!(
        pdf.headers["content-disposition"],
        format!("attachment; filename=\"goals-{id}.pdf\"").as_str()
    );
}

#[tokio::test]
async fn the_pdf_export_prints_names_in_every_script_and_keeps_long_words() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let created = client
        .post("/api/session/create")
        .tenant(&tenant)
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let long_word = "x".repeat(20) + &"0123456789".repeat(8);
    assert_eq!(long_word.chars().count(), 100);
    let profile = json!({
        "employee_code": "王小明 田中さくら 김민준",
        "department": "محمد علي سلامة",
        "position": "Zoë Ñúñez Дмитрий",
        "grade": long_word,
    });
    let reply = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(&tenant)
        .bearer(&token)
        .json(&profile)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);

    let pdf = client
        .http
        .get(format!("{}/api/goals/session/{id}/export", client.base))
        .header("X-Tenant-ID", &tenant)
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let body = pdf.bytes().await.unwrap();
    assert!(body.starts_with(b"%PDF-"));
    let Some(text) = pdftotext(&body) else {
        return;
    };
    for name in [
        "王小明",
        "田中さくら",
        "김민준",
        "محمد علي",
        "Zoë Ñúñez",
        "Дмитрий",
    ] {
        assert!(text.contains(name), "{name} is not in:\n{text}");
    }
    let joined: String = text.split_whitespace().collect();
    assert!(joined.contains(&long_word), "{text}");
    assert!(!text.contains('?'), "{text}");
}
