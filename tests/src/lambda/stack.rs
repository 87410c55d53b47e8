//! The stack on the stand-ins: what `sam deploy` creates (table, bucket,
//! secrets) and what `petraf migrate` does, then the six built functions
//! started with the template's environment, the HTTP API and chat-stream's
//! Function URL in front of them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use petraf_core::app::tenants::{NewTenant, create_tenant, demo_tenant};
use petraf_core::config;
use petraf_core::domain::ids::new_id;
use serde_json::{Value, json};

use super::artifacts::Artifact;
use super::front_door::{self, FrontDoor, StreamTimings};
use super::runtime_api::{Function, Launch};
use super::template;

pub const FUNCTIONS: [&str; 6] = [
    "session",
    "goals",
    "admin",
    "chat-stream",
    "rag-upload",
    "extract",
];
/// The template's default embedding dimension.
pub const DIMENSION: &str = "1024";
/// The AWS SDK's service-specific endpoint variable for the RDS Data API
/// (service id "RDS Data"), so that only its calls go to the stand-in.
const RDS_DATA_ENDPOINT: &str = "AWS_ENDPOINT_URL_RDS_DATA";

/// The RDS Data API stand-in (scripts/standins/data_api.sh): where it
/// listens and the cluster and secret ARNs it answers for.
#[derive(Debug, Clone)]
pub struct DataApi {
    pub url: String,
    pub cluster_arn: String,
    pub secret_arn: String,
}

impl DataApi {
    /// The stand-in `data_api.sh start` exported, if it did.
    pub fn from_env() -> Option<DataApi> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Some(DataApi {
            url: var("PETRAF_TEST_DATA_API_URL")?,
            cluster_arn: var("PETRAF_TEST_DATA_API_CLUSTER_ARN")?,
            secret_arn: var("PETRAF_TEST_DATA_API_SECRET_ARN")?,
        })
    }
}

/// The AWS resources of one deployment, on the stand-ins. Aurora is the
/// PostgreSQL stand-in behind the Data API stand-in: functions and the
/// operator reach it through the Data API, as deployed.
pub struct Stack {
    pub moto: String,
    pub table: String,
    pub bucket: String,
    pub data_api: DataApi,
    /// The stack's own database on the PostgreSQL stand-in (`PETRAF_DB_NAME`).
    pub database: String,
    pub jwt_secret_arn: String,
    pub platform_key_arn: String,
    pub platform_key: String,
}

/// A database of its own on the PostgreSQL stand-in: its name.
async fn fresh_database(url: &str) -> String {
    use sqlx::Connection;
    let name = format!("petraf_lambda_{}", new_id().to_lowercase());
    let mut admin = sqlx::PgConnection::connect(url)
        .await
        .expect("connect to the PostgreSQL stand-in");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    name
}

impl Stack {
    /// Creates what the template creates and migrates as an operator does.
    /// Points this process's AWS SDK at moto, and its RDS Data API client
    /// at the Data API stand-in (call it before any SDK use).
    pub async fn create(moto: &str, postgres: &str, data_api: DataApi) -> Stack {
        // SAFETY: called first thing in a binary that runs one test; nothing
        // reads the environment concurrently and the SDK loads it after this.
        unsafe {
            std::env::set_var("AWS_ENDPOINT_URL", moto);
            std::env::set_var(RDS_DATA_ENDPOINT, &data_api.url);
            std::env::set_var("AWS_ACCESS_KEY_ID", "test");
            std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
            std::env::set_var("AWS_REGION", "us-east-1");
        }
        let suffix = new_id().to_lowercase();
        let stack = Stack {
            moto: moto.to_string(),
            table: format!("petraf-lambda-{suffix}"),
            bucket: format!("petraf-documents-{suffix}"),
            database: fresh_database(postgres).await,
            data_api,
            jwt_secret_arn: String::new(),
            platform_key_arn: String::new(),
            platform_key: format!("platform-{suffix}-admin-key"),
        };
        let sdk = config::aws_sdk_config(&config::ProcessEnv).await;
        let secrets = aws_sdk_secretsmanager::Client::new(sdk);
        let secret = |name: String, value: String| {
            let secrets = secrets.clone();
            async move {
                secrets
                    .create_secret()
                    .name(name)
                    .secret_string(value)
                    .send()
                    .await
                    .expect("create a secret on moto")
                    .arn
                    .expect("an ARN")
            }
        };
        let jwt_secret_arn =
            secret(format!("petraf-jwt-{suffix}"), format!("{suffix}{suffix}")).await;
        let platform_key_arn = secret(
            format!("petraf-platform-{suffix}"),
            stack.platform_key.clone(),
        )
        .await;
        petraf_core::adapters::s3::client(sdk, true)
            .create_bucket()
            .bucket(&stack.bucket)
            .send()
            .await
            .expect("create the document bucket on moto");
        let stack = Stack {
            jwt_secret_arn,
            platform_key_arn,
            ..stack
        };
        let done = config::migrate(&stack.operator_env())
            .await
            .expect("petraf migrate");
        assert!(done.iter().any(|l| l.contains(&stack.table)), "{done:?}");
        stack
    }

    /// A tenant created as `petraf tenant create` does with the operator's
    /// environment: its id and its admin key.
    pub async fn create_tenant(&self) -> (String, String) {
        let operator = config::from_env(&self.operator_env())
            .await
            .expect("the operator's configuration");
        let tenant = create_tenant(
            &operator,
            NewTenant {
                id: Some(new_id()),
                ..demo_tenant()
            },
        )
        .await
        .expect("petraf tenant create");
        (tenant.record.tenant.id, tenant.admin_key)
    }

    /// What the template's `MigrateEnvironment` output gives an operator
    /// (`petraf migrate`, `petraf tenant`), on the stand-ins.
    pub fn operator_env(&self) -> HashMap<&'static str, String> {
        [
            ("PETRAF_STATE_STORE", "dynamodb".to_string()),
            ("PETRAF_TABLE_NAME", self.table.clone()),
            ("PETRAF_VECTOR_STORE", "pgvector".into()),
            ("PETRAF_DB_CLUSTER_ARN", self.data_api.cluster_arn.clone()),
            ("PETRAF_DB_SECRET_ARN", self.data_api.secret_arn.clone()),
            ("PETRAF_DB_NAME", self.database.clone()),
            ("PETRAF_MODEL_PROVIDER", "offline".into()),
            ("PETRAF_EMBEDDING_DIMENSION", DIMENSION.into()),
            ("PETRAF_DOCUMENT_BUCKET", self.bucket.clone()),
            ("PETRAF_JWT_SECRET_ARN", self.jwt_secret_arn.clone()),
        ]
        .into_iter()
        .collect()
    }

    /// The event S3 sends for an object put under `key` (URL-encoded, as S3
    /// encodes it).
    pub fn s3_object_created(&self, key: &str, size: usize) -> Value {
        let bucket = &self.bucket;
        json!({"Records": [{
            "eventVersion": "2.1",
            "eventSource": "aws:s3",
            "awsRegion": "us-east-1",
            "eventTime": chrono::Utc::now().to_rfc3339(),
            "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "AWS:AROAEXAMPLE:admin"},
            "requestParameters": {"sourceIPAddress": "203.0.113.45"},
            "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "FMyUVURIY8"},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "DocumentDropped",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": key, "size": size, "eTag": "d41d8cd98f00b204e9800998ecf8427e", "sequencer": "0055AED6DCD90281E5"}
            }
        }]})
    }

    /// The environment template.yaml gives function `binary`, each variable
    /// with its stand-in value: the offline model, moto for the AWS services
    /// and the Data API stand-in for Aurora. A variable this does not know
    /// fails the test, so the emulation follows the template.
    pub fn function_env(&self, binary: &str) -> Vec<(String, String)> {
        let mut env: Vec<(String, String)> = vec![
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_SESSION_TOKEN".into(), "test".into()),
            ("AWS_ENDPOINT_URL".into(), self.moto.clone()),
            (RDS_DATA_ENDPOINT.into(), self.data_api.url.clone()),
        ];
        for variable in template::function(binary).variables {
            let value = match variable.as_str() {
                "RUST_LOG" => "info".to_string(),
                "PETRAF_STATE_STORE" => "dynamodb".into(),
                "PETRAF_TABLE_NAME" => self.table.clone(),
                "PETRAF_JWT_SECRET_ARN" => self.jwt_secret_arn.clone(),
                "PETRAF_PLATFORM_ADMIN_KEY_ARN" => self.platform_key_arn.clone(),
                "PETRAF_VECTOR_STORE" => "pgvector".into(),
                "PETRAF_DB_CLUSTER_ARN" => self.data_api.cluster_arn.clone(),
                "PETRAF_DB_SECRET_ARN" => self.data_api.secret_arn.clone(),
                "PETRAF_DB_NAME" => self.database.clone(),
                "PETRAF_EMBEDDING_DIMENSION" => DIMENSION.into(),
                "PETRAF_DOCUMENT_BUCKET" => self.bucket.clone(),
                "PETRAF_EXTRACT_FUNCTION" => "extract".into(),
                "PETRAF_MODEL_PROVIDER" => "offline".into(),
                // Read only with ModelProvider=bedrock / openai.
                "PETRAF_BEDROCK_CHAT_MODEL"
                | "PETRAF_BEDROCK_EMBED_MODEL"
                | "OPENAI_API_KEY_ARN" => {
                    continue;
                }
                other => panic!(
                    "template.yaml gives {binary} {other}: tell tests/src/lambda/stack.rs its stand-in value"
                ),
            };
            env.push((variable, value));
        }
        env
    }
}

/// The six functions running, and the doors a client uses.
pub struct Deployment {
    pub functions: Vec<Arc<Function>>,
    pub http_api: FrontDoor,
    /// Lambda's Invoke API, for the functions that invoke others.
    pub invoke_api: FrontDoor,
    pub chat_url: FrontDoor,
    pub chat_timings: Arc<Mutex<Vec<StreamTimings>>>,
    pub logs: tempfile::TempDir,
}

impl Deployment {
    /// Starts every function's bootstrap (with the `extra` (function,
    /// variable, value) settings) and waits until each asks for its first
    /// event.
    pub async fn start(stack: &Stack, extra: &[(&str, &str, &str)]) -> Deployment {
        let logs = tempfile::tempdir().expect("a log directory");
        let invocable = Arc::new(Mutex::new(vec![]));
        let invoke_api = front_door::invoke_api(invocable.clone()).await;
        let mut functions = vec![];
        for name in FUNCTIONS {
            let artifact = Artifact::find(name).unwrap_or_else(|| {
                panic!(
                    "no {name} bootstrap under {}: run scripts/lambda/build.sh",
                    super::artifacts::artifacts_dir().display()
                )
            });
            let mut env = stack.function_env(name);
            env.extend(
                extra
                    .iter()
                    .filter(|(function, _, _)| *function == name)
                    .map(|(_, k, v)| (k.to_string(), v.to_string())),
            );
            // Only the extract function parses documents itself.
            if name == "extract"
                && let Some(worker) = artifact.extract_worker_wrapper(logs.path())
            {
                env.push(("PETRAF_EXTRACT_WORKER".into(), worker.display().to_string()));
            }
            env.push(("AWS_ENDPOINT_URL_LAMBDA".into(), invoke_api.base.clone()));
            let function = Function::start(Launch {
                name,
                artifact: &artifact,
                memory_mb: template::function(name).memory_mb,
                env,
                log_dir: logs.path(),
            })
            .await;
            functions.push(Arc::new(function));
        }
        for function in &functions {
            function
                .initialised(std::time::Duration::from_secs(120))
                .await;
        }
        invocable.lock().unwrap().extend(functions.iter().cloned());
        let chat = functions
            .iter()
            .find(|f| f.name == "chat-stream")
            .unwrap()
            .clone();
        let http_api = front_door::http_api(functions.clone()).await;
        let (chat_url, chat_timings) = front_door::function_url(chat).await;
        Deployment {
            functions,
            http_api,
            invoke_api,
            chat_url,
            chat_timings,
            logs,
        }
    }

    /// Ends every function's process.
    pub fn stop(&self) {
        for function in &self.functions {
            function.kill();
        }
    }

    pub fn function(&self, name: &str) -> &Arc<Function> {
        self.functions
            .iter()
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("no function {name}"))
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        self.stop();
    }
}
