//! `GET /api/session/{id}/messages`: the conversation read back in order,
//! paged, each scored turn with its goal, and only with the session's token.

use chrono::Duration;
use petraf_core::app::tenants::{NewTenant, demo_tenant};
use petraf_core::domain::tenant::TenantConfig;
use petraf_tests::cases::Expect::{Refused, Status};
use petraf_tests::cases::run;
use petraf_tests::journey::{G4_FIRST, G4_SECOND, G6_VALUES, chat};
use petraf_tests::{Client, TestServer};
use serde_json::{Value, json};

struct Session {
    id: String,
    token: String,
}

async fn with_profile(client: &Client, tenant: &str) -> Session {
    let created = client
        .post("/api/session/create")
        .tenant(tenant)
        .send()
        .await
        .json();
    let s = Session {
        id: created["session_id"].as_str().unwrap().to_string(),
        token: created["resume_token"].as_str().unwrap().to_string(),
    };
    let r = client
        .put(&format!("/api/session/{}/info", s.id))
        .tenant(tenant)
        .bearer(&s.token)
        .json(&json!({"employee_code": "EMP1", "department": "Engineering", "position": "Software Engineer"}))
        .send()
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    s
}

fn acme() -> NewTenant {
    NewTenant {
        id: None,
        slug: "acme".into(),
        name: "acme Inc".into(),
        domain: "acme.petraf.com".into(),
        admin_email: "hr@acme.com".into(),
        contact_name: None,
        config: TenantConfig::defaults(),
    }
}

/// Three turns: a vague answer, one that passes g4, one that passes g6.
async fn three_turns(server: &TestServer, tenant: &str, s: &Session) {
    let client = server.client();
    for (phase, text) in [
        ("g4_future", G4_FIRST),
        ("g4_future", G4_SECOND),
        ("g6_values", G6_VALUES),
    ] {
        server.clock.advance(Duration::minutes(1));
        let reply = chat(&client, tenant, &s.token, phase, &s.id, text).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
    }
}

fn messages_of(page: &Value) -> Vec<Value> {
    page["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn the_conversation_comes_back_in_order_with_each_scored_goal() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    let path = format!("/api/session/{}/messages", s.id);

    let empty = client
        .get(&path)
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!(empty.status, 200, "{}", empty.text);
    assert_eq!(
        empty.json(),
        // Nothing said yet: the phase's whole allowance is left, and no
        // draft to edit.
        json!({"session_id": s.id, "messages": [], "next_cursor": null,
               "turns_left": 13, "draft_editable": false})
    );

    three_turns(&server, &tenant, &s).await;
    let reply = client
        .get(&path)
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let page = reply.json();
    assert_eq!(page["next_cursor"], Value::Null);
    let messages = messages_of(&page);
    let shape: Vec<(&str, &str)> = messages
        .iter()
        .map(|m| (m["phase"].as_str().unwrap(), m["role"].as_str().unwrap()))
        .collect();
    assert_eq!(
        shape,
        [
            ("g4_future", "user"),
            ("g4_future", "assistant"),
            ("g4_future", "user"),
            ("g4_future", "assistant"),
            ("g6_values", "user"),
            ("g6_values", "assistant"),
        ]
    );
    assert_eq!(messages[0]["text"], G4_FIRST);
    assert_eq!(messages[2]["text"], G4_SECOND);
    assert_eq!(messages[4]["text"], G6_VALUES);
    let stored = server.messages(&tenant, &s.id).await;
    for (m, stored) in messages.iter().zip(&stored) {
        assert_eq!(m["id"], stored.id.as_str());
        assert_eq!(m["text"], stored.content.as_str());
        assert_eq!(m["created_at"], json!(stored.created_at));
        assert!(m["step"].is_string());
    }
    assert!(
        messages
            .iter()
            .all(|m| m["role"] == "user" || !m["text"].as_str().unwrap().is_empty())
    );

    // The vague answer made no goal; each passing turn carries its goal.
    assert!(messages[1].get("goal").is_none(), "{}", messages[1]);
    let goals = client
        .get(&format!("/api/goals/session/{}", s.id))
        .tenant(&tenant)
        .bearer(&s.token)
        .send()
        .await
        .json();
    for (m, phase) in [(&messages[3], "g4_future"), (&messages[5], "g6_values")] {
        let goal = &m["goal"];
        let stored = goals["goals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["phase"] == phase)
            .unwrap();
        assert_eq!(goal["goal_id"], stored["id"], "{m}");
        assert_eq!(goal["refined_goal"], stored["content"]);
        assert_eq!(goal["score"], stored["score"]);
        assert_eq!(goal["version"], 1);
        assert_eq!(goal["meets_threshold"], true);
        assert_eq!(goal["threshold"], 7.0);
    }
    for user in messages.iter().filter(|m| m["role"] == "user") {
        assert!(user.get("goal").is_none() && user.get("sources").is_none());
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_and_bad_paging_is_refused() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let client = server.client();
    let s = with_profile(&client, &tenant).await;
    three_turns(&server, &tenant, &s).await;
    let get = |query: &str| {
        client
            .get(&format!("/api/session/{}/messages{query}", s.id))
            .tenant(&tenant)
            .bearer(&s.token)
    };
    let all = messages_of(&get("").send().await.json());
    assert_eq!(all.len(), 6);

    let mut paged = vec![];
    let mut query = "?limit=4".to_string();
    let mut pages = 0;
    loop {
        let reply = get(&query).send().await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        let page = reply.json();
        pages += 1;
        paged.extend(messages_of(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(paged, all);
    let exact = get("?limit=6").send().await.json();
    assert_eq!(
        exact["next_cursor"],
        Value::Null,
        "no empty page after the last"
    );
    let first = get("?limit=1").send().await.json();
    assert_eq!(first["next_cursor"], all[0]["id"]);

    let other = with_profile(&client, &tenant).await;
    let other_cursor = {
        server.clock.advance(Duration::minutes(1));
        chat(
            &client,
            &tenant,
            &other.token,
            "g4_future",
            &other.id,
            G4_FIRST,
        )
        .await;
        server.messages(&tenant, &other.id).await[0].id.clone()
    };
    run([
        ("limit 0", get("?limit=0"), Refused(400, "invalid_limit")),
        (
            "limit 201",
            get("?limit=201"),
            Refused(400, "invalid_limit"),
        ),
        (
            "limit not a number",
            get("?limit=ten"),
            Refused(400, "invalid_limit"),
        ),
        ("limit 200", get("?limit=200"), Status(200)),
        (
            "cursor not an id",
            get("?cursor=abc"),
            Refused(400, "invalid_cursor"),
        ),
        (
            "cursor of another session",
            get(&format!("?cursor={other_cursor}")),
            Refused(400, "invalid_cursor"),
        ),
    ])
    .await;
}

#[tokio::test]
async fn only_the_session_s_token_reads_its_conversation() {
    let server = TestServer::embedded().await;
    let tenant = server.create_tenant(demo_tenant()).await.record.tenant.id;
    let other_tenant = server.create_tenant(acme()).await.record.tenant.id;
    let client = server.client();
    let sarah = with_profile(&client, &tenant).await;
    let mallory = with_profile(&client, &tenant).await;
    let outsider = with_profile(&client, &other_tenant).await;
    three_turns(&server, &tenant, &sarah).await;
    let path = format!("/api/session/{}/messages", sarah.id);
    run([
        (
            "no token",
            client.get(&path).tenant(&tenant),
            Refused(401, "missing_token"),
        ),
        (
            "another session's token",
            client.get(&path).tenant(&tenant).bearer(&mallory.token),
            Refused(403, "forbidden_session"),
        ),
        (
            "a token that is no JWT",
            client.get(&path).tenant(&tenant).bearer("not-a-jwt"),
            Refused(401, "invalid_token"),
        ),
        (
            "Sarah's token through another tenant",
            client.get(&path).tenant(&other_tenant).bearer(&sarah.token),
            Refused(403, "forbidden_session"),
        ),
        (
            "another tenant's session through this tenant",
            client
                .get(&format!("/api/session/{}/messages", outsider.id))
                .tenant(&tenant)
                .bearer(&outsider.token),
            Refused(403, "forbidden_session"),
        ),
        (
            "a session id that is no ULID",
            client
                .get("/api/session/not-an-id/messages")
                .tenant(&tenant)
                .bearer(&sarah.token),
            Refused(400, "invalid_session_id"),
        ),
        (
            "an unknown tenant",
            client
                .get(&path)
                .tenant("00000000-0000-0000-0000-000000000000")
                .bearer(&sarah.token),
            Refused(404, "tenant_not_found"),
        ),
    ])
    .await;
    // The cookie works as the Bearer does.
    let by_cookie = client
        .get(&path)
        .tenant(&tenant)
        .header("Cookie", &format!("resume_token={}", sarah.token))
        .send()
        .await;
    assert_eq!(by_cookie.status, 200, "{}", by_cookie.text);
    assert_eq!(messages_of(&by_cookie.json()).len(), 6);
}
