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
            AwsTrust::AmazonRoots => {
                builder.tls_backend_preconfigured(super::tls::amazon_roots_tls_config())
            }
            AwsTrust::System => builder,
        };
        Ok(HttpTransfer {
            client: builder.build()?,
        })
    }
}

/// reqwest's error without the URL (its query is a signature), with its
/// causes: reqwest's own message alone is "error sending request", where
/// the cause says "invalid peer certificate: UnknownIssuer" or a timeout.
fn transfer_error(e: reqwest::Error) -> std::io::Error {
    let e = e.without_url();
    let mut message = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(error) = cause {
        message.push_str(": ");
        message.push_str(&error.to_string());
        cause = error.source();
    }
    std::io::Error::other(message)
}

/// What an error answer's body may say, at most: S3's XML error is under
/// a kilobyte, and nothing more is read from a peer that streams on.
const ERROR_BODY_BYTES: usize = 1024;

/// An error for an answer that is not a success: its status and S3's
/// error code (`AccessDenied`, `ExpiredToken`, …). The rest of S3's body is
/// left out: it may quote the signer's access key id.
async fn refused(mut response: reqwest::Response) -> std::io::Error {
    let status = response.status();
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let body = String::from_utf8_lossy(&body);
    match s3_error_code(&body) {
        Some(code) => std::io::Error::other(format!("answered {status}: {code}")),
        None => std::io::Error::other(format!("answered {status}")),
    }
}

/// The `<Code>` of an S3 error body, if it is one.
fn s3_error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let code = &body[start..start + body[start..].find("</Code>")?];
    code.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '.')
        .then_some(code)
}

/// Transfers are retried this many times after the first: S3 answers a
/// share of requests with 500 or 503 (`SlowDown`) by design, and a GET or
/// PUT of a presigned URL may be repeated.
const RETRIES: u32 = 2;

/// Whether a failed attempt is worth repeating: S3's own errors and
/// connections that failed, not a refusal (4xx), a body over the limit or
/// a certificate that will not be trusted on a second try either.
fn retryable(outcome: &Result<reqwest::Response, reqwest::Error>) -> bool {
    match outcome {
        Ok(response) => response.status().is_server_error(),
        Err(e) => (e.is_connect() || e.is_timeout() || e.is_request()) && !is_tls_refusal(e),
    }
}

/// Whether rustls refused the peer somewhere down `error`'s causes (the
/// connector wraps its error in `io::Error`s, whose `source` skips them).
fn is_tls_refusal(error: &reqwest::Error) -> bool {
    fn is_rustls(error: &(dyn std::error::Error + 'static)) -> bool {
        error.is::<rustls::Error>()
            || error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| is_rustls(inner))
    }
    let mut cause = std::error::Error::source(error);
    while let Some(error) = cause {
        if is_rustls(error) {
            return true;
        }
        cause = error.source();
    }
    false
}

impl HttpTransfer {
    /// Sends the request `build` makes, again after S3's errors, with
    /// 100 ms then 400 ms between attempts; a success, or why not.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> std::io::Result<reqwest::Response> {
        let mut attempt = 0;
        loop {
            let outcome = build().send().await;
            if attempt < RETRIES && retryable(&outcome) {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100 * 4u64.pow(attempt - 1))).await;
                continue;
            }
            let response = outcome.map_err(transfer_error)?;
            if !response.status().is_success() {
                return Err(refused(response).await);
            }
            return Ok(response);
        }
    }
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
            let mut response = self.send(|| self.client.get(url)).await?;
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
        // Bytes clone by reference count: each attempt sends the same body.
        let body = axum::body::Bytes::from(body);
        let delivered = self
            .send(|| {
                self.client
                    .put(url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .instrument(span.clone())
            .await
            .map(drop);
        noted(&span, delivered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_code_of_an_s3_error_is_repeated() {
        let body = "<?xml version=\"1.0\"?><Error><Code>SignatureDoesNotMatch</Code>\
            <AWSAccessKeyId>ASIAEXAMPLE</AWSAccessKeyId></Error>";
        assert_eq!(s3_error_code(body), Some("SignatureDoesNotMatch"));
        assert_eq!(s3_error_code("<Code>a b</Code>"), None);
        assert_eq!(s3_error_code("<Code>unterminated"), None);
        assert_eq!(s3_error_code("plain text"), None);
    }

    #[test]
    fn the_amazon_roots_make_a_tls_configuration() {
        HttpTransfer::new(AwsTrust::AmazonRoots).expect("a client on Amazon's roots");
        HttpTransfer::new(AwsTrust::System).expect("a client on the system's roots");
    }
}
