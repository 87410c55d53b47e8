//! The pgvector store through the RDS Data API, as the Lambda functions
//! reach Aurora: the AWS SDK's own client over HTTP to the Data API
//! stand-in (scripts/standins/data_api.py), which runs the statements on
//! the PostgreSQL stand-in. Start both with
//! `eval "$(scripts/standins/data_api.sh start)"`.
//! Each test works in a database of its own, created and dropped through
//! the Data API.
#![cfg(feature = "pgvector")]

use std::io::{Read, Write};
use std::sync::Arc;

use aws_sdk_rdsdata::Client;
use aws_sdk_rdsdata::config::{Credentials, Region};
use chrono::Utc;
use petraf_core::adapters::embedded::SqliteStateStore;
use petraf_core::adapters::pgvector::{DataApiTarget, PgVectorStore};
use petraf_core::conformance;
use petraf_core::ports::state_store::StoreError;
use petraf_core::ports::vector_store::{ChunkRecord, VectorStore};
use serde_json::{Value, json};

/// Where the stand-in listens and the ARNs it accepts.
struct StandIn {
    url: String,
    cluster_arn: String,
    secret_arn: String,
}

/// The stand-in, or `None` (after saying so) when it is not running.
fn stand_in() -> Option<StandIn> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    match (
        var("PETRAF_TEST_DATA_API_URL"),
        var("PETRAF_TEST_DATA_API_CLUSTER_ARN"),
        var("PETRAF_TEST_DATA_API_SECRET_ARN"),
    ) {
        (Some(url), Some(cluster_arn), Some(secret_arn)) => Some(StandIn {
            url,
            cluster_arn,
            secret_arn,
        }),
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => panic!(
            "PETRAF_TEST_DATA_API_URL is unset but PETRAF_REQUIRE_STANDINS=1: \
             run eval \"$(scripts/standins/data_api.sh start)\" first"
        ),
        _ => {
            println!(
                "skipped: PETRAF_TEST_DATA_API_URL is unset (eval \"$(scripts/standins/data_api.sh start)\")"
            );
            None
        }
    }
}

/// A database of its own on the stand-in, and a client to reach it.
struct Database {
    stand_in: StandIn,
    client: Client,
    name: String,
}

impl Database {
    async fn create(stand_in: StandIn) -> Database {
        let sdk = petraf_core::adapters::tls::aws_config_loader()
            .region(Region::new("us-east-1"))
            .endpoint_url(&stand_in.url)
            .credentials_provider(Credentials::new("test", "test", None, None, "stand-in"))
            .load()
            .await;
        let client = Client::new(&sdk);
        let name = format!(
            "petraf_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        let database = Database {
            stand_in,
            client,
            name,
        };
        database
            .admin(&format!("CREATE DATABASE {}", database.name))
            .await;
        database
    }

    /// Runs `sql` outside any transaction, on the server's own database.
    async fn admin(&self, sql: &str) {
        self.client
            .execute_statement()
            .resource_arn(&self.stand_in.cluster_arn)
            .secret_arn(&self.stand_in.secret_arn)
            .database("postgres")
            .sql(sql)
            .send()
            .await
            .unwrap_or_else(|e| {
                panic!("{sql}: {}", aws_sdk_rdsdata::error::DisplayErrorContext(e))
            });
    }

    fn target(&self) -> DataApiTarget {
        DataApiTarget {
            cluster_arn: self.stand_in.cluster_arn.clone(),
            secret_arn: self.stand_in.secret_arn.clone(),
            database: self.name.clone(),
        }
    }

    fn store(&self, dimension: usize) -> PgVectorStore {
        PgVectorStore::data_api(self.client.clone(), self.target(), dimension)
    }

    /// Sends a control request to the stand-in (not part of the service).
    fn control(&self, method: &str, path: &str, body: &str) -> Value {
        let address = self.stand_in.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (_, payload) = answer.split_once("\r\n\r\n").expect("an HTTP answer");
        serde_json::from_str(payload).unwrap()
    }

    /// What the stand-in saw of this database: calls by operation,
    /// transactions committed, rolled back, aborted by an error, still open.
    fn stats(&self) -> Value {
        self.control(
            "GET",
            &format!("/_standin/stats?database={}", self.name),
            "",
        )
    }

    /// The next `calls` calls to this database are refused as an
    /// auto-paused cluster refuses them while it wakes.
    fn pause(&self, calls: u32) {
        let body = json!({"database": self.name, "calls": calls}).to_string();
        self.control("POST", "/_standin/resuming", &body);
    }

    async fn drop(self) {
        // The stand-in keeps idle connections to the database: FORCE ends them.
        self.admin(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .await;
    }
}

fn count(stats: &Value, key: &str) -> i64 {
    stats.get(key).and_then(Value::as_i64).unwrap_or(0)
}

fn chunk(document: &str, index: u32, content: String, embedding: Vec<f32>) -> ChunkRecord {
    ChunkRecord {
        id: format!("{document}-{index:05}"),
        tenant_id: "t".into(),
        document_id: document.into(),
        chunk_index: index,
        category: "values".into(),
        content,
        metadata: json!({"title": document}),
        embedding,
        created_at: Utc::now(),
    }
}

fn unit(dimension: usize, axis: usize) -> Vec<f32> {
    let mut v = vec![0.0; dimension];
    v[axis % dimension] = 1.0;
    v
}

#[tokio::test]
async fn the_data_api_transport_keeps_every_vector_store_promise() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let store = database.store(16);
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is harmless");
    conformance::vector_store(Arc::new(store), 16).await;
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteStateStore::open(&dir.path().join("state.db")).unwrap();
    conformance::document_commits(Arc::new(database.store(16)), Arc::new(state), 16).await;

    let stats = database.stats();
    assert!(count(&stats, "BatchExecuteStatement") > 0, "{stats}");
    assert!(count(&stats, "committed") > 0, "{stats}");
    assert_eq!(count(&stats, "openTransactions"), 0, "{stats}");
    database.drop().await;
}

#[tokio::test]
async fn migrating_over_the_data_api_refuses_a_table_of_another_dimension() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    database.store(16).migrate().await.unwrap();
    match database.store(32).migrate().await {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("vector(16)"), "{message}")
        }
        other => panic!("expected a dimension conflict, got {other:?}"),
    }
    database.drop().await;
}

/// Document b's second chunk reuses a's chunk id: the insert fails after
/// b's delete and first insert ran. The service ends the transaction on the
/// error; nothing of it stays, and no transaction is left open.
#[tokio::test]
async fn a_failed_upsert_rolls_back_the_whole_transaction() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let store = database.store(4);
    store.migrate().await.unwrap();
    let a = chunk("a", 0, "a chunk 0".into(), unit(4, 0));
    store.upsert_document("t", "a", vec![a]).await.unwrap();
    store
        .upsert_document(
            "t",
            "b",
            vec![chunk("b", 0, "b chunk 0".into(), unit(4, 1))],
        )
        .await
        .unwrap();
    let before = database.stats();

    let mut clash = chunk("b", 2, "b chunk 2".into(), unit(4, 2));
    clash.id = "a-00000".into();
    let fresh = chunk("b", 1, "b chunk 1".into(), unit(4, 3));
    let result = store.upsert_document("t", "b", vec![fresh, clash]).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

    let mut ids: Vec<String> = store
        .search("t", &[], &unit(4, 0), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|found| found.chunk.id)
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["a-00000", "b-00000"], "b's old chunk is back");
    let after = database.stats();
    assert_eq!(
        count(&after, "abortedByError") - count(&before, "abortedByError"),
        1,
        "{after}"
    );
    assert_eq!(count(&after, "openTransactions"), 0, "{after}");
    database.drop().await;
}

/// An auto-paused cluster refuses calls while it wakes; the store waits.
#[tokio::test]
async fn a_cluster_resuming_from_pause_is_waited_for() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let store = database.store(4);
    store.migrate().await.unwrap();

    // An upsert starts with BeginTransaction; a search too.
    database.pause(2);
    store
        .upsert_document(
            "t",
            "a",
            vec![chunk("a", 0, "a chunk 0".into(), unit(4, 0))],
        )
        .await
        .expect("the upsert waits for the cluster");
    assert_eq!(count(&database.stats(), "refusedWhileResuming"), 2);
    database.pause(1);
    let found = store.search("t", &[], &unit(4, 0), 3).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].chunk.id, "a-00000");
    let stats = database.stats();
    assert_eq!(count(&stats, "refusedWhileResuming"), 3, "{stats}");
    assert_eq!(count(&stats, "openTransactions"), 0, "{stats}");
    database.drop().await;
}

/// An answer over 1 MiB is refused by the service, not cut short: the store
/// says so rather than returning part of the top k.
#[tokio::test]
async fn an_answer_over_the_one_mib_cap_is_a_clear_error() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let store = database.store(4);
    store.migrate().await.unwrap();
    // 1,500 chunks of 800 characters: 1.2 MB of text.
    let chunks: Vec<ChunkRecord> = (0..1500)
        .map(|i| chunk("big", i, "x".repeat(800), unit(4, i as usize)))
        .collect();
    store.upsert_document("t", "big", chunks).await.unwrap();

    match store.search("t", &[], &unit(4, 0), 1500).await {
        Err(StoreError::Unavailable(message)) => {
            assert!(message.contains("1 MiB"), "{message}");
            assert!(message.contains("fewer"), "{message}");
        }
        other => panic!("expected the size cap, got {:?}", other.map(|f| f.len())),
    }
    let found = store.search("t", &[], &unit(4, 0), 100).await.unwrap();
    assert_eq!(found.len(), 100, "a smaller answer still comes back");
    assert_eq!(count(&database.stats(), "openTransactions"), 0);
    database.drop().await;
}

/// Full-size embeddings (1536 floats, about 15 KB as text) and full-size
/// chunks: the batched inserts stay under the service's 4 MiB request limit
/// and the values come back as they went in.
#[tokio::test]
async fn full_size_chunks_fit_the_request_limit_and_round_trip() {
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let dimension = petraf_core::adapters::pgvector::DEFAULT_DIMENSION;
    let store = database.store(dimension);
    store.migrate().await.unwrap();
    let content = "Ünïcödé \"quoted\" 'single' \\ back:slash :not_a_param ".repeat(15);
    let chunks: Vec<ChunkRecord> = (0..60)
        .map(|i| {
            let embedding = (0..dimension)
                .map(|d| ((i as usize * 31 + d * 7) % 97) as f32 / 97.0 - 0.5)
                .collect();
            chunk("full", i, format!("{i}: {content}"), embedding)
        })
        .collect();
    let query = chunks[7].embedding.clone();
    store.upsert_document("t", "full", chunks).await.unwrap();

    let found = store.search("t", &[], &query, 3).await.unwrap();
    assert_eq!(found[0].chunk.id, "full-00007");
    assert!(found[0].similarity > 0.999, "{}", found[0].similarity);
    assert_eq!(found[0].chunk.content, format!("7: {content}"));
    assert_eq!(found[0].chunk.metadata, json!({"title": "full"}));
    assert!(count(&database.stats(), "BatchExecuteStatement") >= 3);
    database.drop().await;
}

/// The stand-in answers in the service's encodings, as the SDK decodes
/// them: what the tests above rely on it for.
#[tokio::test]
async fn the_stand_in_answers_in_the_services_encodings() {
    use aws_sdk_rdsdata::types::{ArrayValue, Field, RecordsFormatType, SqlParameter, TypeHint};
    let Some(stand_in) = stand_in() else { return };
    let database = Database::create(stand_in).await;
    let param = |name: &str, value: Field| SqlParameter::builder().name(name).value(value).build();
    let execute = || {
        database
            .client
            .execute_statement()
            .resource_arn(&database.stand_in.cluster_arn)
            .secret_arn(&database.stand_in.secret_arn)
            .database(&database.name)
    };
    let answer = execute()
        .sql(
            "SELECT CAST(:n AS bigint) + 1 AS n, :text, CAST(:at AS timestamptz), \
             :nothing::text IS NULL, ARRAY[1, 2], CAST(NULL AS text), CAST(0.5 AS float8), :stamp",
        )
        .parameters(param("n", Field::LongValue(41)))
        .parameters(param("text", Field::StringValue("héllo 'x' :y".into())))
        .parameters(param(
            "at",
            Field::StringValue("2026-01-02T03:04:05+02:00".into()),
        ))
        .parameters(param("nothing", Field::IsNull(true)))
        .parameters(
            SqlParameter::builder()
                .name("stamp")
                .value(Field::StringValue("2026-01-02 03:04:05".into()))
                .type_hint(TypeHint::Timestamp)
                .build(),
        )
        .include_result_metadata(true)
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.records(),
        [vec![
            Field::LongValue(42),
            Field::StringValue("héllo 'x' :y".into()),
            // timestamptz: UTC, the offset dropped.
            Field::StringValue("2026-01-02 01:04:05".into()),
            Field::BooleanValue(true),
            Field::ArrayValue(ArrayValue::LongValues(vec![Some(1), Some(2)])),
            Field::IsNull(true),
            Field::DoubleValue(0.5),
            Field::StringValue("2026-01-02 03:04:05".into()),
        ]]
    );
    let types: Vec<&str> = answer
        .column_metadata()
        .iter()
        .map(|c| c.type_name().unwrap_or("?"))
        .collect();
    assert_eq!(
        types,
        [
            "int8",
            "varchar",
            "timestamptz",
            "bool",
            "_int4",
            "text",
            "float8",
            "timestamp"
        ]
    );
    assert_eq!(answer.column_metadata()[0].label(), Some("n"));

    let json = execute()
        .sql("SELECT 1 AS a, 'x' AS b, NULL AS c")
        .format_records_as(RecordsFormatType::Json)
        .send()
        .await
        .unwrap();
    assert!(json.records().is_empty());
    let formatted: Value = serde_json::from_str(json.formatted_records().unwrap()).unwrap();
    assert_eq!(formatted, json!([{"a": 1, "b": "x", "c": null}]));

    // A stringValue is a varchar: SQL that wants another type must cast.
    let error = execute()
        .sql("SELECT 1 + :n")
        .parameters(param("n", Field::StringValue("1".into())))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(error.is_database_error_exception(), "{error:?}");
    let message = error.meta().message().unwrap_or_default().to_string();
    assert!(message.ends_with("SQLState: 42883"), "{message}");
    database.drop().await;
}
