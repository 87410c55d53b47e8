//! The document-reader conformance suite against both readers: a worker
//! process beside the server, and the extract function behind Lambda's
//! Invoke API (served here on loopback by the extract function's own use
//! case). The extract function's staging runs on S3 (moto), as deployed:
//! the invoker stages the document and presigns its URLs, the function
//! reaches them over HTTP with no grant of its own.
//!
//! Then the function's transfer against a hostile or failing peer: a
//! document over the limit, a redirect, a refusal, URLs that point
//! elsewhere.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_s3::config::{Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use petraf_core::adapters::document_reader::{ExtractFunction, WorkerProcess};
use petraf_core::adapters::embedded::LocalObjectStore;
use petraf_core::adapters::staged_transfer::HttpTransfer;
use petraf_core::adapters::tls::AwsTrust;
use petraf_core::app::ingestion::staged::read_staged;
use petraf_core::conformance;
use petraf_core::extraction::staging::{
    ExtractRequest, ExtractResponse, STAGING_PREFIX, StagingBucket,
};
use petraf_core::extraction::{DocumentFormat, Limits, MAX_DOCUMENT_BYTES};
use petraf_core::ports::{DocumentReader, ObjectStore, StagedTransfer};
use petraf_tests::moto::{moto_endpoint, moto_object_store};
use serde_json::json;

fn worker() -> Arc<dyn DocumentReader> {
    Arc::new(WorkerProcess::new(Some(petraf_tests::extract_worker())))
}

/// The transfer the extract function runs with; plain HTTP reaches the
/// loopback stand-ins whatever the roots.
fn transfer() -> Arc<dyn StagedTransfer> {
    Arc::new(HttpTransfer::new(AwsTrust::AmazonRoots).unwrap())
}

#[tokio::test]
async fn a_worker_process_keeps_the_document_reader_promises() {
    conformance::document_reader(worker().as_ref(), None).await;
}

/// What the Invoke endpoint answers with.
#[derive(Clone, Copy, PartialEq)]
enum Function {
    /// The extract function's use case.
    Working,
    /// A function error (a crash, a timeout), as Lambda reports it.
    Failing,
    /// It reads the document but claims a reply of another size.
    Lying,
}

type Shared = (
    Arc<dyn StagedTransfer>,
    Arc<dyn DocumentReader>,
    Arc<StagingBucket>,
    Function,
);

async fn invoke(
    State((transfer, reader, bucket, function)): State<Shared>,
    payload: Bytes,
) -> Response {
    let failed = |message: String| {
        (
            StatusCode::OK,
            [("x-amz-function-error", "Unhandled")],
            json!({"errorType": "Sandbox.Timedout", "errorMessage": message}).to_string(),
        )
            .into_response()
    };
    if function == Function::Failing {
        return failed("Task timed out after 60.00 seconds".into());
    }
    let request: ExtractRequest = serde_json::from_slice(&payload).expect("an extract request");
    match read_staged(transfer.as_ref(), reader.as_ref(), &bucket, request).await {
        Ok(response) if function == Function::Lying => {
            let lie = ExtractResponse {
                reply_bytes: response.reply_bytes + 1,
            };
            (StatusCode::OK, serde_json::to_string(&lie).unwrap()).into_response()
        }
        Ok(response) => (StatusCode::OK, serde_json::to_string(&response).unwrap()).into_response(),
        Err(message) => failed(message),
    }
}

/// Serves `router` on loopback; its base URL.
async fn serve(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

/// The extract function behind an Invoke endpoint on loopback, staging in
/// a fresh bucket on moto; the bucket's client, to look into it. `None`
/// without moto.
#[allow(clippy::type_complexity)]
async fn extract_function(
    function: Function,
) -> Option<(
    ExtractFunction,
    Arc<dyn ObjectStore>,
    aws_sdk_s3::Client,
    String,
)> {
    let (store, client) = moto_object_store("petraf-extract").await?;
    let bucket = store.bucket().to_string();
    let staging = StagingBucket::at_endpoint(&moto_endpoint()?, &bucket);
    let objects: Arc<dyn ObjectStore> = Arc::new(store);
    let router = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state((transfer(), worker(), Arc::new(staging), function));
    let endpoint = serve(router).await;
    let sdk_config = petraf_core::adapters::tls::aws_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let reader = ExtractFunction::from_sdk_config(&sdk_config, "extract", objects.clone());
    Some((reader, objects, client, bucket))
}

/// What is left under the staging prefix (S3 lists it; the store's
/// `keys_under` is for local files only).
async fn staged_left(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let listed = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(STAGING_PREFIX)
        .send()
        .await
        .unwrap();
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extract_function_keeps_the_document_reader_promises() {
    let Some((reader, objects, client, bucket)) = extract_function(Function::Working).await else {
        return;
    };
    conformance::document_reader(&reader, Some(objects.as_ref())).await;
    let left = staged_left(&client, &bucket).await;
    assert!(left.is_empty(), "left staged: {left:?}");
}

/// A read through `function` fails with an error that says `says`, and
/// nothing is left staged.
async fn fails_and_leaves_nothing_staged(function: Function, says: &str) {
    let Some((reader, _objects, client, bucket)) = extract_function(function).await else {
        return;
    };
    let error = reader
        .read(
            DocumentFormat::Html,
            b"<p>text</p>".to_vec(),
            &Limits::default(),
        )
        .await
        .expect_err("not an answer");
    assert!(error.to_string().contains(says), "{error}");
    let left = staged_left(&client, &bucket).await;
    assert!(left.is_empty(), "left staged: {left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_extract_function_is_the_readers_fault_and_leaves_nothing_staged() {
    fails_and_leaves_nothing_staged(Function::Failing, "Task timed out").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_of_another_size_than_delivered_is_refused_and_nothing_stays_staged() {
    fails_and_leaves_nothing_staged(Function::Lying, "delivered").await;
}

#[tokio::test]
async fn a_store_that_cannot_presign_cannot_stage_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let objects: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(dir.path().to_path_buf()));
    let sdk_config = petraf_core::adapters::tls::aws_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let reader = ExtractFunction::from_sdk_config(&sdk_config, "extract", objects.clone());
    let error = reader
        .read(
            DocumentFormat::Html,
            b"<p>text</p>".to_vec(),
            &Limits::default(),
        )
        .await
        .expect_err("local files have no URLs");
    assert!(error.to_string().contains("cannot presign"), "{error}");
    let left = objects.keys_under(STAGING_PREFIX).await.unwrap().unwrap();
    assert!(left.is_empty(), "left staged: {left:?}");
}

// ------------------------------------------------------- the transfer itself

const ID: &str = "01J0000000000000000000000A";

/// A peer that misbehaves on some staged keys, and counts what reaches it.
async fn peer() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = |hits: &Arc<AtomicUsize>| {
        let hits = hits.clone();
        move || {
            hits.fetch_add(1, Ordering::SeqCst);
        }
    };
    let (big, small, moved, denied) = (
        counted(&hits),
        counted(&hits),
        counted(&hits),
        counted(&hits),
    );
    let (streamed, flaky, broken) = (counted(&hits), counted(&hits), counted(&hits));
    let flaky_calls = Arc::new(AtomicUsize::new(0));
    let router = Router::new()
        .route(
            "/big/extraction/{id}",
            get(move || async move {
                big();
                vec![b'x'; MAX_DOCUMENT_BYTES + 1]
            }),
        )
        .route(
            "/small/extraction/{id}",
            get(move || async move {
                small();
                "<p>small</p>"
            }),
        )
        .route(
            "/moved/extraction/{id}",
            get(move || async move {
                moved();
                Redirect::temporary(&format!("/small/extraction/{ID}"))
            }),
        )
        .route(
            "/denied/extraction/{id}",
            get(move || async move {
                denied();
                (
                    StatusCode::FORBIDDEN,
                    "<Error><Code>AccessDenied</Code><AWSAccessKeyId>ASIAEXAMPLEKEY</AWSAccessKeyId></Error>",
                )
            }),
        )
        // No Content-Length: the limit holds as the body streams.
        .route(
            "/streamed/extraction/{id}",
            get(move || async move {
                streamed();
                let chunk = || Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024 * 1024]));
                let chunks = futures::stream::iter((0..11).map(move |_| chunk()));
                axum::body::Body::from_stream(chunks)
            }),
        )
        // S3's 503 twice, then the document.
        .route(
            "/flaky/extraction/{id}",
            get(move || {
                let calls = flaky_calls.clone();
                async move {
                    flaky();
                    if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                        (StatusCode::SERVICE_UNAVAILABLE, "<Error><Code>SlowDown</Code></Error>")
                    } else {
                        (StatusCode::OK, "<p>at last</p>")
                    }
                }
            }),
        )
        .route(
            "/broken/extraction/{id}",
            get(move || async move {
                broken();
                (StatusCode::INTERNAL_SERVER_ERROR, "<Error><Code>InternalError</Code></Error>")
            }),
        );
    (serve(router).await, hits)
}

/// The staged document at `url`, fetched as the extract function does.
async fn fetch(url: &str) -> std::io::Result<Vec<u8>> {
    transfer().fetch(url, MAX_DOCUMENT_BYTES).await
}

#[tokio::test]
async fn a_document_over_the_limit_is_refused_not_read_whole() {
    let (base, _) = peer().await;
    let error = fetch(&format!("{base}/big/extraction/{ID}"))
        .await
        .expect_err("over the limit");
    assert!(error.to_string().contains("over"), "{error}");
    let small = fetch(&format!("{base}/small/extraction/{ID}"))
        .await
        .unwrap();
    assert_eq!(small, b"<p>small</p>");
}

#[tokio::test]
async fn a_streamed_document_over_the_limit_is_refused_as_it_arrives() {
    let (base, _) = peer().await;
    let error = fetch(&format!("{base}/streamed/extraction/{ID}"))
        .await
        .expect_err("over the limit");
    assert!(error.to_string().contains("over"), "{error}");
}

#[tokio::test]
async fn s3s_errors_are_retried_twice_and_refusals_never() {
    let (base, hits) = peer().await;
    let fetched = fetch(&format!("{base}/flaky/extraction/{ID}"))
        .await
        .expect("the third attempt answers");
    assert_eq!(fetched, b"<p>at last</p>");
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    let broken = fetch(&format!("{base}/broken/extraction/{ID}"))
        .await
        .expect_err("always 500");
    assert!(broken.to_string().contains("InternalError"), "{broken}");
    assert_eq!(hits.load(Ordering::SeqCst), 6, "three attempts, no more");

    fetch(&format!("{base}/denied/extraction/{ID}"))
        .await
        .expect_err("refused");
    assert_eq!(hits.load(Ordering::SeqCst), 7, "a refusal is not repeated");
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_a_refusal_is_explained_without_the_signature() {
    let (base, hits) = peer().await;
    let signed = |path: &str| format!("{base}/{path}/extraction/{ID}?X-Amz-Signature=s3cr3t");
    let moved = fetch(&signed("moved"))
        .await
        .expect_err("a redirect is not the document");
    assert!(moved.to_string().contains("307"), "{moved}");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "the redirect was followed");
    let denied = fetch(&signed("denied")).await.expect_err("refused");
    assert!(denied.to_string().contains("AccessDenied"), "{denied}");
    for error in [moved, denied] {
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        assert!(!error.to_string().contains("ASIAEXAMPLEKEY"), "{error}");
    }
}

#[tokio::test]
async fn urls_that_point_elsewhere_are_refused_before_any_request() {
    let (base, hits) = peer().await;
    let bucket = StagingBucket::at_endpoint(&base, "small");
    let other = "01J0000000000000000000000B";
    for (document_url, reply_url) in [
        // Another document's reply.
        (
            format!("{base}/small/extraction/{ID}"),
            format!("{base}/small/extraction/{other}.reply.json"),
        ),
        // Another bucket on the same endpoint.
        (
            format!("{base}/big/extraction/{ID}"),
            format!("{base}/big/extraction/{ID}.reply.json"),
        ),
        // Another host altogether.
        (
            format!("https://evil.example/small/extraction/{ID}"),
            format!("https://evil.example/small/extraction/{ID}.reply.json"),
        ),
    ] {
        let request = ExtractRequest {
            document_url,
            reply_url,
            format: DocumentFormat::Html,
            limits: Limits::default(),
        };
        read_staged(transfer().as_ref(), worker().as_ref(), &bucket, request)
            .await
            .expect_err("refused");
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing is fetched");
}

/// A TLS peer on loopback whose certificate chains to no Amazon root
/// (tests/fixtures/tls): it completes no handshake with the transfer.
async fn not_amazon_peer() -> (String, Arc<AtomicUsize>) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/tls");
    let certificate = CertificateDer::from_pem_file(format!("{dir}/not-amazon.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{dir}/not-amazon.key")).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certificate], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // The client walks away mid-handshake: nothing to serve.
                let _ = acceptor.accept(socket).await;
            });
        }
    });
    (format!("https://localhost:{port}"), connections)
}

#[tokio::test]
async fn a_peer_without_an_amazon_certificate_is_refused_and_the_cause_said() {
    let (base, connections) = not_amazon_peer().await;
    let error = fetch(&format!("{base}/petraf-documents/extraction/{ID}"))
        .await
        .expect_err("no Amazon root vouches for it");
    let said = error.to_string();
    assert!(
        said.contains("certificate") && said.contains("UnknownIssuer"),
        "the refusal names its cause: {said}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        1,
        "a certificate refused once is not tried again"
    );
    let delivered = transfer()
        .deliver(
            &format!("{base}/petraf-documents/extraction/{ID}.reply.json"),
            b"{}".to_vec(),
        )
        .await;
    assert!(delivered.is_err(), "no reply delivered to it either");
}
