//! A chat session driven through the HTTP router, for tests of model
//! adapters on the whole turn.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use petraf_core::app::{App, tenants};
use petraf_core::ports::chat_model::ChatModel;
use petraf_core::ports::{Embedder, SystemClock};
use serde_json::{Value, json};
use tower::ServiceExt;

/// The embedded stores in `dir`, with this model and embedder.
pub fn app_with(
    model: Arc<dyn ChatModel>,
    embedder: Arc<dyn Embedder>,
    dir: &std::path::Path,
) -> App {
    let mut ports = petraf_core::config::embedded_ports(dir).unwrap();
    ports.model = model;
    ports.embedder = embedder;
    let env = petraf_core::config::test_env(&[(
        "PETRAF_JWT_SECRET",
        "test-secret-test-secret-test-secret-0123",
    )]);
    let secrets = petraf_core::config::secrets(&env, dir).unwrap();
    petraf_core::config::services(ports, secrets, Arc::new(SystemClock))
}

pub async fn call(
    app: &App,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-tenant-id", tenants::DEMO_TENANT_ID)
        .header("content-type", "application/json");
    let request = match token {
        Some(token) => request.header("authorization", format!("Bearer {token}")),
        None => request,
    };
    send(app, request, body).await
}

/// A request to an admin route with `admin_key`.
pub async fn call_as_admin(
    app: &App,
    method: &str,
    path: &str,
    admin_key: &str,
    body: Value,
) -> (u16, String) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-admin-key", admin_key)
        .header("content-type", "application/json");
    send(app, request, body).await
}

async fn send(app: &App, request: axum::http::request::Builder, body: Value) -> (u16, String) {
    let response = petraf_core::http::full_api(app.clone())
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

/// A session with Sarah's profile, in g4: (session id, resume token).
pub async fn sarahs_session(app: &App) -> (String, String) {
    let (status, body) = call(app, "POST", "/api/session/create", None, json!({})).await;
    assert_eq!(status, 201, "{body}");
    let created: Value = serde_json::from_str(&body).unwrap();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let profile = json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer", "grade": "L4", "years_of_service": 3});
    let (status, body) = call(
        app,
        "PUT",
        &format!("/api/session/{id}/info"),
        Some(&token),
        profile,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    (id, token)
}

/// A turn's SSE events as (name, data).
pub async fn turn(app: &App, session: &(String, String), message: &str) -> Vec<(String, Value)> {
    let (status, body) = call(
        app,
        "POST",
        "/api/chat/g4_future/stream",
        Some(&session.1),
        json!({"session_id": session.0, "message": message}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.starts_with(':'))
        .map(|block| {
            let mut name = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    name = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
            (name, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

pub fn names(events: &[(String, Value)]) -> Vec<&str> {
    let mut out: Vec<&str> = vec![];
    for (name, _) in events {
        if !(name == "message" && out.last() == Some(&"message")) {
            out.push(name);
        }
    }
    out
}
