//! The socket server's limits (`petraf serve`), from the `PETRAF_*`
//! variables; the defaults are [`ServerLimits::default`]. The server
//! (`http::server`) takes them as they are.

use std::time::Duration;

use super::env::{Env, bounded};
use super::error::ConfigError;

/// The server's limits; every one can be set from the environment
/// ([`server_limits`]).
#[derive(Debug, Clone)]
pub struct ServerLimits {
    /// A request's head must arrive within this (slow-header clients).
    pub header_read_timeout: Duration,
    /// Each piece of a request body must arrive within this.
    pub body_read_timeout: Duration,
    /// A request body must arrive whole within this, however steadily it
    /// trickles in.
    pub body_deadline: Duration,
    /// After [`BODY_RATE_GRACE`], a body must have averaged at least this
    /// many bytes a second since its head arrived (0: no minimum).
    pub body_min_rate: u64,
    /// A connection with no traffic either way for this long is closed
    /// (after the response in progress, if any).
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered `503` and closed.
    pub max_connections: usize,
    /// Connections one client address may hold at once (IPv6: one /64),
    /// so that one client cannot take them all; more are answered `503
    /// too_many_connections`. Not applied behind trusted proxies, whose
    /// own address every connection comes from.
    pub max_connections_per_address: usize,
    /// On shutdown, how long running turns may go on before they are stopped.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            body_deadline: Duration::from_secs(120),
            body_min_rate: 1024,
            idle_timeout: Duration::from_secs(5),
            max_connections: 1024,
            max_connections_per_address: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// `PETRAF_HEADER_TIMEOUT_SECS`, `PETRAF_BODY_TIMEOUT_SECS`,
/// `PETRAF_BODY_DEADLINE_SECS`, `PETRAF_BODY_MIN_RATE`,
/// `PETRAF_IDLE_TIMEOUT_SECS`, `PETRAF_MAX_CONNECTIONS`,
/// `PETRAF_MAX_CONNECTIONS_PER_ADDRESS`, `PETRAF_SHUTDOWN_GRACE_SECS`.
pub fn server_limits(env: &dyn Env) -> Result<ServerLimits, ConfigError> {
    let mut limits = ServerLimits::default();
    let secs = Duration::from_secs;
    if let Some(s) = bounded(env, "PETRAF_HEADER_TIMEOUT_SECS", 1..=300)? {
        limits.header_read_timeout = secs(s);
    }
    if let Some(s) = bounded(env, "PETRAF_BODY_TIMEOUT_SECS", 1..=600)? {
        limits.body_read_timeout = secs(s);
    }
    if let Some(s) = bounded(env, "PETRAF_BODY_DEADLINE_SECS", 1..=3600)? {
        limits.body_deadline = secs(s);
    }
    if let Some(n) = bounded(env, "PETRAF_BODY_MIN_RATE", 0..=1_000_000_000)? {
        limits.body_min_rate = n;
    }
    if let Some(s) = bounded(env, "PETRAF_IDLE_TIMEOUT_SECS", 1..=600)? {
        limits.idle_timeout = secs(s);
    }
    if let Some(n) = bounded(env, "PETRAF_MAX_CONNECTIONS", 1..=1_000_000)? {
        limits.max_connections = n as usize;
    }
    if let Some(n) = bounded(env, "PETRAF_MAX_CONNECTIONS_PER_ADDRESS", 1..=1_000_000)? {
        limits.max_connections_per_address = n as usize;
    }
    if let Some(s) = bounded(env, "PETRAF_SHUTDOWN_GRACE_SECS", 0..=600)? {
        limits.shutdown_grace = secs(s);
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::env::test_env;

    #[test]
    fn limits_come_from_the_environment() {
        let env = test_env(&[
            ("PETRAF_MAX_CONNECTIONS", "8"),
            ("PETRAF_HEADER_TIMEOUT_SECS", "2"),
            ("PETRAF_BODY_DEADLINE_SECS", "20"),
            ("PETRAF_BODY_MIN_RATE", "0"),
            ("PETRAF_MAX_CONNECTIONS_PER_ADDRESS", "4"),
        ]);
        let limits = server_limits(&env).unwrap();
        assert_eq!(limits.max_connections, 8);
        assert_eq!(limits.body_deadline, Duration::from_secs(20));
        assert_eq!(limits.body_min_rate, 0);
        assert_eq!(limits.max_connections_per_address, 4);
        assert_eq!(limits.header_read_timeout, Duration::from_secs(2));
        let bad = test_env(&[("PETRAF_MAX_CONNECTIONS", "0")]);
        assert_eq!(
            server_limits(&bad).unwrap_err().variable,
            "PETRAF_MAX_CONNECTIONS"
        );
    }
}
