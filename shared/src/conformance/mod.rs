//! Conformance suites: one per port, run against every adapter of it.
//! Each suite panics on the first broken promise. Suites create their own
//! uniquely named tenants, so they can share a table or bucket with other
//! runs.

mod document_reader;
pub mod fixtures;
mod models;
mod object_store;
mod state_store;
mod vector_store;

pub use document_reader::document_reader;
pub use models::{chat_model, embedder, sarah_context};
pub use object_store::object_store;
pub use state_store::state_store;
pub use vector_store::{document_commits, vector_store};

/// A fresh id for a suite's tenant.
pub(crate) fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", crate::domain::ids::new_id().to_lowercase())
}
