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
        .with_filter(filter.and(
            // The hint keeps the logs' level EnvFilter's, not every level.
            filter_fn(|m| m.target() != xray::TARGET).with_max_level_hint(LevelFilter::TRACE),
        ));
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
