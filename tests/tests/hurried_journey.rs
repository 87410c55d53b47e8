//! Sarah's journey typed the way a hurried person would: one line, inline
//! numbering, lowercase, and restatements in the past tense ("like i said,
//! i wanted to …"). Over HTTP on the embedded default, every answer counts:
//! a restatement changes the draft, an inline plan drafts clean items, and
//! the journey ends with three final goals.

use chrono::Duration;
use petraf_core::app::tenants::demo_tenant;
use petraf_tests::journey::{chat, upload_documents};
use petraf_tests::{Client, TestServer};
use serde_json::{Value, json};

/// What one phase's turns drafted, and whether its goal passed.
struct PhaseWalk {
    drafts: Vec<String>,
    passed: bool,
}

/// Sends `answers` one after another until the phase's goal passes.
async fn walk_phase(
    server: &TestServer,
    tenant: &str,
    token: &str,
    session: &str,
    phase: &str,
    answers: &[&str],
) -> PhaseWalk {
    let client = server.client();
    let mut walk = PhaseWalk {
        drafts: vec![],
        passed: false,
    };
    for answer in answers {
        server.clock.advance(Duration::minutes(2));
        let reply = chat(&client, tenant, token, phase, session, answer).await;
        assert_eq!(reply.status, 200, "{phase}: {}", reply.text);
        let events = reply.events();
        assert_eq!(
            events.last().map(|(name, _)| name.as_str()),
            Some("complete"),
            "{phase}: {events:?}"
        );
        let of = |name: &str| -> Vec<&Value> {
            events
                .iter()
                .filter(|(n, _)| n == name)
                .map(|(_, d)| d)
                .collect()
        };
        if let Some(refined) = of("refined").first() {
            walk.drafts
                .push(refined["goal"].as_str().unwrap().to_string());
        }
        if of("score")
            .first()
            .is_some_and(|score| score["meets_threshold"] == true)
        {
            walk.passed = true;
            break;
        }
    }
    walk
}

async fn new_session(client: &Client, tenant: &str) -> (String, String) {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .json(&json!({"metadata": {"source": "web", "device": "mobile"}}))
        .send()
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let created = created.json();
    let (id, token) = (
        created["session_id"].as_str().unwrap().to_string(),
        created["resume_token"].as_str().unwrap().to_string(),
    );
    let profile = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(&json!({"employee_code": "EMP12345", "department": "Engineering", "position": "Software Engineer", "grade": "L4"}))
        .send()
        .await;
    assert_eq!(profile.status, 200, "{}", profile.text);
    (id, token)
}

const FUTURE: [&str; 3] = [
    "wanna be senior eng in 2 yrs, maybe lead a small team, mentor juniors",
    "like i said i wanted to lead a team of 3-4 devs on the payment platform and master distributed systems",
    "i meant: senior engineer (L5) within 24 months leading 4 developers on the payment processing platform, \
     mentoring 2 junior developers",
];
const VALUES: [&str; 2] = [
    "values: 1. continuous learning 2. collaboration w/ my team 3. technical excellence",
    "like i said: learning, collaboration, technical excellence and work-life balance",
];
const ACTIONS: [&str; 3] = [
    "In the next 6 months I will: 1. get AWS Solutions Architect certified by March 2025 2. Lead the payment \
     gateway migration by June 2025",
    "i said i'd mentor 2 junior devs (Mike and Jenny) weekly and present 2 tech talks on microservices by May 2025",
    "like i said: cut deployment downtime by 50% by June 2025",
];

#[tokio::test]
async fn a_hurried_sarah_ends_with_three_final_goals() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let tenant = created.record.tenant.id.clone();
    let client = server.client();
    upload_documents(&client, &tenant, &created.admin_key).await;
    let (session, token) = new_session(&client, &tenant).await;

    let mut walks = vec![];
    for (phase, answers) in [
        ("g4_future", &FUTURE[..]),
        ("g6_values", &VALUES[..]),
        ("g8_actions", &ACTIONS[..]),
    ] {
        let walk = walk_phase(&server, &tenant, &token, &session, phase, answers).await;
        eprintln!("{phase}: {:#?}", walk.drafts);
        assert!(walk.passed, "{phase} never passed: {:?}", walk.drafts);
        for pair in walk.drafts.windows(2) {
            assert_ne!(
                pair[0], pair[1],
                "{phase}: an answer left the draft unchanged"
            );
        }
        walks.push(walk);
    }

    // The plan typed on one line drafts clean items: no number of the next
    // item stuck to the end of the one before ("… by March 2025 2; 2) …").
    let plan = walks[2].drafts.last().unwrap();
    assert!(
        plan.contains("1) get AWS Solutions Architect certified by March 2025;"),
        "{plan}"
    );
    assert!(
        plan.contains("2) Lead payment gateway migration by June 2025;"),
        "{plan}"
    );
    assert!(!plan.contains("2025 2"), "{plan}");
    // The second answer, a restatement in the past tense, counts too.
    assert!(
        plan.contains("3) mentor 2 junior devs (Mike and Jenny)"),
        "{plan}"
    );

    let state = server.conversation(&tenant, &session).await;
    assert_eq!(state.phase.as_str(), "completed");
    let goals = client
        .get(&format!("/api/goals/session/{session}?final_only=true"))
        .tenant(&tenant)
        .bearer(&token)
        .send()
        .await;
    assert_eq!(goals.status, 200, "{}", goals.text);
    let goals = goals.json();
    let finals = goals["goals"].as_array().unwrap();
    let phases: Vec<&str> = finals
        .iter()
        .map(|g| g["phase"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["g4_future", "g6_values", "g8_actions"]);
    for goal in finals {
        assert_eq!(goal["is_final"], true);
        assert!(goal["score"].as_f64().unwrap() >= 7.0, "{goal}");
    }
}
