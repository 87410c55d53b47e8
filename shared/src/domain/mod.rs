//! Pure domain logic: no I/O, no clocks, no randomness beyond ids and nonces.

pub mod audit;
pub mod chunking;
pub mod client_address;
pub mod coaching;
pub mod confusables;
pub mod conversation;
pub mod document;
pub mod goal;
pub mod grounding;
pub mod hs256;
pub mod hygiene;
pub mod ids;
pub mod injection;
pub mod lexical;
pub mod limits;
pub mod message;
pub mod phase;
pub mod privacy;
pub mod prompts;
pub mod resume_token;
pub mod scoring;
pub mod session;
pub mod settings_error;
pub mod tenant;
pub mod text;
pub mod way_forward;
