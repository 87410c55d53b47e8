//! The one place Petraf reads its environment: the `Env` source and the parsers every setting goes through.

use std::collections::HashMap;
#[cfg(any(feature = "openai", feature = "bedrock"))]
use std::time::Duration;

use super::error::{ConfigError, config_error};

/// Reads variables; tests pass a map instead of the process environment.
pub trait Env {
    fn get(&self, key: &str) -> Option<String>;
}

/// The process environment; a variable set to blanks counts as unset.
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Env for HashMap<&'static str, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

/// Inside AWS Lambda nothing falls back to the embedded default: its file
/// system is read-only and its instances do not share files.
pub(crate) fn in_lambda(env: &dyn Env) -> bool {
    env.get("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// A backend chosen by one variable among named values.
pub(crate) trait Choice: Copy + 'static {
    const VARIABLE: &'static str;
    /// Every value; the first is the default.
    const ALL: &'static [Self];
    fn name(self) -> &'static str;
}

/// The value of `T::VARIABLE`, one of `T::ALL` (the first is the default).
pub(crate) fn choice<T: Choice>(env: &dyn Env) -> Result<T, ConfigError> {
    match env.get(T::VARIABLE) {
        None => Ok(T::ALL[0]),
        Some(v) => T::ALL
            .iter()
            .find(|a| a.name().eq_ignore_ascii_case(v.trim()))
            .copied()
            .ok_or_else(|| {
                config_error(
                    T::VARIABLE,
                    format!("'{v}' is not one of {}", names(T::ALL).join(", ")),
                )
            }),
    }
}

/// [`choice`], except that inside Lambda the variable must be set.
pub(crate) fn deployed_choice<T: Choice>(env: &dyn Env) -> Result<T, ConfigError> {
    if in_lambda(env) && env.get(T::VARIABLE).is_none() {
        return Err(config_error(
            T::VARIABLE,
            format!(
                "must be set in AWS Lambda (one of {}); there is no embedded fallback there",
                names(&T::ALL[1..]).join(", ")
            ),
        ));
    }
    choice(env)
}

fn names<T: Choice>(all: &[T]) -> Vec<&'static str> {
    all.iter().map(|c| c.name()).collect()
}

/// An integer within `range`, if set.
pub fn bounded(
    env: &dyn Env,
    variable: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = env.get(variable) else {
        return Ok(None);
    };
    match value.trim().parse::<u64>() {
        Ok(n) if range.contains(&n) => Ok(Some(n)),
        _ => Err(config_error(
            variable,
            format!(
                "'{value}' is not a whole number within {}-{}",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// A positive number of milliseconds, if set.
#[cfg(any(feature = "openai", feature = "bedrock"))]
pub(crate) fn millis(
    env: &dyn Env,
    variable: &'static str,
) -> Result<Option<Duration>, ConfigError> {
    env.get(variable)
        .map(|v| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    config_error(
                        variable,
                        format!("'{v}' is not a positive number of milliseconds"),
                    )
                })
        })
        .transpose()
}

/// The tests' environment: these variables and no others. Public with
/// feature `conformance`, so integration tests and benches share it.
#[cfg(any(test, feature = "conformance"))]
pub fn test_env(pairs: &[(&'static str, &str)]) -> HashMap<&'static str, String> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}
