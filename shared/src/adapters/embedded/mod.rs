//! Embedded adapters: everything runs in one process with no configuration.
//! The SQLite stores are feature `sqlite` (the `petraf` command's default),
//! so the Lambda functions, which never use them, do not link SQLite.

pub mod hashing_embedder;
pub mod lexicon;
pub mod local_object_store;
pub mod offline_model;
pub mod offline_scorer;
pub mod reading;
#[cfg(feature = "sqlite")]
pub mod sqlite_state_store;
#[cfg(feature = "sqlite")]
pub mod sqlite_vector_store;
pub mod text;

pub use hashing_embedder::HashingEmbedder;
pub use local_object_store::LocalObjectStore;
pub use offline_model::OfflineModel;
#[cfg(feature = "sqlite")]
pub use sqlite_state_store::SqliteStateStore;
#[cfg(feature = "sqlite")]
pub use sqlite_vector_store::SqliteVectorStore;
