//! Storage on the local disk: the state and vector stores on SQLite and
//! uploaded files in a directory. The SQLite stores are feature `sqlite`
//! (the `petraf` command's default), so the Lambda functions, which never
//! use them, do not link SQLite.

pub mod local_object_store;
#[cfg(feature = "sqlite")]
pub mod sqlite_state_store;
#[cfg(feature = "sqlite")]
pub mod sqlite_vector_store;

pub use local_object_store::LocalObjectStore;
#[cfg(feature = "sqlite")]
pub use sqlite_state_store::SqliteStateStore;
#[cfg(feature = "sqlite")]
pub use sqlite_vector_store::SqliteVectorStore;
