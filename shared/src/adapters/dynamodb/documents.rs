//! Document records: one item each in the tenant's `DOCS#{tenant}`
//! partition, so a tenant's list is one Query.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use super::items::{Item, decode, json, key, n, s, sdk_error};
use super::keys::{BODY, PK, REVISION, document_sk, documents_pk};
use super::transaction::Condition;
use crate::domain::document::DocumentRecord;
use crate::ports::state_store::{Expect, StoreError};

/// The condition of a guarded document write. The revision is kept beside
/// the body (`rev`); a record written before guards has none and is taken
/// to be at any revision.
fn condition(expect: Expect) -> Condition {
    match expect {
        Expect::Absent => Condition::absent(),
        Expect::Version(revision) => Condition {
            expression: format!(
                "#rev = :rev OR (attribute_exists({PK}) AND attribute_not_exists(#rev))"
            ),
            names: vec![("#rev".into(), REVISION.into())],
            values: vec![(":rev".into(), n(revision))],
        },
    }
}

/// A failed condition is the caller's conflict; anything else is the store's.
fn guarded_error<E, R>(document_id: &str, e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    if e.as_service_error().and_then(|s| s.code()) == Some("ConditionalCheckFailedException") {
        StoreError::Conflict(format!("document {document_id} changed meanwhile"))
    } else {
        sdk_error(e)
    }
}

pub async fn put(
    client: &Client,
    table: &str,
    document: &DocumentRecord,
    expect: Expect,
) -> Result<(), StoreError> {
    let mut item = key(documents_pk(&document.tenant_id), document_sk(&document.id));
    item.insert(BODY.to_string(), json(document)?);
    item.insert(REVISION.to_string(), n(document.revision));
    let guard = condition(expect);
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(guard.expression)
        .set_expression_attribute_names(
            (!guard.names.is_empty()).then(|| guard.names.into_iter().collect()),
        )
        .set_expression_attribute_values(
            (!guard.values.is_empty()).then(|| guard.values.into_iter().collect()),
        )
        .send()
        .await
        .map_err(|e| guarded_error(&document.id, e))?;
    Ok(())
}

pub async fn get(
    client: &Client,
    table: &str,
    tenant_id: &str,
    document_id: &str,
) -> Result<Option<DocumentRecord>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .set_key(Some(key(documents_pk(tenant_id), document_sk(document_id))))
        .consistent_read(true)
        .send()
        .await
        .map_err(sdk_error)?;
    out.item().map(|item| decode(item, BODY)).transpose()
}

/// Newest first.
pub async fn list(
    client: &Client,
    table: &str,
    tenant_id: &str,
) -> Result<Vec<DocumentRecord>, StoreError> {
    let mut documents: Vec<DocumentRecord> = vec![];
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PK)
            .expression_attribute_values(":pk", s(documents_pk(tenant_id)))
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(sdk_error)?;
        for item in out.items() {
            documents.push(decode(item, BODY)?);
        }
        match out.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => break,
        }
    }
    documents.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
    Ok(documents)
}

pub async fn delete(
    client: &Client,
    table: &str,
    tenant_id: &str,
    document_id: &str,
    revision: u32,
) -> Result<(), StoreError> {
    let guard = condition(Expect::Version(u64::from(revision)));
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key(documents_pk(tenant_id), document_sk(document_id))))
        .condition_expression(guard.expression)
        .set_expression_attribute_names(Some(guard.names.into_iter().collect()))
        .set_expression_attribute_values(Some(guard.values.into_iter().collect()))
        .send()
        .await
        .map_err(|e| guarded_error(document_id, e))?;
    Ok(())
}
