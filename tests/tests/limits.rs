//! Rate limits, turn caps and the token budget, over HTTP, on both state
//! stores: the embedded SQLite store, and DynamoDB on moto's server
//! (`scripts/test.sh` starts it; without it that test says "skipped",
//! unless PETRAF_REQUIRE_STANDINS=1).
//!
//! The server trusts one proxy, so the client address is the last
//! `X-Forwarded-For` entry: that is how these tests speak from several
//! addresses over loopback, and how they forge the rest of the header.

use std::sync::Arc;

use chrono::Duration;
use petraf_core::app::Settings;
use petraf_core::ports::Clock;
use petraf_core::ports::StateStore;
use petraf_tests::cases::Expect::{Refused, Status};
use petraf_tests::cases::run;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Call, Client, ManualClock, PLATFORM_KEY, Reply, TestServer, walkthrough_clock};
use serde_json::{Value, json};

const ADDRESS_A: &str = "203.0.113.10";
const ADDRESS_B: &str = "198.51.100.20";

async fn server_on(store: Option<Arc<dyn StateStore>>, clock: Arc<ManualClock>) -> TestServer {
    let settings = Settings {
        trusted_proxies: 1,
        ..Settings::default()
    };
    TestServer::on_store_with(store, clock, settings).await
}

async fn new_tenant(server: &TestServer) -> String {
    server.fresh_tenant().await.0
}

/// The request that sets `tenant`'s limits, as `admin_key`: a merge patch
/// of the settings' `limits`.
fn limits_patch(client: &Client, tenant: &str, admin_key: &str, limits: Value) -> Call {
    client
        .request(
            reqwest::Method::PATCH,
            &format!("/api/admin/tenants/{tenant}/settings"),
        )
        .admin(admin_key)
        .json(&json!({ "limits": limits }))
}

async fn set_limits(client: &Client, tenant: &str, limits: Value) -> Reply {
    limits_patch(client, tenant, PLATFORM_KEY, limits)
        .send()
        .await
}

/// A tenant of its own with `limits` set.
async fn tenant_with_limits(server: &TestServer, limits: Value) -> String {
    let tenant = new_tenant(server).await;
    let set = set_limits(&server.client(), &tenant, limits).await;
    assert_eq!(set.status, 200, "{}", set.text);
    tenant
}

/// `tenant`'s audit log, as the platform admin sees it.
async fn audit_log(client: &Client, tenant: &str) -> Value {
    client
        .get(&format!(
            "/api/admin/audit-logs?tenant_id={tenant}&limit=200"
        ))
        .admin(PLATFORM_KEY)
        .send()
        .await
        .json()
}

async fn create_session(client: &Client, tenant: &str, forwarded: &str) -> Reply {
    client
        .post("/api/session/create")
        .tenant(tenant)
        .header("X-Forwarded-For", forwarded)
        .json(&json!({}))
        .send()
        .await
}

/// A session with its profile filled in: (id, token).
async fn ready_session(client: &Client, tenant: &str, address: &str) -> (String, String) {
    let created = create_session(client, tenant, address).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let (id, token) = (
        body["session_id"].as_str().unwrap().to_string(),
        body["resume_token"].as_str().unwrap().to_string(),
    );
    let profile = client
        .put(&format!("/api/session/{id}/info"))
        .tenant(tenant)
        .bearer(&token)
        .json(
            &json!({"employee_code": "EMP1", "department": "Engineering", "position": "Engineer"}),
        )
        .send()
        .await;
    assert_eq!(profile.status, 200, "{}", profile.text);
    (id, token)
}

async fn turn(client: &Client, tenant: &str, session: &(String, String), address: &str) -> Reply {
    client
        .post("/api/chat/g4_future/stream")
        .tenant(tenant)
        .bearer(&session.1)
        .header("X-Forwarded-For", address)
        .json(
            &json!({"session_id": session.0, "message": "I want to do better", "step": "collect"}),
        )
        .send()
        .await
}

fn last_event(reply: &Reply) -> String {
    reply
        .events()
        .last()
        .map(|(n, _)| n.clone())
        .unwrap_or_default()
}

fn assert_refused(reply: &Reply, code: &str, retry_after: bool) {
    assert_eq!(reply.status, 429, "{}", reply.text);
    assert_eq!(reply.code(), code, "{}", reply.text);
    let header = reply.headers.get("retry-after");
    assert_eq!(header.is_some(), retry_after, "Retry-After: {header:?}");
    if let Some(seconds) = header {
        let seconds: u64 = seconds.to_str().unwrap().parse().unwrap();
        assert!(seconds >= 1, "Retry-After {seconds}");
    }
}

async fn stats(client: &Client, tenant: &str) -> Value {
    let reply = client
        .get(&format!("/api/admin/stats/overview?tenant_id={tenant}"))
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn message_count(server: &TestServer, tenant: &str, session: &str) -> usize {
    server.messages(tenant, session).await.len()
}

async fn sessions_per_address(server: &TestServer) {
    let client = server.client();
    let tenant = new_tenant(server).await;
    let other_tenant = new_tenant(server).await;
    let set = set_limits(
        &client,
        &tenant,
        json!({"sessions_per_address_per_hour": 2}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    assert_eq!(
        set.json()["settings"]["limits"]["sessions_per_address_per_hour"],
        2
    );
    assert_eq!(
        set.json()["settings"]["limits"]["turns_per_address_per_minute"],
        60,
        "others kept"
    );

    for _ in 0..2 {
        assert_eq!(
            create_session(&client, &tenant, ADDRESS_A).await.status,
            201
        );
    }
    let refused = create_session(&client, &tenant, ADDRESS_A).await;
    assert_refused(&refused, "rate_limited", true);
    // A forged address in front of the one the trusted proxy appended
    // changes nothing.
    let forged = create_session(&client, &tenant, &format!("10.9.8.7, {ADDRESS_A}")).await;
    assert_refused(&forged, "rate_limited", true);
    let counted = stats(&client, &tenant).await;
    assert_eq!(counted["total_sessions"], 2, "nothing stored on refusal");
    assert_eq!(counted["refusals_this_month"]["rate_limited"], 2);

    // Another address, another tenant: unaffected.
    assert_eq!(
        create_session(&client, &tenant, ADDRESS_B).await.status,
        201
    );
    assert_eq!(
        create_session(&client, &other_tenant, ADDRESS_A)
            .await
            .status,
        201
    );
    // An hour and a slot (a quarter) later the window lets the address in again.
    server.clock.advance(Duration::minutes(75));
    assert_eq!(
        create_session(&client, &tenant, ADDRESS_A).await.status,
        201
    );
}

async fn turns_per_address(server: &TestServer) {
    let client = server.client();
    let tenant = tenant_with_limits(server, json!({"turns_per_address_per_minute": 2})).await;
    let session = ready_session(&client, &tenant, ADDRESS_A).await;
    for _ in 0..2 {
        let reply = turn(&client, &tenant, &session, ADDRESS_A).await;
        assert_eq!(last_event(&reply), "complete", "{}", reply.text);
    }
    let stored = message_count(server, &tenant, &session.0).await;
    let refused = turn(&client, &tenant, &session, ADDRESS_A).await;
    assert_refused(&refused, "rate_limited", true);
    let forged = turn(
        &client,
        &tenant,
        &session,
        &format!("{ADDRESS_B}, {ADDRESS_A}"),
    )
    .await;
    assert_refused(&forged, "rate_limited", true);
    assert_eq!(
        message_count(server, &tenant, &session.0).await,
        stored,
        "a refused turn stores nothing"
    );
    // The same session from another address is not this address's turn.
    let elsewhere = turn(&client, &tenant, &session, ADDRESS_B).await;
    assert_eq!(last_event(&elsewhere), "complete", "{}", elsewhere.text);
    // A minute and a slot later the turns left the sliding window.
    server.clock.advance(Duration::seconds(75));
    let later = turn(&client, &tenant, &session, ADDRESS_A).await;
    assert_ne!(later.status, 429, "{}", later.text);
}

async fn turns_per_phase(server: &TestServer) {
    let client = server.client();
    let tenant = tenant_with_limits(server, json!({"extra_turns_per_phase": 1})).await;
    let session = ready_session(&client, &tenant, ADDRESS_A).await;
    let other = ready_session(&client, &tenant, ADDRESS_A).await;
    // max_collect_turns (3) + 1: the vague answers are refined, scored
    // low, and the phase goes on collecting.
    for i in 0..4 {
        let reply = turn(&client, &tenant, &session, ADDRESS_A).await;
        assert_eq!(last_event(&reply), "complete", "turn {i}: {}", reply.text);
    }
    let stored = message_count(server, &tenant, &session.0).await;
    let refused = turn(&client, &tenant, &session, ADDRESS_A).await;
    assert_refused(&refused, "turn_limit_reached", false);
    assert_eq!(message_count(server, &tenant, &session.0).await, stored);
    // A cap per session: the next hour does not lift it, another session is free.
    server.clock.advance(Duration::hours(1));
    assert_refused(
        &turn(&client, &tenant, &session, ADDRESS_A).await,
        "turn_limit_reached",
        false,
    );
    let fresh = turn(&client, &tenant, &other, ADDRESS_A).await;
    assert_eq!(last_event(&fresh), "complete", "{}", fresh.text);
    let counted = stats(&client, &tenant).await;
    assert_eq!(counted["refusals_this_month"]["turn_limit_reached"], 2);
}

async fn token_budget(server: &TestServer) {
    let client = server.client();
    // Less than any turn spends: the first turn crosses it while streaming.
    let tenant = tenant_with_limits(server, json!({"monthly_token_budget": 10})).await;
    let other_tenant = new_tenant(server).await;
    let session = ready_session(&client, &tenant, ADDRESS_A).await;
    let crossing = turn(&client, &tenant, &session, ADDRESS_A).await;
    assert_eq!(
        last_event(&crossing),
        "complete",
        "a turn that crosses the budget finishes: {}",
        crossing.text
    );
    let spent = crossing.events().last().unwrap().1["tokens_used"]["total"]
        .as_i64()
        .unwrap();
    assert!(spent > 10, "the turn spent {spent} tokens");
    let stored = message_count(server, &tenant, &session.0).await;
    let refused = turn(&client, &tenant, &session, ADDRESS_B).await;
    assert_refused(&refused, "token_budget_exhausted", true);
    assert_eq!(message_count(server, &tenant, &session.0).await, stored);

    let counted = stats(&client, &tenant).await;
    assert_eq!(counted["tokens_this_month"], spent);
    assert_eq!(counted["token_budget"]["state"], "exhausted");
    assert_eq!(counted["token_budget"]["monthly_token_budget"], 10);
    assert_eq!(counted["refusals_this_month"]["token_budget_exhausted"], 1);
    let audit = audit_log(&client, &tenant).await;
    let actions: Vec<&str> = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"tenant.settings_changed"), "{actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == "tenant.token_budget_exhausted")
            .count(),
        1,
        "{actions:?}"
    );
    let change = audit["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "tenant.settings_changed")
        .unwrap();
    assert_eq!(
        change["changes"]["limits.monthly_token_budget"],
        json!({"from": 5_000_000, "to": 10})
    );

    // Another tenant's budget is its own.
    let theirs = ready_session(&client, &other_tenant, ADDRESS_A).await;
    let reply = turn(&client, &other_tenant, &theirs, ADDRESS_A).await;
    assert_eq!(last_event(&reply), "complete", "{}", reply.text);
    // Raising the budget lets the tenant go on.
    let raised = set_limits(&client, &tenant, json!({"monthly_token_budget": 1_000_000})).await;
    assert_eq!(raised.status, 200, "{}", raised.text);
    let again = turn(&client, &tenant, &session, ADDRESS_A).await;
    assert_eq!(last_event(&again), "complete", "{}", again.text);
}

/// Twelve turns at once, each admitted below the budget, that together
/// cross the warning level and the budget: each audit entry exactly once.
async fn budget_under_concurrency(server: &TestServer) {
    let client = server.client();
    let tenant = new_tenant(server).await;
    let first = ready_session(&client, &tenant, ADDRESS_A).await;
    let reply = turn(&client, &tenant, &first, ADDRESS_A).await;
    assert_eq!(last_event(&reply), "complete", "{}", reply.text);
    let spent = reply.events().last().unwrap().1["tokens_used"]["total"]
        .as_i64()
        .unwrap();
    // Warning at half of 5 turns' worth: above what is spent already.
    let set = set_limits(
        &client,
        &tenant,
        json!({"monthly_token_budget": 5 * spent, "budget_warning_percent": 50}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.text);
    let mut sessions = vec![];
    for _ in 0..12 {
        sessions.push(ready_session(&client, &tenant, ADDRESS_A).await);
    }
    let replies = futures::future::join_all(
        sessions
            .iter()
            .map(|session| turn(&client, &tenant, session, ADDRESS_A)),
    )
    .await;
    for reply in &replies {
        assert!(
            last_event(reply) == "complete" || reply.code() == "token_budget_exhausted",
            "{}",
            reply.text
        );
    }
    let counted = stats(&client, &tenant).await;
    assert!(
        counted["tokens_this_month"].as_i64().unwrap() >= 5 * spent,
        "the turns crossed the budget: {counted}"
    );
    let audit = audit_log(&client, &tenant).await;
    let count = |what: &str| {
        audit["logs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == what)
            .count()
    };
    assert_eq!(
        (
            count("tenant.token_budget_warning"),
            count("tenant.token_budget_exhausted")
        ),
        (1, 1),
        "each budget entry exactly once: {audit}"
    );
}

async fn operator_settings(server: &TestServer) {
    let client = server.client();
    let (tenant, admin_key) = server.fresh_tenant().await;
    let settings_path = format!("/api/admin/tenants/{tenant}/settings");
    run([
        (
            "the tenant's own admin reads its limits",
            client.get(&settings_path).admin(&admin_key),
            Status(200),
        ),
        (
            "the tenant's own admin does not set them",
            limits_patch(
                &client,
                &tenant,
                &admin_key,
                json!({"monthly_token_budget": 0}),
            ),
            Refused(403, "platform_admin_only"),
        ),
        (
            "a warning at 0 %",
            limits_patch(
                &client,
                &tenant,
                PLATFORM_KEY,
                json!({"budget_warning_percent": 0}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "an unknown limit",
            limits_patch(&client, &tenant, PLATFORM_KEY, json!({"tokens": 5})),
            Status(400),
        ),
        (
            "an unknown tenant",
            limits_patch(
                &client,
                "no-such-tenant",
                PLATFORM_KEY,
                json!({"monthly_token_budget": 5}),
            ),
            Status(404),
        ),
    ])
    .await;
    let shown = client.get(&settings_path).admin(PLATFORM_KEY).send().await;
    assert_eq!(shown.status, 200, "{}", shown.text);
    assert_eq!(
        shown.json()["settings"]["limits"]["monthly_token_budget"],
        5_000_000,
        "unchanged"
    );
}

/// Trusted-proxy entries that are no plain address: the forms proxies send
/// count as the address they carry, the rest share one bucket. Before,
/// each of them escaped every per-address limit.
async fn unparseable_addresses(server: &TestServer) {
    let client = server.client();
    let tenant = tenant_with_limits(server, json!({"sessions_per_address_per_hour": 1})).await;
    let cases: [(&str, &[&str]); 3] = [
        ("198.51.100.7:1234", &["198.51.100.7:1234", "198.51.100.7"]),
        ("[2001:db8::1]", &["[2001:db8::1]", "2001:db8::1"]),
        // No address at all: one bucket for every such entry.
        ("unknown", &["unknown", "0198.051.100.007", "_hidden"]),
    ];
    for (first, same_bucket) in cases {
        let created = create_session(&client, &tenant, first).await;
        assert_eq!(created.status, 201, "{first}: {}", created.text);
        for again in same_bucket {
            let refused = create_session(&client, &tenant, again).await;
            assert_refused(&refused, "rate_limited", true);
        }
    }
    // Nothing that is no address reaches the audit log.
    let audit = audit_log(&client, &tenant).await;
    let text = audit.to_string();
    assert!(
        !text.contains("unknown") && !text.contains("0198"),
        "{text}"
    );
}

/// An IPv6 client is its /64; `::ffff:a.b.c.d` is `a.b.c.d`.
async fn address_buckets(server: &TestServer) {
    let client = server.client();
    let tenant = tenant_with_limits(server, json!({"sessions_per_address_per_hour": 1})).await;
    for (first, same_bucket, other) in [
        (
            "2001:db8:aa:bb::1",
            "2001:db8:aa:bb:ffff:1:2:3",
            "2001:db8:aa:cc::1",
        ),
        ("198.51.100.30", "::ffff:198.51.100.30", "198.51.100.31"),
        (
            "::ffff:198.51.100.40",
            "198.51.100.40",
            "::ffff:198.51.100.41",
        ),
    ] {
        let created = create_session(&client, &tenant, first).await;
        assert_eq!(created.status, 201, "{first}: {}", created.text);
        let refused = create_session(&client, &tenant, same_bucket).await;
        assert_refused(&refused, "rate_limited", true);
        let elsewhere = create_session(&client, &tenant, other).await;
        assert_eq!(elsewhere.status, 201, "{other}: {}", elsewhere.text);
    }
}

/// The limit holds in any minute, not per clock minute: a burst at the
/// end of one and another at the start of the next get the limit once.
async fn burst_across_a_boundary(server: &TestServer) {
    let client = server.client();
    let tenant = tenant_with_limits(server, json!({"turns_per_address_per_minute": 3})).await;
    let burst = ready_session(&client, &tenant, ADDRESS_A).await;
    let after = ready_session(&client, &tenant, ADDRESS_A).await;
    // To the last second of a clock minute.
    let second = server.clock.now().timestamp().rem_euclid(60);
    server.clock.advance(Duration::seconds(59 - second));
    for _ in 0..3 {
        let reply = turn(&client, &tenant, &burst, ADDRESS_A).await;
        assert_eq!(last_event(&reply), "complete", "{}", reply.text);
    }
    // Two seconds later, in the next clock minute.
    server.clock.advance(Duration::seconds(2));
    let refused = turn(&client, &tenant, &after, ADDRESS_A).await;
    assert_refused(&refused, "rate_limited", true);
    // A minute after the burst its turns still count...
    server.clock.advance(Duration::seconds(58));
    let refused = turn(&client, &tenant, &after, ADDRESS_A).await;
    assert_refused(&refused, "rate_limited", true);
    // ...and a slot (15 s) later they no longer do.
    server.clock.advance(Duration::seconds(15));
    let reply = turn(&client, &tenant, &after, ADDRESS_A).await;
    assert_eq!(last_event(&reply), "complete", "{}", reply.text);
}

async fn every_limit(server: TestServer) {
    sessions_per_address(&server).await;
    turns_per_address(&server).await;
    unparseable_addresses(&server).await;
    address_buckets(&server).await;
    burst_across_a_boundary(&server).await;
    turns_per_phase(&server).await;
    token_budget(&server).await;
    budget_under_concurrency(&server).await;
    operator_settings(&server).await;
}

#[tokio::test]
async fn every_limit_on_the_embedded_store() {
    every_limit(server_on(None, walkthrough_clock()).await).await;
}

#[tokio::test]
async fn every_limit_on_dynamodb() {
    // The store judges expiry by the clock the server moves.
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-limits", Some(clock.clone())).await else {
        return;
    };
    every_limit(server_on(Some(Arc::new(store)), clock).await).await;
}
