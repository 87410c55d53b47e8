//! The embedding dimension: the size asked for, the providers' own sizes, and their agreement.

use super::env::Env;
use super::error::{ConfigError, config_error};

/// `PETRAF_EMBEDDING_DIMENSION`, if set: the one size asked of every part.
pub(super) fn requested_dimension(env: &dyn Env) -> Result<Option<usize>, ConfigError> {
    let Some(value) = env.get("PETRAF_EMBEDDING_DIMENSION") else {
        return Ok(None);
    };
    match value.trim().parse::<usize>() {
        Ok(n) if n >= 8 => Ok(Some(n)),
        _ => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("'{value}' is not a whole number of at least 8"),
        )),
    }
}

/// A provider's own dimension variable, which must agree with
/// `PETRAF_EMBEDDING_DIMENSION` when both are set; with the variable that
/// gave it, to blame for a value the model cannot give.
pub(super) fn agreed_dimension(
    env: &dyn Env,
    requested: Option<usize>,
    provider_variable: &'static str,
) -> Result<Option<(usize, &'static str)>, ConfigError> {
    let own = env
        .get(provider_variable)
        .map(|v| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    config_error(provider_variable, format!("'{v}' is not a positive number"))
                })
        })
        .transpose()?;
    match (own, requested) {
        (Some(a), Some(b)) if a != b => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("is {b} but {provider_variable} is {a}; set one of them"),
        )),
        (Some(a), _) => Ok(Some((a, provider_variable))),
        (None, requested) => Ok(requested.map(|n| (n, "PETRAF_EMBEDDING_DIMENSION"))),
    }
}

/// The OpenAI embed model's dimension: asked for, or the model's own.
pub(super) fn openai_dimension(
    env: &dyn Env,
    requested: Option<usize>,
    model: &str,
) -> Result<usize, ConfigError> {
    let asked = agreed_dimension(env, requested, "PETRAF_OPENAI_EMBED_DIMENSIONS")?;
    match (asked, model) {
        (Some((n, _)), _) => Ok(n),
        (None, "text-embedding-3-small" | "text-embedding-ada-002") => Ok(1536),
        (None, "text-embedding-3-large") => Ok(3072),
        (None, other) => Err(config_error(
            "PETRAF_EMBEDDING_DIMENSION",
            format!("required for the embed model '{other}': the size of its vectors"),
        )),
    }
}

/// Titan Text Embeddings v2 gives 256, 512 or 1024 (the default) dimensions.
pub(super) fn bedrock_dimension(
    env: &dyn Env,
    requested: Option<usize>,
) -> Result<usize, ConfigError> {
    match agreed_dimension(env, requested, "PETRAF_BEDROCK_EMBED_DIMENSIONS")? {
        None => Ok(1024),
        Some((n, _)) if [256, 512, 1024].contains(&n) => Ok(n),
        Some((n, variable)) => Err(config_error(
            variable,
            format!("is {n}, but Titan v2 gives 256, 512 or 1024 dimensions"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use crate::adapters::embedded::HashingEmbedder;
    use crate::config::embedding_dimension;
    use crate::config::env::test_env as env;

    #[test]
    fn one_embedding_dimension_is_derived_for_every_part() {
        let dim = |pairs: &[(&'static str, &str)]| embedding_dimension(&env(pairs));
        assert_eq!(dim(&[]).unwrap(), HashingEmbedder::DEFAULT_DIMENSION);
        assert_eq!(
            dim(&[("PETRAF_EMBEDDING_DIMENSION", "1024")]).unwrap(),
            1024
        );
        assert_eq!(dim(&[("PETRAF_MODEL_PROVIDER", "bedrock")]).unwrap(), 1024);
        assert_eq!(
            dim(&[
                ("PETRAF_MODEL_PROVIDER", "bedrock"),
                ("PETRAF_EMBEDDING_DIMENSION", "512")
            ])
            .unwrap(),
            512
        );
        assert_eq!(dim(&[("PETRAF_MODEL_PROVIDER", "openai")]).unwrap(), 1536);
        assert_eq!(
            dim(&[
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_EMBEDDING_DIMENSION", "1024")
            ])
            .unwrap(),
            1024
        );
        let refused = [
            vec![
                ("PETRAF_MODEL_PROVIDER", "bedrock"),
                ("PETRAF_EMBEDDING_DIMENSION", "1536"),
            ],
            vec![
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_OPENAI_EMBED_MODEL", "nomic-embed-text"),
            ],
            vec![
                ("PETRAF_MODEL_PROVIDER", "openai"),
                ("PETRAF_OPENAI_EMBED_DIMENSIONS", "256"),
                ("PETRAF_EMBEDDING_DIMENSION", "512"),
            ],
            vec![("PETRAF_EMBEDDING_DIMENSION", "many")],
        ];
        for pairs in refused {
            let err = dim(&pairs).expect_err("refused");
            assert_eq!(err.variable, "PETRAF_EMBEDDING_DIMENSION", "{pairs:?}");
        }
    }
}
