//! Wiring from the environment: which adapter serves each port, and the
//! secrets. With no configuration everything is embedded under
//! `PETRAF_DATA_DIR`; a misconfiguration fails at start naming the variable.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::RngCore;

use crate::adapters::embedded::{
    HashingEmbedder, LocalObjectStore, MemoryVectorStore, OfflineModel, SqliteStateStore,
};
use crate::app::{App, Secrets, Services, Settings};
use crate::domain::privacy::keyed_hash;
use crate::domain::resume_token::{TokenSigner, hash_token};
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

fn not_in_this_build(variable: &'static str, value: &str) -> ConfigError {
    config_error(
        variable,
        format!("the '{value}' adapter is not part of this build yet; use the embedded default"),
    )
}

/// The JWT secret: `PETRAF_JWT_SECRET`, else one generated once and kept
/// in the data directory (mode 0600).
fn jwt_secret(env: &dyn Env, dir: &Path) -> Result<Vec<u8>, ConfigError> {
    if let Some(secret) = env.get("PETRAF_JWT_SECRET") {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(config_error(
                "PETRAF_JWT_SECRET",
                format!("must be at least {MIN_SECRET_BYTES} bytes"),
            ));
        }
        return Ok(secret.into_bytes());
    }
    let path = dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= MIN_SECRET_BYTES
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(dir).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    write_private(&path, &secret).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    Ok(secret.into_bytes())
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

pub fn secrets(env: &dyn Env, dir: &Path) -> Result<Secrets, ConfigError> {
    let secret = jwt_secret(env, dir)?;
    let platform_admin_key_hash = match env.get("PETRAF_PLATFORM_ADMIN_KEY") {
        Some(key) if key.trim().len() < MIN_PLATFORM_KEY_CHARS => {
            return Err(config_error(
                "PETRAF_PLATFORM_ADMIN_KEY",
                format!("must be at least {MIN_PLATFORM_KEY_CHARS} characters"),
            ));
        }
        Some(key) => Some(hash_token(key.trim())),
        None => None,
    };
    Ok(Secrets {
        signer: TokenSigner::new(&secret),
        hash_key: keyed_hash(&secret, "petraf origin hashes").into_bytes(),
        platform_admin_key_hash,
    })
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
pub fn embedded_ports(dir: &Path) -> Result<Ports, ConfigError> {
    Ok(Ports {
        store: Arc::new(embedded_state_store(dir)?),
        vectors: Arc::new(embedded_vector_store(dir)?),
        objects: Arc::new(LocalObjectStore::new(dir.join("objects"))),
        model: Arc::new(OfflineModel),
        embedder: Arc::new(HashingEmbedder::new(HashingEmbedder::DEFAULT_DIMENSION)),
    })
}

fn embedded_state_store(dir: &Path) -> Result<SqliteStateStore, ConfigError> {
    SqliteStateStore::open(&dir.join("state.db"))
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))
}

fn embedded_vector_store(dir: &Path) -> Result<MemoryVectorStore, ConfigError> {
    MemoryVectorStore::persistent(dir.join("vectors.jsonl"))
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))
}

/// `PETRAF_STATE_STORE=embedded|dynamodb`.
async fn state_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn StateStore>, ConfigError> {
    match choice(env, "PETRAF_STATE_STORE", &["embedded", "dynamodb"])? {
        "embedded" => Ok(Arc::new(embedded_state_store(dir)?)),
        other => Err(not_in_this_build("PETRAF_STATE_STORE", other)),
    }
}

/// `PETRAF_VECTOR_STORE=embedded|pgvector`.
async fn vector_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn VectorStore>, ConfigError> {
    match choice(env, "PETRAF_VECTOR_STORE", &["embedded", "pgvector"])? {
        "embedded" => Ok(Arc::new(embedded_vector_store(dir)?)),
        other => Err(not_in_this_build("PETRAF_VECTOR_STORE", other)),
    }
}

/// `PETRAF_DOCUMENT_BUCKET` set means S3; otherwise files under the data directory.
async fn object_store(env: &dyn Env, dir: &Path) -> Result<Arc<dyn ObjectStore>, ConfigError> {
    match env.get("PETRAF_DOCUMENT_BUCKET") {
        None => Ok(Arc::new(LocalObjectStore::new(dir.join("objects")))),
        Some(_) => Err(not_in_this_build("PETRAF_DOCUMENT_BUCKET", "s3")),
    }
}

/// `PETRAF_MODEL_PROVIDER=offline|openai|bedrock`: the chat model and the embedder.
async fn models(env: &dyn Env) -> Result<(Arc<dyn ChatModel>, Arc<dyn Embedder>), ConfigError> {
    match choice(
        env,
        "PETRAF_MODEL_PROVIDER",
        &["offline", "openai", "bedrock"],
    )? {
        "offline" => Ok((
            Arc::new(OfflineModel),
            Arc::new(HashingEmbedder::new(HashingEmbedder::DEFAULT_DIMENSION)),
        )),
        other => Err(not_in_this_build("PETRAF_MODEL_PROVIDER", other)),
    }
}

pub async fn ports(env: &dyn Env, dir: &Path) -> Result<Ports, ConfigError> {
    let (model, embedder) = models(env).await?;
    Ok(Ports {
        store: state_store(env, dir).await?,
        vectors: vector_store(env, dir).await?,
        objects: object_store(env, dir).await?,
        model,
        embedder,
    })
}

pub fn services(ports: Ports, secrets: Secrets, clock: Arc<dyn Clock>) -> App {
    Arc::new(Services {
        store: ports.store,
        vectors: ports.vectors,
        objects: ports.objects,
        model: ports.model,
        embedder: ports.embedder,
        clock,
        secrets,
        settings: Settings::default(),
    })
}

/// The application as the environment configures it.
pub async fn from_env(env: &dyn Env) -> Result<App, ConfigError> {
    let dir = data_dir(env);
    let ports = ports(env, &dir).await?;
    let secrets = secrets(env, &dir)?;
    Ok(services(ports, secrets, Arc::new(SystemClock)))
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
        ];
        for (e, variable) in cases {
            match from_env(&e).await {
                Err(err) => assert_eq!(err.variable, variable),
                Ok(_) => panic!("{variable} should have been refused"),
            }
        }
    }
}
