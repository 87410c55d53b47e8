//! Embedded adapters: everything runs in one process with no configuration.
//! Two kinds, apart: [`storage`] keeps state, vectors and uploaded files on
//! the local disk; [`offline`] is the language model that needs no key and
//! no network (coach, scorer, embedder).

pub mod offline;
pub mod storage;

pub use offline::{HashingEmbedder, OfflineModel};
pub use storage::LocalObjectStore;
#[cfg(feature = "sqlite")]
pub use storage::{SqliteStateStore, SqliteVectorStore};
