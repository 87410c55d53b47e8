//! The document-reader conformance suite against both readers: a worker
//! process beside the server, and the extract function behind Lambda's
//! Invoke API (served here on loopback by the extract function's own use
//! case over a shared object store, as S3 is shared in production).

use std::sync::Arc;

use aws_sdk_s3::config::{Credentials, Region};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use petraf_core::adapters::document_reader::{ExtractFunction, WorkerProcess};
use petraf_core::adapters::embedded::LocalObjectStore;
use petraf_core::app::ingestion::staged::read_staged;
use petraf_core::conformance;
use petraf_core::extraction::staging::{ExtractRequest, STAGING_PREFIX};
use petraf_core::extraction::{DocumentFormat, Limits};
use petraf_core::ports::{DocumentReader, ObjectStore};
use serde_json::json;

fn worker() -> Arc<dyn DocumentReader> {
    Arc::new(WorkerProcess::new(Some(petraf_tests::extract_worker())))
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
}

type Shared = (Arc<dyn ObjectStore>, Arc<dyn DocumentReader>, Function);

async fn invoke(State((objects, reader, function)): State<Shared>, payload: Bytes) -> Response {
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
    match read_staged(objects.as_ref(), reader.as_ref(), request).await {
        Ok(response) => (StatusCode::OK, serde_json::to_string(&response).unwrap()).into_response(),
        Err(message) => failed(message),
    }
}

/// The extract function behind an Invoke endpoint on loopback, and the
/// object store both sides stage in.
async fn extract_function(
    function: Function,
) -> (ExtractFunction, Arc<dyn ObjectStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let objects: Arc<dyn ObjectStore> = Arc::new(LocalObjectStore::new(dir.path().to_path_buf()));
    let router = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invoke))
        .with_state((objects.clone(), worker(), function));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let sdk_config = petraf_core::adapters::tls::aws_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .load()
        .await;
    let reader = ExtractFunction::from_sdk_config(&sdk_config, "extract", objects.clone());
    (reader, objects, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_extract_function_keeps_the_document_reader_promises() {
    let (reader, objects, _dir) = extract_function(Function::Working).await;
    conformance::document_reader(&reader, Some(objects.as_ref())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_extract_function_is_the_readers_fault_and_leaves_nothing_staged() {
    let (reader, objects, _dir) = extract_function(Function::Failing).await;
    let error = reader
        .read(
            DocumentFormat::Html,
            b"<p>text</p>".to_vec(),
            &Limits::default(),
        )
        .await
        .expect_err("a function error is not an answer");
    assert!(error.to_string().contains("Task timed out"), "{error}");
    let left = objects.keys_under(STAGING_PREFIX).await.unwrap().unwrap();
    assert!(left.is_empty(), "left staged: {left:?}");
}
