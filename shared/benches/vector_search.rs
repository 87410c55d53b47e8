//! Filtered top-3 search on pgvector: latency and recall@3 at 10k and 100k
//! chunks of 1536 dimensions, over 50 tenants of very different sizes.
//!
//!   eval "$(scripts/standins/postgres.sh start)"
//!   cargo bench -p petraf-core --features pgvector --bench vector_search
//!
//! `PETRAF_BENCH_SIZES=10000` runs fewer sizes. Each size loads into a
//! schema of its own (`petraf_bench_<size>`), dropped at the end.
//!
//! Embeddings are synthetic but clustered like real ones: each chunk is one
//! of 200 topic directions plus noise, and queries are near a topic.
//! Uniform random vectors would make every neighbour equally far.

use std::time::{Duration, Instant};

use petraf_core::adapters::pgvector::{PgVectorStore, parse_database_url};
use petraf_core::ports::vector_store::VectorStore;
use rand::distributions::{Distribution, WeightedIndex};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Connection, Row};

const DIMENSION: usize = 1536;
const TENANTS: usize = 50;
const TOPICS: usize = 200;
const QUERIES: usize = 200;
const K: i64 = 3;
/// Category shares: most documents are values and career frameworks.
const CATEGORIES: &[(&str, f64)] = &[
    ("values", 0.45),
    ("career_framework", 0.30),
    ("competencies", 0.15),
    ("policies", 0.10),
];
/// The same statement as the migration's; the bench builds it after loading.
const CREATE_HNSW: &str = "CREATE INDEX IF NOT EXISTS rag_chunks_embedding_hnsw \
     ON rag_chunks USING hnsw (embedding vector_cosine_ops)";

/// What `PgVectorStore::search` sets before its query.
const STORE_SETTINGS: &[&str] = &["SET LOCAL hnsw.iterative_scan = strict_order"];

/// The production query, for the strategies the store does not use.
const FILTERED_TOP_K: &str = "SELECT id FROM rag_chunks \
     WHERE tenant_id = $1 AND category = ANY($2) \
     ORDER BY embedding <=> CAST($3 AS vector) LIMIT $4";

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

fn gaussian(rng: &mut StdRng) -> f32 {
    // Box-Muller: rand 0.8 has no normal distribution without rand_distr.
    let (u1, u2): (f32, f32) = (rng.gen_range(f32::EPSILON..1.0), rng.r#gen());
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

fn near(rng: &mut StdRng, topic: &[f32], spread: f32) -> Vec<f32> {
    let scale = spread / (DIMENSION as f32).sqrt();
    unit(topic.iter().map(|x| x + scale * gaussian(rng)).collect())
}

struct Corpus {
    topics: Vec<Vec<f32>>,
    /// Tenant weights, Zipf-like: the largest holds ~22 %, the smallest ~0.4 %.
    tenant_weights: WeightedIndex<f64>,
    category_weights: WeightedIndex<f64>,
}

impl Corpus {
    fn new(rng: &mut StdRng) -> Corpus {
        Corpus {
            topics: (0..TOPICS)
                .map(|_| unit((0..DIMENSION).map(|_| gaussian(rng)).collect()))
                .collect(),
            tenant_weights: WeightedIndex::new((0..TENANTS).map(|t| 1.0 / (t as f64 + 1.0)))
                .unwrap(),
            category_weights: WeightedIndex::new(CATEGORIES.iter().map(|c| c.1)).unwrap(),
        }
    }
}

fn tenant_id(t: usize) -> String {
    format!("tenant-{t:02}")
}

/// Loads `rows` chunks with COPY (text format), 2,000 rows per message.
async fn load(pool: &PgPool, corpus: &Corpus, rows: usize, rng: &mut StdRng) {
    let mut conn = pool.acquire().await.unwrap();
    let mut copy = conn
        .copy_in_raw(
            "COPY rag_chunks (tenant_id, id, document_id, chunk_index, category, content, metadata, embedding) FROM STDIN",
        )
        .await
        .unwrap();
    let mut buffer = String::new();
    for i in 0..rows {
        let tenant = tenant_id(corpus.tenant_weights.sample(rng));
        let category = CATEGORIES[corpus.category_weights.sample(rng)].0;
        let topic = &corpus.topics[rng.gen_range(0..TOPICS)];
        let embedding = near(rng, topic, 0.6);
        let document = i / 20;
        buffer.push_str(&format!(
            "{tenant}\tdoc-{document}-{i:07}\tdoc-{document}\t{}\t{category}\tchunk {i} of document {document}\t{{\"title\": \"doc {document}\"}}\t[",
            i % 20
        ));
        for (j, x) in embedding.iter().enumerate() {
            if j > 0 {
                buffer.push(',');
            }
            buffer.push_str(&format!("{x:.6}"));
        }
        buffer.push_str("]\n");
        if i % 2000 == 1999 {
            copy.send(std::mem::take(&mut buffer).into_bytes())
                .await
                .unwrap();
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await.unwrap();
    }
    copy.finish().await.unwrap();
}

struct Query {
    tenant: String,
    categories: Vec<String>,
    vector: Vec<f32>,
}

/// Queries spread evenly over tenants, so the small ones count as much.
fn queries(corpus: &Corpus, rng: &mut StdRng) -> Vec<Query> {
    (0..QUERIES)
        .map(|i| {
            let categories = match i % 3 {
                0 => vec!["values".to_string()],
                1 => vec!["values".to_string(), "career_framework".to_string()],
                _ => vec!["competencies".to_string(), "policies".to_string()],
            };
            let topic = &corpus.topics[rng.gen_range(0..TOPICS)];
            Query {
                tenant: tenant_id(i % TENANTS),
                categories,
                vector: near(rng, topic, 0.8),
            }
        })
        .collect()
}

fn literal(v: &[f32]) -> String {
    let parts: Vec<String> = v.iter().map(|x| x.to_string()).collect();
    format!("[{}]", parts.join(","))
}

/// Runs the filtered top-k after `settings`, in one transaction.
async fn top_k(pool: &PgPool, settings: &[&str], q: &Query) -> Vec<String> {
    run(pool, settings, FILTERED_TOP_K, q).await
}

/// Whether the planner serves the query from the HNSW index.
async fn uses_hnsw(pool: &PgPool, settings: &[&str], q: &Query) -> bool {
    let plan = run(pool, settings, &format!("EXPLAIN {FILTERED_TOP_K}"), q).await;
    plan.iter()
        .any(|line| line.contains("rag_chunks_embedding_hnsw"))
}

async fn run(pool: &PgPool, settings: &[&str], sql: &str, q: &Query) -> Vec<String> {
    let mut tx = pool.begin().await.unwrap();
    for setting in settings {
        sqlx::query(setting).execute(&mut *tx).await.unwrap();
    }
    let rows = sqlx::query(sql)
        .bind(&q.tenant)
        .bind(&q.categories)
        .bind(literal(&q.vector))
        .bind(K)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.iter().map(|r| r.get::<String, _>(0)).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

struct Outcome {
    p50_ms: f64,
    p99_ms: f64,
    recall: f64,
    short: usize,
    hnsw_plans: usize,
}

fn outcome(
    mut times: Vec<Duration>,
    found: &[Vec<String>],
    exact: &[Vec<String>],
    hnsw_plans: usize,
) -> Outcome {
    times.sort();
    let (mut hits, mut wanted, mut short) = (0, 0, 0);
    for (f, e) in found.iter().zip(exact) {
        hits += f.iter().filter(|id| e.contains(id)).count();
        wanted += e.len();
        if f.len() < e.len() {
            short += 1;
        }
    }
    Outcome {
        p50_ms: percentile(&times, 0.5),
        p99_ms: percentile(&times, 0.99),
        recall: hits as f64 / wanted.max(1) as f64,
        short,
        hnsw_plans,
    }
}

async fn run_size(url: &str, rows: usize) {
    let schema = format!("petraf_bench_{rows}");
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&admin)
        .await
        .unwrap();
    let options = parse_database_url(url)
        .unwrap()
        .options([("search_path", format!("{schema},public"))]);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let store = PgVectorStore::from_pool(pool.clone(), DIMENSION);
    store.migrate().await.unwrap();

    let mut rng = StdRng::seed_from_u64(rows as u64);
    let corpus = Corpus::new(&mut rng);
    // Inserting into a built HNSW index is much slower than building it once.
    sqlx::query("DROP INDEX rag_chunks_embedding_hnsw")
        .execute(&pool)
        .await
        .unwrap();
    let started = Instant::now();
    load(&pool, &corpus, rows, &mut rng).await;
    let load_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    {
        let mut conn = pool.acquire().await.unwrap();
        let mut tx = conn.begin().await.unwrap();
        sqlx::query("SET LOCAL maintenance_work_mem = '2GB'")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query("SET LOCAL max_parallel_maintenance_workers = 1")
            .execute(&mut *tx)
            .await
            .unwrap();
        sqlx::query(CREATE_HNSW).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    let index_s = started.elapsed().as_secs_f64();
    sqlx::query("VACUUM ANALYZE rag_chunks")
        .execute(&pool)
        .await
        .unwrap();

    let smallest: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rag_chunks GROUP BY tenant_id ORDER BY count(*) LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let largest: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM rag_chunks GROUP BY tenant_id ORDER BY count(*) DESC LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    println!(
        "\n## {rows} chunks: loaded (COPY) in {load_s:.1} s, HNSW built in {index_s:.1} s; \
         tenants hold {smallest}..{largest} chunks"
    );

    let queries = queries(&corpus, &mut rng);
    // Warm the caches once, as a long-running service would have them.
    for q in &queries {
        top_k(&pool, &["SET LOCAL enable_indexscan = off"], q).await;
    }

    let mut exact = Vec::new();
    let mut exact_times = Vec::new();
    for q in &queries {
        let started = Instant::now();
        exact.push(top_k(&pool, &["SET LOCAL enable_indexscan = off"], q).await);
        exact_times.push(started.elapsed());
    }

    let strategies: &[(&str, &[&str])] = &[
        ("planner's choice, default settings", &[]),
        (
            "planner's choice, iterative_scan = strict_order",
            STORE_SETTINGS,
        ),
        // What happens when the planner does pick the HNSW index (as it may
        // on larger tables): forced by making the B-tree plans' sort costly.
        (
            "HNSW forced, default settings",
            &[
                "SET LOCAL enable_sort = off",
                "SET LOCAL enable_bitmapscan = off",
            ],
        ),
        (
            "HNSW forced, strict_order, ef_search = 40",
            &[
                "SET LOCAL enable_sort = off",
                "SET LOCAL enable_bitmapscan = off",
                "SET LOCAL hnsw.iterative_scan = strict_order",
            ],
        ),
        (
            "HNSW forced, strict_order, ef_search = 100",
            &[
                "SET LOCAL enable_sort = off",
                "SET LOCAL enable_bitmapscan = off",
                "SET LOCAL hnsw.iterative_scan = strict_order",
                "SET LOCAL hnsw.ef_search = 100",
            ],
        ),
        (
            "HNSW forced, relaxed_order, ef_search = 40",
            &[
                "SET LOCAL enable_sort = off",
                "SET LOCAL enable_bitmapscan = off",
                "SET LOCAL hnsw.iterative_scan = relaxed_order",
            ],
        ),
    ];
    println!("| strategy | p50 ms | p99 ms | recall@3 | queries short of 3 | served by HNSW |");
    println!("|---|---:|---:|---:|---:|---:|");
    let exact_outcome = outcome(exact_times, &exact, &exact, 0);
    print_row(
        "exact (sequential/B-tree scan, enable_indexscan = off)",
        &exact_outcome,
    );
    for (name, settings) in strategies {
        let mut found = Vec::new();
        let mut times = Vec::new();
        let mut plans = 0;
        for q in &queries {
            let started = Instant::now();
            found.push(top_k(&pool, settings, q).await);
            times.push(started.elapsed());
            plans += usize::from(uses_hnsw(&pool, settings, q).await);
        }
        print_row(name, &outcome(times, &found, &exact, plans));
    }
    // The store itself: strict_order, rows mapped to chunks.
    // One warm-up pass first.
    let mut plans = 0;
    for q in &queries {
        plans += usize::from(uses_hnsw(&pool, STORE_SETTINGS, q).await);
    }
    for q in queries.iter().take(TENANTS) {
        store
            .search(&q.tenant, &q.categories, &q.vector, K as usize)
            .await
            .unwrap();
    }
    let mut found = Vec::new();
    let mut times = Vec::new();
    for q in &queries {
        let started = Instant::now();
        let result = store
            .search(&q.tenant, &q.categories, &q.vector, K as usize)
            .await
            .unwrap();
        times.push(started.elapsed());
        found.push(result.into_iter().map(|s| s.chunk.id).collect());
    }
    print_row(
        "**PgVectorStore::search** (planner's choice, strict_order)",
        &outcome(times, &found, &exact, plans),
    );

    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
        .execute(&admin)
        .await
        .unwrap();
}

fn print_row(name: &str, o: &Outcome) {
    println!(
        "| {name} | {:.2} | {:.2} | {:.3} | {} | {} |",
        o.p50_ms, o.p99_ms, o.recall, o.short, o.hnsw_plans
    );
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` runs this too: only a real `cargo bench` measures.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Ok(url) = std::env::var("PETRAF_TEST_DATABASE_URL") else {
        println!("skipped: PETRAF_TEST_DATABASE_URL is unset");
        return;
    };
    let sizes: Vec<usize> = std::env::var("PETRAF_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("PETRAF_BENCH_SIZES: comma-separated row counts")
        })
        .collect();
    println!(
        "# pgvector filtered top-{K}: {DIMENSION} dimensions, {TENANTS} tenants, {QUERIES} queries per size"
    );
    for rows in sizes {
        run_size(&url, rows).await;
    }
}
