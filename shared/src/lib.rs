//! Petraf's core: the domain, the ports it talks through, their adapters,
//! the application services and one axum router per route group.

pub mod adapters;
pub mod app;
pub mod config;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod domain;
pub mod extraction;
pub mod http;
pub mod ports;
pub mod telemetry;
