//! The AWS SDK configuration every AWS adapter shares, loaded once per process.

use super::env::{Env, in_lambda};
use crate::adapters::tls::{AwsTrust, aws_config_loader_trusting};

/// The AWS SDK configuration, loaded once per process from the standard
/// variables (region, credentials, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, ...) and shared by
/// the AWS adapters; its TLS trusts [`aws_trust`].
pub async fn aws_sdk_config(env: &dyn Env) -> &'static aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    let (trust, lambda) = (aws_trust(env), in_lambda(env));
    // Every AWS adapter asks for it: the loader is built once, on the first ask.
    CONFIG
        .get_or_init(|| async move {
            let mut loader = aws_config_loader_trusting(trust);
            if lambda {
                // Lambda hands the role's credentials to the process in
                // these variables; the default chain would first build the
                // profile and web-identity providers (an STS client) that
                // never answer here, at every cold start.
                loader = loader.credentials_provider(
                    aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
                );
            }
            loader.load().await
        })
        .await
}

/// Amazon Trust Services' roots, unless `SSL_CERT_FILE` or `SSL_CERT_DIR`
/// names a trust store of the operator's: then the system's, which reads it.
pub fn aws_trust(env: &dyn Env) -> AwsTrust {
    if env.get("SSL_CERT_FILE").is_some() || env.get("SSL_CERT_DIR").is_some() {
        AwsTrust::System
    } else {
        AwsTrust::AmazonRoots
    }
}
