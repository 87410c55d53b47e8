//! The cost benchmark's walk, once, on the stand-ins: what it counts for
//! one completed session is what the production adapters do (skipped
//! without the stand-ins, unless PETRAF_REQUIRE_STANDINS=1).

use petraf_tests::cost::{Bench, standins_from_env};

#[tokio::test]
async fn one_session_is_counted_on_every_billed_service() {
    let standins = match standins_from_env() {
        Ok(s) => s,
        Err(e) if std::env::var("PETRAF_REQUIRE_STANDINS").as_deref() == Ok("1") => panic!("{e}"),
        Err(_) => {
            eprintln!("skipped: the stand-ins are not running (scripts/test.sh starts them)");
            return;
        }
    };
    let mut bench = Bench::start(&standins).await;
    assert_eq!(bench.upload_documents().await, 4);
    let uploads = bench.take();
    assert!(
        uploads.usage.s3_put_requests >= 4,
        "each upload is kept in S3"
    );
    assert!(uploads.usage.embedding_tokens > 0);
    assert!(
        uploads.usage.data_api_calls >= 4 * 3,
        "a transaction per document"
    );
    assert_eq!(uploads.usage.lambda["admin"].invocations, 4);

    bench.session(0).await;
    let walked = bench.take();
    let usage = &walked.usage;
    let invocations = |f: &str| usage.lambda.get(f).map_or(0, |l| l.invocations);
    assert_eq!(
        (
            invocations("session"),
            invocations("chat-stream"),
            invocations("goals")
        ),
        (4, 4, 2),
        "tenant, create, info, complete; four turns; goals and export"
    );
    assert_eq!(usage.lambda["chat-stream"].through_http_api, 0);
    assert_eq!(usage.lambda["session"].memory_mb, 256);
    // Every turn commits in transactions: at least two writes of two units.
    assert!(usage.dynamodb_write_units >= 4 * 2 * 2, "{usage:?}");
    assert!(usage.dynamodb_read_half_units > 0);
    assert_eq!(walked.dynamodb_operations.get("Scan"), None, "no scans");
    assert!(walked.dynamodb_operations["TransactWriteItems"] >= 8);
    // Retrieval: each turn searches the documents through the Data API.
    assert!(usage.data_api_calls >= 4, "{usage:?}");
    // The prompts carry instructions and passages: far more in than out.
    assert!(
        usage.chat_input_tokens > 3 * usage.chat_output_tokens,
        "{usage:?}"
    );
    assert!(usage.chat_output_tokens > 0 && usage.embedding_tokens > 0);
}
