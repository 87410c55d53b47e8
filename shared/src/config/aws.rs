//! The AWS SDK configuration every AWS adapter shares, loaded once per process.

use super::env::{Env, in_lambda};
use super::trust::aws_trust;
use crate::adapters::tls::aws_config_loader_trusting;

/// The AWS SDK configuration, loaded once per process from the standard
/// variables (region, credentials, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, ...) and shared by
/// the AWS adapters; its TLS trusts [`aws_trust`]'s roots.
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
