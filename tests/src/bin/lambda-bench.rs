//! The Lambda benchmark: each built function's package size (zipped, as
//! `sam deploy` uploads it), init duration (process start to its first
//! `/invocation/next`, as Lambda counts init) and memory after init and
//! after a few requests, beside a lambda_runtime hello world built the same
//! way. Runs the bootstraps under the Runtime API emulator on the stand-ins
//! (arm64 ones under qemu-user); `scripts/lambda/bench.sh` starts it.
//!
//! Prints a Markdown table. Options by environment: PETRAF_BENCH_STARTS
//! (cold starts per function, default 5), PETRAF_BENCH_REQUESTS (requests
//! per function after init, default 10).

use std::io::Write;
use std::time::Duration;

use petraf_tests::journey::{G4_FIRST, fixture};
use petraf_tests::lambda::artifacts::{Artifact, artifacts_dir};
use petraf_tests::lambda::runtime_api::{Function, Launch, Outcome};
use petraf_tests::lambda::stack::{DataApi, Deployment, FUNCTIONS, Stack};
use petraf_tests::lambda::template;
use serde_json::{Value, json};

const BASELINE: &str = "hello-world";

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The bootstrap zipped as `sam package` zips it (deflate), in bytes.
fn zipped_size(artifact: &Artifact) -> u64 {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .unix_permissions(0o755);
        zip.start_file("bootstrap", options).unwrap();
        zip.write_all(&std::fs::read(&artifact.bootstrap).unwrap())
            .unwrap();
        zip.finish().unwrap();
    }
    out.into_inner().len() as u64
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.partial_cmp(b).unwrap());
    values[values.len() / 2]
}

struct Row {
    name: String,
    bootstrap_mb: f64,
    zip_mb: f64,
    init_ms: Vec<f64>,
    rss_init_mb: Vec<f64>,
    rss_after_mb: f64,
    peak_mb: f64,
}

/// Cold starts of `name` alone: init durations and memory at init.
async fn cold_starts(
    stack: &Stack,
    name: &str,
    starts: usize,
    logs: &std::path::Path,
) -> (Vec<f64>, Vec<f64>) {
    let artifact = Artifact::find(name).unwrap_or_else(|| panic!("no {name} bootstrap"));
    let (memory_mb, env) = if name == BASELINE {
        (128, vec![])
    } else {
        (template::function(name).memory_mb, stack.function_env(name))
    };
    let (mut init, mut rss) = (vec![], vec![]);
    for _ in 0..starts {
        let function = Function::start(Launch {
            name,
            artifact: &artifact,
            memory_mb,
            env: env.clone(),
            log_dir: logs,
        })
        .await;
        init.push(
            function
                .initialised(Duration::from_secs(120))
                .await
                .as_secs_f64()
                * 1000.0,
        );
        rss.push(function.memory_kib().0 as f64 / 1024.0);
        function.kill();
    }
    (init, rss)
}

fn buffered(outcome: Outcome) -> Value {
    match outcome {
        Outcome::Buffered(payload) => serde_json::from_slice(&payload).unwrap_or(Value::Null),
        other => panic!("{other:?}"),
    }
}

/// A few representative requests to each function of a deployment.
async fn workload(
    deployment: &Deployment,
    stack: &Stack,
    tenant: &str,
    admin_key: &str,
    requests: usize,
) {
    let http = petraf_tests::http_client();
    let api = &deployment.http_api.base;
    let chat = &deployment.chat_url.base;
    for i in 0..requests {
        let created: Value = http
            .post(format!("{api}/api/session/create"))
            .header("X-Tenant-ID", tenant)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let (session, token) = (
            created["session_id"].as_str().unwrap().to_string(),
            created["resume_token"].as_str().unwrap().to_string(),
        );
        let bearer = format!("Bearer {token}");
        http.put(format!("{api}/api/session/{session}/info"))
            .header("X-Tenant-ID", tenant)
            .header("Authorization", &bearer)
            .json(&json!({"employee_code": format!("EMP{i}"), "department": "Engineering", "position": "Software Engineer"}))
            .send()
            .await
            .unwrap();
        let turn = http
            .post(format!("{chat}/api/chat/g4_future/stream"))
            .header("X-Tenant-ID", tenant)
            .header("Authorization", &bearer)
            .json(&json!({"session_id": session, "message": G4_FIRST, "step": "collect"}))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(turn.contains("event: complete"), "{turn}");
        let goals = http
            .get(format!("{api}/api/goals/session/{session}"))
            .header("X-Tenant-ID", tenant)
            .header("Authorization", &bearer)
            .send()
            .await
            .unwrap();
        assert!(goals.status().is_success());
        let stats = http
            .get(format!("{api}/api/admin/stats/overview"))
            .header("X-Admin-Key", admin_key)
            .send()
            .await
            .unwrap();
        assert!(stats.status().is_success());
        // A document dropped into the folder, indexed by rag-upload.
        let url: Value = http
            .post(format!("{api}/api/admin/rag/upload-url/{tenant}"))
            .header("X-Admin-Key", admin_key)
            .json(&json!({"category": "values", "filename": format!("values-{i}.md")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let body = fixture("values_and_culture.md");
        http.put(url["upload_url"].as_str().unwrap())
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let event = stack.s3_object_created(url["key"].as_str().unwrap(), body.len());
        let indexed = buffered(deployment.function("rag-upload").invoke(&event).await);
        assert_eq!(
            indexed["indexed"].as_array().map(Vec::len),
            Some(1),
            "{indexed}"
        );
    }
}

#[tokio::main]
async fn main() {
    let moto = std::env::var("PETRAF_TEST_MOTO_ENDPOINT")
        .expect("PETRAF_TEST_MOTO_ENDPOINT (scripts/lambda/bench.sh)");
    let postgres = std::env::var("PETRAF_TEST_DATABASE_URL").expect("PETRAF_TEST_DATABASE_URL");
    let starts = setting("PETRAF_BENCH_STARTS", 5);
    let requests = setting("PETRAF_BENCH_REQUESTS", 10);
    let data_api = DataApi::from_env()
        .expect("PETRAF_TEST_DATA_API_URL and its ARNs (scripts/lambda/bench.sh)");
    let stack = Stack::create(&moto, &postgres, data_api).await;
    let (tenant_id, admin_key) = stack.create_tenant().await;
    let logs = tempfile::tempdir().unwrap();
    let machine = Artifact::find(BASELINE)
        .expect("the hello-world bootstrap")
        .machine;

    let mut rows = vec![];
    for name in std::iter::once(BASELINE).chain(FUNCTIONS) {
        eprintln!("cold starts of {name}");
        let artifact = Artifact::find(name).unwrap();
        let (init_ms, rss_init_mb) = cold_starts(&stack, name, starts, logs.path()).await;
        rows.push(Row {
            name: name.to_string(),
            bootstrap_mb: std::fs::metadata(&artifact.bootstrap).unwrap().len() as f64 / 1e6,
            zip_mb: zipped_size(&artifact) as f64 / 1e6,
            init_ms,
            rss_init_mb,
            rss_after_mb: 0.0,
            peak_mb: 0.0,
        });
    }

    eprintln!("{requests} rounds of requests");
    let deployment = Deployment::start(&stack, &[]).await;
    workload(&deployment, &stack, &tenant_id, &admin_key, requests).await;
    for function in &deployment.functions {
        let (rss, peak) = function.memory_kib();
        let row = rows.iter_mut().find(|r| r.name == function.name).unwrap();
        row.rss_after_mb = rss as f64 / 1024.0;
        row.peak_mb = peak as f64 / 1024.0;
    }
    deployment.stop();
    let hello = Function::start(Launch {
        name: BASELINE,
        artifact: &Artifact::find(BASELINE).unwrap(),
        memory_mb: 128,
        env: vec![],
        log_dir: logs.path(),
    })
    .await;
    hello.initialised(Duration::from_secs(60)).await;
    for i in 0..requests {
        let echoed = buffered(hello.invoke(&json!({"n": i})).await);
        assert_eq!(echoed["n"], i);
    }
    let (rss, peak) = hello.memory_kib();
    rows[0].rss_after_mb = rss as f64 / 1024.0;
    rows[0].peak_mb = peak as f64 / 1024.0;
    hello.kill();

    let emulation = if Artifact::find(BASELINE).unwrap().emulated() {
        " under qemu-user (memory includes qemu's own)"
    } else {
        ""
    };
    println!(
        "{} artifacts from {}{emulation}; {starts} cold starts each (median, min–max); memory after {requests} rounds of requests.\n",
        machine.lambda_name(),
        artifacts_dir().display()
    );
    println!(
        "| function | bootstrap | zipped | init (ms) | init ÷ hello world | RSS after init | RSS after requests | peak RSS |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let hello_init = median(rows[0].init_ms.clone());
    for row in &rows {
        let init = median(row.init_ms.clone());
        let (lo, hi) = row
            .init_ms
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
        println!(
            "| {} | {:.1} MB | {:.2} MB | {:.1} ({:.1}–{:.1}) | {:.2} | {:.1} MiB | {:.1} MiB | {:.1} MiB |",
            row.name,
            row.bootstrap_mb,
            row.zip_mb,
            init,
            lo,
            hi,
            init / hello_init,
            median(row.rss_init_mb.clone()),
            row.rss_after_mb,
            row.peak_mb,
        );
    }
}
