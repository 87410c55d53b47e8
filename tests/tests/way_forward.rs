//! Every phase can end, over HTTP, on both state stores (the embedded
//! SQLite store, and DynamoDB on moto's server: skipped without it unless
//! PETRAF_REQUIRE_STANDINS=1): the tries left, the cap's refusal naming the
//! ways forward, keep best, start over and HR's reopen, with their audit
//! entries, stats, exports and refusals.

use std::sync::Arc;

use petraf_core::app::tenants::{NewTenant, demo_tenant};
use petraf_core::config;
use petraf_core::domain::ids::new_id;
use petraf_core::ports::StateStore;
use petraf_tests::journey::chat;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Client, PLATFORM_KEY, Reply, TestServer, walkthrough_clock};
use serde_json::{Value, json};

/// Never refined into a passing goal: the tenants here pass nothing below 10.
const VAGUE: &str = "I want to do better at work.";

struct Tenant {
    id: String,
    admin_key: String,
    admin_email: String,
}

/// A tenant of its own whose threshold no draft reaches, with `limits`.
async fn strict_tenant(server: &TestServer, limits: Value) -> Tenant {
    let id = new_id();
    let slug = format!("t-{}", id.to_lowercase());
    let mut new = NewTenant {
        id: Some(id.clone()),
        slug: slug.clone(),
        domain: format!("{slug}.example.com"),
        admin_email: format!("hr@{slug}.example.com"),
        ..demo_tenant()
    };
    new.config.threshold = 10.0;
    let created = server.create_tenant(new).await;
    set_limits(&server.client(), &id, limits).await;
    Tenant {
        id,
        admin_key: created.admin_key,
        admin_email: format!("hr@{slug}.example.com"),
    }
}

async fn set_limits(client: &Client, tenant: &str, limits: Value) {
    let set = client
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/tenants/{tenant}/settings"),
        )
        .admin(PLATFORM_KEY)
        .json(&serde_json::json!({ "limits": limits }))
        .send()
        .await;
    assert_eq!(set.status, 200, "{}", set.text);
}

/// A session with its profile filled: (id, token).
async fn ready_session(client: &Client, tenant: &str) -> (String, String) {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .json(&json!({}))
        .send()
        .await
        .json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let profile = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP77", "department": "Sales", "position": "Rep"}))
        .send()
        .await;
    assert_eq!(profile.status, 200, "{}", profile.text);
    (id, token)
}

/// One turn that must complete; its `complete` event's data.
async fn completed_turn(client: &Client, tenant: &str, s: &(String, String), phase: &str) -> Value {
    let reply = chat(client, tenant, &s.1, phase, &s.0, VAGUE).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let (name, data) = reply.events().pop().unwrap();
    assert_eq!(name, "complete", "{}", reply.text);
    data
}

fn actions(steps: &Value) -> Vec<&str> {
    steps
        .as_array()
        .map(|a| a.iter().map(|s| s["action"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

async fn way(
    client: &Client,
    tenant: &str,
    s: &(String, String),
    phase: &str,
    what: &str,
) -> Reply {
    client
        .post(&format!("/api/session/{}/phases/{phase}/{what}", s.0))
        .tenant(tenant)
        .bearer(&s.1)
        .send()
        .await
}

async fn reopen(client: &Client, key: &str, session: &str, phase: &str, query: &str) -> Reply {
    client
        .post(&format!(
            "/api/admin/sessions/{session}/phases/{phase}/reopen{query}"
        ))
        .admin(key)
        .send()
        .await
}

/// The session's audit entries of `action`, oldest first.
async fn audited(client: &Client, tenant: &str, session: &str, action: &str) -> Vec<Value> {
    let listing = client
        .get(&format!(
            "/api/admin/audit-logs?tenant_id={tenant}&session_id={session}&action={action}&limit=200"
        ))
        .admin(PLATFORM_KEY)
        .send()
        .await
        .json();
    let mut logs = listing["logs"].as_array().unwrap().clone();
    logs.reverse();
    logs
}

fn assert_refused(reply: &Reply, status: u16, code: &str) {
    assert_eq!(reply.status, status, "{}", reply.text);
    assert_eq!(reply.code(), code, "{}", reply.text);
}

/// The cap counts down, refuses with the ways forward, and start over and
/// HR's reopen give fresh allowances.
async fn cap_start_over_and_reopen(server: &TestServer) {
    let client = server.client();
    let tenant = strict_tenant(
        server,
        json!({"extra_turns_per_phase": 1, "keep_best_after_attempts": 0}),
    )
    .await;
    let t = tenant.id.as_str();
    let s = ready_session(&client, t).await;
    // max_collect_turns 3 + 1 extra: four messages; the third is scored.
    let mut left = vec![];
    for _ in 0..4 {
        let complete = completed_turn(&client, t, &s, "g4_future").await;
        left.push(complete["turns_left"].as_u64().unwrap());
        if complete["turns_left"] != 0 {
            assert!(complete.get("next_steps").is_none(), "{complete}");
        } else {
            assert_eq!(
                actions(&complete["next_steps"]),
                ["keep_best", "start_over"]
            );
        }
    }
    assert_eq!(left, [3, 2, 1, 0]);

    let stored = server.messages(t, &s.0).await.len();
    let refused = chat(&client, t, &s.1, "g4_future", &s.0, VAGUE).await;
    assert_refused(&refused, 429, "turn_limit_reached");
    let steps = &refused.json()["error"]["next_steps"];
    assert_eq!(
        steps,
        &json!([
            {"action": "keep_best", "method": "POST", "href": format!("/api/session/{}/phases/g4_future/keep-best", s.0)},
            {"action": "start_over", "method": "POST", "href": format!("/api/session/{}/phases/g4_future/start-over", s.0)},
        ])
    );
    assert_eq!(
        server.messages(t, &s.0).await.len(),
        stored,
        "nothing stored"
    );
    let transcript = client
        .get(&format!("/api/session/{}/messages", s.0))
        .tenant(t)
        .bearer(&s.1)
        .send()
        .await
        .json();
    assert_eq!(transcript["turns_left"], 0);
    assert_eq!(transcript["next_steps"], *steps);
    assert_eq!(transcript["draft_editable"], true);

    // Refusals change nothing.
    let before = server.conversation(t, &s.0).await;
    assert_refused(
        &way(&client, t, &s, "g6_values", "keep-best").await,
        409,
        "phase_not_current",
    );
    assert_refused(
        &way(&client, t, &s, "g2_basic", "start-over").await,
        400,
        "unknown_phase",
    );
    let no_token = client
        .post(&format!("/api/session/{}/phases/g4_future/start-over", s.0))
        .tenant(t)
        .send()
        .await;
    assert_refused(&no_token, 401, "missing_token");
    let other = ready_session(&client, t).await;
    let foreign = client
        .post(&format!("/api/session/{}/phases/g4_future/start-over", s.0))
        .tenant(t)
        .bearer(&other.1)
        .send()
        .await;
    assert_refused(&foreign, 403, "forbidden_session");
    assert_refused(
        &way(&client, t, &other, "g4_future", "start-over").await,
        409,
        "attempts_left",
    );
    assert_refused(
        &way(&client, t, &other, "g4_future", "keep-best").await,
        409,
        "attempts_left",
    );
    assert_eq!(server.conversation(t, &s.0).await, before);

    // Start over: a fresh allowance, the draft cleared, the messages kept.
    let restarted = way(&client, t, &s, "g4_future", "start-over").await;
    assert_eq!(restarted.status, 200, "{}", restarted.text);
    let body = restarted.json();
    assert_eq!(
        (body["current_phase"].as_str(), body["turns_left"].as_u64()),
        (Some("g4_future"), Some(4))
    );
    assert_eq!(body["draft_editable"], false);
    assert!(body.get("next_steps").is_none());
    assert_eq!(
        server.messages(t, &s.0).await.len(),
        stored,
        "messages kept"
    );
    let state = server.conversation(t, &s.0).await;
    assert_eq!(state.draft_goal, None);
    let restart = state.restart.expect("the restart is recorded");
    assert_eq!(restart.user_messages_before, 4);
    let entries = audited(&client, t, &s.0, "phase.restarted").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], "EMP77");
    assert_eq!(entries[0]["payload"]["phase"], "g4_future");
    assert_eq!(entries[0]["payload"]["turns_used"], 4);
    let complete = completed_turn(&client, t, &s, "g4_future").await;
    assert_eq!(complete["turns_left"], 3, "the cap counts from the restart");
    assert_refused(
        &way(&client, t, &s, "g4_future", "start-over").await,
        409,
        "attempts_left",
    );

    // HR reopens: a tenant's own key, or the platform key naming the tenant.
    let stranger = strict_tenant(server, json!({})).await;
    assert_refused(
        &reopen(&client, &stranger.admin_key, &s.0, "g4_future", "").await,
        404,
        "session_not_found",
    );
    let named = format!("?tenant_id={t}");
    assert_refused(
        &reopen(&client, &stranger.admin_key, &s.0, "g4_future", &named).await,
        404,
        "session_not_found",
    );
    assert_refused(
        &reopen(&client, PLATFORM_KEY, &s.0, "g4_future", "").await,
        400,
        "tenant_required",
    );
    assert_refused(
        &reopen(&client, &tenant.admin_key, &s.0, "g8_actions", "").await,
        409,
        "phase_not_current",
    );
    let no_key = client
        .post(&format!(
            "/api/admin/sessions/{}/phases/g4_future/reopen",
            s.0
        ))
        .send()
        .await;
    assert_eq!(no_key.status, 401, "{}", no_key.text);
    let reopened = reopen(&client, &tenant.admin_key, &s.0, "g4_future", "").await;
    assert_eq!(reopened.status, 200, "{}", reopened.text);
    assert_eq!(reopened.json()["turns_left"], 4);
    let by_platform = reopen(&client, PLATFORM_KEY, &s.0, "g4_future", &named).await;
    assert_eq!(by_platform.status, 200, "{}", by_platform.text);
    let entries = audited(&client, t, &s.0, "phase.reopened").await;
    let actors: Vec<&str> = entries
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, [tenant.admin_email.as_str(), "platform_admin"]);
    assert_eq!(entries[0]["payload"]["phase"], "g4_future");
}

/// Keeping the best draft of each phase completes a session whose drafts
/// never reach the threshold; HR sees the mark everywhere.
async fn keep_best_through_every_phase(server: &TestServer) {
    let client = server.client();
    let tenant = strict_tenant(
        server,
        json!({"extra_turns_per_phase": 1, "keep_best_after_attempts": 0}),
    )
    .await;
    let t = tenant.id.as_str();
    let s = ready_session(&client, t).await;
    for _ in 0..4 {
        completed_turn(&client, t, &s, "g4_future").await;
    }
    let drafts: Vec<f64> = {
        let goals = client
            .get(&format!("/api/goals/session/{}?final_only=false", s.0))
            .tenant(t)
            .bearer(&s.1)
            .send()
            .await
            .json();
        goals["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["score"].as_f64().unwrap())
            .collect()
    };
    assert!(!drafts.is_empty(), "the cap's turns scored a draft");
    let best = drafts.iter().copied().fold(f64::MIN, f64::max);

    let kept = way(&client, t, &s, "g4_future", "keep-best").await;
    assert_eq!(kept.status, 200, "{}", kept.text);
    let body = kept.json();
    assert_eq!(body["current_phase"], "g6_values");
    assert_eq!(body["completion_percentage"], 33);
    assert_eq!(body["kept_goal"]["below_threshold"], true);
    assert_eq!(body["kept_goal"]["score"].as_f64(), Some(best));
    assert_eq!(body["turns_left"], 4, "the next phase starts fresh");
    assert_refused(
        &way(&client, t, &s, "g4_future", "keep-best").await,
        409,
        "phase_not_current",
    );
    let entries = audited(&client, t, &s.0, "goal.kept_below_threshold").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["actor"], "EMP77");
    assert_eq!(entries[0]["resource_id"], body["kept_goal"]["goal_id"]);
    assert_eq!(entries[0]["payload"]["phase"], "g4_future");

    // From here a single scored attempt below threshold opens the ways forward.
    set_limits(&client, t, json!({"keep_best_after_attempts": 1})).await;
    for phase in ["g6_values", "g8_actions"] {
        let mut complete = completed_turn(&client, t, &s, phase).await;
        while complete.get("next_steps").is_none() {
            assert!(complete["turns_left"].as_u64().unwrap() > 0, "{complete}");
            complete = completed_turn(&client, t, &s, phase).await;
        }
        assert!(
            complete["turns_left"].as_u64().unwrap() > 0,
            "before the cap"
        );
        assert_eq!(
            actions(&complete["next_steps"]),
            ["keep_best", "start_over"]
        );
        let kept = way(&client, t, &s, phase, "keep-best").await;
        assert_eq!(kept.status, 200, "{}", kept.text);
    }
    let session = server.stored_session(t, &s.0).await;
    assert_eq!(session.completion_percentage, 100);
    assert_eq!(
        serde_json::to_value(session.status).unwrap(),
        "completed",
        "the last kept draft completes the session"
    );
    let confirmed = client
        .post(&format!("/api/session/{}/complete", s.0))
        .tenant(t)
        .bearer(&s.1)
        .send()
        .await;
    assert_eq!(confirmed.status, 200, "{}", confirmed.text);
    assert_refused(
        &way(&client, t, &s, "g8_actions", "keep-best").await,
        409,
        "session_completed",
    );
    assert_refused(
        &reopen(&client, &tenant.admin_key, &s.0, "g8_actions", "").await,
        409,
        "session_completed",
    );
    assert_eq!(
        audited(&client, t, &s.0, "session.completed").await.len(),
        1
    );

    let goals = client
        .get(&format!("/api/goals/session/{}", s.0))
        .tenant(t)
        .bearer(&s.1)
        .send()
        .await
        .json();
    let finals = goals["goals"].as_array().unwrap();
    assert_eq!(finals.len(), 3);
    assert!(
        finals
            .iter()
            .all(|g| g["below_threshold"] == true && g["is_final"] == true),
        "{goals}"
    );
    let actions_goal = finals.iter().find(|g| g["phase"] == "g8_actions").unwrap();
    assert_eq!(
        actions_goal["links"].as_array().unwrap().len(),
        2,
        "linked as after a pass"
    );
    let md = client
        .get(&format!("/api/goals/session/{}/export?format=md", s.0))
        .tenant(t)
        .bearer(&s.1)
        .send()
        .await;
    assert_eq!(md.status, 200);
    assert_eq!(
        md.text.matches("Kept below the passing score").count(),
        3,
        "{}",
        md.text
    );

    let stats = client
        .get(&format!("/api/admin/stats/overview?tenant_id={t}"))
        .admin(PLATFORM_KEY)
        .send()
        .await
        .json();
    assert_eq!(stats["goals_kept_below_threshold"], 3, "{stats}");
    assert_eq!(stats["total_goals_created"], 3);
    assert_eq!(stats["completed_sessions"], 1);
}

async fn every_way_forward(server: TestServer) {
    cap_start_over_and_reopen(&server).await;
    keep_best_through_every_phase(&server).await;
}

#[tokio::test]
async fn every_way_forward_on_the_embedded_store() {
    every_way_forward(TestServer::embedded().await).await;
}

#[tokio::test]
async fn every_way_forward_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-way-forward", Some(clock.clone())).await else {
        return;
    };
    let data_dir = tempfile::tempdir().unwrap();
    let mut ports = config::embedded_ports(data_dir.path()).unwrap();
    ports.store = Arc::new(store) as Arc<dyn StateStore>;
    every_way_forward(TestServer::with_ports_and_clock(ports, data_dir, clock).await).await;
}
