use crate::extraction::staging::STAGING_PREFIX;
use crate::extraction::{DocumentFormat, ExtractFailure, Limits};
use crate::ports::{DocumentReader, ObjectStore};

const GROWTH_PLAN: &str = "<html><head><title>Growth plan</title></head><body>\
    <h1>Mentoring</h1><p>Every engineer meets a mentor twice a month.</p>\
    <h2>Reviews</h2><p>Goals are reviewed each quarter.</p></body></html>";

/// Runs every document-reader promise against `reader`. `staging` is the
/// store it stages documents in, if any: nothing may be left there.
pub async fn document_reader(reader: &dyn DocumentReader, staging: Option<&dyn ObjectStore>) {
    let limits = Limits::default();
    let read_html = || reader.read(DocumentFormat::Html, GROWTH_PLAN.into(), &limits);

    // Two at once: each gets its own document back.
    let (first, second) = tokio::join!(read_html(), read_html());
    for reply in [first, second] {
        let extracted = reply
            .expect("the reader ran")
            .outcome
            .expect("the HTML is read");
        assert_eq!(extracted.title.as_deref(), Some("Growth plan"));
        assert!(
            extracted
                .blocks
                .iter()
                .any(|b| b.text.contains("mentor twice a month")),
            "{extracted:?}"
        );
    }

    // A broken document is the document's failure, not the reader's.
    let broken = reader
        .read(
            DocumentFormat::Pdf,
            b"%PDF-1.7\n\x00\x01 not a pdf".to_vec(),
            &limits,
        )
        .await
        .expect("the reader ran");
    assert!(
        matches!(
            broken.outcome,
            Err(ExtractFailure::Corrupt(_) | ExtractFailure::NoTextLayer)
        ),
        "{:?}",
        broken.outcome
    );

    // The limits travel with the document.
    let tight = Limits {
        max_html_bytes: 64,
        ..Limits::default()
    };
    let over = reader
        .read(DocumentFormat::Html, GROWTH_PLAN.into(), &tight)
        .await
        .expect("the reader ran");
    assert!(
        matches!(over.outcome, Err(ExtractFailure::TooLarge(_))),
        "{:?}",
        over.outcome
    );

    // And it still reads after failures.
    assert!(read_html().await.unwrap().outcome.is_ok());

    if let Some(staging) = staging
        && let Some(left) = staging.keys_under(STAGING_PREFIX).await.unwrap()
    {
        assert!(left.is_empty(), "left staged: {left:?}");
    }
}
