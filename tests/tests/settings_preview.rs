//! Trying settings before saving them (`POST …/settings/preview`), on both
//! state stores (DynamoDB on moto's server: without
//! `PETRAF_TEST_MOTO_ENDPOINT` that test says "skipped"): the example
//! drafts stored and versioned with the settings, the proposed patch
//! refused as a change would be, nothing saved, each draft judged under
//! both settings, the tokens counted and the preview audited.

use std::sync::Arc;

use petraf_tests::cases::Expect::Refused;
use petraf_tests::cases::run;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Call, Client, PLATFORM_KEY, Reply, TestServer, walkthrough_clock};
use reqwest::Method;
use serde_json::{Value, json};

const STRONG: &str = "Within 24 months, become a Senior Engineer (L5): technically lead 2 \
    payment-platform projects end to end, mentor 2 junior developers to independent delivery, \
    and own the system design of our distributed services.";
const VAGUE: &str = "I want to grow a lot and become better at my job in the future.";

fn settings_path(tenant: &str) -> String {
    format!("/api/admin/tenants/{tenant}/settings")
}

fn preview(client: &Client, tenant: &str, key: &str, body: Value) -> Call {
    client
        .request(Method::POST, &format!("{}/preview", settings_path(tenant)))
        .admin(key)
        .json(&body)
}

async fn read(client: &Client, tenant: &str, key: &str) -> Value {
    let reply = client.get(&settings_path(tenant)).admin(key).send().await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn tokens_this_month(client: &Client, tenant: &str) -> i64 {
    let reply = client
        .get(&format!("/api/admin/stats/overview?tenant_id={tenant}"))
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()["tokens_this_month"].as_i64().unwrap()
}

async fn previews_audited(client: &Client, tenant: &str) -> Vec<Value> {
    let log = client
        .get(&format!(
            "/api/admin/audit-logs?tenant_id={tenant}&action=tenant.settings_previewed&limit=50"
        ))
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    log.json()["logs"].as_array().unwrap().clone()
}

fn ok(reply: &Reply) -> Value {
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

async fn trying_settings(server: &TestServer) {
    let client = server.client();
    let (tenant, key) = server.fresh_tenant().await;
    let (_, other_key) = server.fresh_tenant().await;

    // No example drafts yet: nothing to judge, no model call, no audit.
    let empty = ok(&preview(&client, &tenant, &key, json!({"threshold": 8}))
        .send()
        .await);
    assert_eq!(empty["drafts"], json!([]));
    assert!(empty["note"].as_str().unwrap().contains("example_drafts"));
    assert_eq!(empty["tokens"], 0);
    assert!(previews_audited(&client, &tenant).await.is_empty());

    // The tenant's admin keeps two example drafts: a new settings version.
    let drafts = json!([
        {"phase": "g4_future", "goal": STRONG, "expect": "pass"},
        {"phase": "g4_future", "goal": VAGUE, "expect": "fail", "note": "vague on every axis"},
    ]);
    let saved = client
        .request(Method::PATCH, &settings_path(&tenant))
        .admin(&key)
        .json(&json!({"example_drafts": drafts}))
        .send()
        .await;
    let saved = ok(&saved);
    assert_eq!(saved["version"], 2);
    assert_eq!(saved["settings"]["example_drafts"], drafts);
    assert_eq!(saved["changes"][0]["path"], "example_drafts");
    let version_2 = client
        .get(&format!("{}/versions/1", settings_path(&tenant)))
        .admin(&key)
        .send()
        .await;
    assert_eq!(ok(&version_2)["settings"]["example_drafts"], json!([]));

    // Under the settings in force only: `{}` changes nothing.
    let tokens_before = tokens_this_month(&client, &tenant).await;
    let current = ok(&preview(&client, &tenant, &key, json!({})).send().await);
    assert_eq!(current["current_version"], 2);
    assert_eq!(current["changes"], json!([]));
    let rows = current["drafts"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["current"]["verdict"], "pass", "{current}");
    assert_eq!(rows[1]["current"]["verdict"], "fail", "{current}");
    assert_eq!(rows[1]["note"], "vague on every axis");
    assert_eq!(rows[0]["current"], rows[0]["proposed"]);
    assert_eq!(current["summary"]["verdicts_changed"], 0);
    assert_eq!(current["summary"]["current_agreeing"], 2);
    let strong_score = rows[0]["current"]["overall"].as_f64().unwrap();
    assert!(strong_score < 10.0, "{strong_score}");
    let criteria = rows[0]["current"]["criteria"].as_array().unwrap();
    assert_eq!(criteria.len(), 4, "the g4_future rubric's criteria");
    let spent = current["tokens"].as_i64().unwrap();
    assert!(spent > 0, "judging spends tokens");
    assert_eq!(
        tokens_this_month(&client, &tenant).await,
        tokens_before + spent,
        "counted against the month like a turn"
    );

    // A stricter threshold, just above the strong draft's score: its
    // verdict flips, the vague one stays failed; nothing is saved.
    let stricter = (strong_score + 0.5).min(10.0);
    let tried = ok(
        &preview(&client, &tenant, &key, json!({"threshold": stricter}))
            .send()
            .await,
    );
    let rows = tried["drafts"].as_array().unwrap();
    assert_eq!(rows[0]["proposed"]["verdict"], "fail", "{tried}");
    assert_eq!(rows[0]["proposed"]["threshold"], stricter);
    assert_eq!(rows[0]["current"]["threshold"], 7.0);
    assert_eq!(rows[0]["verdict_changed"], true);
    assert_eq!(rows[1]["verdict_changed"], false);
    assert_eq!(tried["changes"][0]["path"], "threshold");
    let summary = &tried["summary"];
    assert_eq!(summary["verdicts_changed"], 1);
    assert_eq!(summary["newly_failing"], 1);
    assert_eq!(summary["labelled"], 2);
    assert_eq!(summary["current_agreeing"], 2);
    assert_eq!(summary["proposed_agreeing"], 1);
    let after = read(&client, &tenant, &key).await;
    assert_eq!(after["version"], 2, "nothing saved");
    assert_eq!(after["settings"]["threshold"], 7.0);

    // A rubric change judges the drafts again under the new weights.
    let reweighted = ok(&preview(
        &client,
        &tenant,
        &key,
        json!({"scoring_rubrics": {"g4_future": {
            "specificity": {"weight": 10}, "time_bound": {"weight": 40}
        }}}),
    )
    .send()
    .await);
    let proposed_weights: Vec<f64> = reweighted["drafts"][0]["proposed"]["criteria"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["weight"].as_f64().unwrap())
        .collect();
    assert!(proposed_weights.contains(&40.0), "{reweighted}");

    // The patch may bring drafts of its own to try at once.
    let added = ok(&preview(
        &client,
        &tenant,
        &key,
        json!({"example_drafts": [{"phase": "g6_values", "goal": "Honesty."}]}),
    )
    .send()
    .await);
    assert_eq!(added["drafts"].as_array().unwrap().len(), 1);
    assert_eq!(added["drafts"][0]["phase"], "g6_values");

    // Refused exactly as the change would be; nothing saved, nothing spent.
    let tokens_now = tokens_this_month(&client, &tenant).await;
    let too_many: Vec<Value> = (0..21)
        .map(|_| json!({"phase": "g4_future", "goal": VAGUE}))
        .collect();
    run([
        (
            "a threshold above 10",
            preview(&client, &tenant, &key, json!({"threshold": 10.5})),
            Refused(400, "invalid_settings"),
        ),
        (
            "weights that do not add up",
            preview(
                &client,
                &tenant,
                &key,
                json!({"scoring_rubrics": {"g4_future": {"specificity": {"weight": 90}}}}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "an unknown setting",
            preview(&client, &tenant, &key, json!({"treshold": 8})),
            Refused(400, "unknown_setting"),
        ),
        (
            "more than 20 example drafts",
            preview(&client, &tenant, &key, json!({"example_drafts": too_many})),
            Refused(400, "invalid_settings"),
        ),
        (
            "an example draft of the profile phase",
            preview(
                &client,
                &tenant,
                &key,
                json!({"example_drafts": [{"phase": "g2_basic", "goal": "x"}]}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "an empty example draft",
            preview(
                &client,
                &tenant,
                &key,
                json!({"example_drafts": [{"phase": "g4_future", "goal": " "}]}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "an unknown member of a draft",
            preview(
                &client,
                &tenant,
                &key,
                json!({"example_drafts": [{"phase": "g4_future", "goal": "x", "score": 9}]}),
            ),
            Refused(400, "unknown_setting"),
        ),
        (
            "a tenant key on platform settings",
            preview(
                &client,
                &tenant,
                &key,
                json!({"limits": {"monthly_token_budget": 1}}),
            ),
            Refused(403, "platform_admin_only"),
        ),
        (
            "another tenant's key",
            preview(&client, &tenant, &other_key, json!({})),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "not an object",
            preview(&client, &tenant, &key, json!([1])),
            Refused(400, "invalid_body"),
        ),
        (
            "no tenant",
            preview(&client, "no-such-tenant", PLATFORM_KEY, json!({})),
            Refused(404, "tenant_not_found"),
        ),
    ])
    .await;
    assert_eq!(read(&client, &tenant, &key).await["version"], 2);
    assert_eq!(tokens_this_month(&client, &tenant).await, tokens_now);

    // Each preview that judged something is audited, by whom and what.
    let audited = previews_audited(&client, &tenant).await;
    assert_eq!(audited.len(), 4, "{audited:?}");
    let stricter_entry = audited
        .iter()
        .find(|e| e["payload"]["proposed_paths"] == json!(["threshold"]))
        .expect("the stricter threshold's preview");
    assert_eq!(stricter_entry["payload"]["verdicts_changed"], 1);
    assert_eq!(stricter_entry["payload"]["drafts"], 2);

    // A spent budget refuses the preview (the platform key sets it).
    let budget = client
        .request(Method::PATCH, &settings_path(&tenant))
        .admin(PLATFORM_KEY)
        .json(&json!({"limits": {"monthly_token_budget": 1}}))
        .send()
        .await;
    ok(&budget);
    let refused = preview(&client, &tenant, &key, json!({"threshold": 8}))
        .send()
        .await;
    assert_eq!(refused.status, 429, "{}", refused.text);
    assert_eq!(refused.code(), "token_budget_exhausted");
}

#[tokio::test]
async fn trying_settings_on_the_embedded_store() {
    trying_settings(&TestServer::on_store(None, walkthrough_clock()).await).await;
}

#[tokio::test]
async fn trying_settings_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-preview", Some(clock.clone())).await else {
        return;
    };
    trying_settings(&TestServer::on_store(Some(Arc::new(store)), clock).await).await;
}
