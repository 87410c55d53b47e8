//! JSON logs through tracing, and the operational metrics. Nothing personal
//! is logged: routes are logged by template, identifiers through
//! `domain::privacy::mask`.

pub mod metrics;
pub mod xray;

use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Installs the JSON logs (`RUST_LOG` filters; default `info`) and, where
/// an X-Ray daemon listens (`AWS_XRAY_DAEMON_ADDRESS`), the subsegments.
/// Each log line carries the fields of the request span it was written in
/// (the request id and tenant of `http::access_log`'s span), not the whole
/// span list: the subsegments' spans are not the logs' (a line written
/// inside a model call still names its request). Safe to call more than
/// once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_filter(logged(filter));
    // The SDK's operation spans are debug-level.
    let subsegments = xray::layer_from_env().map(|layer| {
        layer.with_filter(filter_fn(xray::wanted).with_max_level_hint(LevelFilter::DEBUG))
    });
    let _ = tracing_subscriber::registry()
        .with(logs)
        .with(subsegments)
        .try_init();
    metrics::init_from_env();
}

/// What the logs keep: what `filter` lets through, but neither the
/// subsegments' spans nor raw events.
fn logged<S>(filter: EnvFilter) -> impl tracing_subscriber::layer::Filter<S> {
    filter.and(
        // The hint keeps the logs' level EnvFilter's, not every level.
        filter_fn(|m| m.target() != xray::TARGET && !carries_raw_events(m))
            .with_max_level_hint(LevelFilter::TRACE),
    )
}

/// lambda_runtime logs each invocation's raw event at TRACE: an API
/// request's headers (admin keys, resume tokens) or the extract function's
/// presigned URLs. Never logged, whatever `RUST_LOG` says.
fn carries_raw_events(metadata: &tracing::Metadata<'_>) -> bool {
    metadata.target().starts_with("lambda_runtime") && *metadata.level() == tracing::Level::TRACE
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn raw_events_are_never_logged_even_at_trace() {
        let written = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = written.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(move || WriteTo(sink.clone()))
            .with_filter(logged(EnvFilter::new("trace")));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(
                target: "lambda_runtime::layers::api_response",
                body = "X-Amz-Security-Token=s3cr3t",
                "raw JSON event received from Lambda"
            );
            tracing::debug!(target: "lambda_runtime::layers::api_response", "polled");
            tracing::trace!(target: "petraf_core::app", "ours at trace");
        });
        let written = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(!written.contains("s3cr3t"), "{written}");
        assert!(written.contains("polled"), "{written}");
        assert!(written.contains("ours at trace"), "{written}");
    }

    struct WriteTo(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for WriteTo {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
