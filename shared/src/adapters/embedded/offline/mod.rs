//! The offline language model: a deterministic coach, refiner and scorer
//! and a hashing embedder, with no weights, key or network. Every score can
//! be explained from the text: [`signals`] are the plain-text signals the
//! coach reads, [`reading`] the close reading the scorer judges.

pub mod answers;
pub mod feedback;
pub mod hashing_embedder;
pub mod model;
pub mod reading;
pub mod scorer;
pub mod signals;

pub use hashing_embedder::HashingEmbedder;
pub use model::OfflineModel;
