//! The state store backend (`PETRAF_STATE_STORE=embedded|dynamodb`): chosen once, then built, named and migrated.

use std::path::Path;
use std::sync::Arc;

use super::env::{Choice, Env};
#[cfg(any(feature = "dynamodb", feature = "sqlite"))]
use super::error::config_error;
use super::error::{ConfigError, not_in_this_build};
use crate::ports::StateStore;

/// Where sessions, tenants and the audit live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateBackend {
    /// SQLite in the data directory.
    Embedded,
    /// One DynamoDB table (`PETRAF_TABLE_NAME`).
    DynamoDb,
}

impl Choice for StateBackend {
    const VARIABLE: &'static str = "PETRAF_STATE_STORE";
    const ALL: &'static [Self] = &[StateBackend::Embedded, StateBackend::DynamoDb];

    fn name(self) -> &'static str {
        match self {
            StateBackend::Embedded => "embedded",
            StateBackend::DynamoDb => "dynamodb",
        }
    }
}

impl StateBackend {
    #[cfg_attr(
        not(all(feature = "sqlite", feature = "dynamodb")),
        allow(unused_variables)
    )]
    pub async fn build(
        self,
        env: &dyn Env,
        dir: &Path,
    ) -> Result<Arc<dyn StateStore>, ConfigError> {
        match self {
            #[cfg(feature = "sqlite")]
            StateBackend::Embedded => Ok(Arc::new(embedded_state_store(dir)?)),
            #[cfg(feature = "dynamodb")]
            StateBackend::DynamoDb => Ok(Arc::new(dynamodb_state_store(env).await?)),
            #[allow(unreachable_patterns)]
            other => Err(not_in_this_build(Self::VARIABLE, other.name())),
        }
    }

    /// Creates what the store needs (the DynamoDB table with its index and
    /// TTL) and says what it did. Safe to run again.
    #[cfg_attr(not(feature = "dynamodb"), allow(unused_variables))]
    pub async fn migrate(self, env: &dyn Env) -> Result<String, ConfigError> {
        match self {
            StateBackend::Embedded => {
                Ok("state store: embedded SQLite, created on first open".to_string())
            }
            #[cfg(feature = "dynamodb")]
            StateBackend::DynamoDb => {
                use crate::adapters::dynamodb::{TableOutcome, create_table};
                let table = table_name(env)?;
                let client = aws_sdk_dynamodb::Client::new(super::aws_sdk_config(env).await);
                let outcome = create_table(&client, &table).await.map_err(|e| {
                    config_error("PETRAF_TABLE_NAME", format!("table {table}: {e}"))
                })?;
                Ok(match outcome {
                    TableOutcome::Created => format!("state store: created DynamoDB table {table}"),
                    TableOutcome::AlreadyExisted => {
                        format!("state store: DynamoDB table {table} already exists (TTL checked)")
                    }
                })
            }
            #[allow(unreachable_patterns)]
            other => Err(not_in_this_build(Self::VARIABLE, other.name())),
        }
    }
}

#[cfg(feature = "sqlite")]
pub(super) fn embedded_state_store(
    dir: &Path,
) -> Result<crate::adapters::embedded::SqliteStateStore, ConfigError> {
    super::data_directory::keep_private(dir)
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    crate::adapters::embedded::SqliteStateStore::open(&dir.join("state.db"))
        .map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))
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
    let client = aws_sdk_dynamodb::Client::new(super::aws_sdk_config(env).await);
    Ok(crate::adapters::dynamodb::DynamoStateStore::new(
        client, table,
    ))
}
