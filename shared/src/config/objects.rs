//! The object store backend (`PETRAF_DOCUMENT_BUCKET` set: S3, else local files): chosen once, then built and named.

use std::path::Path;
use std::sync::Arc;

use super::env::{Env, in_lambda};
#[cfg(not(feature = "s3"))]
use super::error::not_in_this_build;
use super::error::{ConfigError, config_error};
use crate::adapters::embedded::LocalObjectStore;
use crate::ports::ObjectStore;

/// Where uploaded documents are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectBackend {
    /// Files under the data directory's `objects/`.
    LocalFiles,
    /// An S3 bucket.
    S3 { bucket: String },
}

impl ObjectBackend {
    pub fn chosen(env: &dyn Env) -> Self {
        match env.get("PETRAF_DOCUMENT_BUCKET") {
            Some(bucket) => ObjectBackend::S3 { bucket },
            None => ObjectBackend::LocalFiles,
        }
    }

    /// [`Self::chosen`], except that inside Lambda the bucket must be set.
    pub fn deployed(env: &dyn Env) -> Result<Self, ConfigError> {
        match Self::chosen(env) {
            ObjectBackend::LocalFiles if in_lambda(env) => Err(config_error(
                "PETRAF_DOCUMENT_BUCKET",
                "must be set in AWS Lambda: the S3 bucket of uploaded documents",
            )),
            chosen => Ok(chosen),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ObjectBackend::LocalFiles => "local-files",
            ObjectBackend::S3 { .. } => "s3",
        }
    }

    #[cfg_attr(not(feature = "s3"), allow(unused_variables))]
    pub async fn build(
        self,
        env: &dyn Env,
        dir: &Path,
    ) -> Result<Arc<dyn ObjectStore>, ConfigError> {
        match self {
            ObjectBackend::LocalFiles => Ok(Arc::new(local_object_store(dir))),
            #[cfg(feature = "s3")]
            ObjectBackend::S3 { bucket } => Ok(Arc::new(s3_object_store(env, bucket).await)),
            #[cfg(not(feature = "s3"))]
            ObjectBackend::S3 { .. } => Err(not_in_this_build("PETRAF_DOCUMENT_BUCKET", "s3")),
        }
    }
}

pub(super) fn local_object_store(dir: &Path) -> LocalObjectStore {
    LocalObjectStore::new(dir.join("objects"))
}

/// The endpoint S3 is reached at when one overrides AWS's
/// (`AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`, as the SDK reads them;
/// e.g. moto).
#[cfg(any(feature = "s3", feature = "staging-transfer"))]
pub(super) fn s3_endpoint_override(env: &dyn Env) -> Option<String> {
    env.get("AWS_ENDPOINT_URL_S3")
        .or_else(|| env.get("AWS_ENDPOINT_URL"))
}

/// The S3 store on `bucket`; path-style addressing when an endpoint is
/// overridden ([`s3_endpoint_override`]).
#[cfg(feature = "s3")]
pub async fn s3_object_store(env: &dyn Env, bucket: String) -> crate::adapters::s3::S3ObjectStore {
    let path_style = s3_endpoint_override(env).is_some();
    let client = crate::adapters::s3::client(super::aws_sdk_config(env).await, path_style);
    crate::adapters::s3::S3ObjectStore::new(client, bucket)
}
