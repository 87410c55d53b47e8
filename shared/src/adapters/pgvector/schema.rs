//! The schema, as numbered migrations recorded in `schema_migrations`.
//! Every statement is idempotent, so two processes migrating at once (or a
//! migration that half-ran) are harmless; an advisory lock serialises them.

use super::transport::{Cell, Param, Statement, Transport};
use crate::ports::state_store::StoreError;

/// (version, SQL with `{dimension}` placeholders), in order.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_rag_chunks",
    include_str!("migrations/0001_rag_chunks.sql"),
)];

/// Any constant shared by every migrating process.
const MIGRATION_LOCK: &str = "SELECT pg_advisory_xact_lock(7368657201)";

const CREATE_SCHEMA_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
     version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";

const APPLIED_VERSIONS: &str = "SELECT version FROM schema_migrations ORDER BY version";

const RECORD_VERSION: &str =
    "INSERT INTO schema_migrations (version) VALUES (:version) ON CONFLICT DO NOTHING";

/// The declared type of `rag_chunks.embedding`, e.g. `vector(1536)`.
const EMBEDDING_TYPE: &str = "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
     WHERE attrelid = to_regclass('rag_chunks') AND attname = 'embedding'";

const EXTENSION_VERSION: &str = "SELECT extversion FROM pg_extension WHERE extname = 'vector'";

/// Iterative index scans, which filtered search relies on, came in 0.8.0.
const MIN_PGVECTOR: (u32, u32) = (0, 8);

/// The statements of a migration file: comments dropped, split at `;`.
pub(crate) fn statements(sql: &str, dimension: usize) -> Vec<String> {
    let without_comments: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    without_comments
        .replace("{dimension}", &dimension.to_string())
        .split(';')
        .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|s| !s.is_empty())
        .collect()
}

/// Applies the migrations not yet recorded, each in its own transaction,
/// then checks that the table's vectors have `dimension` dimensions.
pub(crate) async fn migrate(transport: &dyn Transport, dimension: usize) -> Result<(), StoreError> {
    let applied: Vec<String> = transport
        .transaction(vec![
            Statement::new(MIGRATION_LOCK),
            Statement::new(CREATE_SCHEMA_MIGRATIONS),
            Statement::new(APPLIED_VERSIONS),
        ])
        .await?
        .into_iter()
        .filter_map(|row| match row.into_iter().next() {
            Some(Cell::Text(version)) => Some(version),
            _ => None,
        })
        .collect();
    for (version, sql) in MIGRATIONS {
        if applied.iter().any(|v| v == version) {
            continue;
        }
        let mut work = vec![Statement::new(MIGRATION_LOCK)];
        work.extend(statements(sql, dimension).into_iter().map(Statement::new));
        work.push(Statement::new(RECORD_VERSION).bind("version", Param::Text((*version).into())));
        transport.transaction(work).await?;
    }
    check_extension_version(transport).await?;
    check_dimension(transport, dimension).await
}

/// `(major, minor)` of a version such as `0.8.5`.
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.split('.');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

async fn check_extension_version(transport: &dyn Transport) -> Result<(), StoreError> {
    let rows = transport
        .transaction(vec![Statement::new(EXTENSION_VERSION)])
        .await?;
    let version = match rows.first().and_then(|row| row.first()) {
        Some(Cell::Text(version)) => version.clone(),
        _ => String::from("none"),
    };
    match major_minor(&version) {
        Some(found) if found >= MIN_PGVECTOR => Ok(()),
        _ => Err(StoreError::Unavailable(format!(
            "pgvector {}.{} or later is needed for iterative index scans; the database has {version} \
             (ALTER EXTENSION vector UPDATE)",
            MIN_PGVECTOR.0, MIN_PGVECTOR.1
        ))),
    }
}

async fn check_dimension(transport: &dyn Transport, dimension: usize) -> Result<(), StoreError> {
    let rows = transport
        .transaction(vec![Statement::new(EMBEDDING_TYPE)])
        .await?;
    let expected = format!("vector({dimension})");
    match rows.first().and_then(|row| row.first()) {
        Some(Cell::Text(found)) if *found == expected => Ok(()),
        Some(Cell::Text(found)) => Err(StoreError::Conflict(format!(
            "rag_chunks.embedding is {found}, but the store is configured for {expected} \
             (PETRAF_EMBEDDING_DIMENSION); re-embed into a new table or fix the setting"
        ))),
        _ => Err(StoreError::Unavailable(
            "pgvector: rag_chunks.embedding is missing after migrating".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_major_and_minor() {
        assert!(major_minor("0.8.5").unwrap() >= MIN_PGVECTOR);
        assert!(major_minor("0.10.0").unwrap() >= MIN_PGVECTOR);
        assert!(major_minor("0.7.4").unwrap() < MIN_PGVECTOR);
        assert_eq!(major_minor("none"), None);
    }

    #[test]
    fn the_migration_splits_into_idempotent_statements_with_the_dimension() {
        let sql = statements(MIGRATIONS[0].1, 16);
        assert_eq!(sql.len(), 5);
        assert_eq!(sql[0], "CREATE EXTENSION IF NOT EXISTS vector");
        assert!(sql[1].contains("embedding vector(16) NOT NULL"));
        assert!(sql[1].contains("metadata jsonb NOT NULL DEFAULT '{}'::jsonb"));
        assert!(sql[4].contains("USING hnsw (embedding vector_cosine_ops)"));
        assert!(sql.iter().all(|s| s.contains("IF NOT EXISTS")));
    }
}
