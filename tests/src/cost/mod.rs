//! The cost benchmark's machinery (`benches/cost_per_session.rs`): Sarah's
//! journey walked N times on the production adapters — DynamoDB and S3 on
//! moto, pgvector on a local PostgreSQL — with everything AWS bills for
//! counted: DynamoDB capacity units and S3 requests ([`dynamo`]), model
//! tokens ([`models`]), Data API calls (what the direct transport's
//! transactions would cost on the Data API), and Lambda time: each HTTP
//! request's duration, billed on the function template.yaml routes it to.

pub mod dynamo;
pub mod models;
pub mod report;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::{Credentials, Region};
use chrono::Duration as Minutes;
use petraf_core::adapters::dynamodb::{DynamoStateStore, create_table};
use petraf_core::adapters::pgvector::{DataApiCallCounter, PgVectorStore};
use petraf_core::adapters::s3::S3ObjectStore;
use petraf_core::config::{self, Ports};
use petraf_core::domain::cost::Usage;
use petraf_core::domain::ids::new_id;
use serde_json::json;

use crate::journey::{DOCUMENTS, G4_FIRST, G4_SECOND, G6_VALUES, G8_ACTIONS, UA, fixture};
use crate::{Call, Reply, TestServer, walkthrough_clock};
use dynamo::Meter;
use models::{MeteredEmbedder, MeteredModel, ModelMeter};

/// How long a production chat model call is assumed to keep a function
/// waiting (the offline model answers at once): a Claude Haiku 4.5 reply
/// of about 150 tokens streams in about 2 s.
pub const ASSUMED_CHAT_CALL_MS: u64 = 2_000;
/// The same for one embedding call (Titan v2, a few short texts).
pub const ASSUMED_EMBED_CALL_MS: u64 = 150;

/// Where the stand-ins listen.
#[derive(Debug, Clone)]
pub struct Standins {
    pub moto: String,
    pub postgres: String,
}

/// The stand-ins from the environment, or how to start them.
pub fn standins_from_env() -> Result<Standins, String> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match (
        get("PETRAF_TEST_MOTO_ENDPOINT"),
        get("PETRAF_TEST_DATABASE_URL"),
    ) {
        (Some(moto), Some(postgres)) => Ok(Standins { moto, postgres }),
        _ => Err("the cost benchmark needs the stand-ins: run\n  \
             eval \"$(scripts/standins/moto.sh start)\"; eval \"$(scripts/standins/postgres.sh start)\"\n\
             (PETRAF_TEST_MOTO_ENDPOINT and PETRAF_TEST_DATABASE_URL), and afterwards\n  \
             scripts/standins/moto.sh stop; scripts/standins/postgres.sh stop"
            .into()),
    }
}

/// Each function's MemorySize in template.yaml, by its binary's name.
pub fn function_memory() -> BTreeMap<String, u32> {
    crate::lambda::template::functions()
        .into_iter()
        .map(|f| (f.binary, f.memory_mb))
        .collect()
}

/// The function template.yaml routes a path to, and whether the request
/// comes through the HTTP API (the chat function has its own URL).
pub fn function_for(path: &str) -> (&'static str, bool) {
    if path.starts_with("/api/chat/") {
        ("chat-stream", false)
    } else if path.starts_with("/api/goals/") {
        ("goals", true)
    } else if path.starts_with("/api/admin/") {
        ("admin", true)
    } else {
        ("session", true)
    }
}

/// A completed walk's counts.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub usage: Usage,
    /// Measured Lambda time only (what the model waits add is in `usage`).
    pub measured_ms: BTreeMap<String, u64>,
    pub dynamodb_operations: BTreeMap<String, u64>,
}

/// The application on metered production adapters.
pub struct Bench {
    pub server: TestServer,
    meter: Meter,
    models: ModelMeter,
    data_api: DataApiCallCounter,
    data_api_seen: u64,
    reader: aws_sdk_dynamodb::Client,
    memory: BTreeMap<String, u32>,
    counts: Counts,
    pub tenant_id: String,
    pub admin_key: String,
}

impl Bench {
    /// A fresh table, bucket and database on the stand-ins, and a tenant.
    pub async fn start(standins: &Standins) -> Bench {
        let sdk = petraf_core::adapters::tls::aws_config_loader()
            .region(Region::new("us-east-1"))
            .endpoint_url(&standins.moto)
            .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
            .load()
            .await;
        let meter = Meter::default();
        let dynamodb = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .interceptor(meter.clone())
                .build(),
        );
        let reader = aws_sdk_dynamodb::Client::new(&sdk);
        let table = format!("petraf-cost-{}", new_id().to_lowercase());
        create_table(&reader, &table)
            .await
            .expect("create the table");
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .interceptor(meter.clone())
                .build(),
        );
        let bucket = format!("petraf-cost-{}", new_id().to_lowercase());
        aws_sdk_s3::Client::new(&sdk)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create the bucket");

        let database = fresh_database(&standins.postgres).await;
        let options =
            sqlx::postgres::PgConnectOptions::from_str(&database).expect("a database URL");
        let dir = tempfile::tempdir().expect("temp dir");
        let embedded = config::embedded_ports(dir.path()).expect("embedded ports");
        let vectors = PgVectorStore::connect_lazy(options, embedded.embedder.dimension());
        vectors.migrate().await.expect("migrate the vector store");
        let (vectors, data_api) = vectors.counting_data_api_calls();
        let models = ModelMeter::default();
        let clock = walkthrough_clock();
        let ports = Ports {
            store: Arc::new(DynamoStateStore::new(dynamodb, table).with_clock(clock.clone())),
            vectors: Arc::new(vectors),
            objects: Arc::new(S3ObjectStore::new(s3, bucket)),
            model: Arc::new(MeteredModel {
                inner: embedded.model,
                meter: models.clone(),
            }),
            embedder: Arc::new(MeteredEmbedder {
                inner: embedded.embedder,
                meter: models.clone(),
            }),
        };
        let server = TestServer::with_ports_and_clock(ports, dir, clock).await;
        let (tenant_id, admin_key) = server.fresh_tenant().await;
        let mut bench = Bench {
            server,
            meter,
            models,
            data_api,
            data_api_seen: 0,
            reader,
            memory: function_memory(),
            counts: Counts::default(),
            tenant_id,
            admin_key,
        };
        bench.take();
        bench
    }

    /// Sends `call` to `path` as its function would serve it, and counts
    /// the invocation; the request must succeed.
    async fn invoke(&mut self, path: &str, call: Call) -> Reply {
        let (function, http_api) = function_for(path);
        self.invoke_as(function, http_api, call).await
    }

    async fn invoke_as(&mut self, function: &str, http_api: bool, call: Call) -> Reply {
        let before = self.models.peek();
        let started = Instant::now();
        let reply = call.send().await;
        let measured = started.elapsed();
        assert!(
            reply.status.is_success(),
            "{function}: {} {}",
            reply.status,
            reply.text
        );
        let after = self.models.peek();
        let waits = (after.chat_calls - before.chat_calls) * ASSUMED_CHAT_CALL_MS
            + (after.embed_calls - before.embed_calls) * ASSUMED_EMBED_CALL_MS;
        let memory = *self
            .memory
            .get(function)
            .unwrap_or_else(|| panic!("template.yaml has no function {function}"));
        self.counts.usage.invoke(
            function,
            memory,
            http_api,
            measured + Duration::from_millis(waits),
        );
        *self
            .counts
            .measured_ms
            .entry(function.to_string())
            .or_default() += petraf_core::domain::cost::billed_ms(measured);
        self.meter.settle(&self.reader).await;
        reply
    }

    /// What was counted since the last call.
    pub fn take(&mut self) -> Counts {
        let counted = self.meter.take();
        let tokens = self.models.take();
        let calls = self.data_api.calls();
        let mut counts = std::mem::take(&mut self.counts);
        let usage = &mut counts.usage;
        usage.dynamodb_write_units = counted.write_units;
        usage.dynamodb_read_half_units = counted.read_half_units;
        usage.s3_put_requests = counted.s3_put;
        usage.s3_get_requests = counted.s3_get;
        usage.data_api_calls = calls - self.data_api_seen;
        usage.chat_input_tokens = tokens.chat_input_tokens;
        usage.chat_output_tokens = tokens.chat_output_tokens;
        usage.embedding_tokens = tokens.embed_tokens;
        counts.dynamodb_operations = counted.operations.into_iter().collect();
        self.data_api_seen = calls;
        counts
    }

    /// John uploads the walkthrough's four documents through the admin API.
    pub async fn upload_documents(&mut self) -> usize {
        let path = format!("/api/admin/rag/upload/{}", self.tenant_id);
        for (file, category, title) in DOCUMENTS {
            let form = reqwest::multipart::Form::new()
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(fixture(file)).file_name(file.to_string()),
                )
                .text("category", category.to_string())
                .text(
                    "metadata",
                    json!({"title": title, "version": "1.0"}).to_string(),
                );
            let call = self
                .server
                .client()
                .post(&path)
                .admin(&self.admin_key)
                .multipart(form);
            self.invoke(&path, call).await;
        }
        DOCUMENTS.len()
    }

    /// One employee's completed session, as the walkthrough has it: the
    /// page's tenant lookup, session, profile, four turns through the three
    /// phases, completion, the goals and their PDF export. `n` picks the
    /// employee's address (each has their own, as in an office).
    pub async fn session(&mut self, n: usize) {
        let client = self.server.client();
        let tenant = self.tenant_id.clone();
        let address = format!("198.18.{}.{}", n / 250, n % 250 + 1);
        let with = |call: Call| {
            call.tenant(&tenant)
                .header("User-Agent", UA)
                .header("X-Forwarded-For", &address)
        };
        self.invoke("/api/tenant", with(client.get("/api/tenant")))
            .await;
        let path = "/api/session/create";
        let created = self
            .invoke(
                path,
                with(client.post(path)).json(&json!({"metadata": {"source": "web"}})),
            )
            .await
            .json();
        let id = created["session_id"]
            .as_str()
            .expect("a session")
            .to_string();
        let token = created["resume_token"]
            .as_str()
            .expect("a token")
            .to_string();
        self.server.clock.advance(Minutes::minutes(5));
        let path = format!("/api/session/{id}/info");
        let profile = json!({
            "employee_code": format!("EMP{n:05}"), "department": "Engineering", "position": "Software Engineer",
            "grade": "L4", "years_of_service": 3, "age_range": "28-32", "job_type": "full_time"
        });
        self.invoke(&path, with(client.put(&path)).bearer(&token).json(&profile))
            .await;
        for (phase, message, minutes) in [
            ("g4_future", G4_FIRST, 5),
            ("g4_future", G4_SECOND, 0),
            ("g6_values", G6_VALUES, 10),
            ("g8_actions", G8_ACTIONS, 10),
        ] {
            self.server.clock.advance(Minutes::minutes(minutes));
            let path = format!("/api/chat/{phase}/stream");
            let body =
                json!({"session_id": id, "message": message, "step": "collect", "context": {}});
            let events = self
                .invoke(&path, with(client.post(&path)).bearer(&token).json(&body))
                .await
                .events();
            let last = events.last().map(|(name, _)| name.as_str());
            assert_eq!(last, Some("complete"), "{phase}: {events:?}");
        }
        self.server.clock.advance(Minutes::minutes(5));
        let path = format!("/api/session/{id}/complete");
        self.invoke(&path, with(client.post(&path)).bearer(&token))
            .await;
        let path = format!("/api/goals/session/{id}");
        let goals = self
            .invoke(
                &path,
                with(client.get(&format!("{path}?final_only=true"))).bearer(&token),
            )
            .await
            .json();
        assert_eq!(goals["completed"], 3, "a completed session: {goals}");
        let path = format!("/api/goals/session/{id}/export");
        self.invoke(&path, with(client.get(&path)).bearer(&token))
            .await;
    }
}

/// A database of its own on the stand-in.
async fn fresh_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("petraf_cost_{}", new_id().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the PostgreSQL stand-in");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("create a database");
    let (base, _) = url
        .rsplit_once('/')
        .expect("a database URL ends in /database");
    format!("{base}/{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_are_the_templates() {
        let memory = function_memory();
        let names: Vec<&str> = memory.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "admin",
                "chat-stream",
                "extract",
                "goals",
                "rag-upload",
                "session"
            ]
        );
        assert_eq!(memory["session"], 256, "the Globals size");
        assert_eq!(memory["admin"], 512, "its own size");
    }

    #[test]
    fn paths_go_to_the_functions_template_yaml_routes_them_to() {
        assert_eq!(
            function_for("/api/chat/g4_future/stream"),
            ("chat-stream", false)
        );
        assert_eq!(function_for("/api/goals/session/x/export"), ("goals", true));
        assert_eq!(function_for("/api/admin/rag/upload/t"), ("admin", true));
        assert_eq!(function_for("/api/session/create"), ("session", true));
        assert_eq!(function_for("/api/tenant"), ("session", true));
    }
}
