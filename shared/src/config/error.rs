//! The configuration error: which variable to fix, and why.

/// A configuration problem, naming the variable to fix.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

pub(crate) fn config_error(variable: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        problem: problem.into(),
    }
}

/// A value that names an adapter compiled out of this build.
pub(crate) fn not_in_this_build(variable: &'static str, value: &str) -> ConfigError {
    config_error(
        variable,
        format!(
            "the '{value}' adapter is not part of this build (petraf-core was built without its Cargo feature)"
        ),
    )
}
