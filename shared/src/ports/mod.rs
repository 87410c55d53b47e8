//! The ports: small traits behind which every kind of I/O sits.

pub mod chat_model;
pub mod embedder;
pub mod object_store;
pub mod state_store;
pub mod vector_store;

pub use chat_model::ChatModel;
pub use embedder::Embedder;
pub use object_store::ObjectStore;
pub use state_store::{Clock, StateStore, SystemClock};
pub use vector_store::VectorStore;
