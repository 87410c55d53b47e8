//! Wiring from the environment: which adapter serves each port, and the
//! secrets. With no configuration everything is embedded under
//! `PETRAF_DATA_DIR`; a misconfiguration fails at start naming the variable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;

use crate::adapters::embedded::{HashingEmbedder, LocalObjectStore, OfflineModel};
#[cfg(feature = "sqlite")]
use crate::adapters::embedded::{SqliteStateStore, SqliteVectorStore};
use crate::adapters::unwired::Unwired;
use crate::app::{App, Secrets, Services, Settings};
use crate::domain::privacy::keyed_hash;
use crate::domain::resume_token::{TokenSigner, hash_token};
#[cfg(feature = "sqlite")]
use crate::ports::state_store::StoreError;
use crate::ports::{ChatModel, Clock, Embedder, ObjectStore, StateStore, SystemClock, VectorStore};

pub const DEFAULT_DATA_DIR: &str = ".petraf";
pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";
const MIN_SECRET_BYTES: usize = 32;
const MIN_PLATFORM_KEY_CHARS: usize = 24;

/// A configuration problem, naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

fn config_error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// Reads variables; tests pass a map instead of the process environment.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for std::collections::HashMap<&'static str, String> {
    fn get(&self, key: &str) -> Option<String> {
        std::collections::HashMap::get(self, key).cloned()
    }
}

pub fn data_dir(env: &dyn Env) -> PathBuf {
    env.get("PETRAF_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

/// The choice of `variable`, one of `allowed` (the first is the default).
fn choice(
    env: &dyn Env,
    variable: &'static str,
    allowed: &[&'static str],
) -> Result<&'static str, ConfigError> {
    match env.get(variable) {
        None => Ok(allowed[0]),
        Some(v) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(v.trim()))
            .copied()
            .ok_or_else(|| {
                config_error(
                    variable,
                    format!("'{v}' is not one of {}", allowed.join(", ")),
                )
            }),
    }
}

/// Which ports and secrets a process uses. A Lambda function wires only
/// these (the others are [`Unwired`]), so it is built, granted and started
/// with nothing it never calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uses {
    pub vectors: bool,
    pub objects: bool,
    pub chat_model: bool,
    pub embedder: bool,
    /// Resume tokens and keyed origin hashes: the JWT secret.
    pub tokens: bool,
    /// The platform admin key.
    pub platform_key: bool,
}

impl Uses {
    /// `petraf serve` and the tests: every route group.
    pub const EVERYTHING: Uses = Uses {
        vectors: true,
        objects: true,
        chat_model: true,
        embedder: true,
        tokens: true,
        platform_key: true,
    };
    /// The session function (sessions, resume, health). A saved profile
    /// embeds each phase's first retrieval query.
    pub const SESSIONS: Uses = Uses {
        vectors: false,
        objects: false,
        chat_model: false,
        embedder: true,
        tokens: true,
        platform_key: false,
    };
    /// The goals function.
    pub const GOALS: Uses = Uses {
        vectors: false,
        objects: false,
        chat_model: false,
        embedder: false,
        tokens: true,
        platform_key: false,
    };
    /// The chat-stream function: retrieval and the model.
    pub const CHAT: Uses = Uses {
        vectors: true,
        objects: false,
        chat_model: true,
        embedder: true,
        tokens: true,
        platform_key: false,
    };
    /// The admin function: uploads, stats, audit, tenants.
    pub const ADMIN: Uses = Uses {
        vectors: true,
        objects: true,
        chat_model: false,
        embedder: true,
        tokens: true,
        platform_key: true,
    };
    /// The rag-upload function: drop-folder ingestion.
    pub const DROP_FOLDER: Uses = Uses {
        vectors: true,
        objects: true,
        chat_model: false,
        embedder: true,
        tokens: false,
        platform_key: false,
    };
}

/// Inside AWS Lambda nothing falls back to the embedded default: its file
/// system is read-only and its instances do not share files.
fn in_lambda(env: &dyn Env) -> bool {
    env.get("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// [`choice`], except that inside Lambda the variable must be set.
fn deployed_choice(
    env: &dyn Env,
    variable: &'static str,
    allowed: &[&'static str],
) -> Result<&'static str, ConfigError> {
    if in_lambda(env) && env.get(variable).is_none() {
        return Err(config_error(
            variable,
            format!(
                "must be set in AWS Lambda (one of {}); there is no embedded fallback there",
                allowed[1..].join(", ")
            ),
        ));
    }
    choice(env, variable, allowed)
}

fn not_in_this_build(variable: &'static str, value: &str) -> ConfigError {
    config_error(
        variable,
        format!(
            "the '{value}' adapter is not part of this build (petraf-core was built without its Cargo feature)"
        ),
    )
}

/// A JWT secret given in the environment, checked for length.
fn checked_jwt_secret(variable: &'static str, secret: String) -> Result<Vec<u8>, ConfigError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(config_error(
            variable,
            format!("must be at least {MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(secret.into_bytes())
}

/// The JWT secret: `PETRAF_JWT_SECRET`, else one generated once and kept
/// in the data directory (mode 0600).
fn jwt_secret(env: &dyn Env, dir: &Path) -> Result<Vec<u8>, ConfigError> {
    if let Some(secret) = env.get("PETRAF_JWT_SECRET") {
        return checked_jwt_secret("PETRAF_JWT_SECRET", secret);
    }
    let path = dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= MIN_SECRET_BYTES
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(dir).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    let secret = random_secret();
    write_private(&path, &secret).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    Ok(secret.into_bytes())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => file.write_all(contents.as_bytes()),
        // Another process (petraf tenant create) wrote it first: keep theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// What Petraf keeps in its data directory, tightened at start.
const DATA_ENTRIES: [&str; 7] = [
    "state.db",
    "state.db-wal",
    "state.db-shm",
    "jwt-secret",
    "vectors.jsonl",
    "vectors.jsonl.imported",
    "objects",
];

/// The platform admin key's hash, from a key given in `variable`.
fn platform_key_hash(
    variable: &'static str,
    key: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match key {
        Some(key) if key.trim().len() < MIN_PLATFORM_KEY_CHARS => Err(config_error(
            variable,
            format!("must be at least {MIN_PLATFORM_KEY_CHARS} characters"),
        )),
        Some(key) => Ok(Some(hash_token(key.trim()))),
        None => Ok(None),
    }
}

fn secrets_from(jwt_secret: &[u8], platform_admin_key_hash: Option<String>) -> Secrets {
    Secrets {
        signer: TokenSigner::new(jwt_secret),
        hash_key: keyed_hash(jwt_secret, "petraf origin hashes").into_bytes(),
        platform_admin_key_hash,
    }
}

/// Makes the data directory its owner's alone: the directory 0700 and what
/// Petraf keeps in it (directories 0700, files 0600), since a data
/// directory from an earlier version may be world-readable. Nothing else
/// in the directory is touched.
pub fn keep_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |m| std::fs::Permissions::from_mode(m);
        std::fs::set_permissions(dir, mode(0o700))?;
        let mut pending: Vec<PathBuf> = DATA_ENTRIES.iter().map(|e| dir.join(e)).collect();
        while let Some(path) = pending.pop() {
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_dir() {
                std::fs::set_permissions(&path, mode(0o700))?;
                for entry in std::fs::read_dir(&path)? {
                    pending.push(entry?.path());
                }
            } else if meta.is_file() {
                std::fs::set_permissions(&path, mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// The secrets as plain variables (`PETRAF_JWT_SECRET`,
/// `PETRAF_PLATFORM_ADMIN_KEY`), the JWT secret generated into the data
/// directory when unset: `petraf serve` and the tests.
pub fn secrets(env: &dyn Env, dir: &Path) -> Result<Secrets, ConfigError> {
    let secret = jwt_secret(env, dir)?;
    let platform = platform_key_hash(
        "PETRAF_PLATFORM_ADMIN_KEY",
        env.get("PETRAF_PLATFORM_ADMIN_KEY"),
    )?;
    Ok(secrets_from(&secret, platform))
}

/// A secret's value from `variable`, or from Secrets Manager when
/// `arn_variable` names a secret (read once, at start). Returns the
/// variable to blame for a bad value with it.
async fn secret_value(
    env: &dyn Env,
    variable: &'static str,
    arn_variable: &'static str,
) -> Result<Option<(&'static str, String)>, ConfigError> {
    match (env.get(variable), env.get(arn_variable)) {
        (Some(_), Some(_)) => Err(config_error(
            variable,
            format!("set either {variable} or {arn_variable}, not both"),
        )),
        (Some(value), None) => Ok(Some((variable, value))),
        (None, None) => Ok(None),
        #[cfg(feature = "secrets-manager")]
        (None, Some(arn)) => Ok(Some((
            arn_variable,
            fetch_secret(arn_variable, &arn).await?,
        ))),
        #[cfg(not(feature = "secrets-manager"))]
        (None, Some(_)) => Err(not_in_this_build(arn_variable, "secrets-manager")),
    }
}

#[cfg(feature = "secrets-manager")]
async fn fetch_secret(arn_variable: &'static str, arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(aws_sdk_config().await);
    let answer = client
        .get_secret_value()
        .secret_id(arn.trim())
        .send()
        .await
        .map_err(|e| {
            config_error(
                arn_variable,
                format!(
                    "could not read the secret: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            )
        })?;
    answer
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| config_error(arn_variable, "the secret has no string value"))
}

/// The secrets a process `uses`: each from its variable or its `_ARN`
/// twin (Secrets Manager). Inside Lambda a needed secret must be given; a
/// process that signs no tokens gets a throwaway key it never shows.
pub async fn deployed_secrets(
    env: &dyn Env,
    dir: &Path,
    uses: Uses,
) -> Result<Secrets, ConfigError> {
    let jwt = async {
        if !uses.tokens {
            return Ok(random_secret().into_bytes());
        }
        match secret_value(env, "PETRAF_JWT_SECRET", "PETRAF_JWT_SECRET_ARN").await? {
            Some((variable, value)) => checked_jwt_secret(variable, value),
            None if in_lambda(env) => Err(config_error(
                "PETRAF_JWT_SECRET_ARN",
                "required in AWS Lambda (or PETRAF_JWT_SECRET): the HS256 key of resume tokens",
            )),
            None => jwt_secret(env, dir),
        }
    };
    let platform = async {
        if !uses.platform_key {
            return Ok(None);
        }
        match secret_value(
            env,
            "PETRAF_PLATFORM_ADMIN_KEY",
            "PETRAF_PLATFORM_ADMIN_KEY_ARN",
        )
        .await?
        {
            Some((variable, key)) => platform_key_hash(variable, Some(key)),
            None => Ok(None),
        }
    };
    // Both read together: two Secrets Manager calls cost one round trip.
    let (jwt, platform) = tokio::join!(jwt, platform);
    Ok(secrets_from(&jwt?, platform?))
}

/// The ports chosen by the environment.
pub struct Ports {
    pub store: Arc<dyn StateStore>,
    pub vectors: Arc<dyn VectorStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub model: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
}

/// Embedded adapters under `dir`.
#[cfg(feature = "sqlite")]
pub fn embedded_ports(dir: &Path) -> Result<Ports, ConfigError> {
    let (model, embedder) = offline_models();
    Ok(Ports {
        store: Arc::new(embedded_state_store(dir)?),
        vectors: Arc::new(embedded_vector_store(dir)?),
        objects: Arc::new(local_object_store(dir)),
        model,
        embedder,
    })
}

/// The offline chat model and the hashing embedder: no key, no network.
#[cfg(feature = "sqlite")]
fn offline_models() -> ModelPair {
    offline_models_of(HashingEmbedder::DEFAULT_DIMENSION)
}

fn offline_models_of(dimension: usize) -> ModelPair {
    (
        Arc::new(OfflineModel),
        Arc::new(HashingEmbedder::new(dimension)),
    )
}

fn local_object_store(dir: &Path) -> LocalObjectStore {
    LocalObjectStore::new(dir.join("objects"))
}

#[cfg(feature = "sqlite")]
fn embedded_state_store(dir: &Path) -> Result<SqliteStateStore, ConfigError> {
    keep_private(dir).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    SqliteStateStore::open(&dir.join("state.db"))
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))
}

/// The chunks live in the state's database, so that a document commits
/// in one transaction.
#[cfg(feature = "sqlite")]
fn embedded_vector_store(dir: &Path) -> Result<SqliteVectorStore, ConfigError> {
    let failed = |e: StoreError| config_error("PETRAF_DATA_DIR", e.to_string());
    keep_private(dir).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    let store = SqliteVectorStore::open(&dir.join("state.db")).map_err(failed)?;
    let imported = store
        .import_legacy_file(&dir.join(LEGACY_VECTOR_FILE))
        .map_err(failed)?;
    if imported > 0 {
        tracing::info!(
            chunks = imported,
            "imported the earlier vector file into state.db"
        );
    }
    Ok(store)
}

/// Where versions before the SQLite vector store kept every chunk.
#[cfg(feature = "sqlite")]
const LEGACY_VECTOR_FILE: &str = "vectors.jsonl";

/// `PETRAF_STATE_STORE=embedded|dynamodb`.
#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
async fn state_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn StateStore>, ConfigError> {
    match deployed_choice(env, "PETRAF_STATE_STORE", &["embedded", "dynamodb"])? {
        #[cfg(feature = "sqlite")]
        "embedded" => Ok(Arc::new(embedded_state_store(dir)?)),
        #[cfg(feature = "dynamodb")]
        "dynamodb" => Ok(Arc::new(dynamodb_state_store(env).await?)),
        other => Err(not_in_this_build("PETRAF_STATE_STORE", other)),
    }
}

/// The AWS SDK configuration, loaded once per process from the standard
/// variables (region, credentials, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, ...) and shared by
/// the AWS adapters.
#[cfg(feature = "aws-sdk")]
pub async fn aws_sdk_config() -> &'static aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| crate::adapters::tls::aws_config_loader().load())
        .await
}

/// `PETRAF_TABLE_NAME`: the single table of the DynamoDB state store.
#[cfg(feature = "dynamodb")]
fn table_name(env: &dyn Env) -> Result<String, ConfigError> {
    env.get("PETRAF_TABLE_NAME").ok_or_else(|| {
        config_error(
            "PETRAF_TABLE_NAME",
            "required with PETRAF_STATE_STORE=dynamodb: the DynamoDB table's name",
        )
    })
}

#[cfg(feature = "dynamodb")]
async fn dynamodb_state_store(
    env: &dyn Env,
) -> Result<crate::adapters::dynamodb::DynamoStateStore, ConfigError> {
    let table = table_name(env)?;
    let client = aws_sdk_dynamodb::Client::new(aws_sdk_config().await);
    Ok(crate::adapters::dynamodb::DynamoStateStore::new(
        client, table,
    ))
}

/// Creates what the configured stores need and says what it did, one line
/// per store: the DynamoDB table (with its index and TTL) when
/// `PETRAF_STATE_STORE=dynamodb`. Safe to run again.
pub async fn migrate(env: &dyn Env) -> Result<Vec<String>, ConfigError> {
    let mut done = vec![];
    match choice(env, "PETRAF_STATE_STORE", &["embedded", "dynamodb"])? {
        "embedded" => done.push("state store: embedded SQLite, created on first open".to_string()),
        #[cfg(feature = "dynamodb")]
        "dynamodb" => {
            use crate::adapters::dynamodb::{TableOutcome, create_table};
            let table = table_name(env)?;
            let client = aws_sdk_dynamodb::Client::new(aws_sdk_config().await);
            let outcome = create_table(&client, &table)
                .await
                .map_err(|e| config_error("PETRAF_TABLE_NAME", format!("table {table}: {e}")))?;
            done.push(match outcome {
                TableOutcome::Created => format!("state store: created DynamoDB table {table}"),
                TableOutcome::AlreadyExisted => {
                    format!("state store: DynamoDB table {table} already exists (TTL checked)")
                }
            });
        }
        other => return Err(not_in_this_build("PETRAF_STATE_STORE", other)),
    }
    done.push(migrate_vector_store(env).await?);
    Ok(done)
}

/// The pgvector schema (extension, table, indexes) when
/// `PETRAF_VECTOR_STORE=pgvector`.
async fn migrate_vector_store(env: &dyn Env) -> Result<String, ConfigError> {
    match choice(env, "PETRAF_VECTOR_STORE", &["embedded", "pgvector"])? {
        "embedded" => Ok("vector store: embedded, created on first write".to_string()),
        #[cfg(feature = "pgvector")]
        "pgvector" => {
            use crate::ports::state_store::StoreError;
            let store = pgvector_store(env).await?;
            let connection = if env.get("DATABASE_URL").is_some() {
                "DATABASE_URL"
            } else {
                "PETRAF_DB_CLUSTER_ARN"
            };
            store.migrate().await.map_err(|e| match e {
                // The only conflict a migration reports: a table of another dimension.
                StoreError::Conflict(m) => config_error("PETRAF_EMBEDDING_DIMENSION", m),
                StoreError::Unavailable(m) | StoreError::LimitReached(m) => {
                    config_error(connection, m)
                }
            })?;
            Ok(format!(
                "vector store: pgvector schema up to date (rag_chunks, vector({}), HNSW cosine index)",
                store.dimension()
            ))
        }
        other => Err(not_in_this_build("PETRAF_VECTOR_STORE", other)),
    }
}

/// `PETRAF_VECTOR_STORE=embedded|pgvector`.
#[cfg_attr(not(feature = "sqlite"), allow(unused_variables))]
async fn vector_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn VectorStore>, ConfigError> {
    match deployed_choice(env, "PETRAF_VECTOR_STORE", &["embedded", "pgvector"])? {
        #[cfg(feature = "sqlite")]
        "embedded" => Ok(Arc::new(embedded_vector_store(dir)?)),
        #[cfg(feature = "pgvector")]
        "pgvector" => Ok(Arc::new(pgvector_store(env).await?)),
        other => Err(not_in_this_build("PETRAF_VECTOR_STORE", other)),
    }
}

/// The largest vector pgvector's HNSW index takes.
#[cfg(feature = "pgvector")]
const MAX_INDEXED_DIMENSION: usize = 2000;

/// `PETRAF_EMBEDDING_DIMENSION`, if set: the one size asked of every part.
fn requested_dimension(env: &dyn Env) -> Result<Option<usize>, ConfigError> {
    let Some(value) = env.get("PETRAF_EMBEDDING_DIMENSION") else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 8 => Ok(Some(n)),
        _ => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("'{value}' is not a whole number of at least 8"),
        )),
    }
}

/// A provider's own dimension variable, which must agree with
/// `PETRAF_EMBEDDING_DIMENSION` when both are set; with the variable that
/// gave it, to blame for a value the model cannot give.
fn agreed_dimension(
    env: &dyn Env,
    requested: Option<usize>,
    provider_variable: &'static str,
) -> Result<Option<(usize, &'static str)>, ConfigError> {
    let own = env
        .get(provider_variable)
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    config_error(provider_variable, format!("'{v}' is not a positive number"))
                })
        })
        .transpose()?;
    match (own, requested) {
        (Some(a), Some(b)) if a != b => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("is {b} but {provider_variable} is {a}; set one of them"),
        )),
        (Some(a), _) => Ok(Some((a, provider_variable))),
        (None, requested) => Ok(requested.map(|n| (n, "PETRAF_EMBEDDING_DIMENSION"))),
    }
}

/// The OpenAI embed model's dimension: asked for, or the model's own.
fn openai_dimension(
    env: &dyn Env,
    requested: Option<usize>,
    model: &str,
) -> Result<usize, ConfigError> {
    let asked = agreed_dimension(env, requested, "PETRAF_OPENAI_EMBED_DIMENSIONS")?;
    match (asked, model) {
        (Some((n, _)), _) => Ok(n),
        (None, "text-embedding-3-small" | "text-embedding-ada-002") => Ok(1536),
        (None, "text-embedding-3-large") => Ok(3072),
        (None, other) => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("required for the embed model '{other}': the size of its vectors"),
        )),
    }
}

/// Titan Text Embeddings v2 gives 256, 512 or 1024 (the default) dimensions.
fn bedrock_dimension(env: &dyn Env, requested: Option<usize>) -> Result<usize, ConfigError> {
    match agreed_dimension(env, requested, "PETRAF_BEDROCK_EMBED_DIMENSIONS")? {
        None => Ok(1024),
        Some((n, _)) if [256, 512, 1024].contains(&n) => Ok(n),
        Some((n, variable)) => Err(config_error(
            variable,
            format!("is {n}, but Titan v2 gives 256, 512 or 1024 dimensions"),
        )),
    }
}

/// The size of the vectors the configured embedder gives, which is also
/// the size of the pgvector column: `petraf serve`, the functions and
/// `petraf migrate` all derive it here from the same variables.
/// `PETRAF_EMBEDDING_DIMENSION` asks the embedder for that size; without it
/// the model's own size is used.
pub fn embedding_dimension(env: &dyn Env) -> Result<usize, ConfigError> {
    let requested = requested_dimension(env)?;
    match choice(
        env,
        "PETRAF_MODEL_PROVIDER",
        &["offline", "openai", "bedrock"],
    )? {
        "openai" => openai_dimension(
            env,
            requested,
            env.get("PETRAF_OPENAI_EMBED_MODEL")
                .as_deref()
                .map(str::trim)
                .unwrap_or("text-embedding-3-small"),
        ),
        "bedrock" => bedrock_dimension(env, requested),
        _ => Ok(requested.unwrap_or(HashingEmbedder::DEFAULT_DIMENSION)),
    }
}

/// `PETRAF_DB_CLUSTER_ARN` and `PETRAF_DB_SECRET_ARN`, checked to be ARNs.
#[cfg(feature = "pgvector")]
fn arn(env: &dyn Env, variable: &'static str) -> Result<String, ConfigError> {
    match env.get(variable) {
        Some(value) if value.trim().starts_with("arn:") => Ok(value.trim().to_string()),
        Some(value) => Err(config_error(variable, format!("'{value}' is not an ARN"))),
        None => Err(config_error(
            variable,
            "required with PETRAF_DB_CLUSTER_ARN for the RDS Data API",
        )),
    }
}

#[cfg(feature = "pgvector")]
fn data_api_target(env: &dyn Env) -> Result<crate::adapters::pgvector::DataApiTarget, ConfigError> {
    Ok(crate::adapters::pgvector::DataApiTarget {
        cluster_arn: arn(env, "PETRAF_DB_CLUSTER_ARN")?,
        secret_arn: arn(env, "PETRAF_DB_SECRET_ARN")?,
        database: env
            .get("PETRAF_DB_NAME")
            .unwrap_or_else(|| "postgres".to_string()),
    })
}

/// The pgvector store: `DATABASE_URL` for a direct connection, or
/// `PETRAF_DB_CLUSTER_ARN` + `PETRAF_DB_SECRET_ARN` (+ `PETRAF_DB_NAME`,
/// default `postgres`) for the RDS Data API.
#[cfg(feature = "pgvector")]
pub async fn pgvector_store(
    env: &dyn Env,
) -> Result<crate::adapters::pgvector::PgVectorStore, ConfigError> {
    use crate::adapters::pgvector::{PgVectorStore, parse_database_url};
    let dimension = embedding_dimension(env)?;
    if dimension > MAX_INDEXED_DIMENSION {
        return Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!(
                "the embedder gives {dimension} dimensions; pgvector's HNSW index takes at most {MAX_INDEXED_DIMENSION}"
            ),
        ));
    }
    match (env.get("DATABASE_URL"), env.get("PETRAF_DB_CLUSTER_ARN")) {
        (Some(_), Some(_)) => Err(config_error(
            "DATABASE_URL",
            "set either DATABASE_URL or PETRAF_DB_CLUSTER_ARN, not both",
        )),
        (Some(url), None) => {
            let options = parse_database_url(&url)
                .map_err(|e| config_error("DATABASE_URL", e.to_string()))?;
            Ok(PgVectorStore::connect_lazy(options, dimension))
        }
        (None, Some(_)) => {
            let target = data_api_target(env)?;
            let client = aws_sdk_rdsdata::Client::new(aws_sdk_config().await);
            Ok(PgVectorStore::data_api(client, target, dimension))
        }
        (None, None) => Err(config_error(
            "DATABASE_URL",
            "PETRAF_VECTOR_STORE=pgvector needs DATABASE_URL, or PETRAF_DB_CLUSTER_ARN and PETRAF_DB_SECRET_ARN for the RDS Data API",
        )),
    }
}

/// `PETRAF_DOCUMENT_BUCKET` set means S3; otherwise files under the data directory.
async fn object_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn ObjectStore>, ConfigError> {
    match env.get("PETRAF_DOCUMENT_BUCKET") {
        None if in_lambda(env) => Err(config_error(
            "PETRAF_DOCUMENT_BUCKET",
            "must be set in AWS Lambda: the S3 bucket of uploaded documents",
        )),
        None => Ok(Arc::new(local_object_store(dir))),
        #[cfg(feature = "s3")]
        Some(bucket) => Ok(Arc::new(s3_object_store(env, bucket).await)),
        #[cfg(not(feature = "s3"))]
        Some(_) => Err(not_in_this_build("PETRAF_DOCUMENT_BUCKET", "s3")),
    }
}

/// The S3 store on `bucket`; path-style addressing when an endpoint is
/// overridden (`AWS_ENDPOINT_URL` or `AWS_ENDPOINT_URL_S3`, e.g. moto).
#[cfg(feature = "s3")]
pub async fn s3_object_store(env: &dyn Env, bucket: String) -> crate::adapters::s3::S3ObjectStore {
    let path_style =
        env.get("AWS_ENDPOINT_URL").is_some() || env.get("AWS_ENDPOINT_URL_S3").is_some();
    let client = crate::adapters::s3::client(aws_sdk_config().await, path_style);
    crate::adapters::s3::S3ObjectStore::new(client, bucket)
}

/// `PETRAF_MODEL_PROVIDER=offline|openai|bedrock`: the chat model and the embedder.
async fn models(env: &dyn Env) -> Result<ModelPair, ConfigError> {
    match deployed_choice(
        env,
        "PETRAF_MODEL_PROVIDER",
        &["offline", "openai", "bedrock"],
    )? {
        "offline" => {
            let (model, embedder) = offline_models_of(embedding_dimension(env)?);
            Ok((with_injected_panic(env, model), embedder))
        }
        _ if env.get(PANIC_PHRASE).is_some() => Err(config_error(
            PANIC_PHRASE,
            "fault injection for tests, only with PETRAF_MODEL_PROVIDER=offline",
        )),
        #[cfg(feature = "openai")]
        "openai" => openai_models(env).await,
        #[cfg(feature = "bedrock")]
        "bedrock" => bedrock_models(env).await,
        other => Err(not_in_this_build("PETRAF_MODEL_PROVIDER", other)),
    }
}

/// Makes the offline coach panic mid-reply on a message holding this
/// phrase: the artifact end-to-end test's proof that the deployed build
/// catches a panicking turn. Never set by the template.
const PANIC_PHRASE: &str = "PETRAF_TEST_PANIC_PHRASE";

fn with_injected_panic(env: &dyn Env, model: Arc<dyn ChatModel>) -> Arc<dyn ChatModel> {
    match env.get(PANIC_PHRASE) {
        Some(phrase) => Arc::new(crate::adapters::panic_injection::PanicOnPhrase::new(
            model, phrase,
        )),
        None => model,
    }
}

/// A chat model and the embedder that goes with it.
type ModelPair = (Arc<dyn ChatModel>, Arc<dyn Embedder>);

/// `OPENAI_API_KEY` (required), `OPENAI_BASE_URL` (any OpenAI-compatible
/// server), `PETRAF_OPENAI_EMBED_MODEL`, `PETRAF_OPENAI_EMBED_DIMENSIONS`.
/// The key goes to the client only; errors never quote it.
#[cfg(feature = "openai")]
async fn openai_models(env: &dyn Env) -> Result<ModelPair, ConfigError> {
    use crate::adapters::openai::OpenAiSettings;
    let (_, api_key) = secret_value(env, "OPENAI_API_KEY", "OPENAI_API_KEY_ARN")
        .await?
        .ok_or_else(|| {
            config_error(
                "OPENAI_API_KEY",
                "required with PETRAF_MODEL_PROVIDER=openai (or OPENAI_API_KEY_ARN: a Secrets Manager secret)",
            )
        })?;
    let mut settings = OpenAiSettings::new(api_key.trim());
    if let Some(base) = env.get("OPENAI_BASE_URL") {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(config_error("OPENAI_BASE_URL", "must be an http(s) URL"));
        }
        settings.base_url = base.trim().to_string();
    }
    if let Some(model) = env.get("PETRAF_OPENAI_EMBED_MODEL") {
        settings.embed_model = model.trim().to_string();
    }
    let requested = requested_dimension(env)?;
    settings.embed_dimension = openai_dimension(env, requested, &settings.embed_model)?;
    // Only text-embedding-3 models can be asked for a shorter vector.
    let asked = agreed_dimension(env, requested, "PETRAF_OPENAI_EMBED_DIMENSIONS")?;
    settings.request_dimension =
        asked.is_some() && settings.embed_model.starts_with("text-embedding-3");
    settings.resilience = crate::adapters::resilience::Resilience::from_env(env)?;
    let (model, embedder) = settings
        .models()
        .map_err(|e| config_error("OPENAI_BASE_URL", format!("no HTTP client: {e}")))?;
    Ok((Arc::new(model), Arc::new(embedder)))
}

/// The AWS SDK configuration (region, credentials) with
/// `PETRAF_BEDROCK_CHAT_MODEL` (for tenants whose `llm_model` is no Bedrock
/// id), `PETRAF_BEDROCK_EMBED_MODEL`, `PETRAF_BEDROCK_EMBED_DIMENSIONS`.
#[cfg(feature = "bedrock")]
async fn bedrock_models(env: &dyn Env) -> Result<ModelPair, ConfigError> {
    use crate::adapters::bedrock::BedrockSettings;
    let mut settings = BedrockSettings::default();
    if let Some(model) = env.get("PETRAF_BEDROCK_CHAT_MODEL") {
        settings.chat_model = model.trim().to_string();
    }
    if let Some(model) = env.get("PETRAF_BEDROCK_EMBED_MODEL") {
        settings.embed_model = model.trim().to_string();
    }
    settings.embed_dimension = bedrock_dimension(env, requested_dimension(env)?)?;
    settings.resilience = crate::adapters::resilience::Resilience::from_env(env)?;
    let sdk_config = aws_sdk_config().await;
    if sdk_config.region().is_none() {
        return Err(config_error(
            "AWS_REGION",
            "required with PETRAF_MODEL_PROVIDER=bedrock",
        ));
    }
    let client = aws_sdk_bedrockruntime::Client::new(sdk_config);
    let (model, embedder) = settings.models(&client);
    Ok((Arc::new(model), Arc::new(embedder)))
}

/// Every port as the environment configures it (`petraf serve`, `migrate`).
pub async fn ports(env: &dyn Env, dir: &Path) -> Result<Ports, ConfigError> {
    ports_for(env, dir, Uses::EVERYTHING).await
}

/// The ports a process `uses`, as the environment configures them; the
/// others are [`Unwired`] under the name of the adapter configured for them.
pub async fn ports_for(env: &dyn Env, dir: &Path, uses: Uses) -> Result<Ports, ConfigError> {
    let (model, embedder): ModelPair = if uses.chat_model || uses.embedder {
        let (model, embedder) = models(env).await?;
        // Both derive from one setting; a difference is a bug in an adapter.
        let dimension = embedding_dimension(env)?;
        if dimension != embedder.dimension() {
            return Err(config_error(
                "PETRAF_EMBEDDING_DIMENSION",
                format!(
                    "is {dimension} but the {} embedder gives {} dimensions",
                    embedder.name(),
                    embedder.dimension()
                ),
            ));
        }
        (model, embedder)
    } else {
        let provider = choice(
            env,
            "PETRAF_MODEL_PROVIDER",
            &["offline", "openai", "bedrock"],
        )?;
        (
            Arc::new(Unwired::named(provider)),
            Arc::new(Unwired::named(provider)),
        )
    };
    let vectors: Arc<dyn VectorStore> = if uses.vectors {
        vector_store(env, dir).await?
    } else {
        Arc::new(Unwired::named(choice(
            env,
            "PETRAF_VECTOR_STORE",
            &["embedded", "pgvector"],
        )?))
    };
    let objects: Arc<dyn ObjectStore> = if uses.objects {
        object_store(env, dir).await?
    } else {
        Arc::new(Unwired::named(
            if env.get("PETRAF_DOCUMENT_BUCKET").is_some() {
                "s3"
            } else {
                "local-files"
            },
        ))
    };
    Ok(Ports {
        store: state_store(env, dir).await?,
        vectors,
        objects,
        model: if uses.chat_model {
            model
        } else {
            Arc::new(Unwired::named(model.provider()))
        },
        embedder: if uses.embedder {
            embedder
        } else {
            Arc::new(Unwired::named(embedder.name()))
        },
    })
}

pub fn services(ports: Ports, secrets: Secrets, clock: Arc<dyn Clock>) -> App {
    services_with(ports, secrets, clock, Settings::default())
}

pub fn services_with(
    ports: Ports,
    secrets: Secrets,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> App {
    Arc::new(Services {
        store: ports.store,
        vectors: ports.vectors,
        objects: ports.objects,
        model: ports.model,
        embedder: ports.embedder,
        clock,
        secrets,
        settings,
        cors_cache: Default::default(),
        turns: Default::default(),
    })
}

/// An integer within `range`, if set.
pub fn bounded(
    env: &dyn Env,
    variable: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = env.get(variable) else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(config_error(
            variable,
            format!(
                "'{value}' is not a whole number within {}-{}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// `PETRAF_TURN_LEASE_SECONDS` (default 20, 2-300): how long a session
/// stays locked after the process running its turn died.
/// `PETRAF_TRUSTED_PROXIES` (default 0): how many proxies in front append
/// to `X-Forwarded-For`. `PETRAF_ALLOWED_ORIGINS`: see [`allowed_origins`].
pub fn settings(env: &dyn Env) -> Result<Settings, ConfigError> {
    let mut settings = Settings::default();
    if let Some(seconds) = bounded(env, "PETRAF_TURN_LEASE_SECONDS", 2..=300)? {
        settings = settings.with_turn_lease(std::time::Duration::from_secs(seconds));
    }
    if let Some(proxies) = bounded(env, "PETRAF_TRUSTED_PROXIES", 0..=10)? {
        settings.trusted_proxies = proxies as usize;
    }
    settings.allowed_origins = allowed_origins(env)?;
    Ok(settings)
}

/// Embedded stores under `dir` with the configured model provider: what
/// `petraf eval` runs on when it is not pointed at a deployed tenant.
#[cfg(feature = "sqlite")]
pub async fn scratch_app(env: &dyn Env, dir: &Path) -> Result<App, ConfigError> {
    let (model, embedder) = models(env).await?;
    let mut ports = embedded_ports(dir)?;
    ports.model = model;
    ports.embedder = embedder;
    let secrets = secrets(env, dir)?;
    Ok(services(ports, secrets, Arc::new(SystemClock)))
}

/// The application as the environment configures it, every port wired.
pub async fn from_env(env: &dyn Env) -> Result<App, ConfigError> {
    from_env_for(env, Uses::EVERYTHING).await
}

/// The application with only the ports and secrets a process `uses` (each
/// Lambda function names its own).
pub async fn from_env_for(env: &dyn Env, uses: Uses) -> Result<App, ConfigError> {
    let dir = data_dir(env);
    let settings = settings(env)?;
    // Concurrently: in Lambda both wait on the network (Secrets Manager,
    // the database), and init is a cold start the user waits through.
    let (ports, secrets) = tokio::try_join!(
        ports_for(env, &dir, uses),
        deployed_secrets(env, &dir, uses)
    )?;
    Ok(services_with(
        ports,
        secrets,
        Arc::new(SystemClock),
        settings,
    ))
}

/// `PETRAF_ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]` origins
/// CORS allows besides the tenants' own domains.
fn allowed_origins(env: &dyn Env) -> Result<Vec<String>, ConfigError> {
    let Some(list) = env.get("PETRAF_ALLOWED_ORIGINS") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let origin = origin.trim_end_matches('/');
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if host.is_some_and(|h| !h.is_empty() && !h.contains(['/', ' '])) {
                Ok(origin.to_string())
            } else {
                Err(config_error(
                    "PETRAF_ALLOWED_ORIGINS",
                    format!("'{origin}' is not an origin like https://app.example.com"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[tokio::test]
    async fn no_configuration_means_every_port_embedded_and_a_kept_secret() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("PETRAF_DATA_DIR", dir.path().to_str().unwrap())]);
        let app = from_env(&e).await.unwrap();
        assert_eq!(app.store.name(), "embedded-sqlite");
        assert_eq!(app.model.provider(), "offline");
        let secret = std::fs::read_to_string(dir.path().join("jwt-secret")).unwrap();
        let again = jwt_secret(&e, dir.path()).unwrap();
        assert_eq!(
            secret.as_bytes(),
            again.as_slice(),
            "the generated secret survives restarts"
        );
    }

    #[cfg(unix)]
    #[test]
    fn the_data_directory_is_made_private_and_nothing_else_is_touched() {
        use std::os::unix::fs::PermissionsExt;
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("data");
        std::fs::create_dir_all(dir.join("objects/t1")).unwrap();
        for file in ["state.db", "objects/t1/doc.md", "notes.txt"] {
            std::fs::write(dir.join(file), "x").unwrap();
            std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644))
                .unwrap();
        }
        keep_private(&dir).unwrap();
        let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(""), 0o700);
        assert_eq!(mode("objects/t1"), 0o700);
        assert_eq!(mode("state.db"), 0o600);
        assert_eq!(mode("objects/t1/doc.md"), 0o600);
        assert_eq!(mode("notes.txt"), 0o644, "not ours: left alone");
    }

    #[tokio::test]
    async fn misconfigurations_name_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let cases = [
            (
                env(&[("PETRAF_DATA_DIR", d), ("PETRAF_STATE_STORE", "mongo")]),
                "PETRAF_STATE_STORE",
            ),
            (
                env(&[("PETRAF_DATA_DIR", d), ("PETRAF_MODEL_PROVIDER", "hal9000")]),
                "PETRAF_MODEL_PROVIDER",
            ),
            (
                env(&[("PETRAF_DATA_DIR", d), ("PETRAF_JWT_SECRET", "short")]),
                "PETRAF_JWT_SECRET",
            ),
            (
                env(&[
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_PLATFORM_ADMIN_KEY", "short"),
                ]),
                "PETRAF_PLATFORM_ADMIN_KEY",
            ),
            (
                env(&[("PETRAF_DATA_DIR", d), ("PETRAF_TURN_LEASE_SECONDS", "0")]),
                "PETRAF_TURN_LEASE_SECONDS",
            ),
            // Fault injection never wraps a real model.
            (
                env(&[
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_MODEL_PROVIDER", "openai"),
                    ("OPENAI_API_KEY", "sk-test"),
                    ("PETRAF_TEST_PANIC_PHRASE", "PANIC-NOW"),
                ]),
                "PETRAF_TEST_PANIC_PHRASE",
            ),
        ];
        for (e, variable) in cases {
            match from_env(&e).await {
                Err(err) => assert_eq!(err.variable, variable),
                Ok(_) => panic!("{variable} should have been refused"),
            }
        }
    }
}

#[cfg(test)]
mod deployment_tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef-jwt";

    #[tokio::test]
    async fn inside_lambda_a_missing_setting_is_named_instead_of_falling_back() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let lambda = ("AWS_LAMBDA_FUNCTION_NAME", "petraf-session");
        let cases = [
            (
                env(&[lambda, ("PETRAF_DATA_DIR", d)]),
                Uses::GOALS,
                "PETRAF_STATE_STORE",
            ),
            (
                env(&[
                    lambda,
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_STATE_STORE", "embedded"),
                ]),
                Uses::GOALS,
                "PETRAF_JWT_SECRET_ARN",
            ),
            (
                env(&[
                    lambda,
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_STATE_STORE", "embedded"),
                    ("PETRAF_JWT_SECRET", SECRET),
                ]),
                Uses::SESSIONS,
                "PETRAF_MODEL_PROVIDER",
            ),
            (
                env(&[
                    lambda,
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_STATE_STORE", "embedded"),
                    ("PETRAF_JWT_SECRET", SECRET),
                ]),
                Uses::CHAT,
                "PETRAF_MODEL_PROVIDER",
            ),
            (
                env(&[
                    lambda,
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_STATE_STORE", "embedded"),
                    ("PETRAF_MODEL_PROVIDER", "offline"),
                    ("PETRAF_JWT_SECRET", SECRET),
                ]),
                Uses::CHAT,
                "PETRAF_VECTOR_STORE",
            ),
            (
                env(&[
                    lambda,
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_STATE_STORE", "embedded"),
                    ("PETRAF_VECTOR_STORE", "embedded"),
                    ("PETRAF_MODEL_PROVIDER", "offline"),
                ]),
                Uses::DROP_FOLDER,
                "PETRAF_DOCUMENT_BUCKET",
            ),
            (
                env(&[
                    ("PETRAF_DATA_DIR", d),
                    ("PETRAF_JWT_SECRET", SECRET),
                    (
                        "PETRAF_JWT_SECRET_ARN",
                        "arn:aws:secretsmanager:us-east-1:1:secret:j",
                    ),
                ]),
                Uses::SESSIONS,
                "PETRAF_JWT_SECRET",
            ),
        ];
        for (e, uses, variable) in cases {
            match from_env_for(&e, uses).await {
                Err(err) => assert_eq!(err.variable, variable, "{e:?}"),
                Ok(_) => panic!("{variable} should have been required: {e:?}"),
            }
        }
    }

    #[tokio::test]
    async fn the_session_function_embeds_what_a_saved_profile_needs() {
        // PUT /api/session/{id}/info embeds each phase's first retrieval
        // query; with an unwired embedder it would quietly skip them.
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "petraf-session"),
            ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
            ("PETRAF_STATE_STORE", "embedded"),
            ("PETRAF_MODEL_PROVIDER", "offline"),
            ("PETRAF_JWT_SECRET", SECRET),
        ]);
        let app = from_env_for(&e, Uses::SESSIONS).await.unwrap();
        assert!(
            app.embedder
                .embed(&["Software Engineer".into()])
                .await
                .is_ok()
        );
        assert!(
            app.vectors.search("t", &[], &[1.0], 3).await.is_err(),
            "and no vector store: it embeds, it does not search"
        );
    }

    #[tokio::test]
    async fn a_function_wires_only_what_it_uses_and_names_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "petraf-goals"),
            ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
            ("PETRAF_STATE_STORE", "embedded"),
            ("PETRAF_VECTOR_STORE", "pgvector"),
            ("PETRAF_MODEL_PROVIDER", "bedrock"),
            ("PETRAF_DOCUMENT_BUCKET", "documents"),
            ("PETRAF_JWT_SECRET", SECRET),
        ]);
        let app = from_env_for(&e, Uses::GOALS).await.unwrap();
        assert_eq!(app.store.name(), "embedded-sqlite");
        assert_eq!(app.vectors.name(), "pgvector");
        assert_eq!(app.objects.name(), "s3");
        assert_eq!(app.model.provider(), "bedrock");
        assert!(app.embedder.embed(&["x".into()]).await.is_err());
        assert!(
            app.secrets.platform_admin_key_hash.is_none(),
            "only the admin function holds the platform key"
        );
    }

    #[test]
    fn one_embedding_dimension_is_derived_for_every_part() {
        let dim = |pairs: &[(&'static str, &str)]| embedding_dimension(&env(pairs));
        assert_eq!(dim(&[]).unwrap(), HashingEmbedder::DEFAULT_DIMENSION);
        assert_eq!(
            dim(&[("PETRAF_EMBEDDING_DIMENSION", "1024")]).unwrap(),
            1024
        );
        assert_eq!(dim(&[("PETRAF_MODEL_PROVIDER", "bedrock")]).unwrap(), 1024);
        assert_eq!(
            dim(&[
                ("PETRAF_MODEL_PROVIDER", "bedrock"),
                ("PETRAF_EMBEDDING_DIMENSION", "512")
            ])
            .unwrap(),
            512
        );
        assert_eq!(dim(&[("PETRAF_MODEL_PROVIDER", "openai")]).unwrap(), 1536);
        assert_eq!(
            dim(&[
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_EMBEDDING_DIMENSION", "1024")
            ])
            .unwrap(),
            1024
        );
        let refused = [
            vec![
                ("PETRAF_MODEL_PROVIDER", "bedrock"),
                ("PETRAF_EMBEDDING_DIMENSION", "1536"),
            ],
            vec![
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_OPENAI_EMBED_MODEL", "nomic-embed-text"),
            ],
            vec![
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_OPENAI_EMBED_DIMENSIONS", "256"),
                ("PETRAF_EMBEDDING_DIMENSION", "512"),
            ],
            vec![("PETRAF_EMBEDDING_DIMENSION", "many")],
        ];
        for pairs in refused {
            let err = dim(&pairs).expect_err("refused");
            assert_eq!(err.variable, "PETRAF_EMBEDDING_DIMENSION", "{pairs:?}");
        }
    }

    #[tokio::test]
    async fn the_offline_embedder_takes_the_configured_dimension() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[
            ("PETRAF_DATA_DIR", dir.path().to_str().unwrap()),
            ("PETRAF_EMBEDDING_DIMENSION", "1024"),
        ]);
        let app = from_env(&e).await.unwrap();
        assert_eq!(app.embedder.dimension(), 1024);
        assert_eq!(
            app.embedder.embed(&["values".into()]).await.unwrap()[0].len(),
            1024
        );
    }
}

#[cfg(all(test, feature = "pgvector"))]
mod pgvector_config_tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    #[tokio::test]
    async fn pgvector_takes_a_database_url_or_the_data_api_arns() {
        let direct = pgvector_store(&env(&[(
            "DATABASE_URL",
            "postgres://petraf@127.0.0.1:5432/petraf",
        )]))
        .await
        .unwrap();
        assert_eq!(direct.dimension(), HashingEmbedder::DEFAULT_DIMENSION);
        let sized = pgvector_store(&env(&[
            ("DATABASE_URL", "postgres://petraf@127.0.0.1:5432/petraf"),
            ("PETRAF_EMBEDDING_DIMENSION", "1024"),
        ]))
        .await
        .unwrap();
        assert_eq!(sized.dimension(), 1024);
        // The client itself is not built here: loading the AWS configuration
        // outside AWS would probe the instance metadata endpoint.
        let target = data_api_target(&env(&[
            (
                "PETRAF_DB_CLUSTER_ARN",
                "arn:aws:rds:eu-west-1:123456789012:cluster:petraf",
            ),
            (
                "PETRAF_DB_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db",
            ),
        ]))
        .unwrap();
        assert_eq!(target.database, "postgres");
        assert_eq!(
            target.cluster_arn,
            "arn:aws:rds:eu-west-1:123456789012:cluster:petraf"
        );
    }

    #[tokio::test]
    async fn pgvector_misconfigurations_name_the_variable() {
        let cluster = ("PETRAF_DB_CLUSTER_ARN", "arn:aws:rds:eu-west-1:1:cluster:c");
        let cases = [
            (env(&[]), "DATABASE_URL"),
            (env(&[("DATABASE_URL", "mysql://nope")]), "DATABASE_URL"),
            (
                env(&[("DATABASE_URL", "postgres://h/db"), cluster]),
                "DATABASE_URL",
            ),
            (env(&[cluster]), "PETRAF_DB_SECRET_ARN"),
            (
                env(&[cluster, ("PETRAF_DB_SECRET_ARN", "my-secret")]),
                "PETRAF_DB_SECRET_ARN",
            ),
            (
                env(&[
                    ("PETRAF_DB_CLUSTER_ARN", "petraf"),
                    ("PETRAF_DB_SECRET_ARN", "arn:x"),
                ]),
                "PETRAF_DB_CLUSTER_ARN",
            ),
            (
                env(&[
                    ("DATABASE_URL", "postgres://h/db"),
                    ("PETRAF_EMBEDDING_DIMENSION", "big"),
                ]),
                "PETRAF_EMBEDDING_DIMENSION",
            ),
            (
                env(&[
                    ("DATABASE_URL", "postgres://h/db"),
                    ("PETRAF_EMBEDDING_DIMENSION", "3072"),
                ]),
                "PETRAF_EMBEDDING_DIMENSION",
            ),
        ];
        for (e, variable) in cases {
            match pgvector_store(&e).await {
                Err(err) => assert_eq!(err.variable, variable, "{e:?}"),
                Ok(_) => panic!("{variable} should have been refused: {e:?}"),
            }
        }
    }
}

#[cfg(all(test, feature = "pgvector"))]
mod dimension_tests {
    use std::collections::HashMap;

    use super::*;

    #[tokio::test]
    async fn the_vector_column_takes_the_embedders_dimension_on_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        for (requested, expected) in [(None, 384), (Some("1536"), 1536)] {
            let mut env: HashMap<&'static str, String> = [
                ("PETRAF_DATA_DIR", d.to_string()),
                ("PETRAF_VECTOR_STORE", "pgvector".to_string()),
                (
                    "DATABASE_URL",
                    "postgres://postgres@127.0.0.1:1/postgres".to_string(),
                ),
            ]
            .into_iter()
            .collect();
            if let Some(n) = requested {
                env.insert("PETRAF_EMBEDDING_DIMENSION", n.to_string());
            }
            let ports = ports(&env, dir.path()).await.expect("starts");
            assert_eq!(ports.embedder.dimension(), expected);
            assert_eq!(pgvector_store(&env).await.unwrap().dimension(), expected);
        }
    }
}
