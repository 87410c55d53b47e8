//! The ports: small traits behind which every kind of I/O sits.

pub mod chat_model;
pub mod document_reader;
pub mod embedder;
pub mod object_store;
pub mod staged_transfer;
pub mod state_store;
pub mod vector_store;

pub use chat_model::ChatModel;
pub use document_reader::DocumentReader;
pub use embedder::Embedder;
pub use object_store::ObjectStore;
pub use staged_transfer::StagedTransfer;
pub use state_store::{Clock, StateStore, SystemClock};
pub use vector_store::VectorStore;

use std::sync::Arc;

/// One adapter for each port: what a process is wired with.
pub struct Ports {
    pub store: Arc<dyn StateStore>,
    pub vectors: Arc<dyn VectorStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub model: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
}
