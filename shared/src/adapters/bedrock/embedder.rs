//! `Embedder` on Titan Text Embeddings v2: InvokeModel takes one text a
//! call, so a batch runs a few calls at once, keeping the input order.

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_smithy_types::Blob;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::BedrockSettings;
use super::errors::classify_http;
use crate::adapters::resilience::{CallMeter, Resilience};
use crate::domain::message::Usage;
use crate::ports::chat_model::ModelError;
use crate::ports::embedder::Embedder;

#[derive(Clone)]
pub struct BedrockEmbedder {
    client: Client,
    model: String,
    dimension: usize,
    concurrency: usize,
    resilience: Resilience,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TitanRequest<'a> {
    input_text: &'a str,
    dimensions: usize,
    normalize: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TitanResponse {
    embedding: Vec<f32>,
    #[serde(default)]
    input_text_token_count: u32,
}

impl BedrockEmbedder {
    pub fn new(client: Client, settings: &BedrockSettings) -> Self {
        BedrockEmbedder {
            client,
            model: settings.embed_model.clone(),
            dimension: settings.embed_dimension,
            concurrency: settings.embed_concurrency.max(1),
            resilience: settings.resilience.clone(),
        }
    }

    async fn embed_one(&self, text: &str) -> Result<Vec<f32>, ModelError> {
        let body = serde_json::to_vec(&TitanRequest {
            input_text: text,
            dimensions: self.dimension,
            normalize: true,
        })
        .map_err(|e| ModelError::Upstream(format!("could not build the request: {e}")))?;
        let mut meter = CallMeter::start("bedrock", "embed", &self.model);
        let output = self
            .resilience
            .call(&mut meter, || {
                let sent = self
                    .client
                    .invoke_model()
                    .model_id(&self.model)
                    .content_type("application/json")
                    .accept("application/json")
                    .body(Blob::new(body.clone()))
                    .send();
                async move { sent.await.map_err(classify_http) }
            })
            .await?;
        let reply: TitanResponse = serde_json::from_slice(output.body.as_ref()).map_err(|e| {
            meter.failed(ModelError::Malformed(format!("an embedding answer: {e}")))
        })?;
        meter.add_usage(Usage {
            input: reply.input_text_token_count,
            output: 0,
        });
        if reply.embedding.len() != self.dimension {
            return Err(meter.failed(ModelError::Malformed(format!(
                "an embedding of {} dimensions, expected {}",
                reply.embedding.len(),
                self.dimension
            ))));
        }
        meter.succeeded();
        Ok(reply.embedding)
    }
}

#[async_trait]
impl Embedder for BedrockEmbedder {
    fn name(&self) -> &'static str {
        "bedrock-titan"
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError> {
        let calls: Vec<_> = texts.iter().map(|text| self.embed_one(text)).collect();
        futures::stream::iter(calls)
            .buffered(self.concurrency)
            .try_collect()
            .await
    }
}
