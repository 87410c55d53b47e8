//! The secrets: the JWT secret and the platform admin key, from variables, Secrets Manager or the data directory.

use std::path::Path;

use rand::RngCore;

use super::Uses;
use super::data_directory::write_private;
use super::env::{Env, in_lambda};
#[cfg(not(feature = "secrets-manager"))]
use super::error::not_in_this_build;
use super::error::{ConfigError, config_error};
use crate::app::Secrets;
use crate::domain::privacy::keyed_hash;
use crate::domain::resume_token::{TokenSigner, hash_token};

const MIN_SECRET_BYTES: usize = 32;
const MIN_PLATFORM_KEY_CHARS: usize = 24;

/// A JWT secret given in the environment, checked for length.
fn checked_jwt_secret(variable: &'static str, secret: String) -> Result<Vec<u8>, ConfigError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(config_error(
            variable,
            format!("must be at least {MIN_SECRET_BYTES} bytes"),
        ));
    }
    Ok(secret.into_bytes())
}

/// The JWT secret: `PETRAF_JWT_SECRET`, else one generated once and kept
/// in the data directory (mode 0600).
pub(super) fn jwt_secret(env: &dyn Env, dir: &Path) -> Result<Vec<u8>, ConfigError> {
    if let Some(secret) = env.get("PETRAF_JWT_SECRET") {
        return checked_jwt_secret("PETRAF_JWT_SECRET", secret);
    }
    let path = dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read_to_string(&path)
        && existing.trim().len() >= MIN_SECRET_BYTES
    {
        return Ok(existing.trim().as_bytes().to_vec());
    }
    std::fs::create_dir_all(dir).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    let secret = random_secret();
    write_private(&path, &secret).map_err(|e| config_error("PETRAF_DATA_DIR", e.to_string()))?;
    Ok(secret.into_bytes())
}

fn random_secret() -> String {
    let mut bytes = [0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The platform admin key's hash, from a key given in `variable`.
fn platform_key_hash(
    variable: &'static str,
    key: Option<String>,
) -> Result<Option<String>, ConfigError> {
    match key {
        Some(key) if key.trim().len() < MIN_PLATFORM_KEY_CHARS => Err(config_error(
            variable,
            format!("must be at least {MIN_PLATFORM_KEY_CHARS} characters"),
        )),
        Some(key) => Ok(Some(hash_token(key.trim()))),
        None => Ok(None),
    }
}

fn secrets_from(jwt_secret: &[u8], platform_admin_key_hash: Option<String>) -> Secrets {
    Secrets {
        signer: TokenSigner::new(jwt_secret),
        hash_key: keyed_hash(jwt_secret, "petraf origin hashes").into_bytes(),
        platform_admin_key_hash,
    }
}

/// The secrets as plain variables (`PETRAF_JWT_SECRET`,
/// `PETRAF_PLATFORM_ADMIN_KEY`), the JWT secret generated into the data
/// directory when unset: `petraf serve` and the tests.
pub fn secrets(env: &dyn Env, dir: &Path) -> Result<Secrets, ConfigError> {
    let secret = jwt_secret(env, dir)?;
    let platform = platform_key_hash(
        "PETRAF_PLATFORM_ADMIN_KEY",
        env.get("PETRAF_PLATFORM_ADMIN_KEY"),
    )?;
    Ok(secrets_from(&secret, platform))
}

/// A secret's value from `variable`, or from Secrets Manager when
/// `arn_variable` names a secret (read once, at start). Returns the
/// variable to blame for a bad value with it.
pub(super) async fn secret_value(
    env: &dyn Env,
    variable: &'static str,
    arn_variable: &'static str,
) -> Result<Option<(&'static str, String)>, ConfigError> {
    match (env.get(variable), env.get(arn_variable)) {
        (Some(_), Some(_)) => Err(config_error(
            variable,
            format!("set either {variable} or {arn_variable}, not both"),
        )),
        (Some(value), None) => Ok(Some((variable, value))),
        (None, None) => Ok(None),
        #[cfg(feature = "secrets-manager")]
        (None, Some(arn)) => Ok(Some((
            arn_variable,
            fetch_secret(env, arn_variable, &arn).await?,
        ))),
        #[cfg(not(feature = "secrets-manager"))]
        (None, Some(_)) => Err(not_in_this_build(arn_variable, "secrets-manager")),
    }
}

/// One Secrets Manager client per process: every secret read at start
/// goes through it (each client built costs its own endpoint rules and
/// plugins, at init).
#[cfg(feature = "secrets-manager")]
async fn secrets_manager(env: &dyn Env) -> &'static aws_sdk_secretsmanager::Client {
    static CLIENT: tokio::sync::OnceCell<aws_sdk_secretsmanager::Client> =
        tokio::sync::OnceCell::const_new();
    let config = super::aws_sdk_config(env).await;
    CLIENT
        .get_or_init(|| async { aws_sdk_secretsmanager::Client::new(config) })
        .await
}

#[cfg(feature = "secrets-manager")]
async fn fetch_secret(
    env: &dyn Env,
    arn_variable: &'static str,
    arn: &str,
) -> Result<String, ConfigError> {
    let answer = secrets_manager(env)
        .await
        .get_secret_value()
        .secret_id(arn.trim())
        .send()
        .await
        .map_err(|e| {
            config_error(
                arn_variable,
                format!(
                    "could not read the secret: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            )
        })?;
    answer
        .secret_string()
        .map(str::to_string)
        .ok_or_else(|| config_error(arn_variable, "the secret has no string value"))
}

/// The secrets a process `uses`: each from its variable or its `_ARN`
/// twin (Secrets Manager). Inside Lambda a needed secret must be given; a
/// process that signs no tokens gets a throwaway key it never shows.
pub async fn deployed_secrets(
    env: &dyn Env,
    dir: &Path,
    uses: Uses,
) -> Result<Secrets, ConfigError> {
    let jwt = async {
        if !uses.tokens {
            return Ok(random_secret().into_bytes());
        }
        match secret_value(env, "PETRAF_JWT_SECRET", "PETRAF_JWT_SECRET_ARN").await? {
            Some((variable, value)) => checked_jwt_secret(variable, value),
            None if in_lambda(env) => Err(config_error(
                "PETRAF_JWT_SECRET_ARN",
                "required in AWS Lambda (or PETRAF_JWT_SECRET): the HS256 key of resume tokens",
            )),
            None => jwt_secret(env, dir),
        }
    };
    let platform = async {
        if !uses.platform_key {
            return Ok(None);
        }
        match secret_value(
            env,
            "PETRAF_PLATFORM_ADMIN_KEY",
            "PETRAF_PLATFORM_ADMIN_KEY_ARN",
        )
        .await?
        {
            Some((variable, key)) => platform_key_hash(variable, Some(key)),
            None => Ok(None),
        }
    };
    // Both read together: two Secrets Manager calls cost one round trip.
    let (jwt, platform) = tokio::join!(jwt, platform);
    Ok(secrets_from(&jwt?, platform?))
}
