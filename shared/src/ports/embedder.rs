//! The embedder: text to vectors.

use async_trait::async_trait;

use super::chat_model::ModelError;

#[async_trait]
pub trait Embedder: Send + Sync {
    fn name(&self) -> &'static str;
    fn dimension(&self) -> usize;
    /// One vector per input, in order.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, ModelError>;
}
