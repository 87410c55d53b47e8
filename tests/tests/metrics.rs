//! The operational metrics one journey leaves behind, read as an operator
//! reads them from `petraf serve`: `GET /api/admin/metrics` with the platform key.
//! (One test in this binary: the counts are the process's.)

use std::collections::BTreeMap;

use petraf_core::app::tenants::demo_tenant;
use petraf_tests::journey::{sarah, upload_documents};
use petraf_tests::{PLATFORM_KEY, TestServer};
use serde_json::Value;

/// Each sample line of the Prometheus text: `name{labels}` → value.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            (series.to_string(), value.parse().expect("a number"))
        })
        .collect()
}

/// The sum of every series of `name` whose labels include each of `labels`.
fn total(samples: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(series, _)| {
            let (series_name, series_labels) = series.split_once('{').unwrap_or((series, ""));
            series_name == name && labels.iter().all(|l| series_labels.contains(l))
        })
        .map(|(_, v)| v)
        .sum()
}

#[tokio::test]
async fn a_journey_is_counted_and_only_the_platform_key_reads_the_counts() {
    let server = TestServer::embedded().await;
    let created = server.create_tenant(demo_tenant()).await;
    let tenant_id = created.record.tenant.id.clone();
    let client = server.client();

    let anonymous = client.get("/api/admin/metrics").send().await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);
    let tenant_admin = client
        .get("/api/admin/metrics")
        .admin(&created.admin_key)
        .send()
        .await;
    assert_eq!(tenant_admin.status, 403, "{}", tenant_admin.text);
    assert_eq!(tenant_admin.json()["error"]["code"], "platform_admin_only");

    upload_documents(&client, &tenant_id, &created.admin_key).await;
    let journey = sarah(&server, &tenant_id).await;

    let reply = client
        .get("/api/admin/metrics")
        .admin(PLATFORM_KEY)
        .send()
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert!(
        reply.text.contains("# TYPE petraf_turns_total counter"),
        "{}",
        reply.text
    );
    let s = samples(&reply.text);
    let tenant = format!("tenant=\"{tenant_id}\"");

    // Every assistant reply stored is one turn counted, by its outcome.
    let transcript = client
        .get(&format!(
            "/api/session/{}/messages?limit=200",
            journey.session_id
        ))
        .tenant(&tenant_id)
        .bearer(&journey.token)
        .send()
        .await;
    assert_eq!(transcript.status, 200, "{}", transcript.text);
    let replies = transcript.json()["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter(|m: &&Value| m["role"] == "assistant")
        .count() as f64;
    assert!(replies >= 4.0, "{replies}");
    assert_eq!(total(&s, "petraf_turns_total", &[&tenant]), replies);
    assert_eq!(
        total(
            &s,
            "petraf_turns_total",
            &[&tenant, "outcome=\"goal_passed\""]
        ),
        3.0,
        "three goals passed: {}",
        reply.text
    );
    assert_eq!(
        total(&s, "petraf_turns_total", &["outcome=\"model_error\""]),
        0.0
    );
    // Each turn streamed text, timed once.
    assert_eq!(
        total(
            &s,
            "petraf_first_token_latency_ms_count",
            &["provider=\"offline\""]
        ),
        replies
    );
    assert_eq!(total(&s, "petraf_turn_duration_ms_count", &[]), replies);
    assert!(total(&s, "petraf_tokens_in_total", &[&tenant]) > 0.0);
    assert!(total(&s, "petraf_tokens_out_total", &[&tenant]) > 0.0);
    // John's four documents.
    assert_eq!(total(&s, "petraf_documents_indexed_total", &[&tenant]), 4.0);
    assert_eq!(total(&s, "petraf_documents_failed_total", &[]), 0.0);
    assert_eq!(total(&s, "petraf_extraction_duration_ms_count", &[]), 4.0);

    // A refused upload is a failed document, by its reason.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(Vec::new()).file_name("empty.md"),
        )
        .text("category", "values");
    let refused = client
        .post(&format!("/api/admin/rag/upload/{tenant_id}"))
        .admin(&created.admin_key)
        .multipart(form)
        .send()
        .await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    let code = refused.json()["error"]["code"]
        .as_str()
        .unwrap()
        .to_string();
    let after = samples(
        &client
            .get("/api/admin/metrics")
            .admin(PLATFORM_KEY)
            .send()
            .await
            .text,
    );
    assert_eq!(
        total(
            &after,
            "petraf_documents_failed_total",
            &[&tenant, &format!("reason=\"{code}\"")]
        ),
        1.0
    );
}
