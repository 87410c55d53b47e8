//! The settings resource and admin keys over HTTP, on both state stores
//! (the embedded SQLite store, and DynamoDB on moto's server: without
//! `PETRAF_TEST_MOTO_ENDPOINT` that test says "skipped").
//!
//! Settings: validation, permissions (tenant key vs platform key), versions,
//! `If-Match`, the audit entry's diff. Keys: two at most, shown once,
//! listed by prefix, every use attributable, a revoked key refused at once.

use std::sync::Arc;

use petraf_tests::cases::Expect::{Refused, Status};
use petraf_tests::cases::run;
use petraf_tests::moto::moto_state_store;
use petraf_tests::{Call, Client, PLATFORM_KEY, Reply, TestServer, walkthrough_clock};
use reqwest::Method;
use serde_json::{Value, json};

fn settings_path(tenant: &str) -> String {
    format!("/api/admin/tenants/{tenant}/settings")
}

fn patch(client: &Client, tenant: &str, key: &str, body: Value) -> Call {
    client
        .request(Method::PATCH, &settings_path(tenant))
        .admin(key)
        .json(&body)
}

async fn read(client: &Client, tenant: &str, key: &str) -> Reply {
    client.get(&settings_path(tenant)).admin(key).send().await
}

async fn audit_entries(client: &Client, tenant: &str, action: &str) -> Vec<Value> {
    let log = client
        .get(&format!(
            "/api/admin/audit-logs?tenant_id={tenant}&action={action}&limit=200"
        ))
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(log.status, 200, "{}", log.text);
    log.json()["logs"].as_array().unwrap().clone()
}

async fn settings(server: &TestServer) {
    let client = server.client();
    let (tenant, key) = server.fresh_tenant().await;
    let (other, other_key) = server.fresh_tenant().await;

    let first = read(&client, &tenant, &key).await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(first.headers["etag"], "\"1\"");
    let body = first.json();
    assert_eq!(body["version"], 1);
    assert_eq!(body["settings"]["threshold"], 7.0);
    assert_eq!(body["editable_by"]["limits"], "platform");
    assert_eq!(body["editable_by"]["prompts"], "tenant_admin");

    // The tenant's own admin changes its threshold and a rubric.
    let changed = patch(
        &client,
        &tenant,
        &key,
        json!({"threshold": 8, "scoring_rubrics": {"g4_future": {
            "specificity": {"weight": 40}, "alignment": {"weight": 15}
        }}}),
    )
    .header("If-Match", "\"1\"")
    .send()
    .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.headers["etag"], "\"2\"");
    let body = changed.json();
    assert_eq!(body["version"], 2);
    assert_eq!(body["settings"]["threshold"], 8.0);
    let paths: Vec<&str> = body["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "scoring_rubrics.g4_future.specificity.weight",
            "scoring_rubrics.g4_future.alignment.weight",
            "threshold"
        ]
    );

    // Refused changes change nothing.
    let long_prompt = "x".repeat(8001);
    run([
        (
            "a tenant key on platform settings",
            patch(
                &client,
                &tenant,
                &key,
                json!({"limits": {"monthly_token_budget": 0}}),
            ),
            Refused(403, "platform_admin_only"),
        ),
        (
            "a tenant key on another tenant",
            patch(&client, &tenant, &other_key, json!({"threshold": 5})),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "weights that do not add up to 100",
            patch(
                &client,
                &tenant,
                &key,
                json!({"scoring_rubrics": {"g6_values": {"clarity": {"weight": 90}}}}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "a threshold above 10",
            patch(&client, &tenant, &key, json!({"threshold": 10.5})),
            Refused(400, "invalid_settings"),
        ),
        (
            "a prompt too long",
            patch(
                &client,
                &tenant,
                &key,
                json!({"prompts": {"system_prompt": long_prompt}}),
            ),
            Refused(400, "invalid_settings"),
        ),
        (
            "an unknown model",
            patch(&client, &tenant, &key, json!({"llm_model": "gpt-1"})),
            Refused(400, "invalid_settings"),
        ),
        (
            "an unknown field",
            patch(&client, &tenant, &key, json!({"treshold": 5})),
            Refused(400, "unknown_setting"),
        ),
        (
            "an unknown nested field",
            patch(
                &client,
                &tenant,
                PLATFORM_KEY,
                json!({"limits": {"budget": 5}}),
            ),
            Refused(400, "unknown_setting"),
        ),
        (
            "not an object",
            patch(&client, &tenant, &key, json!([1, 2])),
            Refused(400, "invalid_body"),
        ),
        (
            "a stale If-Match",
            patch(&client, &tenant, &key, json!({"threshold": 6})).header("If-Match", "\"1\""),
            Refused(412, "settings_changed"),
        ),
        (
            "no tenant",
            patch(
                &client,
                "no-such-tenant",
                PLATFORM_KEY,
                json!({"threshold": 6}),
            ),
            Refused(404, "tenant_not_found"),
        ),
        (
            "no key",
            client.get(&settings_path(&tenant)),
            Refused(401, "missing_admin_key"),
        ),
    ])
    .await;
    assert_eq!(read(&client, &tenant, &key).await.json()["version"], 2);
    assert_eq!(read(&client, &other, &other_key).await.json()["version"], 1);

    // The platform key changes limits; a prompt change is summarised.
    let limits = patch(
        &client,
        &tenant,
        PLATFORM_KEY,
        json!({"limits": {"monthly_token_budget": 42}}),
    )
    .send()
    .await;
    assert_eq!(limits.status, 200, "{}", limits.text);
    let secret_prompt = format!("Coach kindly. {}", "Our secret plan is Falcon. ".repeat(5));
    let prompt = patch(
        &client,
        &tenant,
        &key,
        json!({"prompts": {"system_prompt": secret_prompt}}),
    )
    .send()
    .await;
    assert_eq!(prompt.status, 200, "{}", prompt.text);
    // Sending back what is in force is no change and no new version.
    let same = patch(
        &client,
        &tenant,
        &key,
        read(&client, &tenant, &key).await.json()["settings"].clone(),
    )
    .send()
    .await;
    assert_eq!(same.status, 200, "{}", same.text);
    assert_eq!(same.json()["version"], 4);

    let versions = client
        .get(&format!("{}/versions", settings_path(&tenant)))
        .admin(&key)
        .send()
        .await;
    assert_eq!(versions.status, 200, "{}", versions.text);
    let listed: Vec<(u64, bool)> = versions.json()["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["current"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [(4, true), (3, false), (2, false), (1, false)]);
    assert_eq!(
        versions.json()["versions"][1]["changed_by"],
        "platform_admin"
    );
    let first = client
        .get(&format!("{}/versions/1", settings_path(&tenant)))
        .admin(&key)
        .send()
        .await;
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(
        first.json()["settings"]["threshold"],
        7.0,
        "the first version kept whole"
    );
    let missing = client
        .get(&format!("{}/versions/9", settings_path(&tenant)))
        .admin(&key)
        .send()
        .await;
    assert_eq!(missing.code(), "version_not_found");

    // Each change is audited with its diff, prompts never whole.
    let entries = audit_entries(&client, &tenant, "tenant.settings_changed").await;
    assert_eq!(entries.len(), 3, "{entries:?}");
    let text = Value::Array(entries.clone()).to_string();
    assert!(!text.contains("Falcon. Our secret"), "{text}");
    let threshold_change = entries
        .iter()
        .find(|e| e["changes"].get("threshold").is_some())
        .unwrap();
    assert_eq!(
        threshold_change["changes"]["threshold"],
        json!({"from": 7.0, "to": 8.0})
    );
    assert!(
        threshold_change["actor_key"]
            .as_str()
            .unwrap()
            .starts_with("admin_sk_"),
        "the key is named: {threshold_change}"
    );

    // The three resources the settings replaced point to them.
    for old in ["limits", "document-limits", "coach-retrieval"] {
        let moved = client
            .get(&format!("/api/admin/tenants/{tenant}/{old}"))
            .admin(&key)
            .send()
            .await;
        assert_eq!(
            (moved.status.as_u16(), moved.code().as_str()),
            (410, "moved_to_settings")
        );
        assert!(moved.text.contains("/settings"), "{}", moved.text);
    }
}

fn keys_path(tenant: &str) -> String {
    format!("/api/admin/tenants/{tenant}/admin-keys")
}

async fn create_key(client: &Client, tenant: &str, key: &str) -> Reply {
    client.post(&keys_path(tenant)).admin(key).send().await
}

async fn revoke(client: &Client, tenant: &str, key: &str, prefix: &str) -> Reply {
    client
        .delete(&format!("{}/{prefix}", keys_path(tenant)))
        .admin(key)
        .send()
        .await
}

async fn admin_keys(server: &TestServer) {
    let client = server.client();
    let (tenant, first_key) = server.fresh_tenant().await;
    let (_, other_key) = server.fresh_tenant().await;

    let listed = client
        .get(&keys_path(&tenant))
        .admin(&first_key)
        .send()
        .await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    let keys = listed.json()["keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["in_use"], true);
    let first_prefix = keys[0]["prefix"].as_str().unwrap().to_string();
    assert!(first_key.starts_with(&first_prefix) && first_prefix.len() < first_key.len());
    assert!(!listed.text.contains(&first_key), "never the key");
    assert!(
        !listed.text.contains("hash"),
        "never a hash: {}",
        listed.text
    );

    // A second key, shown once; a third is refused.
    let created = create_key(&client, &tenant, &first_key).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let second_key = created.json()["key"].as_str().unwrap().to_string();
    let second_prefix = created.json()["prefix"].as_str().unwrap().to_string();
    assert!(second_key.starts_with(&second_prefix));
    let third = create_key(&client, &tenant, &first_key).await;
    assert_eq!(
        (third.status.as_u16(), third.code().as_str()),
        (409, "too_many_keys")
    );
    let listed = client
        .get(&keys_path(&tenant))
        .admin(&second_key)
        .send()
        .await;
    assert!(!listed.text.contains(&second_key), "shown once only");

    // The new key works, and its use is attributable to it.
    let used = patch(&client, &tenant, &second_key, json!({"threshold": 6}))
        .send()
        .await;
    assert_eq!(used.status, 200, "{}", used.text);
    let entries = audit_entries(&client, &tenant, "tenant.settings_changed").await;
    assert_eq!(
        entries[0]["actor_key"].as_str(),
        Some(second_prefix.as_str()),
        "{}",
        entries[0]
    );

    run([
        (
            "another tenant's key lists no keys here",
            client.get(&keys_path(&tenant)).admin(&other_key),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "another tenant's key revokes none",
            client
                .delete(&format!("{}/{first_prefix}", keys_path(&tenant)))
                .admin(&other_key),
            Refused(403, "forbidden_tenant"),
        ),
        (
            "an unknown prefix",
            client
                .delete(&format!("{}/admin_sk_nope_000000", keys_path(&tenant)))
                .admin(&first_key),
            Refused(404, "key_not_found"),
        ),
    ])
    .await;

    // Rotation: the new key revokes the old one, which is refused at once.
    let revoked = revoke(&client, &tenant, &second_key, &first_prefix).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(revoked.json()["revoked_at"].is_string());
    let old_key_calls = [
        client.get(&settings_path(&tenant)).admin(&first_key),
        client.get(&keys_path(&tenant)).admin(&first_key),
        client.post(&keys_path(&tenant)).admin(&first_key),
        client
            .get(&format!("/api/admin/rag/documents/{tenant}"))
            .admin(&first_key),
        client.get("/api/admin/audit-logs").admin(&first_key),
        client.get("/api/admin/stats/overview").admin(&first_key),
        patch(&client, &tenant, &first_key, json!({"threshold": 5})),
    ];
    run(old_key_calls
        .into_iter()
        .map(|call| ("a revoked key", call, Refused(401, "invalid_admin_key"))))
    .await;
    assert_eq!(
        read(&client, &tenant, &second_key).await.json()["settings"]["threshold"],
        6.0
    );

    // The last key cannot revoke itself; the platform key can, and makes another.
    let itself = revoke(&client, &tenant, &second_key, &second_prefix).await;
    assert_eq!(
        (itself.status.as_u16(), itself.code().as_str()),
        (409, "last_key")
    );
    let again = revoke(&client, &tenant, &second_key, &first_prefix).await;
    assert_eq!(again.code(), "key_revoked");
    let by_platform = create_key(&client, &tenant, PLATFORM_KEY).await;
    assert_eq!(by_platform.status, 201, "{}", by_platform.text);
    let third_key = by_platform.json()["key"].as_str().unwrap().to_string();
    let revoked = revoke(&client, &tenant, PLATFORM_KEY, &second_prefix).await;
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    run([
        (
            "the second key, revoked by the platform",
            client.get(&settings_path(&tenant)).admin(&second_key),
            Refused(401, "invalid_admin_key"),
        ),
        (
            "the third key",
            client.get(&settings_path(&tenant)).admin(&third_key),
            Status(200),
        ),
    ])
    .await;

    let listed = client
        .get(&keys_path(&tenant))
        .admin(PLATFORM_KEY)
        .send()
        .await
        .json();
    let states: Vec<bool> = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["active"].as_bool().unwrap())
        .collect();
    assert_eq!(states, [true, false, false], "{listed}");
    let created = audit_entries(&client, &tenant, "tenant.admin_key_created").await;
    let revoked = audit_entries(&client, &tenant, "tenant.admin_key_revoked").await;
    assert_eq!((created.len(), revoked.len()), (2, 2));
}

#[tokio::test]
async fn settings_on_the_embedded_store() {
    settings(&TestServer::on_store(None, walkthrough_clock()).await).await;
}

#[tokio::test]
async fn admin_keys_on_the_embedded_store() {
    admin_keys(&TestServer::on_store(None, walkthrough_clock()).await).await;
}

#[tokio::test]
async fn settings_and_admin_keys_on_dynamodb() {
    let clock = walkthrough_clock();
    let Some(store) = moto_state_store("petraf-settings", Some(clock.clone())).await else {
        return;
    };
    let server = TestServer::on_store(Some(Arc::new(store)), clock).await;
    settings(&server).await;
    admin_keys(&server).await;
}
