//! Erasure and export on both stores: the employee takes and erases their
//! own session with its token, the tenant admin erases by employee code
//! and exports the tenant; afterwards no endpoint, export, listing or stat
//! returns the erased data, and no byte of storage holds a marker string
//! that was in the sessions.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use petraf_core::adapters::dynamodb::DynamoStateStore;
use petraf_core::domain::ids::new_id;
use petraf_tests::journey::{G4_FIRST, chat};
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Client, TestServer, walkthrough_clock};
use serde_json::{Value, json};

/// In the erased sessions' profile, metadata and conversation only.
const MARKER: &str = "Qz7MarkerVx";

struct Session {
    id: String,
    token: String,
}

/// A session with a profile, and with `text` said in its first turn.
async fn session(
    client: &Client,
    tenant: &str,
    code: &str,
    department: &str,
    text: &str,
) -> Session {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .json(&json!({"metadata": {"source": department}}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    let s = Session {
        id: created["session_id"].as_str().unwrap().to_string(),
        token: created["resume_token"].as_str().unwrap().to_string(),
    };
    let r = client
        .put(&format!("/api/session/{}/info", s.id))
        .tenant(tenant)
        .bearer(&s.token)
        .json(&json!({"employee_code": code, "department": department, "position": "Engineer"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let reply = chat(client, tenant, &s.token, "g4_future", &s.id, text).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    s
}

/// `POST /api/session/resume` with `token`.
async fn resume(client: &Client, tenant: &str, token: &str) -> petraf_tests::Reply {
    client
        .post("/api/session/resume")
        .tenant(tenant)
        .json(&json!({"resume_token": token}))
        .send()
        .await
}

fn lines(ndjson: &str) -> Vec<Value> {
    ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

type Scan<'a> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = String> + 'a>> + 'a>;

async fn erasure_leaves_no_trace(server: &TestServer, scan_storage: Scan<'_>) {
    let client = server.client();
    let (tenant, admin_key) = server.fresh_tenant().await;
    let code = format!("EMP-{MARKER}");
    let said = format!("{G4_FIRST} My badge reads {MARKER}.");
    let sarah = session(&client, &tenant, &code, MARKER, &said).await;
    let sarah_again = session(&client, &tenant, &code, "Engineering", G4_FIRST).await;
    let kept = session(&client, &tenant, "EMP-KEPT", "Engineering", G4_FIRST).await;
    assert!(
        scan_storage().await.contains(MARKER),
        "the scan sees stored data"
    );

    // The employee's own export: the session, the conversation, the goals.
    let export = client
        .get(&format!("/api/session/{}/export", sarah.id))
        .tenant(&tenant)
        .bearer(&sarah.token)
        .send()
        .await;
    assert_eq!(export.status, 200, "{}", export.text);
    assert!(
        export.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let export = export.json();
    assert_eq!(export["session"]["id"], sarah.id.as_str());
    assert_eq!(export["session"]["employee_code"], code.as_str());
    assert!(export["messages"].as_array().unwrap().len() >= 2);
    assert!(
        export["messages"][0]["text"]
            .as_str()
            .unwrap()
            .contains(MARKER)
    );
    assert!(export["goals"]["goals"].is_array());
    let other = client
        .get(&format!("/api/session/{}/export", sarah.id))
        .tenant(&tenant)
        .bearer(&kept.token)
        .send()
        .await;
    assert_eq!(other.status, 403, "another session's token: {}", other.text);

    // The tenant's export: NDJSON, tenant first, end last, with the counts.
    let tenant_export = client
        .get(&format!("/api/admin/tenants/{tenant}/export"))
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(tenant_export.status, 200, "{}", tenant_export.text);
    assert_eq!(
        tenant_export.headers["content-type"],
        "application/x-ndjson"
    );
    let exported = lines(&tenant_export.text);
    assert_eq!(exported[0]["type"], "tenant");
    let end = exported.last().unwrap();
    assert_eq!(end["type"], "end");
    assert_eq!(end["data"]["sessions"], 3);
    assert!(tenant_export.text.contains(MARKER));
    let sessions_exported = exported.iter().filter(|l| l["type"] == "session").count();
    assert_eq!(sessions_exported, 3);

    // The employee erases their session.
    let erased = client
        .delete(&format!("/api/session/{}", sarah.id))
        .tenant(&tenant)
        .bearer(&sarah.token)
        .send()
        .await;
    assert_eq!(erased.status, 200, "{}", erased.text);
    assert!(
        erased.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let report = erased.json();
    assert_eq!(report["erased_sessions"], json!([sarah.id]));
    assert!(report["erased"]["messages"].as_u64().unwrap() >= 2);

    // Nothing of it answers any more.
    for (method, path) in [
        ("DELETE", format!("/api/session/{}", sarah.id)),
        ("GET", format!("/api/session/{}/export", sarah.id)),
        ("GET", format!("/api/session/{}/messages", sarah.id)),
        ("GET", format!("/api/goals/session/{}", sarah.id)),
    ] {
        let r = client
            .request(method.parse().unwrap(), &path)
            .tenant(&tenant)
            .bearer(&sarah.token)
            .send()
            .await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
    }
    let resumed = resume(&client, &tenant, &sarah.token).await;
    assert_eq!(resumed.status, 401, "{}", resumed.text);

    // Bad erasure requests change nothing.
    for (body, status, code_expected) in [
        (json!({}), 400, "invalid_erasure"),
        (
            json!({"session_id": kept.id, "employee_code": "EMP-KEPT"}),
            400,
            "invalid_erasure",
        ),
        (json!({"employee_code": "  "}), 400, "invalid_erasure"),
        (
            json!({"session_id": "not-a-ulid"}),
            400,
            "invalid_session_id",
        ),
        (json!({"session_id": new_id()}), 404, "session_not_found"),
        (json!({"session": kept.id}), 400, "invalid_body"),
    ] {
        let r = client
            .post(&format!("/api/admin/tenants/{tenant}/erasures"))
            .admin(&admin_key)
            .json(&body)
            .send()
            .await;
        assert_eq!(r.status, status, "{body}: {}", r.text);
        assert_eq!(r.code(), code_expected, "{body}");
    }
    let (other_tenant, other_key) = server.fresh_tenant().await;
    let foreign = client
        .post(&format!("/api/admin/tenants/{tenant}/erasures"))
        .admin(&other_key)
        .json(&json!({"session_id": kept.id}))
        .send()
        .await;
    assert_eq!(foreign.status, 403, "{}", foreign.text);
    let foreign_export = client
        .get(&format!("/api/admin/tenants/{tenant}/export"))
        .admin(&other_key)
        .send()
        .await;
    assert_eq!(foreign_export.status, 403, "{}", foreign_export.text);
    assert_ne!(other_tenant, tenant);

    // The admin erases every other session of the employee code.
    let by_code = client
        .post(&format!("/api/admin/tenants/{tenant}/erasures"))
        .admin(&admin_key)
        .json(&json!({"employee_code": code}))
        .send()
        .await;
    assert_eq!(by_code.status, 200, "{}", by_code.text);
    assert_eq!(by_code.json()["erased_sessions"], json!([sarah_again.id]));

    // Exports, the audit log and stats hold no trace; the kept session is whole.
    let after = client
        .get(&format!("/api/admin/tenants/{tenant}/export"))
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(after.status, 200);
    assert!(!after.text.contains(MARKER), "{}", after.text);
    let exported = lines(&after.text);
    let sessions: Vec<&Value> = exported.iter().filter(|l| l["type"] == "session").collect();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["data"]["id"], kept.id.as_str());
    let audit = client
        .get("/api/admin/audit-logs?limit=200")
        .admin(&admin_key)
        .send()
        .await;
    assert_eq!(audit.status, 200);
    assert!(!audit.text.contains(MARKER), "{}", audit.text);
    let logs = audit.json()["logs"].as_array().unwrap().clone();
    let erasures: Vec<&Value> = logs
        .iter()
        .filter(|e| e["action"] == "session.erased")
        .collect();
    assert_eq!(erasures.len(), 2);
    assert!(erasures.iter().any(|e| e["actor"] == "employee"));
    let sarahs: Vec<&Value> = logs
        .iter()
        .filter(|e| e["session_id"] == sarah.id.as_str() && e["action"] != "session.erased")
        .collect();
    assert!(!sarahs.is_empty(), "earlier entries stay, masked");
    assert!(sarahs.iter().all(|e| e["actor"] == "[erased]"));
    let stats = client
        .get("/api/admin/stats/overview")
        .admin(&admin_key)
        .send()
        .await
        .json();
    assert_eq!(
        stats["total_sessions"], 3,
        "erased sessions stay counted: {stats}"
    );
    assert_eq!(stats["erased_sessions"], 2);
    assert_eq!(stats["active_sessions"], 1, "{stats}");
    let kept_messages = client
        .get(&format!("/api/session/{}/messages", kept.id))
        .tenant(&tenant)
        .bearer(&kept.token)
        .send()
        .await;
    assert_eq!(kept_messages.status, 200);

    assert!(
        !scan_storage().await.contains(MARKER),
        "a marker left in storage"
    );
}

/// Every byte under `dir`, lossily as text.
fn read_all(dir: &Path) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            text.push_str(&read_all(&path));
        } else {
            text.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    text
}

#[tokio::test]
async fn erasure_on_the_embedded_store_leaves_no_byte_behind() {
    let server = TestServer::on_store(None, walkthrough_clock()).await;
    let dir = server.data_dir.path().to_path_buf();
    let scan: Scan<'_> = Box::new(move || {
        let dir = dir.clone();
        Box::pin(async move { read_all(&dir) })
    });
    erasure_leaves_no_trace(&server, scan).await;
}

/// Every item of the table, as text.
async fn scan_table(store: &DynamoStateStore) -> String {
    let mut text = String::new();
    let mut start = None;
    loop {
        let out = store
            .client()
            .scan()
            .table_name(store.table())
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in out.items() {
            text.push_str(&format!("{item:?}\n"));
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return text,
        }
    }
}

#[tokio::test]
async fn erasure_on_dynamodb_leaves_no_item_behind() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-erasure", Some(clock.clone())).await else {
        return;
    };
    let server = TestServer::on_store(Some(Arc::new(store.clone())), clock).await;
    let dir = server.data_dir.path().to_path_buf();
    let store = &store;
    let scan: Scan<'_> = Box::new(move || {
        let dir = dir.clone();
        Box::pin(async move { format!("{}{}", scan_table(store).await, read_all(&dir)) })
    });
    erasure_leaves_no_trace(&server, scan).await;
}

/// "Leave this computer": the browser's resume cookie is dropped (the page's
/// script cannot reach an HttpOnly cookie) and nothing else changes: the
/// session and its link still work.
#[tokio::test]
async fn leaving_a_browser_drops_its_cookie_and_keeps_the_session() {
    let server = TestServer::on_store(None, walkthrough_clock()).await;
    let client = server.client();
    let (tenant, _) = server.fresh_tenant().await;
    let sarah = session(&client, &tenant, "EMP-LEAVES", "Engineering", G4_FIRST).await;

    let left = client.delete("/api/session/cookie").send().await;
    assert_eq!(left.status, 204, "{}", left.text);
    let cookie = left.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("resume_token=;"), "{cookie}");
    assert!(
        cookie.contains("Max-Age=0") && cookie.contains("Path=/"),
        "{cookie}"
    );

    let resumed = resume(&client, &tenant, &sarah.token).await;
    assert_eq!(resumed.status, 200, "{}", resumed.text);
    assert_eq!(resumed.json()["id"], json!(sarah.id));
}
