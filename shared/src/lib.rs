//! Petraf's core: the domain, the ports it talks through, their adapters,
//! the application services and one axum router per route group.

pub mod adapters;
pub mod domain;
pub mod ports;
pub mod app;
pub mod http;
pub mod config;
pub mod telemetry;
