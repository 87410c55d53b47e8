//! Every outbound TLS connection on one crypto library, ring. sqlx already
//! uses it; the AWS SDK and reqwest default to aws-lc, which would link a
//! second, larger crypto library into each Lambda package for nothing.

/// The roots of Amazon Trust Services (Amazon Root CA 1–4 and the
/// Starfield Services root that cross-signs them): every AWS service
/// endpoint's certificate chains to one of them. Public certificates, as
/// the Debian `ca-certificates` package ships them.
#[cfg(any(feature = "aws-sdk", feature = "staging-transfer"))]
pub const AMAZON_TRUST_SERVICES_ROOTS: &str = include_str!("amazon-trust-services-roots.pem");

/// Which roots the TLS connections to AWS trust (the SDK's, and the
/// extract function's to its presigned URLs).
#[cfg(any(feature = "aws-sdk", feature = "staging-transfer"))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsTrust {
    /// Amazon Trust Services' roots only: a certificate from any other CA
    /// is not trusted for connections that only ever reach AWS, and no
    /// cold start loads and parses the system's ~150 roots (1–2.5 ms
    /// natively; BENCHMARKS.md, "Trust roots and init").
    AmazonRoots,
    /// The system's trust store, which honours `SSL_CERT_FILE` and
    /// `SSL_CERT_DIR`: an AWS endpoint behind a TLS-inspecting proxy, or a
    /// stand-in with its own CA.
    System,
}

/// The AWS SDK configuration loader with an HTTPS client on ring trusting
/// `trust`; everything else (region, credentials, endpoints) comes from the
/// standard variables.
#[cfg(feature = "aws-sdk")]
pub fn aws_config_loader_trusting(trust: AwsTrust) -> aws_config::ConfigLoader {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(aws_https_client_trusting(trust))
}

/// [`aws_config_loader_trusting`] the system's roots: the tests' clients of
/// the stand-ins.
#[cfg(feature = "aws-sdk")]
pub fn aws_config_loader() -> aws_config::ConfigLoader {
    aws_config_loader_trusting(AwsTrust::System)
}

/// The AWS SDK's HTTPS client on ring trusting the system's roots, for
/// clients configured by hand (the tests' clients of the stand-ins).
#[cfg(feature = "aws-sdk")]
pub fn aws_https_client() -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    aws_https_client_trusting(AwsTrust::System)
}

/// The AWS SDK's HTTPS client on ring, trusting `trust`.
#[cfg(feature = "aws-sdk")]
pub fn aws_https_client_trusting(
    trust: AwsTrust,
) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_http_client::tls::{
        Provider, TlsContext, TrustStore, rustls_provider::CryptoMode,
    };
    let trust_store = match trust {
        AwsTrust::AmazonRoots => {
            TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
        }
        AwsTrust::System => TrustStore::default(),
    };
    let context = TlsContext::builder()
        .with_trust_store(trust_store)
        .build()
        .expect("a TLS context without extra server names always builds");
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .tls_context(context)
        .build_https()
}

/// A rustls client configuration on ring trusting Amazon Trust Services'
/// roots alone: the extract function's requests to presigned S3 URLs.
#[cfg(feature = "staging-transfer")]
pub fn amazon_roots_tls_config() -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes()) {
        let certificate = certificate.expect("the bundled roots are PEM");
        roots
            .add(certificate)
            .expect("the bundled roots are trust anchors");
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(roots)
    .with_no_client_auth()
}

/// Makes ring rustls's process-wide provider, which reqwest (built without
/// one of its own) uses. Idempotent; a provider installed first stands.
#[cfg(any(feature = "openai", feature = "staging-transfer"))]
pub fn install_ring_for_rustls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(all(test, feature = "aws-sdk"))]
mod tests {
    use super::*;
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    #[test]
    fn amazon_roots_are_five_trust_anchors_named_as_such() {
        let certificates = CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundle is PEM");
        let mut roots = rustls::RootCertStore::empty();
        let (valid, invalid) = roots.add_parsable_certificates(certificates);
        assert_eq!((valid, invalid), (5, 0));
        let subjects: Vec<String> = roots
            .roots
            .iter()
            .map(|anchor| String::from_utf8_lossy(anchor.subject.as_ref()).into_owned())
            .collect();
        for name in [
            "Amazon Root CA 1",
            "Amazon Root CA 2",
            "Amazon Root CA 3",
            "Amazon Root CA 4",
            "Starfield Services Root Certificate Authority - G2",
        ] {
            assert!(
                subjects.iter().any(|subject| subject.contains(name)),
                "{name} is missing from {subjects:?}"
            );
        }
    }
}
