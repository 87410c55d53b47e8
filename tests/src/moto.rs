//! A DynamoDB state store on moto's server, for the tests that run on the
//! embedded store and on DynamoDB alike.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use petraf_core::adapters::dynamodb::{DynamoStateStore, create_table};
use petraf_core::domain::ids::new_id;

use crate::ManualClock;

/// A store on a fresh table named `<table_prefix>-<id>` on moto's server
/// (`scripts/test.sh` starts it), judging expiry by `clock` when given;
/// `None` (the test is skipped) without moto, unless
/// PETRAF_REQUIRE_STANDINS=1.
pub async fn moto_state_store(
    table_prefix: &str,
    clock: Option<Arc<ManualClock>>,
) -> Option<DynamoStateStore> {
    let endpoint = match std::env::var("PETRAF_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => v,
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => {
            panic!("PETRAF_REQUIRE_STANDINS=1 but PETRAF_TEST_MOTO_ENDPOINT is not set")
        }
        _ => {
            eprintln!(
                "skipped: PETRAF_TEST_MOTO_ENDPOINT is not set (scripts/test.sh starts moto)"
            );
            return None;
        }
    };
    let sdk = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .http_client(petraf_core::adapters::tls::aws_https_client())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(sdk);
    let table = format!("{table_prefix}-{}", new_id().to_lowercase());
    create_table(&client, &table)
        .await
        .expect("create the table");
    let store = DynamoStateStore::new(client, table);
    Some(match clock {
        Some(clock) => store.with_clock(clock),
        None => store,
    })
}
