//! The error a tenant's settings give when they do not validate: limits,
//! rubrics, slugs, domains, addresses. Its own module so that every part of
//! the settings can name it without importing the others.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid tenant configuration: {0}")]
pub struct SettingsError(pub String);
