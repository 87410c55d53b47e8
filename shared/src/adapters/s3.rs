//! The production object store: one S3 bucket.
//!
//! Metadata goes to S3 user metadata (`x-amz-meta-*`). Header values must
//! be ASCII, so other values travel as RFC 2047 encoded words, the form S3
//! itself uses for non-ASCII metadata. S3 lowercases metadata names and
//! caps user metadata at 2 KB per object.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::extraction::staging;
use crate::ports::object_store::{ObjectStore, StoredObject, parse_document_key};
use crate::ports::state_store::StoreError;

/// The longest a presigned URL may live (SigV4's limit).
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

#[derive(Clone, Debug)]
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

fn s3_error<E: std::error::Error>(e: E) -> StoreError {
    StoreError::Unavailable(format!("s3: {}", DisplayErrorContext(&e)))
}

/// The S3 client for `sdk_config`; path-style addressing when an endpoint
/// is overridden (stand-ins such as moto do not serve bucket subdomains).
pub fn client(sdk_config: &aws_config::SdkConfig, path_style: bool) -> Client {
    let config = aws_sdk_s3::config::Builder::from(sdk_config)
        .force_path_style(path_style)
        .build();
    Client::from_conf(config)
}

const ENCODED_PREFIX: &str = "=?UTF-8?B?";
const ENCODED_SUFFIX: &str = "?=";

fn encode_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..0x7f).contains(&b));
    if plain && !value.starts_with(ENCODED_PREFIX) {
        value.to_string()
    } else {
        format!("{ENCODED_PREFIX}{}{ENCODED_SUFFIX}", STANDARD.encode(value))
    }
}

fn decode_value(value: &str) -> String {
    value
        .strip_prefix(ENCODED_PREFIX)
        .and_then(|v| v.strip_suffix(ENCODED_SUFFIX))
        .and_then(|b64| STANDARD.decode(b64).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_else(|| value.to_string())
}

fn valid_metadata_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        S3ObjectStore {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// A presigned PUT URL for a document key
    /// (`uploads/{tenant}/{category}/{document}/{filename}`): the upload
    /// folder whose object-created events feed ingestion; or for the reply
    /// to a document staged for the extract function.
    pub async fn presign_put(&self, key: &str, expires: Duration) -> Result<String, StoreError> {
        if parse_document_key(key).is_none() && !staging::is_reply_key(key) {
            return Err(StoreError::Conflict(format!(
                "'{key}' is not a document key (uploads/{{tenant}}/{{category}}/{{document}}/{{filename}})"
            )));
        }
        let presigned = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            // A body checksum would be fixed at signing time, before the
            // uploader has a body: ask for none.
            .customize()
            .config_override(
                aws_sdk_s3::config::Builder::default().request_checksum_calculation(
                    aws_sdk_s3::config::RequestChecksumCalculation::WhenRequired,
                ),
            )
            .presigned(presigning(expires)?)
            .await
            .map_err(s3_error)?;
        Ok(presigned.uri().to_string())
    }

    /// A presigned GET URL for a document staged for the extract function
    /// (`extraction/{ulid}`), which holds no grant on the bucket.
    pub async fn presign_get(&self, key: &str, expires: Duration) -> Result<String, StoreError> {
        if !staging::is_document_key(key) {
            return Err(StoreError::Conflict(format!(
                "'{key}' is not a staged document's key (extraction/{{ulid}})"
            )));
        }
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(presigning(expires)?)
            .await
            .map_err(s3_error)?;
        Ok(presigned.uri().to_string())
    }
}

fn presigning(expires: Duration) -> Result<PresigningConfig, StoreError> {
    PresigningConfig::expires_in(expires.min(MAX_PRESIGN_EXPIRY))
        .map_err(|e| StoreError::Unavailable(e.to_string()))
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    fn name(&self) -> &'static str {
        "s3"
    }

    async fn presign_get(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, StoreError> {
        S3ObjectStore::presign_get(self, key, expires)
            .await
            .map(Some)
    }

    async fn presign_put(
        &self,
        key: &str,
        expires: Duration,
    ) -> Result<Option<String>, StoreError> {
        S3ObjectStore::presign_put(self, key, expires)
            .await
            .map(Some)
    }

    async fn put(&self, key: &str, object: StoredObject) -> Result<(), StoreError> {
        let mut metadata = HashMap::new();
        for (name, value) in &object.metadata {
            if !valid_metadata_name(name) {
                return Err(StoreError::Conflict(format!(
                    "metadata name '{name}': S3 keeps lowercase a-z, 0-9, '-' and '_' only"
                )));
            }
            metadata.insert(name.clone(), encode_value(value));
        }
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(&object.content_type)
            .set_metadata(Some(metadata))
            .body(ByteStream::from(object.bytes))
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    /// A missing key is `Ok(None)`. S3 reports one as NoSuchKey only to
    /// callers allowed `s3:ListBucket`; without it S3 answers AccessDenied,
    /// which surfaces as `Unavailable`: grant the role ListBucket.
    async fn size(&self, key: &str) -> Result<Option<u64>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.content_length().unwrap_or(0).max(0) as u64)),
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) => Err(s3_error(e)),
        }
    }

    async fn get(&self, key: &str) -> Result<Option<StoredObject>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(s3_error(e)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_string();
        let metadata: BTreeMap<String, String> = out
            .metadata()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), decode_value(v)))
            .collect();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| StoreError::Unavailable(format!("s3: reading {key}: {e}")))?
            .into_bytes()
            .to_vec();
        Ok(Some(StoredObject {
            bytes,
            content_type,
            metadata,
        }))
    }

    /// Deleting a missing key succeeds, as S3 does.
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_values_round_trip_through_ascii_headers() {
        for value in [
            "Company Values",
            "Valeurs d'équipe",
            "=?UTF-8?B?x?=",
            "",
            "日本",
        ] {
            let encoded = encode_value(value);
            assert!(encoded.bytes().all(|b| (0x20..0x7f).contains(&b)));
            assert_eq!(decode_value(&encoded), value);
        }
        assert_eq!(encode_value("plain"), "plain");
    }

    #[test]
    fn metadata_names_must_survive_s3_lowercasing() {
        assert!(valid_metadata_name("title"));
        assert!(!valid_metadata_name("Title"));
        assert!(!valid_metadata_name(""));
    }
}
