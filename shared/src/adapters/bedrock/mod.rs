//! The chat model and embedder on Amazon Bedrock: Converse and
//! ConverseStream for chat, Titan Text Embeddings through InvokeModel.

mod chat_model;
mod embedder;
mod errors;

use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::StalledStreamProtectionConfig;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::timeout::TimeoutConfig;

pub use chat_model::BedrockModel;
pub use embedder::BedrockEmbedder;

use super::resilience::Resilience;

/// Claude Haiku 4.5 through its US cross-Region inference profile: an
/// Active model in Bedrock's lifecycle, and on-demand calls to Claude 4
/// models need a profile id rather than the bare model id. Elsewhere use the
/// `eu.`, `apac.` or `global.` profile (`PETRAF_BEDROCK_CHAT_MODEL`).
pub const DEFAULT_CHAT_MODEL: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
pub const DEFAULT_EMBED_MODEL: &str = "amazon.titan-embed-text-v2:0";
/// Titan v2 gives 256, 512 or 1024 dimensions.
pub const DEFAULT_EMBED_DIMENSION: usize = 1024;

#[derive(Debug, Clone)]
pub struct BedrockSettings {
    /// Used when a tenant's `llm_model` is not a Bedrock model id.
    pub chat_model: String,
    pub embed_model: String,
    pub embed_dimension: usize,
    /// InvokeModel calls in flight at once while embedding many texts.
    pub embed_concurrency: usize,
    pub resilience: Resilience,
}

impl Default for BedrockSettings {
    fn default() -> Self {
        BedrockSettings {
            chat_model: DEFAULT_CHAT_MODEL.into(),
            embed_model: DEFAULT_EMBED_MODEL.into(),
            embed_dimension: DEFAULT_EMBED_DIMENSION,
            embed_concurrency: 4,
            resilience: Resilience::default(),
        }
    }
}

impl BedrockSettings {
    /// `client` with the SDK's own retries off (`Resilience` retries, and
    /// only before text streams), our connect timeout, and the SDK's
    /// stalled-stream check off: a model thinking for a few seconds before
    /// its first byte is no stall, and our first-token and call timeouts
    /// bound real ones.
    pub fn tune(&self, client: &Client) -> Client {
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(self.resilience.connect_timeout)
                    .build(),
            )
            .build();
        Client::from_conf(config)
    }

    /// The chat model and the embedder sharing one client.
    pub fn models(&self, client: &Client) -> (BedrockModel, BedrockEmbedder) {
        let client = self.tune(client);
        (
            BedrockModel::new(client.clone(), self),
            BedrockEmbedder::new(client, self),
        )
    }
}

/// Vendors of Bedrock model ids (`anthropic.claude-…`), optionally behind
/// a cross-region inference profile prefix (`us.anthropic.claude-…`).
const VENDORS: &[&str] = &[
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "meta",
    "mistral",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
];
const PROFILE_PREFIXES: &[&str] = &["us", "eu", "apac", "us-gov", "global", "jp", "au", "ca"];

/// Whether `id` names a Bedrock model, inference profile or ARN.
pub fn is_bedrock_model_id(id: &str) -> bool {
    let id = id.trim();
    if id.starts_with("arn:aws") {
        return id.contains(":bedrock:");
    }
    let mut parts = id.split('.');
    let first = parts.next().unwrap_or_default();
    let vendor = if PROFILE_PREFIXES.contains(&first) {
        parts.next().unwrap_or_default()
    } else {
        first
    };
    VENDORS.contains(&vendor) && parts.next().is_some_and(|rest| !rest.is_empty())
}

#[cfg(test)]
mod tests {
    use super::is_bedrock_model_id;

    #[test]
    fn bedrock_ids_are_told_from_other_model_names() {
        for id in [
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            super::DEFAULT_CHAT_MODEL,
            "global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "amazon.nova-lite-v1:0",
            "meta.llama3-1-70b-instruct-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0",
        ] {
            assert!(is_bedrock_model_id(id), "{id}");
        }
        for id in [
            "gpt-4o-mini",
            "gpt-4.1",
            "llama3.1:8b",
            "",
            "anthropic",
            "us.gpt",
        ] {
            assert!(!is_bedrock_model_id(id), "{id}");
        }
    }
}
