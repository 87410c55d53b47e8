//! Petraf's core: the domain, the ports it talks through, their adapters,
//! the application services and one axum router per route group.

pub mod domain;
