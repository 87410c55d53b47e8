//! The composition root: which adapter serves each port, and the secrets,
//! read from the environment once at start. With no configuration
//! everything is embedded under `PETRAF_DATA_DIR`; a misconfiguration fails
//! at start naming the variable.
//!
//! Each concern has its own file: `env` (the only reader of the
//! environment), one file per backend (`state`, `vectors`, `objects`,
//! `models`: parsed once into an enum, one match to build and one to name
//! it), `secrets`, `data_directory`, `aws`, `dimension`, `settings`,
//! `server` (the socket server's limits), `document_reader` (where
//! documents are parsed), `trust` (the roots of connections to AWS).

#[cfg(feature = "aws-sdk")]
mod aws;
mod data_directory;
mod dimension;
mod document_reader;
mod env;
mod error;
mod model_settings;
mod models;
mod objects;
#[cfg(any(feature = "openai", feature = "bedrock"))]
mod resilience;
mod secrets;
mod server;
mod settings;
mod state;
#[cfg(any(feature = "aws-sdk", feature = "staging-transfer"))]
mod trust;
mod vectors;

use std::path::Path;
use std::sync::Arc;

use crate::adapters::unwired::Unwired;
use crate::app::{App, Services, Settings};
use crate::ports::{Clock, ObjectStore, SystemClock, VectorStore};
use env::{Choice, choice, deployed_choice};

#[cfg(feature = "aws-sdk")]
pub use aws::aws_sdk_config;
pub use data_directory::{DEFAULT_DATA_DIR, data_dir, keep_private, scratch_data_dir};
pub use document_reader::{document_reader, worker_reader};
#[cfg(feature = "staging-transfer")]
pub use document_reader::{staged_transfer, staging_bucket};
#[cfg(any(test, feature = "conformance"))]
pub use env::test_env;
pub use env::{Env, ProcessEnv, bounded};
pub use error::ConfigError;
pub use models::{ModelProvider, embedding_dimension};
pub use objects::ObjectBackend;
#[cfg(feature = "s3")]
pub use objects::s3_object_store;
#[cfg(any(feature = "openai", feature = "bedrock"))]
pub use resilience::model_resilience;
pub use secrets::{deployed_secrets, secrets};
pub use server::{ServerLimits, server_limits};
pub use settings::{DEFAULT_ADDR, ServeSettings, serve_settings, settings};
pub use state::StateBackend;
pub use vectors::VectorBackend;
#[cfg(feature = "pgvector")]
pub use vectors::{PgVectorTarget, pgvector_store};

/// The ports chosen by the environment.
pub use crate::ports::Ports;

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

/// Embedded adapters under `dir`.
#[cfg(feature = "sqlite")]
pub fn embedded_ports(dir: &Path) -> Result<Ports, ConfigError> {
    let (model, embedder) = models::offline_models();
    Ok(Ports {
        store: Arc::new(state::embedded_state_store(dir)?),
        vectors: Arc::new(vectors::embedded_vector_store(dir)?),
        objects: Arc::new(objects::local_object_store(dir)),
        model,
        embedder,
    })
}

/// Every port as the environment configures it (`petraf serve`, `migrate`).
pub async fn ports(env: &dyn Env, dir: &Path) -> Result<Ports, ConfigError> {
    ports_for(env, dir, Uses::EVERYTHING).await
}

/// The ports a process `uses`, as the environment configures them; the
/// others are [`Unwired`] under the name of the adapter configured for them.
pub async fn ports_for(env: &dyn Env, dir: &Path, uses: Uses) -> Result<Ports, ConfigError> {
    let (model, embedder): models::ModelPair = if uses.chat_model || uses.embedder {
        let (model, embedder) = deployed_choice::<ModelProvider>(env)?.build(env).await?;
        // Both derive from one setting; a difference is a bug in an adapter.
        let dimension = embedding_dimension(env)?;
        if dimension != embedder.dimension() {
            return Err(error::config_error(
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
        let provider = choice::<ModelProvider>(env)?.name();
        (
            Arc::new(Unwired::named(provider)),
            Arc::new(Unwired::named(provider)),
        )
    };
    let vectors: Arc<dyn VectorStore> = if uses.vectors {
        deployed_choice::<VectorBackend>(env)?
            .build(env, dir)
            .await?
    } else {
        Arc::new(Unwired::named(choice::<VectorBackend>(env)?.name()))
    };
    let objects: Arc<dyn ObjectStore> = if uses.objects {
        ObjectBackend::deployed(env)?.build(env, dir).await?
    } else {
        Arc::new(Unwired::named(ObjectBackend::chosen(env).name()))
    };
    // Each model call and vector search an X-Ray subsegment (`telemetry::xray`).
    Ok(crate::adapters::traced::traced(Ports {
        store: deployed_choice::<StateBackend>(env)?
            .build(env, dir)
            .await?,
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
    }))
}

/// Creates what the configured stores need and says what it did, one line
/// per store: the DynamoDB table (with its index and TTL) when
/// `PETRAF_STATE_STORE=dynamodb`, the pgvector schema when
/// `PETRAF_VECTOR_STORE=pgvector`. Safe to run again.
pub async fn migrate(env: &dyn Env) -> Result<Vec<String>, ConfigError> {
    let state = choice::<StateBackend>(env)?.migrate(env).await?;
    let vectors = choice::<VectorBackend>(env)?.migrate(env).await?;
    Ok(vec![state, vectors])
}

/// The application over `ports` with the default settings.
pub fn services(ports: Ports, secrets: crate::app::Secrets, clock: Arc<dyn Clock>) -> App {
    Arc::new(Services::new(ports, clock, secrets, Settings::default()))
}

/// Embedded stores under `dir` with the configured model provider: what
/// `petraf eval` runs on when it is not pointed at a deployed tenant.
#[cfg(feature = "sqlite")]
pub async fn scratch_app(env: &dyn Env, dir: &Path) -> Result<App, ConfigError> {
    let (model, embedder) = deployed_choice::<ModelProvider>(env)?.build(env).await?;
    let mut ports = embedded_ports(dir)?;
    ports.model = model;
    ports.embedder = embedder;
    let secrets = secrets(env, dir)?;
    let settings = Settings {
        extract_worker: settings::extract_worker(env),
        ..Settings::default()
    };
    Ok(Arc::new(Services::new(
        ports,
        Arc::new(SystemClock),
        secrets,
        settings,
    )))
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
    // Concurrently, the secrets polled first: their requests go out before
    // the ports' clients are built (CPU work on this task), so Secrets
    // Manager answers while they are. Init is a cold start the user waits
    // through. A misconfigured port is still named before a secret.
    let (secrets, ports) = tokio::join!(
        deployed_secrets(env, &dir, uses),
        ports_for(env, &dir, uses)
    );
    let (ports, secrets) = (ports?, secrets?);
    let mut services = Services::new(ports, Arc::new(SystemClock), secrets, settings);
    if uses.objects {
        services.reader = document_reader(env, &services.objects).await?;
    }
    Ok(Arc::new(services))
}

#[cfg(test)]
mod tests;
