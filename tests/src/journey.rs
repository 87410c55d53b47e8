//! Sarah's whole journey from the walkthrough, checked at every step. Other
//! adapter suites run the same journey on their ports.

use chrono::Duration;
use serde_json::{Value, json};

use crate::{Call, Client, PLATFORM_KEY, Reply, TestServer};

pub const UA: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)";
pub const SARAH_IP: &str = "192.168.1.100";
pub const JOHN_IP: &str = "203.0.113.45";

pub const G4_FIRST: &str = "I want to become a senior engineer and maybe start leading a small team. I'd like to work on more complex systems and mentor junior developers.";
pub const G4_SECOND: &str = "I want to master distributed systems and microservices architecture. I'd like to lead a team of 3-4 developers and work on our payment processing platform.";
pub const G6_VALUES: &str = "I really value continuous learning, collaboration with my team, technical excellence, and making an impact through good code. Also work-life balance is important to me.";
pub const G8_ACTIONS: &str = "In the next 6 months I will:\n1. Complete AWS Solutions Architect certification\n2. Lead the payment gateway migration project\n3. Mentor 2 junior developers (Mike and Jenny)\n4. Present at our monthly tech talks about microservices\n5. Improve our deployment pipeline to reduce downtime\n6. Read 3 books on distributed systems";

/// The documents John uploads: (file, category, title).
pub const DOCUMENTS: [(&str, &str, &str); 4] = [
    (
        "career_framework.md",
        "career_framework",
        "Engineering Career Framework 2025",
    ),
    ("values_and_culture.md", "values", "Company Values"),
    (
        "engineering_guidelines.md",
        "engineering_guidelines",
        "Engineering Best Practices",
    ),
    (
        "performance_guidelines.md",
        "performance_guidelines",
        "Performance Review Guidelines",
    ),
];

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).expect("fixture")
}

/// What the journey leaves behind for further checks.
pub struct Journey {
    pub session_id: String,
    pub token: String,
    pub goal_ids: Vec<String>,
}

/// Uploads John's four documents and checks each answer.
pub async fn upload_documents(client: &Client, tenant_id: &str, admin_key: &str) {
    for (file, category, title) in DOCUMENTS {
        let form = reqwest::multipart::Form::new()
            .part(
                "file",
                reqwest::multipart::Part::bytes(fixture(file)).file_name(file.to_string()),
            )
            .text("category", category.to_string())
            .text(
                "metadata",
                json!({"title": title, "version": "1.0", "department": "Engineering"}).to_string(),
            );
        let reply = client
            .post(&format!("/api/admin/rag/upload/{tenant_id}"))
            .admin(admin_key)
            .header("User-Agent", UA)
            .header("X-Forwarded-For", JOHN_IP)
            .multipart(form)
            .send()
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let body = reply.json();
        assert_eq!(body["success"], true);
        assert_eq!(body["message"], "Document processed successfully");
        assert_eq!(body["category"], category);
        assert!(body["chunks_created"].as_u64().unwrap() >= 1);
        assert_eq!(body["document_id"].as_str().unwrap().len(), 26);
    }
}

/// Sends one chat turn and returns its events.
pub async fn chat(
    client: &Client,
    tenant: &str,
    token: &str,
    phase: &str,
    session_id: &str,
    message: &str,
) -> Reply {
    chat_call(client, tenant, token, phase, session_id, message)
        .send()
        .await
}

/// The request [`chat`] sends, unsent.
pub fn chat_call(
    client: &Client,
    tenant: &str,
    token: &str,
    phase: &str,
    session_id: &str,
    message: &str,
) -> Call {
    client
        .post(&format!("/api/chat/{phase}/stream"))
        .tenant(tenant)
        .bearer(token)
        .header("User-Agent", UA)
        .header("X-Forwarded-For", SARAH_IP)
        .json(&json!({"session_id": session_id, "message": message, "step": "collect", "context": {}}))
}

pub fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(n, _)| n.as_str()).collect()
}

/// Checks the streamed coach reply: numbered chunks that add up to the
/// `complete` event's full response.
pub fn check_stream(events: &[(String, Value)], phase: &str) {
    assert_eq!(events.first().unwrap().0, "start");
    assert_eq!(events[0].1["phase"], phase);
    assert_eq!(events[0].1["step"], "collect");
    assert_eq!(events.last().unwrap().0, "complete", "{events:?}");
    let messages: Vec<&Value> = events
        .iter()
        .filter(|(n, _)| n == "message")
        .map(|(_, d)| d)
        .collect();
    assert!(!messages.is_empty());
    for (i, m) in messages.iter().enumerate() {
        assert_eq!(m["chunk_index"], i as u64 + 1);
        assert_eq!(m["phase"], phase);
    }
    let text: String = messages
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    let complete = &events.last().unwrap().1;
    assert_eq!(complete["full_response"], text);
    assert_eq!(complete["chunks"], messages.len() as u64);
    assert_eq!(complete["phase"], phase);
    let tokens = &complete["tokens_used"];
    assert!(tokens["input"].as_u64().unwrap() > 0 && tokens["output"].as_u64().unwrap() > 0);
    assert_eq!(
        tokens["total"].as_u64().unwrap(),
        tokens["input"].as_u64().unwrap() + tokens["output"].as_u64().unwrap()
    );
    assert!(complete["latency_ms"].is_u64());
}

/// Checks a turn that refines and passes; returns the new goal's id.
pub fn check_pass(events: &[(String, Value)], phase: &str, next: &str, completion: u64) -> String {
    check_stream(events, phase);
    let after_messages: Vec<&str> = names(events)
        .into_iter()
        .filter(|n| *n != "message")
        .collect();
    assert_eq!(
        after_messages,
        vec![
            "start", "state", "refined", "state", "score", "state", "complete"
        ]
    );
    let of = |name: &str| {
        events
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>()
    };
    let states = of("state");
    assert_eq!(
        states[0],
        json!({"phase": phase, "step": "refine", "completion_percentage": completion_before(completion)})
    );
    assert_eq!(
        states[1],
        json!({"phase": phase, "step": "score", "completion_percentage": completion_before(completion)})
    );
    assert_eq!(
        states[2],
        json!({"phase": next, "step": "collect", "completion_percentage": completion})
    );
    let refined = &of("refined")[0];
    let goal = refined["goal"].as_str().unwrap();
    assert!(goal.chars().count() <= 300 && !goal.is_empty());
    assert_eq!(refined["characters"], goal.chars().count() as u64);
    assert_eq!(refined["version"], 1);
    let score = &of("score")[0];
    assert_eq!(score["meets_threshold"], true, "{score}");
    assert_eq!(score["threshold"], 7.0);
    let overall = score["overall"].as_f64().unwrap();
    assert!((7.0..=10.0).contains(&overall));
    let criteria = score["criteria"].as_array().unwrap();
    assert_eq!(criteria.len(), 4);
    let total_weight: f64 = criteria.iter().map(|c| c["weight"].as_f64().unwrap()).sum();
    let recomputed: f64 = criteria
        .iter()
        .map(|c| c["score"].as_f64().unwrap() * c["weight"].as_f64().unwrap())
        .sum::<f64>()
        / total_weight;
    assert!(
        (recomputed - overall).abs() < 0.01,
        "the backend's arithmetic: {recomputed} vs {overall}"
    );
    let contributions: f64 = criteria
        .iter()
        .map(|c| c["weighted_score"].as_f64().unwrap())
        .sum();
    assert!((contributions - overall).abs() < 0.03);
    score["goal_id"].as_str().unwrap().to_string()
}

/// The conversation read back through the API, in two pages: the stored
/// messages in order, and each passing reply with its goal (the vague first
/// answer made none).
async fn check_transcript(
    client: &Client,
    tenant_id: &str,
    token: &str,
    session_id: &str,
    stored: &[petraf_core::domain::message::Message],
    goal_ids: [&String; 3],
) {
    let page = |cursor: Option<&str>| {
        let query = cursor.map_or(String::new(), |c| format!("&cursor={c}"));
        client
            .get(&format!(
                "/api/session/{session_id}/messages?limit=5{query}"
            ))
            .tenant(tenant_id)
            .bearer(token)
            .send()
    };
    let first = page(None).await;
    assert_eq!(first.status, 200, "{}", first.text);
    let first = first.json();
    let cursor = first["next_cursor"].as_str().expect("a second page");
    let second = page(Some(cursor)).await.json();
    assert_eq!(second["next_cursor"], Value::Null);
    let read: Vec<Value> = [&first, &second]
        .iter()
        .flat_map(|p| p["messages"].as_array().unwrap().clone())
        .collect();
    let ids: Vec<&str> = read.iter().map(|m| m["id"].as_str().unwrap()).collect();
    let stored_ids: Vec<&str> = stored.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, stored_ids);
    let scored: Vec<(usize, &str)> = read
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m["goal"]["goal_id"].as_str().map(|g| (i, g)))
        .collect();
    assert_eq!(
        scored,
        [
            (3, goal_ids[0].as_str()),
            (5, goal_ids[1].as_str()),
            (7, goal_ids[2].as_str())
        ]
    );
    assert_eq!(read[3]["text"], stored[3].content.as_str());
    assert_eq!(read[3]["goal"]["meets_threshold"], true);
}

fn completion_before(after: u64) -> u64 {
    match after {
        33 => 10,
        66 => 33,
        _ => 66,
    }
}

/// Drives Sarah from a new session to her three final goals, a completed
/// session and a resume three days later, checking every answer.
pub async fn sarah(server: &TestServer, tenant_id: &str) -> Journey {
    let client = server.client();

    let health = client.get("/api/health").send().await;
    assert_eq!(health.status, 200);
    let h = health.json();
    assert_eq!(h["status"], "healthy");
    assert_eq!(h["services"]["database"], "healthy");
    assert!(h["services"]["chat_model"].is_string() && h["services"]["state_store"].is_string());

    // 2.2 create the session
    let reply = client
        .post("/api/session/create")
        .tenant(tenant_id)
        .header("Host", "sunrise.petraf.com")
        .header("User-Agent", UA)
        .header("X-Forwarded-For", SARAH_IP)
        .json(&json!({"metadata": {"source": "web", "device": "desktop"}}))
        .send()
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    let created = reply.json();
    let session_id = created["session_id"].as_str().unwrap().to_string();
    let token = created["resume_token"].as_str().unwrap().to_string();
    assert_eq!(session_id.len(), 26);
    assert_eq!(token.split('.').count(), 3);
    assert_eq!(created["status"], "active");
    assert_eq!(created["expires_at"], "2025-01-24T09:00:00Z");
    let cookie = reply.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with(&format!("resume_token={token};")));
    for attribute in ["Max-Age=1209600", "Path=/", "HttpOnly", "SameSite=Strict"] {
        assert!(
            cookie.contains(attribute),
            "cookie lacks {attribute}: {cookie}"
        );
    }
    // Host-only, and `Secure`: the Host is the tenant's domain (only a
    // loopback host goes without it, see session_routes' unit test).
    assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let stored = server
        .app
        .store
        .session(tenant_id, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.resume_token_hash,
        petraf_core::domain::resume_token::hash_token(&token)
    );
    assert!(!stored.resume_token_hash.contains(&token));
    let ip_hash = stored.ip_hash.clone().unwrap();
    assert_eq!(ip_hash.len(), 64);
    assert_ne!(ip_hash, SARAH_IP);
    assert!(stored.user_agent_hash.is_some());
    let state = server
        .app
        .store
        .conversation(tenant_id, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            state.phase.as_str(),
            state.step.as_str(),
            state.retry_count,
            state.last_score
        ),
        ("g2_basic", "collect", 0, None)
    );

    // 2.3 the profile
    server.clock.advance(Duration::minutes(5));
    let reply = client
        .put(&format!("/api/session/{session_id}/info"))
        .tenant(tenant_id)
        .bearer(&token)
        .header("User-Agent", UA)
        .header("X-Forwarded-For", SARAH_IP)
        .json(&json!({
            "employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer",
            "grade": "L4", "years_of_service": 3, "age_range": "28-32", "job_type": "full_time"
        }))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let info = reply.json();
    for (field, value) in [
        ("id", json!(session_id)),
        ("tenant_id", json!(tenant_id)),
        ("status", json!("active")),
        ("employee_code", json!("EMP12345")),
        ("department", json!("Engineering")),
        ("position", json!("Software Engineer")),
        ("grade", json!("L4")),
        ("years_of_service", json!(3)),
        ("age_range", json!("28-32")),
        ("job_type", json!("full_time")),
        ("completion_percentage", json!(10)),
        ("current_phase", json!("g4_future")),
        ("created_at", json!("2025-01-10T09:00:00Z")),
        ("updated_at", json!("2025-01-10T09:05:00Z")),
        ("last_accessed_at", json!("2025-01-10T09:05:00Z")),
    ] {
        assert_eq!(info[field], value, "field {field}");
    }

    // 3.1 g4: not yet specific enough
    server.clock.advance(Duration::minutes(5));
    let reply = chat(
        &client,
        tenant_id,
        &token,
        "g4_future",
        &session_id,
        G4_FIRST,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = reply.events();
    check_stream(&events, "g4_future");
    assert!(
        !names(&events).contains(&"refined"),
        "one vague answer does not make a goal yet"
    );

    // 3.2–3.4 g4: specific → refine → score → pass
    let events = chat(
        &client,
        tenant_id,
        &token,
        "g4_future",
        &session_id,
        G4_SECOND,
    )
    .await
    .events();
    let future_goal = check_pass(&events, "g4_future", "g6_values", 33);

    // 4 g6
    server.clock.advance(Duration::minutes(10));
    let events = chat(
        &client,
        tenant_id,
        &token,
        "g6_values",
        &session_id,
        G6_VALUES,
    )
    .await
    .events();
    let values_goal = check_pass(&events, "g6_values", "g8_actions", 66);

    // 5 g8
    server.clock.advance(Duration::minutes(10));
    let events = chat(
        &client,
        tenant_id,
        &token,
        "g8_actions",
        &session_id,
        G8_ACTIONS,
    )
    .await
    .events();
    let actions_goal = check_pass(&events, "g8_actions", "completed", 100);

    // Every message is stored with phase, step, tokens and latency.
    let messages = server
        .app
        .store
        .messages(tenant_id, &session_id)
        .await
        .unwrap();
    assert_eq!(messages.len(), 8, "four user messages, four coach replies");
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| {
            if m.role == petraf_core::domain::message::Role::User {
                "user"
            } else {
                "assistant"
            }
        })
        .collect();
    assert_eq!(roles, ["user", "assistant"].repeat(4));
    let phases: Vec<&str> = messages.iter().map(|m| m.phase.as_str()).collect();
    assert_eq!(
        phases,
        [
            "g4_future",
            "g4_future",
            "g4_future",
            "g4_future",
            "g6_values",
            "g6_values",
            "g8_actions",
            "g8_actions"
        ]
    );
    for reply in messages
        .iter()
        .filter(|m| m.role == petraf_core::domain::message::Role::Assistant)
    {
        assert!(reply.tokens_prompt > 0 && reply.tokens_completion > 0);
        assert!(reply.model_used.is_some());
    }
    assert_eq!(messages[0].content, G4_FIRST);
    check_transcript(
        &client,
        tenant_id,
        &token,
        &session_id,
        &messages,
        [&future_goal, &values_goal, &actions_goal],
    )
    .await;

    // 6.1 complete
    server.clock.advance(Duration::minutes(5));
    let reply = client
        .post(&format!("/api/session/{session_id}/complete"))
        .tenant(tenant_id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"success": true, "message": format!("Session {session_id} completed successfully")})
    );

    // 6.2 goals
    let reply = client
        .get(&format!("/api/goals/session/{session_id}?final_only=true"))
        .tenant(tenant_id)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let goals = reply.json();
    assert_eq!(goals["session_id"], session_id.as_str());
    assert_eq!(
        goals["employee"],
        json!({"code": "EMP12345", "department": "Engineering", "position": "Software Engineer", "grade": "L4"})
    );
    assert_eq!(
        (goals["total"].as_u64(), goals["completed"].as_u64()),
        (Some(3), Some(3))
    );
    let list = goals["goals"].as_array().unwrap();
    let ids: Vec<&str> = list.iter().map(|g| g["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        vec![
            future_goal.as_str(),
            values_goal.as_str(),
            actions_goal.as_str()
        ]
    );
    let kinds: Vec<(&str, &str)> = list
        .iter()
        .map(|g| (g["type"].as_str().unwrap(), g["phase"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("future", "g4_future"),
            ("values", "g6_values"),
            ("actions", "g8_actions")
        ]
    );
    for g in list {
        assert_eq!(g["is_final"], true);
        assert_eq!(g["version"], 1);
        assert!(g["score"].as_f64().unwrap() >= 7.0);
        assert!(g["content"].as_str().unwrap().chars().count() <= 300);
    }
    assert_eq!(list[0]["links"], json!([]));
    assert_eq!(list[1]["links"], json!([]));
    assert_eq!(
        list[2]["links"],
        json!([
            {"parent_goal_id": future_goal, "link_type": "contributes_to", "strength": 10},
            {"parent_goal_id": values_goal, "link_type": "aligns_with", "strength": 9}
        ])
    );
    let scores: Vec<f64> = list.iter().map(|g| g["score"].as_f64().unwrap()).collect();
    let avg = ((scores.iter().sum::<f64>() / 3.0) * 100.0).round() / 100.0;
    assert_eq!(goals["summary"]["avg_score"], avg);
    assert_eq!(goals["summary"]["message_count"], 8);
    assert_eq!(goals["summary"]["duration_minutes"], 30);
    assert_eq!(
        goals["summary"]["phases_completed"],
        json!(["g4_future", "g6_values", "g8_actions"])
    );

    let session = server
        .app
        .store
        .session(tenant_id, &session_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(session.completion_percentage, 100);
    assert_eq!(
        session.completed_at.unwrap().to_rfc3339(),
        "2025-01-10T09:30:00+00:00"
    );

    // 7 three days later
    server.clock.advance(Duration::days(3));
    let reply = client
        .post("/api/session/resume")
        .tenant(tenant_id)
        .header("User-Agent", UA)
        .header("X-Forwarded-For", SARAH_IP)
        .json(&json!({"resume_token": token}))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let resumed = reply.json();
    assert_eq!(resumed["id"], session_id.as_str());
    assert_eq!(resumed["status"], "completed");
    assert_eq!(resumed["completion_percentage"], 100);
    assert_eq!(resumed["employee_code"], "EMP12345");
    assert_eq!(resumed["created_at"], "2025-01-10T09:00:00Z");
    assert_eq!(resumed["last_accessed_at"], "2025-01-13T09:35:00Z");
    assert!(
        reply.headers["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly")
    );

    // The cookie alone also opens the goals.
    let reply = client
        .get(&format!("/api/goals/session/{session_id}"))
        .tenant(tenant_id)
        .header("Cookie", &format!("theme=dark; resume_token={token}"))
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["total"], 3);

    Journey {
        session_id,
        token,
        goal_ids: vec![future_goal, values_goal, actions_goal],
    }
}

/// John's view after the journey: stats, the session's audit trail, tenants.
pub async fn admin_views(server: &TestServer, tenant_id: &str, admin_key: &str, journey: &Journey) {
    let client = server.client();
    let reply = client
        .get("/api/admin/stats/overview")
        .admin(admin_key)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let stats = reply.json();
    for (field, value) in [
        ("scope", json!("tenant")),
        ("total_tenants", json!(1)),
        ("active_tenants", json!(1)),
        ("total_sessions", json!(1)),
        ("active_sessions", json!(0)),
        ("completed_sessions", json!(1)),
        ("abandoned_sessions", json!(0)),
        ("total_goals_created", json!(3)),
        (
            "goals_by_type",
            json!({"future": 1, "values": 1, "actions": 1}),
        ),
        ("avg_completion_rate", json!(100.0)),
        ("avg_session_duration_minutes", json!(30.0)),
        ("total_messages_today", json!(0)),
    ] {
        assert_eq!(stats[field], value, "stats field {field}");
    }
    assert!(stats["avg_score"].as_f64().unwrap() >= 7.0);
    // Every model call of the journey counts against the month's budget.
    assert!(stats["tokens_this_month"].as_i64().unwrap() > 0, "{stats}");
    assert_eq!(stats["token_budget"]["state"], "ok", "{stats}");
    assert_eq!(stats["refusals_this_month"]["rate_limited"], 0);

    let reply = client
        .get(&format!(
            "/api/admin/audit-logs?session_id={}&limit=50",
            journey.session_id
        ))
        .admin(admin_key)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let audit = reply.json();
    assert_eq!(
        (
            audit["total"].as_u64(),
            audit["page"].as_u64(),
            audit["per_page"].as_u64()
        ),
        (Some(7), Some(1), Some(50))
    );
    // Listed newest first; read here in the order it happened.
    let mut logs = audit["logs"].as_array().unwrap().clone();
    assert_eq!(logs[0]["action"], "session.resumed", "newest first");
    logs.reverse();
    let actions: Vec<(&str, &str)> = logs
        .iter()
        .map(|l| (l["action"].as_str().unwrap(), l["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("session.created", "anonymous"),
            ("session.info_updated", "EMP12345"),
            ("goal.scored", "EMP12345"),
            ("goal.scored", "EMP12345"),
            ("goal.scored", "EMP12345"),
            ("session.completed", "EMP12345"),
            ("session.resumed", "EMP12345"),
        ]
    );
    for log in &logs {
        assert_eq!(log["tenant_id"], tenant_id);
        assert_eq!(log["session_id"], journey.session_id.as_str());
        assert_eq!(log["status"], "success");
        assert_eq!(log["ip_address"], "***");
        assert_eq!(log["user_agent"], "Mozilla/5.0...");
    }
    assert_eq!(
        logs[0]["payload"],
        json!({"source": "web", "device": "desktop"})
    );
    assert_eq!(
        (
            logs[0]["resource_type"].as_str(),
            logs[0]["resource_id"].as_str()
        ),
        (Some("session"), Some(journey.session_id.as_str()))
    );
    assert_eq!(
        logs[1]["payload"],
        json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer"})
    );
    assert_eq!(
        logs[1]["changes"],
        json!({"fields_updated": ["employee_code", "department", "position", "grade", "years_of_service", "age_range", "job_type"]})
    );
    for (log, (goal_id, phase, kind)) in logs[2..5].iter().zip([
        (&journey.goal_ids[0], "g4_future", "future"),
        (&journey.goal_ids[1], "g6_values", "values"),
        (&journey.goal_ids[2], "g8_actions", "actions"),
    ]) {
        assert_eq!(
            (log["resource_type"].as_str(), log["resource_id"].as_str()),
            (Some("goal"), Some(goal_id.as_str()))
        );
        assert_eq!(log["payload"]["phase"], phase);
        assert_eq!(log["payload"]["type"], kind);
        assert_eq!(log["payload"]["meets_threshold"], true);
        assert!(log["payload"]["score"].as_f64().unwrap() >= 7.0);
    }
    assert_eq!(logs[5]["payload"]["goals_created"], 3);
    assert_eq!(logs[5]["payload"]["duration_minutes"], 30);
    assert_eq!(logs[6]["payload"], json!({"days_since_completion": 3}));

    // The tenant's own trail starts with its creation and John's uploads.
    let reply = client
        .get("/api/admin/audit-logs?limit=200")
        .admin(admin_key)
        .send()
        .await;
    let mut logs = reply.json()["logs"].as_array().unwrap().clone();
    logs.reverse();
    assert_eq!(logs[0]["action"], "tenant.created");
    assert_eq!(logs[0]["actor"], "system_admin");
    assert_eq!(
        logs[0]["payload"],
        json!({"slug": "sunrise-corp", "name": "Sunrise Corporation", "domain": "sunrise.petraf.com"})
    );
    for upload in &logs[1..5] {
        assert_eq!(upload["action"], "rag.document_uploaded");
        assert_eq!(upload["actor"], "john.davis@sunrisecorp.com");
        assert_eq!(upload["resource_type"], "rag_corpus");
        assert!(upload["payload"]["chunks"].as_u64().unwrap() >= 1);
    }
    assert_eq!(logs[1]["payload"]["filename"], "career_framework.md");

    // Only the platform key lists tenants.
    assert_eq!(
        client
            .get("/api/admin/tenants")
            .admin(admin_key)
            .send()
            .await
            .status,
        403
    );
    let reply = client
        .get("/api/admin/tenants")
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(reply.status, 200);
    let tenants = reply.json();
    assert!(
        tenants["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == tenant_id && t["status"] == "active")
    );
    let platform = client
        .get("/api/admin/stats/overview")
        .admin(PLATFORM_KEY)
        .send()
        .await
        .json();
    assert_eq!(platform["scope"], "platform");
    assert!(platform["total_sessions"].as_i64().unwrap() >= 1);
}
