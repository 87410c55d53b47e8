//! Document records: one item each in the tenant's `DOCS#{tenant}`
//! partition, so a tenant's list is one Query.

use aws_sdk_dynamodb::Client;

use super::items::{Item, decode, json, key, s, sdk_error};
use super::keys::{BODY, PK, document_sk, documents_pk};
use crate::domain::document::DocumentRecord;
use crate::ports::state_store::StoreError;

pub async fn put(
    client: &Client,
    table: &str,
    document: &DocumentRecord,
) -> Result<(), StoreError> {
    let mut item = key(documents_pk(&document.tenant_id), document_sk(&document.id));
    item.insert(BODY.to_string(), json(document)?);
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .map_err(sdk_error)?;
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
) -> Result<(), StoreError> {
    client
        .delete_item()
        .table_name(table)
        .set_key(Some(key(documents_pk(tenant_id), document_sk(document_id))))
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
