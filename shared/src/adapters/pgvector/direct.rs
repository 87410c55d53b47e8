//! The direct transport: a PostgreSQL connection pool (sqlx).

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::query::Query;
use sqlx::{Column, Postgres, Row as _, TypeInfo, ValueRef};

use super::transport::{Cell, Param, Row, Statement, Transport};
use crate::ports::state_store::StoreError;

pub(crate) struct DirectTransport {
    pool: PgPool,
    /// Sends vectors and arrays as text, as the Data API must, so tests can
    /// prove its casts on a real server.
    lists_as_text: bool,
}

impl DirectTransport {
    pub(crate) fn new(pool: PgPool) -> Self {
        DirectTransport {
            pool,
            lists_as_text: false,
        }
    }

    #[cfg(test)]
    pub(crate) fn with_lists_as_text(pool: PgPool) -> Self {
        DirectTransport {
            pool,
            lists_as_text: true,
        }
    }
}

/// A unique violation is a conflict; anything else, the store is unavailable.
pub(crate) fn store_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.code().as_deref() == Some("23505")
    {
        return StoreError::Conflict(db.message().to_string());
    }
    StoreError::Unavailable(format!("pgvector: {e}"))
}

/// Binds `statement`'s parameters in the order of its numbered placeholders.
fn bind_all<'q>(
    sql: &'q str,
    names: &[String],
    statement: &Statement,
    lists_as_text: bool,
) -> Result<Query<'q, Postgres, PgArguments>, StoreError> {
    let mut query = sqlx::query(sql);
    for name in names {
        let param = statement.param(name).ok_or_else(|| {
            StoreError::Unavailable(format!("pgvector: no value bound for :{name}"))
        })?;
        query = match param.clone() {
            Param::Text(text) => query.bind(text),
            list @ (Param::TextList(_) | Param::Vector(_)) if lists_as_text => {
                query.bind(list.to_sql_text())
            }
            Param::Int(n) => query.bind(n),
            Param::TextList(items) => query.bind(items),
            Param::Vector(values) => query.bind(pgvector::Vector::from(values)),
        };
    }
    Ok(query)
}

fn cell(row: &PgRow, index: usize) -> Result<Cell, StoreError> {
    let raw = row.try_get_raw(index).map_err(store_error)?;
    if raw.is_null() {
        return Ok(Cell::Null);
    }
    let type_name = raw.type_info().name().to_string();
    let cell = match type_name.as_str() {
        "TEXT" | "VARCHAR" | "NAME" => Cell::Text(row.try_get(index).map_err(store_error)?),
        "INT8" => Cell::Int(row.try_get(index).map_err(store_error)?),
        "INT4" => Cell::Int(row.try_get::<i32, _>(index).map_err(store_error)?.into()),
        "FLOAT8" => Cell::Float(row.try_get(index).map_err(store_error)?),
        other => {
            return Err(StoreError::Unavailable(format!(
                "pgvector: column {} has unexpected type {other}",
                row.columns()[index].name()
            )));
        }
    };
    Ok(cell)
}

#[async_trait]
impl Transport for DirectTransport {
    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<Row>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        let mut rows = Vec::new();
        let last = statements.len().saturating_sub(1);
        for (i, statement) in statements.iter().enumerate() {
            let (sql, names) = number_placeholders(&statement.sql);
            let query = bind_all(&sql, &names, statement, self.lists_as_text)?;
            if i == last {
                let found = query.fetch_all(&mut *tx).await.map_err(store_error)?;
                rows = found
                    .iter()
                    .map(|row| (0..row.len()).map(|c| cell(row, c)).collect())
                    .collect::<Result<_, _>>()?;
            } else {
                query.execute(&mut *tx).await.map_err(store_error)?;
            }
        }
        // Dropping an uncommitted transaction rolls it back.
        tx.commit().await.map_err(store_error)?;
        Ok(rows)
    }
}

/// Rewrites `:name` placeholders to `$1, $2, …` in order of first use,
/// leaving `::` casts and quoted text alone. Returns the names in `$` order.
fn number_placeholders(sql: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(sql.len());
    let mut names: Vec<String> = Vec::new();
    let chars: Vec<char> = sql.chars().collect();
    let mut quote: Option<char> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        let starts_name = c == ':'
            && chars
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_')
            && (i == 0 || chars[i - 1] != ':');
        if starts_name {
            let end = (i + 1..chars.len())
                .find(|&j| !(chars[j].is_ascii_alphanumeric() || chars[j] == '_'))
                .unwrap_or(chars.len());
            let name: String = chars[i + 1..end].iter().collect();
            let position = match names.iter().position(|n| *n == name) {
                Some(p) => p,
                None => {
                    names.push(name);
                    names.len() - 1
                }
            };
            out.push('$');
            out.push_str(&(position + 1).to_string());
            i = end;
            continue;
        }
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
        out.push(c);
        i += 1;
    }
    (out, names)
}

#[cfg(test)]
mod tests {
    //! The SQL as the Data API sends it (vectors and arrays as text) on a
    //! real PostgreSQL: `PETRAF_TEST_DATABASE_URL`, as for the integration tests.

    use std::sync::Arc;

    use sqlx::postgres::PgPoolOptions;

    use super::*;
    use crate::adapters::pgvector::{PgVectorStore, parse_database_url};

    #[tokio::test]
    async fn text_cast_parameters_keep_every_vector_store_promise() {
        let Ok(url) = std::env::var("PETRAF_TEST_DATABASE_URL") else {
            assert_ne!(
                std::env::var("PETRAF_REQUIRE_STANDINS").as_deref(),
                Ok("1"),
                "PETRAF_TEST_DATABASE_URL is unset but PETRAF_REQUIRE_STANDINS=1"
            );
            println!("skipped: PETRAF_TEST_DATABASE_URL is unset");
            return;
        };
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&url)
            .await
            .unwrap();
        let schema = format!(
            "petraf_text_{}",
            ulid::Ulid::new().to_string().to_lowercase()
        );
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        let options = parse_database_url(&url)
            .unwrap()
            .options([("search_path", format!("{schema},public"))]);
        let pool = PgPoolOptions::new()
            .max_connections(2)
            .connect_with(options)
            .await
            .unwrap();
        let store = PgVectorStore {
            transport: Arc::new(DirectTransport::with_lists_as_text(pool.clone())),
            dimension: 8,
        };
        store.migrate().await.unwrap();
        crate::conformance::vector_store(Arc::new(store), 8).await;
        pool.close().await;
        sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
            .execute(&admin)
            .await
            .unwrap();
    }

    #[test]
    fn placeholders_are_numbered_in_order_of_first_use() {
        let (sql, names) = number_placeholders(
            "SELECT CAST(:q AS vector), x::text FROM t WHERE a = :tenant_id AND b <=> CAST(:q AS vector) AND c = ':not_me'",
        );
        assert_eq!(
            sql,
            "SELECT CAST($1 AS vector), x::text FROM t WHERE a = $2 AND b <=> CAST($1 AS vector) AND c = ':not_me'"
        );
        assert_eq!(names, vec!["q", "tenant_id"]);
    }
}
