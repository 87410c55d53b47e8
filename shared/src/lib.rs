//! Petraf's core: the domain, the ports it talks through, their adapters,
//! the application services and one axum router per route group.

// A chat turn that panics is caught so that it reports an error and
// releases its session; an artifact built to abort on panic would lose
// that, so such a build fails here instead of shipping.
#[cfg(panic = "abort")]
compile_error!("petraf-core needs panic = \"unwind\" (see [profile.release] in Cargo.toml)");

pub mod adapters;
pub mod app;
pub mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod domain;
#[cfg(all(feature = "lambda", feature = "staging-transfer"))]
pub mod extract_event;
pub mod extraction;
pub mod http;
pub mod ports;
#[cfg(feature = "lambda")]
pub mod s3_event;
pub mod telemetry;
