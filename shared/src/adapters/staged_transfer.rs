//! The staged document and its reply over HTTPS (reqwest on ring), each
//! transfer in a span of its own ([`TARGET`]) so that X-Ray shows it as
//! the SDK's S3 calls were shown.

use std::time::Duration;

use async_trait::async_trait;
use tracing::Instrument;

use super::tls::AwsTrust;
use crate::ports::StagedTransfer;
use crate::telemetry::xray::TARGET;

/// Connecting to S3 takes milliseconds; a staged object is at most 10 MB.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct HttpTransfer {
    client: reqwest::Client,
}

impl HttpTransfer {
    /// A client trusting `trust`'s roots, following no redirect: a
    /// presigned URL is answered where it points or not at all.
    pub fn new(trust: AwsTrust) -> Result<Self, reqwest::Error> {
        super::tls::install_ring_for_rustls();
        let builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TRANSFER_TIMEOUT);
        let builder = match trust {
            AwsTrust::AmazonRoots => builder.tls_backend_preconfigured(amazon_roots_tls()),
            AwsTrust::System => builder,
        };
        Ok(HttpTransfer {
            client: builder.build()?,
        })
    }
}

fn amazon_roots_tls() -> rustls::ClientConfig {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for certificate in
        CertificateDer::pem_slice_iter(super::tls::AMAZON_TRUST_SERVICES_ROOTS.as_bytes())
    {
        let certificate = certificate.expect("the bundled roots are PEM");
        roots
            .add(certificate)
            .expect("the bundled roots are trust anchors");
    }
    rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth()
}

/// reqwest's error without the URL, whose query is a signature.
fn transfer_error(e: reqwest::Error) -> std::io::Error {
    std::io::Error::other(e.without_url())
}

/// An error for an answer that is not a success, with the start of its
/// body (S3 explains itself in XML: `AccessDenied`, `ExpiredToken`, …).
async fn refused(response: reqwest::Response) -> std::io::Error {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let said: String = body.chars().take(300).collect();
    std::io::Error::other(format!("answered {status}: {said}"))
}

fn span(call: &'static str) -> tracing::Span {
    tracing::info_span!(target: TARGET, "staging", call, error = tracing::field::Empty)
}

fn noted<T>(span: &tracing::Span, result: std::io::Result<T>) -> std::io::Result<T> {
    if let Err(e) = &result {
        span.record("error", tracing::field::display(e));
    }
    result
}

#[async_trait]
impl StagedTransfer for HttpTransfer {
    async fn fetch(&self, url: &str, limit: usize) -> std::io::Result<Vec<u8>> {
        let span = span("fetch");
        let fetched = async {
            let mut response = self.client.get(url).send().await.map_err(transfer_error)?;
            if !response.status().is_success() {
                return Err(refused(response).await);
            }
            let too_large = || std::io::Error::other(format!("the body is over {limit} bytes"));
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(too_large());
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(transfer_error)? {
                if body.len() + chunk.len() > limit {
                    return Err(too_large());
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        }
        .instrument(span.clone())
        .await;
        noted(&span, fetched)
    }

    async fn deliver(&self, url: &str, body: Vec<u8>) -> std::io::Result<()> {
        let span = span("deliver");
        let delivered = async {
            let response = self
                .client
                .put(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .map_err(transfer_error)?;
            if !response.status().is_success() {
                return Err(refused(response).await);
            }
            Ok(())
        }
        .instrument(span.clone())
        .await;
        noted(&span, delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amazon_roots_make_a_tls_configuration() {
        HttpTransfer::new(AwsTrust::AmazonRoots).expect("a client on Amazon's roots");
        HttpTransfer::new(AwsTrust::System).expect("a client on the system's roots");
    }
}
