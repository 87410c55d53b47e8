//! A DynamoDB state store and an S3 bucket on moto's server, for the tests
//! that run on the embedded adapters and on AWS's alike.

use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use petraf_core::adapters::dynamodb::{DynamoStateStore, create_table};
use petraf_core::adapters::s3::S3ObjectStore;
use petraf_core::domain::ids::new_id;

use crate::ManualClock;

/// moto's endpoint; `None` (the test is skipped, after saying so) without
/// moto, unless PETRAF_REQUIRE_STANDINS=1.
pub fn moto_endpoint() -> Option<String> {
    match std::env::var("PETRAF_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.trim().is_empty() => Some(v.trim().to_string()),
        _ if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => {
            panic!("PETRAF_REQUIRE_STANDINS=1 but PETRAF_TEST_MOTO_ENDPOINT is not set")
        }
        _ => {
            eprintln!(
                "skipped: PETRAF_TEST_MOTO_ENDPOINT is not set (scripts/test.sh starts moto)"
            );
            None
        }
    }
}

/// An S3 object store on a fresh bucket named `<prefix>-<id>` on moto's
/// server, and the client to look into it with; `None` as for
/// [`moto_endpoint`].
pub async fn moto_object_store(prefix: &str) -> Option<(S3ObjectStore, aws_sdk_s3::Client)> {
    let endpoint = moto_endpoint()?;
    let sdk = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .http_client(petraf_core::adapters::tls::aws_https_client())
        .force_path_style(true)
        .build();
    let client = aws_sdk_s3::Client::from_conf(sdk);
    let bucket = format!("{prefix}-{}", new_id().to_lowercase());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("create the bucket");
    Some((S3ObjectStore::new(client.clone(), bucket), client))
}

/// A store on a fresh table named `<table_prefix>-<id>` on moto's server
/// (`scripts/test.sh` starts it), judging expiry by `clock` when given;
/// `None` (the test is skipped) without moto, unless
/// PETRAF_REQUIRE_STANDINS=1.
pub async fn moto_state_store(
    table_prefix: &str,
    clock: Option<Arc<ManualClock>>,
) -> Option<DynamoStateStore> {
    let endpoint = moto_endpoint()?;
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
