//! Embedded adapters: everything runs in one process with no configuration.

pub mod hashing_embedder;
pub mod lexicon;
pub mod local_object_store;
pub mod offline_model;
pub mod offline_scorer;
pub mod reading;
pub mod sqlite_state_store;
pub mod sqlite_vector_store;
pub mod text;

pub use hashing_embedder::HashingEmbedder;
pub use local_object_store::LocalObjectStore;
pub use offline_model::OfflineModel;
pub use sqlite_state_store::SqliteStateStore;
pub use sqlite_vector_store::SqliteVectorStore;
