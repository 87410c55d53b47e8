//! Request-level tests: the SDK's mock interceptor answers each call in
//! order and the inputs are kept, so the SQL text, the parameters and
//! the transaction calls can be checked.

use std::sync::{Arc, Mutex};

use aws_sdk_rdsdata::operation::batch_execute_statement::{
    BatchExecuteStatementInput, BatchExecuteStatementOutput,
};
use aws_sdk_rdsdata::operation::begin_transaction::{
    BeginTransactionInput, BeginTransactionOutput,
};
use aws_sdk_rdsdata::operation::commit_transaction::{
    CommitTransactionInput, CommitTransactionOutput,
};
use aws_sdk_rdsdata::operation::execute_statement::{
    ExecuteStatementError, ExecuteStatementInput, ExecuteStatementOutput,
};
use aws_sdk_rdsdata::operation::rollback_transaction::{
    RollbackTransactionInput, RollbackTransactionOutput,
};
use aws_sdk_rdsdata::types::error::DatabaseErrorException;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use chrono::{TimeZone, Utc};
use serde_json::json;

use super::*;
use crate::adapters::pgvector::{PgVectorStore, sql};
use crate::ports::vector_store::{ChunkRecord, VectorStore};

const CLUSTER: &str = "arn:aws:rds:eu-west-1:123456789012:cluster:petraf";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:petraf-db";

fn target() -> DataApiTarget {
    DataApiTarget {
        cluster_arn: CLUSTER.into(),
        secret_arn: SECRET.into(),
        database: "petraf".into(),
    }
}

/// Every input the mock saw, in order.
#[derive(Default, Clone)]
struct Calls {
    begin: Arc<Mutex<Vec<BeginTransactionInput>>>,
    execute: Arc<Mutex<Vec<ExecuteStatementInput>>>,
    batch: Arc<Mutex<Vec<BatchExecuteStatementInput>>>,
    commit: Arc<Mutex<Vec<CommitTransactionInput>>>,
    rollback: Arc<Mutex<Vec<RollbackTransactionInput>>>,
}

impl Calls {
    fn begin(&self, id: &'static str) -> aws_smithy_mocks::Rule {
        let seen = self.begin.clone();
        mock!(Client::begin_transaction).then_compute_output(move |input| {
            seen.lock().unwrap().push(input.clone());
            BeginTransactionOutput::builder().transaction_id(id).build()
        })
    }

    fn execute(&self, records: Vec<Vec<Field>>) -> aws_smithy_mocks::Rule {
        let seen = self.execute.clone();
        mock!(Client::execute_statement).then_compute_output(move |input| {
            seen.lock().unwrap().push(input.clone());
            ExecuteStatementOutput::builder()
                .set_records(Some(records.clone()))
                .build()
        })
    }

    fn batch(&self) -> aws_smithy_mocks::Rule {
        let seen = self.batch.clone();
        mock!(Client::batch_execute_statement).then_compute_output(move |input| {
            seen.lock().unwrap().push(input.clone());
            BatchExecuteStatementOutput::builder().build()
        })
    }

    fn commit(&self) -> aws_smithy_mocks::Rule {
        let seen = self.commit.clone();
        mock!(Client::commit_transaction).then_compute_output(move |input| {
            seen.lock().unwrap().push(input.clone());
            CommitTransactionOutput::builder().build()
        })
    }

    fn rollback(&self) -> aws_smithy_mocks::Rule {
        let seen = self.rollback.clone();
        mock!(Client::rollback_transaction).then_compute_output(move |input| {
            seen.lock().unwrap().push(input.clone());
            RollbackTransactionOutput::builder().build()
        })
    }
}

fn store(rules: &[aws_smithy_mocks::Rule]) -> PgVectorStore {
    let client = mock_client!(aws_sdk_rdsdata, RuleMode::Sequential, rules);
    PgVectorStore::data_api(client, target(), 4)
}

fn params(parameters: &[SqlParameter]) -> Vec<(String, Field)> {
    parameters
        .iter()
        .map(|p| (p.name().unwrap().to_string(), p.value().unwrap().clone()))
        .collect()
}

fn text(value: &str) -> Field {
    Field::StringValue(value.into())
}

fn search_row(id: &str, similarity: f64) -> Vec<Field> {
    vec![
        text(id),
        text("tenant-a"),
        text("doc-1"),
        Field::LongValue(2),
        text("values"),
        text("Our values"),
        text(r#"{"title": "Handbook"}"#),
        Field::LongValue(1_767_225_600_123_456),
        Field::DoubleValue(similarity),
    ]
}

#[tokio::test]
async fn search_sets_the_scan_and_queries_in_one_transaction() {
    let calls = Calls::default();
    let rows = vec![
        search_row("doc-1-00002", 0.93),
        search_row("doc-1-00007", 0.5),
    ];
    let store = store(&[
        calls.begin("tx-search"),
        calls.execute(vec![]),
        calls.execute(rows),
        calls.commit(),
    ]);
    let categories = vec!["values".to_string(), "career_framework".to_string()];
    let found = store
        .search("tenant-a", &categories, &[0.5, -1.0, 0.0, 0.25], 3)
        .await
        .unwrap();

    let begin = calls.begin.lock().unwrap();
    assert_eq!(begin[0].resource_arn(), Some(CLUSTER));
    assert_eq!(begin[0].secret_arn(), Some(SECRET));
    assert_eq!(begin[0].database(), Some("petraf"));
    let execute = calls.execute.lock().unwrap();
    let sql: Vec<&str> = execute.iter().map(|e| e.sql().unwrap()).collect();
    assert_eq!(
        sql,
        vec![sql::ITERATIVE_SCAN, sql::search_sql(true).as_str()]
    );
    assert!(
        execute
            .iter()
            .all(|e| e.transaction_id() == Some("tx-search"))
    );
    assert!(execute.iter().all(|e| e.resource_arn() == Some(CLUSTER)));
    assert_eq!(
        params(execute[1].parameters()),
        vec![
            ("query".to_string(), text("[0.5,-1,0,0.25]")),
            ("tenant_id".to_string(), text("tenant-a")),
            (
                "categories".to_string(),
                text(r#"{"values","career_framework"}"#)
            ),
            ("k".to_string(), Field::LongValue(3)),
        ]
    );
    assert_eq!(
        calls.commit.lock().unwrap()[0].transaction_id(),
        Some("tx-search")
    );

    assert_eq!(found.len(), 2);
    let first = &found[0];
    assert_eq!(first.similarity, 0.93);
    assert_eq!(first.chunk.id, "doc-1-00002");
    assert_eq!(first.chunk.tenant_id, "tenant-a");
    assert_eq!(first.chunk.document_id, "doc-1");
    assert_eq!(first.chunk.chunk_index, 2);
    assert_eq!(first.chunk.category, "values");
    assert_eq!(first.chunk.content, "Our values");
    assert_eq!(first.chunk.metadata, json!({"title": "Handbook"}));
    assert!(first.chunk.embedding.is_empty(), "no vectors in the answer");
    assert_eq!(
        first.chunk.created_at,
        Utc.timestamp_micros(1_767_225_600_123_456).unwrap()
    );
    assert_eq!(found[1].chunk.id, "doc-1-00007");
}

#[tokio::test]
async fn search_in_every_category_sends_no_category_filter() {
    let calls = Calls::default();
    let store = store(&[
        calls.begin("tx"),
        calls.execute(vec![]),
        calls.execute(vec![]),
        calls.commit(),
    ]);
    let found = store
        .search("t", &[], &[1.0, 0.0, 0.0, 0.0], 5)
        .await
        .unwrap();
    assert!(found.is_empty());
    let execute = calls.execute.lock().unwrap();
    assert_eq!(execute[1].sql(), Some(sql::search_sql(false).as_str()));
    let names: Vec<String> = params(execute[1].parameters())
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(names, vec!["query", "tenant_id", "k"]);
}

fn chunk(index: u32) -> ChunkRecord {
    ChunkRecord {
        id: format!("doc-1-{index:05}"),
        tenant_id: "tenant-a".into(),
        document_id: "doc-1".into(),
        chunk_index: index,
        category: "values".into(),
        content: format!("chunk {index}"),
        metadata: json!({"title": "Handbook"}),
        embedding: vec![0.25, 0.5, -0.125, index as f32],
        created_at: Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap(),
    }
}

#[tokio::test]
async fn upsert_deletes_then_inserts_in_batches_in_one_transaction() {
    let calls = Calls::default();
    let store = store(&[
        calls.begin("tx-upsert"),
        calls.execute(vec![]),
        calls.batch(),
        calls.batch(),
        calls.commit(),
    ]);
    let chunks: Vec<ChunkRecord> = (0..30).map(chunk).collect();
    store
        .upsert_document("tenant-a", "doc-1", chunks)
        .await
        .unwrap();

    let execute = calls.execute.lock().unwrap();
    assert_eq!(execute[0].sql(), Some(sql::DELETE_DOCUMENT));
    assert_eq!(execute[0].transaction_id(), Some("tx-upsert"));
    assert_eq!(
        params(execute[0].parameters()),
        vec![
            ("tenant_id".to_string(), text("tenant-a")),
            ("document_id".to_string(), text("doc-1")),
        ]
    );
    let batch = calls.batch.lock().unwrap();
    assert_eq!(batch.len(), 2, "30 rows in batches of {BATCH_ROWS}");
    assert_eq!(batch[0].parameter_sets().len(), BATCH_ROWS);
    assert_eq!(batch[1].parameter_sets().len(), 30 - BATCH_ROWS);
    assert!(batch.iter().all(|b| b.sql() == Some(sql::INSERT_CHUNK)
        && b.transaction_id() == Some("tx-upsert")
        && b.database() == Some("petraf")));
    assert_eq!(
        params(&batch[0].parameter_sets()[1]),
        vec![
            ("tenant_id".to_string(), text("tenant-a")),
            ("id".to_string(), text("doc-1-00001")),
            ("document_id".to_string(), text("doc-1")),
            ("chunk_index".to_string(), Field::LongValue(1)),
            ("category".to_string(), text("values")),
            ("content".to_string(), text("chunk 1")),
            ("metadata".to_string(), text(r#"{"title":"Handbook"}"#)),
            ("embedding".to_string(), text("[0.25,0.5,-0.125,1]")),
            ("created_at".to_string(), text("2026-01-01T12:00:00+00:00")),
        ]
    );
    assert_eq!(
        calls.commit.lock().unwrap()[0].transaction_id(),
        Some("tx-upsert")
    );
}

#[tokio::test]
async fn a_failed_statement_rolls_back_and_a_duplicate_is_a_conflict() {
    let calls = Calls::default();
    let duplicate = mock!(Client::execute_statement).then_error(|| {
        ExecuteStatementError::DatabaseErrorException(
            DatabaseErrorException::builder()
                .message("ERROR: duplicate key value violates unique constraint \"rag_chunks_pkey\"; SQLState: 23505")
                .build(),
        )
    });
    let store = store(&[
        calls.begin("tx-failing"),
        calls.execute(vec![]),
        duplicate,
        calls.rollback(),
    ]);
    let result = store
        .upsert_document("tenant-a", "doc-1", vec![chunk(0)])
        .await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert_eq!(
        calls.rollback.lock().unwrap()[0].transaction_id(),
        Some("tx-failing")
    );
    assert!(calls.commit.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_abandoned_transaction_is_rolled_back_and_a_settled_one_is_not() {
    let calls = Calls::default();
    let client = mock_client!(aws_sdk_rdsdata, RuleMode::Sequential, &[calls.rollback()]);
    let transport = DataApiTransport {
        client,
        target: target(),
    };
    drop(OpenTransaction::new(&transport, "tx-abandoned"));
    let mut settled = OpenTransaction::new(&transport, "tx-settled");
    settled.settle();
    drop(settled);
    for _ in 0..100 {
        if !calls.rollback.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let rolled_back: Vec<Option<String>> = calls
        .rollback
        .lock()
        .unwrap()
        .iter()
        .map(|i| i.transaction_id().map(str::to_string))
        .collect();
    assert_eq!(rolled_back, vec![Some("tx-abandoned".to_string())]);
}

#[tokio::test]
async fn migrate_applies_the_schema_in_a_transaction_then_checks_it() {
    let calls = Calls::default();
    let mut rules = vec![calls.begin("tx-versions")];
    // Lock, create schema_migrations, read versions (none yet).
    rules.extend((0..3).map(|_| calls.execute(vec![])));
    rules.push(calls.commit());
    rules.push(calls.begin("tx-0001"));
    // Lock, 5 DDL statements, record the version.
    rules.extend((0..7).map(|_| calls.execute(vec![])));
    rules.push(calls.commit());
    rules.push(calls.execute(vec![vec![text("0.8.5")]]));
    rules.push(calls.execute(vec![vec![text("vector(4)")]]));
    store(&rules).migrate().await.unwrap();

    let execute = calls.execute.lock().unwrap();
    let sql: Vec<&str> = execute.iter().map(|e| e.sql().unwrap()).collect();
    assert!(sql[1].starts_with("CREATE TABLE IF NOT EXISTS schema_migrations"));
    assert_eq!(sql[3], sql[0], "each migration takes the advisory lock");
    assert_eq!(sql[4], "CREATE EXTENSION IF NOT EXISTS vector");
    assert!(sql[5].contains("embedding vector(4) NOT NULL"));
    assert!(sql[8].contains("USING hnsw (embedding vector_cosine_ops)"));
    assert_eq!(
        params(execute[9].parameters()),
        vec![("version".to_string(), text("0001_rag_chunks"))]
    );
    assert!(
        execute[..3]
            .iter()
            .all(|e| e.transaction_id() == Some("tx-versions"))
    );
    assert!(
        execute[3..10]
            .iter()
            .all(|e| e.transaction_id() == Some("tx-0001"))
    );
    assert!(execute[10..].iter().all(|e| e.transaction_id().is_none()));
    assert_eq!(calls.commit.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_resuming_cluster_is_waited_for() {
    let calls = Calls::default();
    let resuming = mock!(Client::execute_statement).then_error(|| {
        aws_sdk_rdsdata::operation::execute_statement::ExecuteStatementError::DatabaseResumingException(
            aws_sdk_rdsdata::types::error::DatabaseResumingException::builder()
                .message("The database is resuming")
                .build(),
        )
    });
    let store = store(&[resuming, calls.execute(vec![])]);
    store.delete_document("tenant-a", "doc-1").await.unwrap();
    assert_eq!(calls.execute.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_single_statement_runs_without_a_transaction() {
    let calls = Calls::default();
    let store = store(&[calls.execute(vec![])]);
    store.delete_document("tenant-a", "doc-1").await.unwrap();
    let execute = calls.execute.lock().unwrap();
    assert_eq!(execute[0].sql(), Some(sql::DELETE_DOCUMENT));
    assert_eq!(execute[0].transaction_id(), None);
    assert!(calls.begin.lock().unwrap().is_empty());
}

impl Calls {
    fn total(&self) -> u64 {
        (self.begin.lock().unwrap().len()
            + self.execute.lock().unwrap().len()
            + self.batch.lock().unwrap().len()
            + self.commit.lock().unwrap().len()
            + self.rollback.lock().unwrap().len()) as u64
    }
}

#[tokio::test]
async fn the_call_count_the_cost_benchmark_uses_is_what_the_transport_sends() {
    // An upsert of 30 chunks: begin, delete, two batches, commit.
    let calls = Calls::default();
    let store = store(&[
        calls.begin("tx"),
        calls.execute(vec![]),
        calls.batch(),
        calls.batch(),
        calls.commit(),
    ]);
    let chunks: Vec<ChunkRecord> = (0..30).map(chunk).collect();
    let mut work = vec![sql::delete_document("tenant-a", "doc-1")];
    work.extend(chunks.iter().cloned().map(sql::insert_chunk));
    store
        .upsert_document("tenant-a", "doc-1", chunks)
        .await
        .unwrap();
    assert_eq!(calls_for(&work), calls.total());
    assert_eq!(calls_for(&work), 5);

    // A search: begin, the scan setting, the query, commit.
    let search = sql::search("tenant-a", &[], &[0.5, 0.5, 0.5, 0.5], 3);
    assert_eq!(calls_for(&search), 4);
    // One chunk is a lone insert, not a batch; one statement needs no transaction.
    let one = vec![
        sql::delete_document("tenant-a", "doc-1"),
        sql::insert_chunk(chunk(0)),
    ];
    assert_eq!(calls_for(&one), 4);
    assert_eq!(calls_for(&one[..1]), 1);
    assert_eq!(calls_for(&[]), 0);
}
