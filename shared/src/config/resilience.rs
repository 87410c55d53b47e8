//! The model calls' timeouts and retries, from the `PETRAF_MODEL_*` variables.

use super::env::{Env, millis};
use super::error::{ConfigError, config_error};
use crate::adapters::resilience::Resilience;

/// The defaults, overridden by `PETRAF_MODEL_CONNECT_TIMEOUT_MS`,
/// `PETRAF_MODEL_FIRST_TOKEN_TIMEOUT_MS`, `PETRAF_MODEL_CALL_TIMEOUT_MS`
/// and `PETRAF_MODEL_MAX_RETRIES`.
pub fn model_resilience(env: &dyn Env) -> Result<Resilience, ConfigError> {
    let mut r = Resilience::default();
    if let Some(d) = millis(env, "PETRAF_MODEL_CONNECT_TIMEOUT_MS")? {
        r.connect_timeout = d;
    }
    if let Some(d) = millis(env, "PETRAF_MODEL_FIRST_TOKEN_TIMEOUT_MS")? {
        r.first_token_timeout = d;
    }
    if let Some(d) = millis(env, "PETRAF_MODEL_CALL_TIMEOUT_MS")? {
        r.call_timeout = d;
    }
    if let Some(v) = env.get("PETRAF_MODEL_MAX_RETRIES") {
        r.max_retries = v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 10)
            .ok_or_else(|| {
                config_error(
                    "PETRAF_MODEL_MAX_RETRIES",
                    format!("'{v}' is not a number from 0 to 10"),
                )
            })?;
    }
    Ok(r)
}
