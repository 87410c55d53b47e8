//! The vector store backend (`PETRAF_VECTOR_STORE=embedded|pgvector`, pgvector by URL or Data API): chosen once, then built, named and migrated.

use std::path::Path;
use std::sync::Arc;

use super::env::{Choice, Env};
#[cfg_attr(
    not(any(feature = "sqlite", feature = "pgvector")),
    allow(unused_imports)
)]
use super::error::{ConfigError, config_error, not_in_this_build};
use crate::ports::VectorStore;

/// Where the document chunks and their vectors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VectorBackend {
    /// In the embedded state's SQLite database.
    Embedded,
    /// PostgreSQL with pgvector, see [`PgVectorTarget`].
    PgVector,
}

impl Choice for VectorBackend {
    const VARIABLE: &'static str = "PETRAF_VECTOR_STORE";
    const ALL: &'static [Self] = &[VectorBackend::Embedded, VectorBackend::PgVector];

    fn name(self) -> &'static str {
        match self {
            VectorBackend::Embedded => "embedded",
            VectorBackend::PgVector => "pgvector",
        }
    }
}

impl VectorBackend {
    #[cfg_attr(
        not(all(feature = "sqlite", feature = "pgvector")),
        allow(unused_variables)
    )]
    pub async fn build(
        self,
        env: &dyn Env,
        dir: &Path,
    ) -> Result<Arc<dyn VectorStore>, ConfigError> {
        match self {
            #[cfg(feature = "sqlite")]
            VectorBackend::Embedded => Ok(Arc::new(embedded_vector_store(dir)?)),
            #[cfg(feature = "pgvector")]
            VectorBackend::PgVector => Ok(Arc::new(pgvector_store(env).await?)),
            #[allow(unreachable_patterns)]
            other => Err(not_in_this_build(Self::VARIABLE, other.name())),
        }
    }

    /// Creates the pgvector schema (extension, table, indexes) and says what
    /// it did. Safe to run again.
    #[cfg_attr(not(feature = "pgvector"), allow(unused_variables))]
    pub async fn migrate(self, env: &dyn Env) -> Result<String, ConfigError> {
        match self {
            VectorBackend::Embedded => {
                Ok("vector store: embedded, created on first write".to_string())
            }
            #[cfg(feature = "pgvector")]
            VectorBackend::PgVector => {
                use crate::ports::state_store::StoreError;
                let dimension = indexed_dimension(env)?;
                let target = PgVectorTarget::from_env(env)?;
                let connection = target.variable();
                let store = target.connect(env, dimension).await;
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
            #[allow(unreachable_patterns)]
            other => Err(not_in_this_build(Self::VARIABLE, other.name())),
        }
    }
}

/// The chunks live in the state's database, so that a document commits
/// in one transaction.
#[cfg(feature = "sqlite")]
pub(super) fn embedded_vector_store(
    dir: &Path,
) -> Result<crate::adapters::embedded::SqliteVectorStore, ConfigError> {
    use crate::ports::state_store::StoreError;
    let failed = |e: StoreError| config_error("PETRAF_DATA_DIR", e.to_string());
    super::data_directory::keep_private(dir)
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    let store = crate::adapters::embedded::SqliteVectorStore::open(&dir.join("state.db"))
        .map_err(failed)?;
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

/// The largest vector pgvector's HNSW index takes.
#[cfg(feature = "pgvector")]
const MAX_INDEXED_DIMENSION: usize = 2000;

/// The configured embedder's dimension, which sizes the vector column.
#[cfg(feature = "pgvector")]
fn indexed_dimension(env: &dyn Env) -> Result<usize, ConfigError> {
    let dimension = super::models::embedding_dimension(env)?;
    if dimension > MAX_INDEXED_DIMENSION {
        return Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!(
                "the embedder gives {dimension} dimensions; pgvector's HNSW index takes at most {MAX_INDEXED_DIMENSION}"
            ),
        ));
    }
    Ok(dimension)
}

/// How the pgvector store reaches PostgreSQL.
#[cfg(feature = "pgvector")]
pub enum PgVectorTarget {
    /// `DATABASE_URL`: a direct connection (boxed: the options are large and
    /// the value is built once at start).
    #[cfg(feature = "pgvector-direct")]
    Direct(Box<sqlx::postgres::PgConnectOptions>),
    /// `PETRAF_DB_CLUSTER_ARN` + `PETRAF_DB_SECRET_ARN` (+ `PETRAF_DB_NAME`,
    /// default `postgres`): the RDS Data API.
    DataApi(crate::adapters::pgvector::DataApiTarget),
}

/// Neither transport configured: what this build can take.
#[cfg(feature = "pgvector-direct")]
fn no_database() -> ConfigError {
    config_error(
        "DATABASE_URL",
        "PETRAF_VECTOR_STORE=pgvector needs DATABASE_URL, or PETRAF_DB_CLUSTER_ARN and PETRAF_DB_SECRET_ARN for the RDS Data API",
    )
}

#[cfg(all(feature = "pgvector", not(feature = "pgvector-direct")))]
fn no_database() -> ConfigError {
    config_error(
        "PETRAF_DB_CLUSTER_ARN",
        "PETRAF_VECTOR_STORE=pgvector needs PETRAF_DB_CLUSTER_ARN and PETRAF_DB_SECRET_ARN: \
         this build reaches PostgreSQL through the RDS Data API only",
    )
}

#[cfg(feature = "pgvector")]
impl PgVectorTarget {
    pub fn from_env(env: &dyn Env) -> Result<Self, ConfigError> {
        match (env.get("DATABASE_URL"), env.get("PETRAF_DB_CLUSTER_ARN")) {
            (Some(_), Some(_)) => Err(config_error(
                "DATABASE_URL",
                "set either DATABASE_URL or PETRAF_DB_CLUSTER_ARN, not both",
            )),
            #[cfg(feature = "pgvector-direct")]
            (Some(url), None) => crate::adapters::pgvector::parse_database_url(&url)
                .map(|options| PgVectorTarget::Direct(Box::new(options)))
                .map_err(|e| config_error("DATABASE_URL", e.to_string())),
            #[cfg(not(feature = "pgvector-direct"))]
            (Some(_), None) => Err(config_error(
                "DATABASE_URL",
                "this build reaches PostgreSQL through the RDS Data API only \
                 (PETRAF_DB_CLUSTER_ARN and PETRAF_DB_SECRET_ARN); a direct \
                 connection needs feature pgvector-direct (`petraf` built with \
                 --features production)",
            )),
            (None, Some(_)) => Ok(PgVectorTarget::DataApi(data_api_target(env)?)),
            (None, None) => Err(no_database()),
        }
    }

    /// The variable to blame when the database cannot be reached.
    fn variable(&self) -> &'static str {
        match self {
            #[cfg(feature = "pgvector-direct")]
            PgVectorTarget::Direct(_) => "DATABASE_URL",
            PgVectorTarget::DataApi(_) => "PETRAF_DB_CLUSTER_ARN",
        }
    }

    async fn connect(
        self,
        env: &dyn Env,
        dimension: usize,
    ) -> crate::adapters::pgvector::PgVectorStore {
        use crate::adapters::pgvector::PgVectorStore;
        match self {
            #[cfg(feature = "pgvector-direct")]
            PgVectorTarget::Direct(options) => PgVectorStore::connect_lazy(*options, dimension),
            PgVectorTarget::DataApi(target) => {
                let client = aws_sdk_rdsdata::Client::new(super::aws_sdk_config(env).await);
                PgVectorStore::data_api(client, target, dimension)
            }
        }
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

/// The pgvector store, its column sized for the configured embedder, on
/// the [`PgVectorTarget`] the environment gives.
#[cfg(feature = "pgvector")]
pub async fn pgvector_store(
    env: &dyn Env,
) -> Result<crate::adapters::pgvector::PgVectorStore, ConfigError> {
    let dimension = indexed_dimension(env)?;
    Ok(PgVectorTarget::from_env(env)?.connect(env, dimension).await)
}

#[cfg(all(test, feature = "pgvector-direct"))]
mod tests {
    use super::*;
    use crate::adapters::embedded::HashingEmbedder;
    use crate::config::env::test_env as env;

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
            (
                env(&[]),
                if cfg!(feature = "pgvector-direct") {
                    "DATABASE_URL"
                } else {
                    "PETRAF_DB_CLUSTER_ARN"
                },
            ),
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

    #[tokio::test]
    async fn the_vector_column_takes_the_embedders_dimension_on_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        for (requested, expected) in [(None, 384), (Some("1536"), 1536)] {
            let mut env = env(&[
                ("PETRAF_DATA_DIR", d),
                ("PETRAF_VECTOR_STORE", "pgvector"),
                ("DATABASE_URL", "postgres://postgres@127.0.0.1:1/postgres"),
            ]);
            if let Some(n) = requested {
                env.insert("PETRAF_EMBEDDING_DIMENSION", n.to_string());
            }
            let ports = crate::config::ports(&env, dir.path())
                .await
                .expect("starts");
            assert_eq!(ports.embedder.dimension(), expected);
            assert_eq!(pgvector_store(&env).await.unwrap().dimension(), expected);
        }
    }
}
