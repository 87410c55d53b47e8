//! Behaviour settings that are not secrets: the app's `Settings`, and `petraf serve`'s address and web tenant.

use std::path::PathBuf;

use super::env::{Env, bounded};
use super::error::{ConfigError, config_error};
use crate::app::Settings;

pub const DEFAULT_ADDR: &str = "127.0.0.1:8080";

/// `PETRAF_TURN_LEASE_SECONDS` (default 20, 2-300): how long a session
/// stays locked after the process running its turn died.
/// `PETRAF_TRUSTED_PROXIES` (default 0): how many proxies in front append
/// to `X-Forwarded-For`. `PETRAF_ALLOWED_ORIGINS`: see [`allowed_origins`].
/// `PETRAF_EXTRACT_WORKER`: see [`extract_worker`].
pub fn settings(env: &dyn Env) -> Result<Settings, ConfigError> {
    let mut settings = Settings {
        extract_worker: extract_worker(env),
        ..Settings::default()
    };
    if let Some(seconds) = bounded(env, "PETRAF_TURN_LEASE_SECONDS", 2..=300)? {
        settings = settings.with_turn_lease(std::time::Duration::from_secs(seconds));
    }
    if let Some(proxies) = bounded(env, "PETRAF_TRUSTED_PROXIES", 0..=10)? {
        settings.trusted_proxies = proxies as usize;
    }
    settings.allowed_origins = allowed_origins(env)?;
    Ok(settings)
}

/// `PETRAF_EXTRACT_WORKER`: the executable run as the document extraction
/// worker (default: the running one), for processes that are not such a
/// binary themselves.
pub(crate) fn extract_worker(env: &dyn Env) -> Option<PathBuf> {
    env.get("PETRAF_EXTRACT_WORKER").map(PathBuf::from)
}

/// `PETRAF_ALLOWED_ORIGINS`: comma-separated `scheme://host[:port]` origins
/// CORS allows besides the tenants' own domains.
fn allowed_origins(env: &dyn Env) -> Result<Vec<String>, ConfigError> {
    let Some(list) = env.get("PETRAF_ALLOWED_ORIGINS") else {
        return Ok(Vec::new());
    };
    list.split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let origin = origin.trim_end_matches('/');
            let host = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if host.is_some_and(|h| !h.is_empty() && !h.contains(['/', ' '])) {
                Ok(origin.to_string())
            } else {
                Err(config_error(
                    "PETRAF_ALLOWED_ORIGINS",
                    format!("'{origin}' is not an origin like https://app.example.com"),
                ))
            }
        })
        .collect()
}

/// What only the local server (`petraf serve`) reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeSettings {
    /// `PETRAF_ADDR` (default [`DEFAULT_ADDR`]): where it listens.
    pub addr: String,
    /// `PETRAF_WEB_TENANT_ID`: the web app's tenant when neither the page's
    /// `?tenant=` nor the host names one.
    pub web_tenant: Option<String>,
}

pub fn serve_settings(env: &dyn Env) -> ServeSettings {
    ServeSettings {
        addr: env
            .get("PETRAF_ADDR")
            .unwrap_or_else(|| DEFAULT_ADDR.to_string()),
        web_tenant: env.get("PETRAF_WEB_TENANT_ID"),
    }
}
