//! The RDS Data API transport: HTTPS calls instead of a connection, for
//! Lambdas outside the database's VPC. Vectors and arrays travel as text and
//! are cast in SQL; several statements run inside BeginTransaction …
//! CommitTransaction.

use async_trait::async_trait;
use aws_sdk_rdsdata::Client;
use aws_sdk_rdsdata::error::DisplayErrorContext;
use aws_sdk_rdsdata::types::{Field, SqlParameter};

use super::transport::{Cell, Param, Row, Statement, Transport};
use crate::ports::state_store::StoreError;
use crate::telemetry::metrics::{Metric, count};

/// Inserts per BatchExecuteStatement call: a 1536-dimension vector is about
/// 15 KB of text, so 25 rows keep a request well under the API's limits.
const BATCH_ROWS: usize = 25;

/// An auto-paused Aurora cluster answers DatabaseResumingException while it
/// wakes (about 15 s); the first call after a pause waits this long for it.
const RESUME_PATIENCE: std::time::Duration = std::time::Duration::from_secs(40);
const RESUME_POLL: std::time::Duration = std::time::Duration::from_secs(1);

fn is_resuming(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m.contains("DatabaseResumingException"))
}

/// Which database the Data API reaches, and with which credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataApiTarget {
    /// The Aurora cluster's ARN (`PETRAF_DB_CLUSTER_ARN`).
    pub cluster_arn: String,
    /// The Secrets Manager secret holding the database credentials (`PETRAF_DB_SECRET_ARN`).
    pub secret_arn: String,
    /// The database name (`PETRAF_DB_NAME`).
    pub database: String,
}

pub(crate) struct DataApiTransport {
    client: Client,
    target: DataApiTarget,
}

impl DataApiTransport {
    pub(crate) fn new(client: Client, target: DataApiTarget) -> Self {
        DataApiTransport { client, target }
    }
}

/// What the service answers when a result is over its 1 MiB cap
/// (UnsupportedResultException); it returns no part of it.
const OVER_SIZE_LIMIT: &str = "exceeds the size limit";

/// A unique violation (SQLSTATE 23505) is a conflict; anything else, the
/// store is unavailable.
fn store_error(e: impl std::error::Error) -> StoreError {
    let text = DisplayErrorContext(&e).to_string();
    if text.contains("23505") {
        StoreError::Conflict(text)
    } else if text.contains(OVER_SIZE_LIMIT) {
        StoreError::Unavailable(format!(
            "pgvector (Data API): the answer is over the Data API's 1 MiB limit; \
             ask for fewer results ({text})"
        ))
    } else {
        StoreError::Unavailable(format!("pgvector (Data API): {text}"))
    }
}

fn field(param: &Param) -> Field {
    match param {
        Param::Text(text) => Field::StringValue(text.clone()),
        Param::Int(n) => Field::LongValue(*n),
        other => Field::StringValue(other.to_sql_text()),
    }
}

fn parameters(statement: &Statement) -> Vec<SqlParameter> {
    statement
        .params
        .iter()
        .map(|(name, param)| {
            SqlParameter::builder()
                .name(*name)
                .value(field(param))
                .build()
        })
        .collect()
}

fn cell(field: &Field) -> Result<Cell, StoreError> {
    Ok(match field {
        Field::IsNull(_) => Cell::Null,
        Field::StringValue(text) => Cell::Text(text.clone()),
        Field::LongValue(n) => Cell::Int(*n),
        Field::DoubleValue(f) => Cell::Float(*f),
        other => {
            return Err(StoreError::Unavailable(format!(
                "pgvector (Data API): unexpected field {other:?}"
            )));
        }
    })
}

impl DataApiTransport {
    /// Runs one statement, inside `transaction_id` when given (else autocommit).
    async fn execute(
        &self,
        statement: &Statement,
        transaction_id: Option<&str>,
    ) -> Result<Vec<Row>, StoreError> {
        let output = self
            .client
            .execute_statement()
            .resource_arn(&self.target.cluster_arn)
            .secret_arn(&self.target.secret_arn)
            .database(&self.target.database)
            .sql(&statement.sql)
            .set_parameters(Some(parameters(statement)))
            .set_transaction_id(transaction_id.map(str::to_string))
            .send()
            .await
            .map_err(store_error)?;
        output
            .records()
            .iter()
            .map(|record| record.iter().map(cell).collect())
            .collect()
    }

    /// Runs statements that share one SQL text as BatchExecuteStatement calls.
    async fn execute_batch(
        &self,
        statements: &[Statement],
        transaction_id: &str,
    ) -> Result<(), StoreError> {
        for batch in statements.chunks(BATCH_ROWS) {
            self.client
                .batch_execute_statement()
                .resource_arn(&self.target.cluster_arn)
                .secret_arn(&self.target.secret_arn)
                .database(&self.target.database)
                .sql(&batch[0].sql)
                .set_parameter_sets(Some(batch.iter().map(parameters).collect()))
                .transaction_id(transaction_id)
                .send()
                .await
                .map_err(store_error)?;
        }
        Ok(())
    }

    /// Runs `statements` inside the transaction; returns the rows of the
    /// last one (a run of identical statements, sent as a batch, has none).
    async fn run_in(
        &self,
        statements: &[Statement],
        transaction_id: &str,
    ) -> Result<Vec<Row>, StoreError> {
        let mut rows = Vec::new();
        let mut rest = statements;
        while let Some(first) = rest.first() {
            // A run of the same statement (a document's inserts) goes in batches.
            let run = rest.iter().take_while(|s| s.sql == first.sql).count();
            rows = if run > 1 {
                self.execute_batch(&rest[..run], transaction_id).await?;
                Vec::new()
            } else {
                self.execute(first, Some(transaction_id)).await?
            };
            rest = &rest[run..];
        }
        Ok(rows)
    }
}

/// The Data API calls [`DataApiTransport`] makes for one transaction of
/// `statements` that succeeds at once: a lone statement is one
/// ExecuteStatement; more run between BeginTransaction and
/// CommitTransaction, a run of one SQL text as BatchExecuteStatement calls
/// of [`BATCH_ROWS`]. (The cost benchmark prices the direct transport's
/// work with it.)
#[cfg_attr(not(feature = "conformance"), allow(dead_code))]
pub(crate) fn calls_for(statements: &[Statement]) -> u64 {
    if statements.len() <= 1 {
        return statements.len() as u64;
    }
    let mut calls = 2;
    let mut rest = statements;
    while let Some(first) = rest.first() {
        let run = rest.iter().take_while(|s| s.sql == first.sql).count();
        calls += if run > 1 {
            run.div_ceil(BATCH_ROWS) as u64
        } else {
            1
        };
        rest = &rest[run..];
    }
    calls
}

#[async_trait]
impl Transport for DataApiTransport {
    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<Row>, StoreError> {
        let started = std::time::Instant::now();
        loop {
            match self.transaction_once(&statements).await {
                // Refused before anything ran: the cluster is waking up.
                Err(e) if is_resuming(&e) && started.elapsed() < RESUME_PATIENCE => {
                    tracing::info!("the vector database is resuming from auto-pause; waiting");
                    count(Metric::DataApiResumes, &[], 1);
                    tokio::time::sleep(RESUME_POLL).await;
                }
                other => return other,
            }
        }
    }
}

impl DataApiTransport {
    async fn transaction_once(&self, statements: &[Statement]) -> Result<Vec<Row>, StoreError> {
        if let [only] = statements {
            return self.execute(only, None).await;
        }
        let begun = self
            .client
            .begin_transaction()
            .resource_arn(&self.target.cluster_arn)
            .secret_arn(&self.target.secret_arn)
            .database(&self.target.database)
            .send()
            .await
            .map_err(store_error)?;
        let transaction_id = begun
            .transaction_id()
            .ok_or_else(|| {
                StoreError::Unavailable("pgvector (Data API): no transaction id".into())
            })?
            .to_string();
        let mut open = OpenTransaction::new(self, &transaction_id);
        let result = self.run_in(statements, &transaction_id).await;
        open.settle();
        match result {
            Ok(rows) => {
                self.client
                    .commit_transaction()
                    .resource_arn(&self.target.cluster_arn)
                    .secret_arn(&self.target.secret_arn)
                    .transaction_id(&transaction_id)
                    .send()
                    .await
                    .map_err(store_error)?;
                Ok(rows)
            }
            Err(e) => {
                // The original error matters more than a failed rollback;
                // an abandoned transaction also ends by itself after 3 minutes.
                let _ = rollback(&self.client, &self.target, &transaction_id).await;
                Err(e)
            }
        }
    }
}

async fn rollback(
    client: &Client,
    target: &DataApiTarget,
    transaction_id: &str,
) -> Result<(), StoreError> {
    client
        .rollback_transaction()
        .resource_arn(&target.cluster_arn)
        .secret_arn(&target.secret_arn)
        .transaction_id(transaction_id)
        .send()
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// A transaction whose statements are still running. If the caller's
/// future is dropped there (a timeout, a disconnect), the transaction is
/// rolled back in the background rather than holding its locks until the
/// Data API's 3-minute timeout.
struct OpenTransaction {
    client: Client,
    target: DataApiTarget,
    transaction_id: String,
    settled: bool,
}

impl OpenTransaction {
    fn new(transport: &DataApiTransport, transaction_id: &str) -> Self {
        OpenTransaction {
            client: transport.client.clone(),
            target: transport.target.clone(),
            transaction_id: transaction_id.to_string(),
            settled: false,
        }
    }

    /// The statements finished; commit or rollback is the caller's now.
    fn settle(&mut self) {
        self.settled = true;
    }
}

impl Drop for OpenTransaction {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, target, id) = (
                self.client.clone(),
                self.target.clone(),
                std::mem::take(&mut self.transaction_id),
            );
            runtime.spawn(async move {
                if let Err(e) = rollback(&client, &target, &id).await {
                    tracing::warn!(error = %e, "could not roll back an abandoned Data API transaction");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests;
