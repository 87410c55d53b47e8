//! What the store asks of a transport: run statements, in one transaction.
//!
//! Statements are written once, with named placeholders (`:tenant_id`), and
//! every transport runs that same text: the RDS Data API takes it as is, the
//! direct transport numbers the placeholders (`$1`) for the wire protocol.
//! Types are fixed in the SQL with `CAST(:x AS type)`, so a transport may
//! send a value natively (sqlx) or as text (the Data API).

use async_trait::async_trait;

use crate::ports::state_store::StoreError;

/// A value bound to a placeholder.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
    /// Cast in SQL with `CAST(:x AS text[])`.
    TextList(Vec<String>),
    /// Cast in SQL with `CAST(:x AS vector)`.
    Vector(Vec<f32>),
}

impl Param {
    /// The PostgreSQL text form, as a `CAST(... AS type)` reads it.
    pub(crate) fn to_sql_text(&self) -> String {
        match self {
            Param::Text(text) => text.clone(),
            Param::Int(n) => n.to_string(),
            Param::TextList(items) => array_literal(items),
            Param::Vector(values) => vector_literal(values),
        }
    }
}

/// `[0.1,0.2]`, pgvector's text form.
pub(crate) fn vector_literal(values: &[f32]) -> String {
    let mut out = String::with_capacity(values.len() * 10 + 2);
    out.push('[');
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&v.to_string());
    }
    out.push(']');
    out
}

/// `{"a","b"}`, a PostgreSQL array literal with every element quoted.
pub(crate) fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// One SQL statement and its named parameters.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Statement {
    pub sql: String,
    pub params: Vec<(&'static str, Param)>,
}

impl Statement {
    pub(crate) fn new(sql: impl Into<String>) -> Self {
        Statement {
            sql: sql.into(),
            params: Vec::new(),
        }
    }

    pub(crate) fn bind(mut self, name: &'static str, value: Param) -> Self {
        self.params.push((name, value));
        self
    }

    #[cfg(feature = "pgvector-direct")]
    pub(crate) fn param(&self, name: &str) -> Option<&Param> {
        self.params.iter().find(|(n, _)| *n == name).map(|(_, p)| p)
    }
}

/// A column value as the store reads it back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell {
    Null,
    Text(String),
    Int(i64),
    Float(f64),
}

pub(crate) type Row = Vec<Cell>;

#[async_trait]
pub(crate) trait Transport: Send + Sync {
    /// Runs `statements` in order in one transaction (committed when all
    /// succeed, rolled back otherwise) and returns the rows of the last.
    async fn transaction(&self, statements: Vec<Statement>) -> Result<Vec<Row>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_are_what_postgres_casts_read() {
        assert_eq!(vector_literal(&[0.5, -1.0, 0.000_1]), "[0.5,-1,0.0001]");
        assert_eq!(
            array_literal(&["values".into(), "a\"b".into(), "c\\d".into()]),
            r#"{"values","a\"b","c\\d"}"#
        );
        assert_eq!(array_literal(&[]), "{}");
    }
}
