//! Every outbound TLS connection on one crypto library, ring. sqlx already
//! uses it; the AWS SDK and reqwest default to aws-lc, which would link a
//! second, larger crypto library into each Lambda package for nothing.

/// The AWS SDK configuration loader with an HTTPS client on ring; everything
/// else (region, credentials, endpoints) comes from the standard variables.
#[cfg(feature = "aws-sdk")]
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(aws_https_client())
}

/// The AWS SDK's HTTPS client on ring, for clients configured by hand (the
/// tests' clients of the stand-ins) as well as the loader above.
#[cfg(feature = "aws-sdk")]
pub fn aws_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// Makes ring rustls's process-wide provider, which reqwest (built without
/// one of its own) uses. Idempotent; a provider installed first stands.
#[cfg(feature = "openai")]
pub fn install_ring_for_rustls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
