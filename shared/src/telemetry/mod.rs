//! JSON logs through tracing, and the operational metrics. Nothing personal
//! is logged: routes are logged by template, identifiers through
//! `domain::privacy::mask`.

pub mod metrics;

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (`RUST_LOG` filters; default `info`).
/// Each line carries the fields of the span it was written in (the request
/// id and tenant of `http::access_log`'s span), not the whole span list.
/// Safe to call more than once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
    metrics::init_from_env();
}
