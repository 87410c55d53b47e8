//! Application services: the use cases, orchestrating the domain over the ports.

pub mod admin;
pub mod chat;
pub mod demo;
pub mod error;
pub mod export;
pub mod goals;
pub mod ingestion;
pub mod sessions;
pub mod tenants;

use std::sync::Arc;

use crate::domain::resume_token::TokenSigner;
use crate::ports::{ChatModel, Clock, Embedder, ObjectStore, StateStore, VectorStore};

pub use error::{AppError, AppResult, ErrorKind};

/// Deployment secrets.
#[derive(Clone)]
pub struct Secrets {
    pub signer: TokenSigner,
    /// Key of the keyed hashes of user agents and IPs.
    pub hash_key: Vec<u8>,
    /// SHA-256 (hex) of the platform admin key, when one is configured.
    pub platform_admin_key_hash: Option<String>,
}

/// Behaviour settings that are not secrets.
#[derive(Debug, Clone)]
pub struct Settings {
    pub version: String,
    /// How many passages retrieval adds to a prompt.
    pub rag_top_k: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            version: env!("CARGO_PKG_VERSION").to_string(),
            rag_top_k: 3,
        }
    }
}

/// Everything a request needs: the ports, the clock, secrets and settings.
pub struct Services {
    pub store: Arc<dyn StateStore>,
    pub vectors: Arc<dyn VectorStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub model: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Secrets,
    pub settings: Settings,
}

/// The shared handle every router and worker holds.
pub type App = Arc<Services>;
