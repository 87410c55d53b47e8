//! Which roots the connections to AWS trust.

use super::env::Env;
use crate::adapters::tls::AwsTrust;

/// Amazon Trust Services' roots, unless `SSL_CERT_FILE` or `SSL_CERT_DIR`
/// names a trust store of the operator's: then the system's, which reads it.
pub fn aws_trust(env: &dyn Env) -> AwsTrust {
    if env.get("SSL_CERT_FILE").is_some() || env.get("SSL_CERT_DIR").is_some() {
        AwsTrust::System
    } else {
        AwsTrust::AmazonRoots
    }
}
