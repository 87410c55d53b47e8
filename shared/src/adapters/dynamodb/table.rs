//! Creating the table: keys, GSI1 and TTL. Idempotent, for `petraf migrate`
//! and tests.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::items::{sdk_error, unavailable};
use super::keys::{BODY, GSI1, GSI1_PK, GSI1_SK, PK, SK, SUMMARY, TTL};
use crate::ports::state_store::StoreError;

/// What `create_table` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOutcome {
    Created,
    AlreadyExisted,
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(unavailable)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(unavailable)
}

/// Creates the table (on-demand capacity) with GSI1 and TTL on `ttl`,
/// waits until it is active, and turns TTL on if it is off.
pub async fn create_table(client: &Client, name: &str) -> Result<TableOutcome, StoreError> {
    // GSI1 serves the tenant listing (summary) and audit by session (body).
    let gsi1 = GlobalSecondaryIndex::builder()
        .index_name(GSI1)
        .key_schema(key_element(GSI1_PK, KeyType::Hash)?)
        .key_schema(key_element(GSI1_SK, KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::Include)
                .non_key_attributes(SUMMARY)
                .non_key_attributes(BODY)
                .build(),
        )
        .build()
        .map_err(unavailable)?;
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute(PK)?)
        .attribute_definitions(string_attribute(SK)?)
        .attribute_definitions(string_attribute(GSI1_PK)?)
        .attribute_definitions(string_attribute(GSI1_SK)?)
        .key_schema(key_element(PK, KeyType::Hash)?)
        .key_schema(key_element(SK, KeyType::Range)?)
        .global_secondary_indexes(gsi1)
        .send()
        .await;
    let outcome = match created {
        Ok(_) => TableOutcome::Created,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(CreateTableError::ResourceInUseException(_))
            ) =>
        {
            TableOutcome::AlreadyExisted
        }
        Err(e) => return Err(sdk_error(e)),
    };
    wait_until_active(client, name).await?;
    enable_ttl(client, name).await?;
    Ok(outcome)
}

async fn wait_until_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(sdk_error)?;
        let table = out.table();
        let table_active = table.and_then(|t| t.table_status()) == Some(&TableStatus::Active);
        let indexes_active = table
            .map(|t| t.global_secondary_indexes())
            .unwrap_or_default()
            .iter()
            .all(|i| i.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
        if table_active && indexes_active {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(unavailable(format!("table {name} did not become active")))
}

async fn enable_ttl(client: &Client, name: &str) -> Result<(), StoreError> {
    let status = client
        .describe_time_to_live()
        .table_name(name)
        .send()
        .await
        .map_err(sdk_error)?;
    let current = status.time_to_live_description();
    let on = current.and_then(|d| d.time_to_live_status());
    if matches!(
        on,
        Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
    ) {
        return Ok(());
    }
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(unavailable)?,
        )
        .send()
        .await
        .map_err(sdk_error)?;
    Ok(())
}
