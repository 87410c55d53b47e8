//! The pgvector store on a real PostgreSQL + pgvector, through the direct
//! transport. Start one with `eval "$(scripts/standins/postgres.sh start)"`.
//! Each test works in a schema of its own, dropped at the end.
#![cfg(feature = "pgvector-direct")]

use std::sync::Arc;

use chrono::Utc;
use petraf_core::adapters::embedded::SqliteStateStore;
use petraf_core::adapters::pgvector::{PgVectorStore, parse_database_url};
use petraf_core::conformance;
use petraf_core::ports::state_store::StoreError;
use petraf_core::ports::vector_store::{ChunkRecord, VectorStore, cosine};
use rand::{Rng, SeedableRng, rngs::StdRng};
use serde_json::json;
use sqlx::postgres::{PgPool, PgPoolOptions};

/// The test database, or `None` (after saying so) when none is configured.
fn database_url() -> Option<String> {
    match std::env::var("PETRAF_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => panic!(
            "PETRAF_TEST_DATABASE_URL is unset but PETRAF_REQUIRE_STANDINS=1: \
             run eval \"$(scripts/standins/postgres.sh start)\" first"
        ),
        _ => {
            println!("skipped: PETRAF_TEST_DATABASE_URL is unset");
            None
        }
    }
}

/// A schema of its own, on the path before `public` (where `vector` lives).
struct Schema {
    admin: PgPool,
    name: String,
    pool: PgPool,
}

impl Schema {
    async fn create(url: &str) -> Schema {
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .unwrap();
        let name = format!(
            "petraf_test_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&admin)
            .await
            .unwrap();
        let options = parse_database_url(url)
            .unwrap()
            .options([("search_path", format!("{name},public"))]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        Schema { admin, name, pool }
    }

    /// A pool on this schema whose sessions also carry `settings`.
    async fn pool_with(&self, url: &str, settings: &[(&str, &str)]) -> PgPool {
        let mut options = vec![("search_path".to_string(), format!("{},public", self.name))];
        options.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        PgPoolOptions::new()
            .max_connections(1)
            .connect_with(parse_database_url(url).unwrap().options(options))
            .await
            .unwrap()
    }

    fn store(&self, dimension: usize) -> PgVectorStore {
        PgVectorStore::from_pool(self.pool.clone(), dimension)
    }

    async fn drop(self) {
        self.pool.close().await;
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name))
            .execute(&self.admin)
            .await
            .unwrap();
    }
}

fn chunk(
    tenant: &str,
    document: &str,
    index: u32,
    category: &str,
    embedding: Vec<f32>,
) -> ChunkRecord {
    ChunkRecord {
        id: format!("{document}-{index:05}"),
        tenant_id: tenant.into(),
        document_id: document.into(),
        chunk_index: index,
        category: category.into(),
        content: format!("{document} chunk {index}"),
        metadata: json!({"title": document}),
        embedding,
        created_at: Utc::now(),
    }
}

fn random_vector(rng: &mut StdRng, dimension: usize) -> Vec<f32> {
    (0..dimension).map(|_| rng.gen_range(-1.0..1.0)).collect()
}

#[tokio::test]
async fn the_direct_transport_keeps_every_vector_store_promise() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let store = schema.store(16);
    store.migrate().await.unwrap();
    store.migrate().await.expect("migrating twice is harmless");
    conformance::vector_store(Arc::new(store), 16).await;
    // Beside a state store it shares no transaction with: in sequence.
    let dir = tempfile::tempdir().unwrap();
    let state = SqliteStateStore::open(&dir.path().join("state.db")).unwrap();
    conformance::document_commits(Arc::new(schema.store(16)), Arc::new(state), 16).await;
    schema.drop().await;
}

#[tokio::test]
async fn migrating_refuses_a_table_of_another_dimension() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    schema.store(16).migrate().await.unwrap();
    match schema.store(32).migrate().await {
        Err(StoreError::Conflict(message)) => {
            assert!(message.contains("vector(16)"), "{message}")
        }
        other => panic!("expected a dimension conflict, got {other:?}"),
    }
    schema.drop().await;
}

#[tokio::test]
async fn an_upsert_is_all_or_nothing() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let store = schema.store(4);
    store.migrate().await.unwrap();
    let unit = vec![1.0, 0.0, 0.0, 0.0];
    store
        .upsert_document("t", "a", vec![chunk("t", "a", 0, "values", unit.clone())])
        .await
        .unwrap();

    let foreign = chunk("other", "a", 1, "values", unit.clone());
    assert!(matches!(
        store.upsert_document("t", "a", vec![foreign]).await,
        Err(StoreError::Conflict(_))
    ));
    let wrong_size = chunk("t", "a", 1, "values", vec![1.0, 0.0]);
    assert!(
        store
            .upsert_document("t", "a", vec![wrong_size])
            .await
            .is_err()
    );

    // Document b reuses a's chunk id: the insert fails after b's delete ran,
    // and the whole transaction rolls back.
    store
        .upsert_document("t", "b", vec![chunk("t", "b", 0, "values", unit.clone())])
        .await
        .unwrap();
    let mut clash = chunk("t", "b", 1, "values", unit.clone());
    clash.id = "a-00000".into();
    assert!(matches!(
        store
            .upsert_document(
                "t",
                "b",
                vec![chunk("t", "b", 2, "values", unit.clone()), clash]
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let ids: Vec<String> = store
        .search("t", &[], &unit, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.chunk.id)
        .collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&"a-00000".to_string()) && ids.contains(&"b-00000".to_string()));
    schema.drop().await;
}

/// How many scans the schema's HNSW index has served.
async fn hnsw_scans(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT idx_scan FROM pg_stat_user_indexes \
         WHERE schemaname = current_schema() AND indexrelname = 'rag_chunks_embedding_hnsw'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The tenant's exact top 3 `values` chunks for `query`.
fn exact_top_3(chunks: &[ChunkRecord], query: &[f32]) -> Vec<String> {
    let mut scored: Vec<(f32, &str)> = chunks
        .iter()
        .filter(|c| c.category == "values")
        .map(|c| (cosine(&c.embedding, query), c.id.as_str()))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    scored.iter().take(3).map(|s| s.1.to_string()).collect()
}

/// 5,000 rows; the searched tenant holds 20 of them (0.4 %). At this size
/// the planner picks the (tenant_id, category) B-tree and sorts: exact. Where
/// it picks the HNSW index instead (forced here by disabling sorts), a plain
/// scan looks at `ef_search` nearest rows of all tenants and filters nearly
/// all away; the store's iterative scan keeps going until it has k rows.
#[tokio::test]
async fn a_small_tenant_still_gets_its_full_top_k() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let dimension = 16;
    let store = schema.store(dimension);
    store.migrate().await.unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    for tenant in 0..20 {
        let tenant_id = format!("big-{tenant}");
        let chunks = (0..249)
            .map(|i| {
                chunk(
                    &tenant_id,
                    "doc",
                    i,
                    "values",
                    random_vector(&mut rng, dimension),
                )
            })
            .collect();
        store
            .upsert_document(&tenant_id, "doc", chunks)
            .await
            .unwrap();
    }
    let small: Vec<ChunkRecord> = (0..20)
        .map(|i| {
            let category = if i % 2 == 0 {
                "values"
            } else {
                "career_framework"
            };
            chunk(
                "small",
                "doc",
                i,
                category,
                random_vector(&mut rng, dimension),
            )
        })
        .collect();
    store
        .upsert_document("small", "doc", small.clone())
        .await
        .unwrap();
    sqlx::query("ANALYZE rag_chunks")
        .execute(&schema.pool)
        .await
        .unwrap();

    let hnsw_pool = schema
        .pool_with(
            &url,
            &[("enable_sort", "off"), ("enable_bitmapscan", "off")],
        )
        .await;
    let scans_before = hnsw_scans(&schema.pool).await;
    let hnsw_store = PgVectorStore::from_pool(hnsw_pool.clone(), dimension);

    let values = vec!["values".to_string()];
    let (mut plain_short, mut hnsw_hits) = (0, 0);
    let queries: i64 = 20;
    for _ in 0..queries {
        let query = random_vector(&mut rng, dimension);
        let exact = exact_top_3(&small, &query);

        let found = store.search("small", &values, &query, 3).await.unwrap();
        let found_ids: Vec<String> = found.iter().map(|f| f.chunk.id.clone()).collect();
        assert_eq!(found_ids, exact, "the planner's choice is exact");

        let through_hnsw = hnsw_store
            .search("small", &values, &query, 3)
            .await
            .unwrap();
        assert_eq!(through_hnsw.len(), 3, "a full top 3 through the HNSW index");
        hnsw_hits += through_hnsw
            .iter()
            .filter(|f| exact.contains(&f.chunk.id))
            .count();

        let plain: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rag_chunks WHERE tenant_id = 'small' AND category = 'values' \
             ORDER BY embedding <=> CAST($1 AS vector) LIMIT 3",
        )
        .bind(format!("{:?}", query))
        .fetch_all(&hnsw_pool)
        .await
        .unwrap();
        if plain.len() < 3 {
            plain_short += 1;
        }
    }
    assert!(
        hnsw_hits as f64 >= 0.9 * (3 * queries) as f64,
        "recall@3 through HNSW: {hnsw_hits}/{}",
        3 * queries
    );
    // Both the store's and the plain queries went through the HNSW index.
    // Backends report index statistics when idle, within seconds.
    let mut scans = hnsw_scans(&schema.pool).await - scans_before;
    for _ in 0..30 {
        if scans >= 2 * queries {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        scans = hnsw_scans(&schema.pool).await - scans_before;
    }
    assert!(scans >= 2 * queries, "HNSW index scans: {scans}");
    assert!(
        plain_short > 0,
        "without iterative scans the HNSW path should come up short (the test's premise)"
    );
    hnsw_pool.close().await;
    schema.drop().await;
}

#[tokio::test]
async fn petraf_migrate_creates_the_schema_and_names_a_dimension_mismatch() {
    let Some(url) = database_url() else { return };
    let schema = Schema::create(&url).await;
    let separator = if url.contains('?') { '&' } else { '?' };
    let scoped_url = format!(
        "{url}{separator}options[search_path]={},public",
        schema.name
    );
    let env = |dimension: &str| {
        petraf_core::config::test_env(&[
            ("PETRAF_VECTOR_STORE", "pgvector"),
            ("DATABASE_URL", &scoped_url),
            ("PETRAF_EMBEDDING_DIMENSION", dimension),
        ])
    };
    for _ in 0..2 {
        let lines = petraf_core::config::migrate(&env("16")).await.unwrap();
        assert!(
            lines
                .iter()
                .any(|l| l.contains("pgvector") && l.contains("vector(16)")),
            "{lines:?}"
        );
    }
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name IN ('rag_chunks', 'schema_migrations')",
    )
    .bind(&schema.name)
    .fetch_one(&schema.pool)
    .await
    .unwrap();
    assert_eq!(tables, 2, "created in the URL's schema");
    match petraf_core::config::migrate(&env("32")).await {
        Err(e) => assert_eq!(e.variable, "PETRAF_EMBEDDING_DIMENSION"),
        Ok(lines) => panic!("a vector(16) table should refuse 32 dimensions: {lines:?}"),
    }
    schema.drop().await;
}
