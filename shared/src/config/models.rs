//! The model provider (`PETRAF_MODEL_PROVIDER=offline|openai|bedrock`): chosen once, then its chat model and embedder built and named.

use std::sync::Arc;

use super::dimension::{bedrock_dimension, openai_dimension, requested_dimension};
use super::env::{Choice, Env, choice};
use super::error::{ConfigError, config_error, not_in_this_build};
use crate::adapters::embedded::{HashingEmbedder, OfflineModel};
use crate::ports::{ChatModel, Embedder};

/// A chat model and the embedder that goes with it.
pub(super) type ModelPair = (Arc<dyn ChatModel>, Arc<dyn Embedder>);

/// Who answers and who embeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelProvider {
    /// The offline coach and the hashing embedder: no key, no network.
    Offline,
    /// Any OpenAI-compatible API.
    OpenAi,
    /// Amazon Bedrock (Converse and Titan embeddings).
    Bedrock,
}

impl Choice for ModelProvider {
    const VARIABLE: &'static str = "PETRAF_MODEL_PROVIDER";
    const ALL: &'static [Self] = &[
        ModelProvider::Offline,
        ModelProvider::OpenAi,
        ModelProvider::Bedrock,
    ];

    fn name(self) -> &'static str {
        match self {
            ModelProvider::Offline => "offline",
            ModelProvider::OpenAi => "openai",
            ModelProvider::Bedrock => "bedrock",
        }
    }
}

impl ModelProvider {
    /// The chat model and the embedder.
    pub(super) async fn build(self, env: &dyn Env) -> Result<ModelPair, ConfigError> {
        if self != ModelProvider::Offline && env.get(PANIC_PHRASE).is_some() {
            return Err(config_error(
                PANIC_PHRASE,
                "fault injection for tests, only with PETRAF_MODEL_PROVIDER=offline",
            ));
        }
        match self {
            ModelProvider::Offline => {
                let (model, embedder) = offline_models_of(self.embedding_dimension(env)?);
                Ok((with_injected_panic(env, model), embedder))
            }
            #[cfg(feature = "openai")]
            ModelProvider::OpenAi => {
                let (model, embedder) = super::model_settings::openai_settings(env)
                    .await?
                    .models()
                    .map_err(|e| config_error("OPENAI_BASE_URL", format!("no HTTP client: {e}")))?;
                Ok((Arc::new(model), Arc::new(embedder)))
            }
            #[cfg(feature = "bedrock")]
            ModelProvider::Bedrock => {
                let settings = super::model_settings::bedrock_settings(env)?;
                let sdk_config = super::aws_sdk_config(env).await;
                if sdk_config.region().is_none() {
                    return Err(config_error(
                        "AWS_REGION",
                        "required with PETRAF_MODEL_PROVIDER=bedrock",
                    ));
                }
                let client = aws_sdk_bedrockruntime::Client::new(sdk_config);
                let (model, embedder) = settings.models(&client);
                Ok((Arc::new(model), Arc::new(embedder)))
            }
            #[allow(unreachable_patterns)]
            other => Err(not_in_this_build(Self::VARIABLE, other.name())),
        }
    }

    /// The size of the vectors this provider's embedder gives under `env`.
    fn embedding_dimension(self, env: &dyn Env) -> Result<usize, ConfigError> {
        let requested = requested_dimension(env)?;
        match self {
            ModelProvider::OpenAi => openai_dimension(
                env,
                requested,
                env.get("PETRAF_OPENAI_EMBED_MODEL")
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("text-embedding-3-small"),
            ),
            ModelProvider::Bedrock => bedrock_dimension(env, requested),
            ModelProvider::Offline => Ok(requested.unwrap_or(HashingEmbedder::DEFAULT_DIMENSION)),
        }
    }
}

/// The size of the vectors the configured embedder gives, which is also
/// the size of the pgvector column: `petraf serve`, the functions and
/// `petraf migrate` all derive it here from the same variables.
/// `PETRAF_EMBEDDING_DIMENSION` asks the embedder for that size; without it
/// the model's own size is used.
pub fn embedding_dimension(env: &dyn Env) -> Result<usize, ConfigError> {
    choice::<ModelProvider>(env)?.embedding_dimension(env)
}

/// The offline chat model and the hashing embedder: no key, no network.
#[cfg(feature = "sqlite")]
pub(super) fn offline_models() -> ModelPair {
    offline_models_of(HashingEmbedder::DEFAULT_DIMENSION)
}

fn offline_models_of(dimension: usize) -> ModelPair {
    (
        Arc::new(OfflineModel),
        Arc::new(HashingEmbedder::new(dimension)),
    )
}

/// Makes the offline coach panic mid-reply on a message holding this
/// phrase: the artifact end-to-end test's proof that the deployed build
/// catches a panicking turn. Never set by the template.
const PANIC_PHRASE: &str = "PETRAF_TEST_PANIC_PHRASE";

fn with_injected_panic(env: &dyn Env, model: Arc<dyn ChatModel>) -> Arc<dyn ChatModel> {
    match env.get(PANIC_PHRASE) {
        Some(phrase) => Arc::new(crate::adapters::panic_injection::PanicOnPhrase::new(
            model, phrase,
        )),
        None => model,
    }
}
