//! The OpenAI and Bedrock adapters' settings, from their variables.

#[cfg(any(feature = "openai", feature = "bedrock"))]
use super::dimension::{
    agreed_dimension, bedrock_dimension, openai_dimension, requested_dimension,
};
#[cfg(any(feature = "openai", feature = "bedrock"))]
use super::env::Env;
#[cfg(any(feature = "openai", feature = "bedrock"))]
use super::error::{ConfigError, config_error};
#[cfg(any(feature = "openai", feature = "bedrock"))]
use super::resilience::model_resilience;

/// `OPENAI_API_KEY` (required), `OPENAI_BASE_URL` (any OpenAI-compatible
/// server), `PETRAF_OPENAI_EMBED_MODEL`, `PETRAF_OPENAI_EMBED_DIMENSIONS`.
/// The key goes to the client only; errors never quote it.
#[cfg(feature = "openai")]
pub(super) async fn openai_settings(
    env: &dyn Env,
) -> Result<crate::adapters::openai::OpenAiSettings, ConfigError> {
    let (_, api_key) = super::secrets::secret_value(env, "OPENAI_API_KEY", "OPENAI_API_KEY_ARN")
        .await?
        .ok_or_else(|| {
            config_error(
                "OPENAI_API_KEY",
                "required with PETRAF_MODEL_PROVIDER=openai (or OPENAI_API_KEY_ARN: a Secrets Manager secret)",
            )
        })?;
    let mut settings = crate::adapters::openai::OpenAiSettings::new(api_key.trim());
    if let Some(base) = env.get("OPENAI_BASE_URL") {
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(config_error("OPENAI_BASE_URL", "must be an http(s) URL"));
        }
        settings.base_url = base.trim().to_string();
    }
    if let Some(model) = env.get("PETRAF_OPENAI_EMBED_MODEL") {
        settings.embed_model = model.trim().to_string();
    }
    let requested = requested_dimension(env)?;
    settings.embed_dimension = openai_dimension(env, requested, &settings.embed_model)?;
    // Only text-embedding-3 models can be asked for a shorter vector.
    let asked = agreed_dimension(env, requested, "PETRAF_OPENAI_EMBED_DIMENSIONS")?;
    settings.request_dimension =
        asked.is_some() && settings.embed_model.starts_with("text-embedding-3");
    settings.resilience = model_resilience(env)?;
    Ok(settings)
}

/// `PETRAF_BEDROCK_CHAT_MODEL` (for tenants whose `llm_model` is no Bedrock
/// id), `PETRAF_BEDROCK_EMBED_MODEL`, `PETRAF_BEDROCK_EMBED_DIMENSIONS`.
#[cfg(feature = "bedrock")]
pub(super) fn bedrock_settings(
    env: &dyn Env,
) -> Result<crate::adapters::bedrock::BedrockSettings, ConfigError> {
    let mut settings = crate::adapters::bedrock::BedrockSettings::default();
    if let Some(model) = env.get("PETRAF_BEDROCK_CHAT_MODEL") {
        settings.chat_model = model.trim().to_string();
    }
    if let Some(model) = env.get("PETRAF_BEDROCK_EMBED_MODEL") {
        settings.embed_model = model.trim().to_string();
    }
    settings.embed_dimension = bedrock_dimension(env, requested_dimension(env)?)?;
    settings.resilience = model_resilience(env)?;
    Ok(settings)
}
