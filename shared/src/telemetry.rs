//! JSON logs through tracing. Nothing personal is logged: routes are logged
//! by template, identifiers through `domain::privacy::mask`.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber (`RUST_LOG` filters; default `info`).
/// Safe to call more than once.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}
