//! Where documents that need a parser engine are read
//! (`PETRAF_EXTRACT_FUNCTION`, `PETRAF_EXTRACT_WORKER`).

use std::sync::Arc;

use super::env::Env;
use super::error::{ConfigError, config_error};
use crate::adapters::document_reader::WorkerProcess;
use crate::ports::{DocumentReader, ObjectStore};

/// `PETRAF_EXTRACT_FUNCTION`: the name or ARN of the extract function,
/// which reads documents staged in the document bucket (`objects`, which
/// must then be S3). Unset: a worker process beside this one, which a build
/// without the `extraction` feature cannot run unless
/// `PETRAF_EXTRACT_WORKER` names an executable that can.
pub async fn document_reader(
    env: &dyn Env,
    objects: &Arc<dyn ObjectStore>,
) -> Result<Arc<dyn DocumentReader>, ConfigError> {
    match env.get("PETRAF_EXTRACT_FUNCTION") {
        Some(function) => extract_function(env, function, objects).await,
        None => checked_worker(env, "PETRAF_EXTRACT_FUNCTION"),
    }
}

/// A worker process beside this one (`PETRAF_EXTRACT_WORKER` or this
/// executable): what the extract function itself reads documents with.
pub fn worker_reader(env: &dyn Env) -> Result<Arc<dyn DocumentReader>, ConfigError> {
    checked_worker(env, "PETRAF_EXTRACT_WORKER")
}

/// The worker process, or an error naming `missing`, the variable that
/// would let a build without the parsers read documents.
fn checked_worker(
    env: &dyn Env,
    missing: &'static str,
) -> Result<Arc<dyn DocumentReader>, ConfigError> {
    let worker = WorkerProcess::new(super::settings::extract_worker(env));
    if !worker.can_read() {
        return Err(config_error(
            missing,
            "is required: this build has no PDF, Office or HTML reader (feature `extraction`)",
        ));
    }
    Ok(Arc::new(worker))
}

#[cfg(feature = "extract-function")]
async fn extract_function(
    env: &dyn Env,
    function: String,
    objects: &Arc<dyn ObjectStore>,
) -> Result<Arc<dyn DocumentReader>, ConfigError> {
    if objects.name() != "s3" {
        return Err(config_error(
            "PETRAF_EXTRACT_FUNCTION",
            "stages documents in the document bucket: set PETRAF_DOCUMENT_BUCKET too",
        ));
    }
    let client = aws_sdk_lambda::Client::new(super::aws_sdk_config(env).await);
    Ok(Arc::new(
        crate::adapters::document_reader::ExtractFunction::new(client, function, objects.clone()),
    ))
}

#[cfg(not(feature = "extract-function"))]
async fn extract_function(
    _env: &dyn Env,
    _function: String,
    _objects: &Arc<dyn ObjectStore>,
) -> Result<Arc<dyn DocumentReader>, ConfigError> {
    Err(config_error(
        "PETRAF_EXTRACT_FUNCTION",
        "is set but this build cannot invoke Lambda functions (feature `extract-function`)",
    ))
}

/// How the extract function fetches the documents staged for it and
/// delivers their replies: presigned URLs over HTTPS, trusting
/// [`super::trust::aws_trust`]'s roots as the AWS SDK does.
#[cfg(feature = "staging-transfer")]
pub fn staged_transfer(
    env: &dyn Env,
) -> Result<Arc<dyn crate::ports::StagedTransfer>, ConfigError> {
    let transfer =
        crate::adapters::staged_transfer::HttpTransfer::new(super::trust::aws_trust(env))
            .map_err(|e| config_error("SSL_CERT_FILE", format!("no HTTPS client: {e}")))?;
    Ok(Arc::new(transfer))
}

/// The document bucket whose presigned URLs the extract function accepts:
/// `PETRAF_DOCUMENT_BUCKET` in `AWS_REGION`, or behind the S3 endpoint a
/// stand-in overrides, path-style as the S3 adapter addresses it there.
#[cfg(feature = "staging-transfer")]
pub fn staging_bucket(
    env: &dyn Env,
) -> Result<crate::extraction::staging::StagingBucket, ConfigError> {
    use super::objects::{ObjectBackend, s3_endpoint_override};
    use crate::extraction::staging::StagingBucket;
    let ObjectBackend::S3 { bucket } = ObjectBackend::chosen(env) else {
        return Err(config_error(
            "PETRAF_DOCUMENT_BUCKET",
            "is required: the bucket whose staged documents this function reads",
        ));
    };
    if let Some(endpoint) = s3_endpoint_override(env) {
        return Ok(StagingBucket::at_endpoint(&endpoint, &bucket));
    }
    let region = env
        .get("AWS_REGION")
        .or_else(|| env.get("AWS_DEFAULT_REGION"))
        .ok_or_else(|| config_error("AWS_REGION", "is required: the document bucket's region"))?;
    Ok(StagingBucket::on_aws(&bucket, &region))
}
