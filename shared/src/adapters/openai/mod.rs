//! The chat model and embedder on the OpenAI API, or any server speaking it
//! (Azure OpenAI's v1 API, Ollama, vLLM, llama.cpp) through a base URL.

mod chat_model;
mod embedder;
mod transport;

use async_openai::Client;
use async_openai::config::OpenAIConfig;

pub use chat_model::OpenAiModel;
pub use embedder::OpenAiEmbedder;

use super::resilience::Resilience;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The chat model when a tenant names none.
pub const DEFAULT_CHAT_MODEL: &str = "gpt-4o-mini";
pub const DEFAULT_EMBED_MODEL: &str = "text-embedding-3-small";
pub const DEFAULT_EMBED_DIMENSION: usize = 1536;

/// How to reach the API. The key is never printed.
#[derive(Clone)]
pub struct OpenAiSettings {
    pub api_key: String,
    pub base_url: String,
    pub embed_model: String,
    /// The vector size the embed model returns.
    pub embed_dimension: usize,
    /// Ask the API for `embed_dimension` (text-embedding-3 models can shorten).
    pub request_dimension: bool,
    pub resilience: Resilience,
}

impl std::fmt::Debug for OpenAiSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiSettings")
            .field("api_key", &"<redacted>")
            .field("base_url", &self.base_url)
            .field("embed_model", &self.embed_model)
            .field("embed_dimension", &self.embed_dimension)
            .finish_non_exhaustive()
    }
}

impl OpenAiSettings {
    pub fn new(api_key: impl Into<String>) -> Self {
        OpenAiSettings {
            api_key: api_key.into(),
            base_url: DEFAULT_BASE_URL.into(),
            embed_model: DEFAULT_EMBED_MODEL.into(),
            embed_dimension: DEFAULT_EMBED_DIMENSION,
            request_dimension: false,
            resilience: Resilience::default(),
        }
    }

    /// The async-openai client: our connect timeout, and errors that keep
    /// their status and Retry-After so `Resilience` can decide on retries
    /// (the client's own retry layer is replaced, not stacked).
    pub fn client(&self) -> Result<Client<OpenAIConfig>, reqwest::Error> {
        let config = OpenAIConfig::new()
            .with_api_key(self.api_key.clone())
            .with_api_base(self.base_url.trim_end_matches('/'));
        crate::adapters::tls::install_ring_for_rustls();
        let http = reqwest::Client::builder()
            .connect_timeout(self.resilience.connect_timeout)
            .build()?;
        Ok(Client::with_config(config).with_http_service(transport::StatusAware::new(http)))
    }

    /// The chat model and the embedder sharing one client.
    pub fn models(&self) -> Result<(OpenAiModel, OpenAiEmbedder), reqwest::Error> {
        let client = self.client()?;
        Ok((
            OpenAiModel::new(client.clone(), self.resilience.clone()),
            OpenAiEmbedder::new(client, self),
        ))
    }
}
