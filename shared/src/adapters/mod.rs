//! Adapters: the ports' implementations.

#[cfg(feature = "bedrock")]
pub mod bedrock;
#[cfg(any(feature = "openai", feature = "bedrock"))]
pub mod coach_verdict;
pub mod document_reader;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod embedded;
#[cfg(feature = "openai")]
pub mod openai;
pub mod panic_injection;
#[cfg(feature = "pgvector")]
pub mod pgvector;
#[cfg(any(feature = "openai", feature = "bedrock"))]
pub mod resilience;
#[cfg(feature = "s3")]
pub mod s3;
#[cfg(feature = "staging-transfer")]
pub mod staged_transfer;
#[cfg(any(feature = "openai", feature = "bedrock"))]
pub mod structured_reply;
pub mod tls;
pub mod traced;
pub mod unwired;
