//! `Embedder` on the embeddings endpoint, many inputs a request.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::types::embeddings::{CreateEmbeddingRequestArgs, EmbeddingInput};
use async_trait::async_trait;

use super::OpenAiSettings;
use super::transport::classify;
use crate::adapters::resilience::{CallMeter, Resilience};
use crate::domain::message::Usage;
use crate::ports::chat_model::ModelError;
use crate::ports::embedder::Embedder;

/// Inputs a request (the API takes up to 2048; smaller requests retry cheaper).
const BATCH: usize = 256;

#[derive(Clone)]
pub struct OpenAiEmbedder {
    client: Client<OpenAIConfig>,
    model: String,
    dimension: usize,
    request_dimension: bool,
    resilience: Resilience,
}

impl OpenAiEmbedder {
    pub fn new(client: Client<OpenAIConfig>, settings: &OpenAiSettings) -> Self {
        OpenAiEmbedder {
            client,
            model: settings.embed_model.clone(),
            dimension: settings.embed_dimension,
            request_dimension: settings.request_dimension,
            resilience: settings.resilience.clone(),
        }
    }

    async fn embed_batch(&self, batch: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut args = CreateEmbeddingRequestArgs::default();
        args.model(&self.model)
            .input(EmbeddingInput::StringArray(batch.to_vec()));
        if self.request_dimension {
            args.dimensions(self.dimension as u32);
        }
        let request = args
            .build()
            .map_err(|e| ModelError::Upstream(format!("could not build the request: {e}")))?;
        let mut meter = CallMeter::start("openai", "embed", &self.model);
        let response = self
            .resilience
            .call(&mut meter, || {
                let request = request.clone();
                async move {
                    self.client
                        .embeddings()
                        .create(request)
                        .await
                        .map_err(classify)
                }
            })
            .await?;
        meter.add_usage(Usage {
            input: response.usage.prompt_tokens,
            output: 0,
        });
        let mut data = response.data;
        data.sort_by_key(|e| e.index);
        if data.len() != batch.len() {
            return Err(meter.failed(ModelError::Malformed(format!(
                "{} embeddings for {} inputs",
                data.len(),
                batch.len()
            ))));
        }
        if let Some(bad) = data.iter().find(|e| e.embedding.len() != self.dimension) {
            return Err(meter.failed(ModelError::Malformed(format!(
                "an embedding of {} dimensions, expected {}",
                bad.embedding.len(),
                self.dimension
            ))));
        }
        meter.succeeded();
        Ok(data.into_iter().map(|e| e.embedding).collect())
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}
