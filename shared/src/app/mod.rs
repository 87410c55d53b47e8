//! Application services: the use cases, orchestrating the domain over the ports.

pub mod admin;
pub mod admin_keys;
pub mod chat;
pub mod data_export;
pub mod demo;
pub mod documents;
pub mod erasure;
pub mod error;
pub mod eval;
pub mod eval_report;
pub mod export;
pub mod goals;
pub mod ingestion;
pub mod judging;
pub mod limits;
pub mod offboarding;
pub mod origins;
pub mod resume_audit;
pub mod retention;
pub mod sessions;
pub mod settings;
pub mod settings_preview;
pub mod tenants;
pub mod transcript;
pub mod turns;
pub mod validation;
pub mod way_forward;

use std::sync::Arc;

use crate::adapters::document_reader::WorkerProcess;
use crate::domain::resume_token::TokenSigner;
use crate::ports::{
    ChatModel, Clock, DocumentReader, Embedder, ObjectStore, Ports, StateStore, VectorStore,
};

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
    /// Origins allowed besides the tenants' own domains
    /// (`PETRAF_ALLOWED_ORIGINS`, exact `scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// How long a chat turn's lease lasts unless renewed: the longest a
    /// session stays locked after its process died.
    pub turn_lease: std::time::Duration,
    /// How often a running turn renews its lease (well under `turn_lease`).
    pub lease_renewal: std::time::Duration,
    /// Proxies in front of the server that append the address they saw to
    /// `X-Forwarded-For`; 0 means the header is ignored.
    pub trusted_proxies: usize,
    /// The executable run as the extraction worker
    /// (`PETRAF_EXTRACT_WORKER`); `None`: the running executable.
    pub extract_worker: Option<std::path::PathBuf>,
    pub extraction_limits: crate::extraction::Limits,
}

impl Default for Settings {
    fn default() -> Self {
        let lease = std::time::Duration::from_secs(
            crate::domain::conversation::DEFAULT_TURN_LEASE_SECONDS as u64,
        );
        Settings {
            version: env!("CARGO_PKG_VERSION").to_string(),
            rag_top_k: 3,
            allowed_origins: Vec::new(),
            turn_lease: lease,
            lease_renewal: lease / 4,
            trusted_proxies: 0,
            extract_worker: None,
            extraction_limits: crate::extraction::Limits::default(),
        }
    }
}

impl Settings {
    /// A lease of `lease`, renewed four times per term.
    pub fn with_turn_lease(mut self, lease: std::time::Duration) -> Self {
        self.turn_lease = lease;
        self.lease_renewal = lease / 4;
        self
    }
}

/// Everything a request needs: the ports, the clock, secrets and settings.
pub struct Services {
    pub store: Arc<dyn StateStore>,
    pub vectors: Arc<dyn VectorStore>,
    pub objects: Arc<dyn ObjectStore>,
    pub model: Arc<dyn ChatModel>,
    pub embedder: Arc<dyn Embedder>,
    /// Where documents that need a parser engine are read: a worker
    /// process by default, the extract function when configured.
    pub reader: Arc<dyn DocumentReader>,
    pub clock: Arc<dyn Clock>,
    pub secrets: Secrets,
    pub settings: Settings,
    /// Which origins CORS allowed lately.
    pub cors_cache: origins::OriginCache,
    pub turns: turns::TurnRegistry,
}

impl Services {
    /// The services over `ports`, as production and every test harness
    /// build them; the CORS cache and the running turns start empty.
    pub fn new(ports: Ports, clock: Arc<dyn Clock>, secrets: Secrets, settings: Settings) -> Self {
        Services {
            store: ports.store,
            vectors: ports.vectors,
            objects: ports.objects,
            model: ports.model,
            embedder: ports.embedder,
            reader: Arc::new(WorkerProcess::new(settings.extract_worker.clone())),
            clock,
            secrets,
            settings,
            cors_cache: Default::default(),
            turns: Default::default(),
        }
    }
}

/// The shared handle every router and worker holds.
pub type App = Arc<Services>;
