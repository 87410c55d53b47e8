//! The AWS SDK configuration every AWS adapter shares, loaded once per process.

/// The AWS SDK configuration, loaded once per process from the standard
/// variables (region, credentials, `AWS_ENDPOINT_URL`,
/// `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL_S3`, ...) and shared by
/// the AWS adapters.
pub async fn aws_sdk_config() -> &'static aws_config::SdkConfig {
    static CONFIG: tokio::sync::OnceCell<aws_config::SdkConfig> =
        tokio::sync::OnceCell::const_new();
    CONFIG
        .get_or_init(|| crate::adapters::tls::aws_config_loader().load())
        .await
}
